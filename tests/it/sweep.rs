//! Issue 20: uncertain parameters (`[[uncertain]]`, `run --uncertain`, `compare
//! --uncertain`), `sweep` with its designs and sensitivity indices, `--shard K/N` and
//! `merge`, and resuming an interrupted sweep.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{csv, data, fails, ok, outputs, read, tmp};

fn sweep(out: &Path, extra: &[&str]) -> String {
    let scenario = data("uncertain.toml");
    let mut args = vec![
        "sweep".to_string(),
        scenario.display().to_string(),
        "--out".to_string(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    ok(&args)
}

/// `sensitivity.csv` as (variant, dotted metric, parameter, index) -> (estimate, low, high).
type Indices = BTreeMap<(String, String, String, String), (Option<f64>, Option<f64>, Option<f64>)>;

fn indices(dir: &Path) -> Indices {
    let (header, rows) = csv(&dir.join("sensitivity.csv"));
    assert_eq!(
        header.join(","),
        "variant,entity,entity_kind,metric,parameter,index,estimate,ci95_low,ci95_high"
    );
    rows.into_iter()
        .map(|r| {
            let num = |s: &str| s.parse::<f64>().ok();
            (
                (
                    r[0].clone(),
                    format!("{}.{}", r[1], r[3]),
                    r[4].clone(),
                    r[5].clone(),
                ),
                (num(&r[6]), num(&r[7]), num(&r[8])),
            )
        })
        .collect()
}

#[test]
fn a_sweep_is_the_same_bytes_on_any_thread_count_and_merged_from_shards() {
    let dir = tmp();
    let common = [
        "--design",
        "sobol",
        "--points",
        "16",
        "--replications",
        "2",
        "--variant",
        "duty-free",
        "-q",
    ];
    let one = dir.path().join("one");
    sweep(&one, &[&common[..], &["--threads", "1"]].concat());
    let two = dir.path().join("two");
    sweep(&two, &[&common[..], &["--threads", "2"]].concat());
    let files = outputs(&one);
    assert_eq!(files, outputs(&two));
    for name in [
        "study.json",
        "design.csv",
        "results.csv",
        "sensitivity.csv",
        "sensitivity.svg",
    ] {
        assert!(
            files.contains_key(name),
            "{name} missing: {:?}",
            files.keys()
        );
    }

    // Three shards, each its own process, merged: exactly the one-machine files.
    let mut shards = Vec::new();
    for k in 1..=3 {
        let shard = dir.path().join(format!("shard-{k}"));
        sweep(
            &shard,
            &[&common[..], &["--shard", &format!("{k}/3")]].concat(),
        );
        let units = std::fs::read_dir(shard.join("units")).unwrap().count();
        // 16 base points x (4 + 2) x 2 replications = 192 units, 64 each.
        assert_eq!(units, 64, "shard {k}");
        shards.push(shard.display().to_string());
    }
    let merged = dir.path().join("merged");
    let mut args = vec!["merge".to_string()];
    args.extend(shards.iter().cloned());
    args.extend(["--out".to_string(), merged.display().to_string()]);
    ok(&args);
    assert_eq!(outputs(&merged), files);

    // What merge refuses: a shard missing, one given twice, a shard of another study.
    let e = fails(
        2,
        &["merge", &shards[0], &shards[1], "--out", "/nonexistent/x"],
    );
    assert!(e.contains("shards missing: 3/3"), "{e}");
    let e = fails(
        2,
        &[
            "merge",
            &shards[0],
            &shards[0],
            &shards[2],
            "--out",
            "/nonexistent/x",
        ],
    );
    assert!(e.contains("given twice"), "{e}");
    let other = dir.path().join("other-3");
    sweep(
        &other,
        &[
            "--design",
            "sobol",
            "--points",
            "8",
            "--variant",
            "duty-free",
            "--shard",
            "3/3",
            "-q",
        ],
    );
    let e = fails(
        2,
        &[
            "merge",
            &shards[0],
            &shards[1],
            &other.display().to_string(),
            "--out",
            "/nonexistent/x",
        ],
    );
    assert!(
        e.contains("different studies") && e.contains("points"),
        "{e}"
    );
    assert!(!Path::new("/nonexistent/x").exists());

    // Shards of another tradesim version (every shard.json says so) are refused too.
    let mut older = Vec::new();
    for (k, shard) in shards.iter().enumerate() {
        let copy = dir.path().join(format!("older-{k}"));
        std::fs::create_dir(&copy).unwrap();
        std::fs::rename(Path::new(shard).join("units"), copy.join("units")).unwrap();
        let json = read(&Path::new(shard).join("shard.json"));
        let version = format!("\"tradesim_version\": \"{}\"", env!("CARGO_PKG_VERSION"));
        assert!(json.contains(&version), "{json}");
        let json = json.replace(&version, "\"tradesim_version\": \"0.0.0\"");
        std::fs::write(copy.join("shard.json"), json).unwrap();
        older.push(copy.display().to_string());
    }
    let mut args = vec!["merge".to_string()];
    args.extend(older);
    args.extend(["--out".to_string(), "/nonexistent/x".to_string()]);
    let e = fails(2, &args);
    assert!(e.contains("written by tradesim 0.0.0"), "{e}");
}

#[test]
fn sobol_indices_find_the_parameter_that_matters_and_not_the_one_that_cannot() {
    let dir = tmp();
    let out = dir.path().join("s");
    sweep(&out, &["--points", "128", "--bootstrap", "200", "-q"]);
    let idx = indices(&out);
    let get = |metric: &str, param: &str, index: &str| {
        idx[&(
            "baseline".to_string(),
            metric.to_string(),
            param.to_string(),
            index.to_string(),
        )]
    };
    // Russia's duty drives Russia's orders; India's threshold cannot move them.
    let (duty, lo, hi) = get("RU.orders", "ru_duty", "total");
    let duty = duty.unwrap();
    assert!(duty > 0.7, "ru_duty total {duty}");
    assert!(lo.unwrap() <= duty && duty <= hi.unwrap());
    let india = get("RU.orders", "in_threshold", "total").0.unwrap();
    assert!(
        india.abs() < 0.01,
        "in_threshold total for RU.orders {india}"
    );
    // ... and India's threshold does move India's duty.
    let india_duty = get("IN.duty_usd", "in_threshold", "total").0.unwrap();
    assert!(
        india_duty > 0.2,
        "in_threshold total for IN.duty_usd {india_duty}"
    );

    // The design: 128 base rows of d + 2 = 6 points, A first and B last in each.
    let (header, rows) = csv(&out.join("design.csv"));
    assert_eq!(
        header.join(","),
        "point,group,role,ru_duty,in_threshold,ru_rate,hub_fee"
    );
    assert_eq!(rows.len(), 128 * 6);
    assert_eq!((rows[0][2].as_str(), rows[5][2].as_str()), ("A", "B"));
    assert_eq!(rows[1][2], "AB:ru_duty");
    for r in &rows {
        let duty: f64 = r[3].parse().unwrap();
        let rate: f64 = r[5].parse().unwrap();
        assert!(
            (0.1..=0.5).contains(&duty) && (56.0..=72.0).contains(&rate),
            "{r:?}"
        );
        assert!(["0.2", "0.3", "0.5"].contains(&r[6].as_str()), "{r:?}");
    }
    // results.csv carries each point's values beside every summary row.
    let (header, results) = csv(&out.join("results.csv"));
    assert_eq!(
        header.join(","),
        "point,replication,variant,ru_duty,in_threshold,ru_rate,hub_fee,entity,entity_kind,metric,value"
    );
    let first_orders = results
        .iter()
        .find(|r| r[0] == "0" && r[7] == "RU" && r[9] == "orders")
        .unwrap();
    assert_eq!(first_orders[3], rows[0][3]);
    let svg = read(&out.join("sensitivity.svg"));
    assert!(svg.contains("data-parameter=\"ru_duty\" data-index=\"total\""));
}

#[test]
fn morris_and_factorial_designs_have_their_shapes() {
    let dir = tmp();
    let morris = dir.path().join("m");
    sweep(&morris, &["--design", "morris", "--points", "10", "-q"]);
    let (_, rows) = csv(&morris.join("design.csv"));
    assert_eq!(rows.len(), 10 * 5, "10 trajectories of d + 1 points");
    let idx = indices(&morris);
    let mu_star = |p: &str| {
        idx[&(
            "baseline".to_string(),
            "RU.orders".to_string(),
            p.to_string(),
            "mu_star".to_string(),
        )]
            .0
            .unwrap()
    };
    assert!(mu_star("ru_duty") > 10.0 * mu_star("in_threshold").max(1e-9));
    assert_eq!(mu_star("in_threshold"), 0.0);

    let factorial = dir.path().join("f");
    sweep(
        &factorial,
        &["--design", "factorial", "--levels", "2", "-q"],
    );
    let (_, rows) = csv(&factorial.join("design.csv"));
    // Two levels each of three continuous parameters, the three levels of hub_fee.
    assert_eq!(rows.len(), 2 * 2 * 2 * 3);
    assert_eq!(
        (rows[0][3].as_str(), rows[rows.len() - 1][3].as_str()),
        ("0.1", "0.5")
    );
    assert!(!factorial.join("sensitivity.csv").exists());
}

#[test]
fn an_interrupted_sweep_resumes_where_it_stopped_and_ends_with_the_same_files() {
    let dir = tmp();
    let out = dir.path().join("big");
    let work = dir.path().join(".big.sweep-work");
    let args = [
        "--design",
        "lhs",
        "--points",
        "3000",
        "--replications",
        "2",
        "--threads",
        "1",
    ];
    let child = Command::new(env!("CARGO_BIN_EXE_tradesim"))
        .arg("sweep")
        .arg(data("uncertain.toml"))
        .arg("--out")
        .arg(&out)
        .args(args)
        .arg("-q")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once some units are finished.
    let started = Instant::now();
    while std::fs::read_dir(work.join("units")).map_or(0, |d| d.count()) < 20 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no unit finished"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("run the same command again"), "{stderr}");
    assert!(!out.exists(), "nothing at the destination");
    let units: Vec<_> = std::fs::read_dir(work.join("units"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    assert!((20..6_000).contains(&units.len()), "{} units", units.len());
    // A unit cut short (a crash mid-write on some file system) is run again, not trusted.
    let cut = read(&units[0]);
    std::fs::write(&units[0], &cut[..cut.len() / 2]).unwrap();
    let done = units.len() - 1;

    // A different study is not mixed into it.
    let e = fails(
        2,
        &[
            "sweep",
            &data("uncertain.toml").display().to_string(),
            "--out",
            &out.display().to_string(),
            "--design",
            "lhs",
            "--points",
            "100",
        ],
    );
    assert!(e.contains("unfinished sweep with other settings"), "{e}");

    let mut again = vec![
        "sweep".to_string(),
        data("uncertain.toml").display().to_string(),
        "--out".to_string(),
        out.display().to_string(),
    ];
    again.extend(args.iter().map(|s| s.to_string()));
    let said = ok(&again);
    assert!(
        said.contains(&format!("{done} resumed")),
        "{said} (expected {done} resumed)"
    );
    assert!(
        !work.exists(),
        "the work directory goes once the sweep is written"
    );
    let fresh = dir.path().join("fresh");
    again[3] = fresh.display().to_string();
    again.push("-q".to_string());
    ok(&again);
    assert_eq!(outputs(&out), outputs(&fresh));
}

#[test]
fn uncertain_tables_are_checked_with_their_location_and_extremes() {
    let dir = tmp();
    let base = read(&data("uncertain.toml"));
    let cases = [
        (
            "dist = \"uniform\"\nlow = 0.1\nhigh = 0.5",
            "dist = \"gamma\"\nlow = 0.1\nhigh = 0.5",
            "unknown distribution `gamma`",
        ),
        (
            "low = 0.1\nhigh = 0.5",
            "low = 0.5\nhigh = 0.1",
            "expected low < high",
        ),
        ("mode = 10.0\n", "", "`mode` is missing"),
        (
            "levels = [0.2, 0.3, 0.5]",
            "levels = [0.2, 0.2]",
            "given twice",
        ),
        (
            "sd = 4.0",
            "sd = 4.0\nmode = 1.0",
            "`mode` is not a parameter of dist = \"normal\"",
        ),
        ("mean = 64.0", "mean = 0.0", "too far in the tail"),
        (
            "name = \"hub_fee\"",
            "name = \"metric\"",
            "names a column of sweep's tables",
        ),
    ];
    for (from, to, expected) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, base.replacen(from, to, 1)).unwrap();
        let e = fails(2, &["validate", &path.display().to_string()]);
        assert!(e.contains(expected), "{to}: {e}");
        assert!(
            e.contains("bad.toml:") && e.contains("uncertain["),
            "located: {e}"
        );
    }
    // An extreme that makes the scenario invalid is found before anything runs.
    let path = dir.path().join("extreme.toml");
    std::fs::write(&path, base.replacen("low = 56.0", "low = -8.0", 1)).unwrap();
    let out = dir.path().join("never");
    let e = fails(
        2,
        &[
            "sweep",
            &path.display().to_string(),
            "--out",
            &out.display().to_string(),
        ],
    );
    assert!(e.contains("uncertain \"ru_rate\" = -8.0"), "{e}");
    assert!(!out.exists());
    let e = fails(2, &["validate", &path.display().to_string()]);
    assert!(
        e.contains("uncertain \"ru_rate\" = -8.0"),
        "validate checks them too: {e}"
    );
    let said = ok(&[
        "validate",
        &data("uncertain.toml").display().to_string(),
        "--variant",
        "duty-free",
    ]);
    assert!(
        said.contains("ru_duty: market.RU.customs.duty_rate ~ uniform(0.1, 0.5) (fixed here")
            && said.contains("hub_fee: hub.HUB.fee_usd ~ levels[0.2, 0.3, 0.5]\n"),
        "{said}"
    );
    let e = fails(
        2,
        &[
            "run",
            &data("tiny.toml").display().to_string(),
            "--uncertain",
            "--out",
            &out.display().to_string(),
        ],
    );
    assert!(e.contains("no [[uncertain]] parameters"), "{e}");
    let e = fails(
        2,
        &[
            "sweep",
            &data("uncertain.toml").display().to_string(),
            "--metric",
            "RU.nothing",
            "--out",
            &out.display().to_string(),
        ],
    );
    assert!(
        e.contains("--metric RU.nothing") && e.contains("RU.orders"),
        "{e}"
    );
    assert!(!out.exists());
}

#[test]
fn run_and_compare_draw_the_uncertain_parameters_per_replication_and_record_them() {
    let dir = tmp();
    let scenario = data("uncertain.toml").display().to_string();
    let run = dir.path().join("run");
    ok(&[
        "run",
        &scenario,
        "--uncertain",
        "--replications",
        "3",
        "--no-event-log",
        "-q",
        "--out",
        &run.display().to_string(),
    ]);
    let overrides = |manifest: &Path| -> Vec<String> {
        let m: serde_json::Value = serde_json::from_str(&read(manifest)).unwrap();
        assert_eq!(m["overrides"].as_array().map(Vec::len), Some(0));
        m["uncertain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let drawn: Vec<Vec<String>> = (0..3)
        .map(|r| overrides(&run.join(format!("rep-{r:03}/manifest.json"))))
        .collect();
    for d in &drawn {
        assert_eq!(d.len(), 4, "{d:?}");
        assert!(d[0].starts_with("market.RU.customs.duty_rate="), "{d:?}");
    }
    assert_ne!(drawn[0][0], drawn[1][0], "each replication draws anew");
    // A --set wins over a draw however its path is spelled (the draws apply first).
    let fixed = dir.path().join("fixed");
    ok(&[
        "run",
        &scenario,
        "--uncertain",
        "--replications",
        "2",
        "--no-event-log",
        "-q",
        "--set",
        "market[0].customs.duty_rate=0.0",
        "--out",
        &fixed.display().to_string(),
    ]);
    for r in 0..2 {
        let duty = crate::support::summary(&fixed.join(format!("rep-{r:03}")));
        assert_eq!(duty["RU.duty_usd"], "0.00", "replication {r}");
    }
    // reproduce re-runs a replication from its manifest and finds every hash equal.
    ok(&[
        "reproduce",
        &run.join("rep-001").display().to_string(),
        "-q",
    ]);

    let cmp = dir.path().join("cmp");
    ok(&[
        "compare",
        &scenario,
        "--variant",
        "duty-free",
        "--uncertain",
        "--replications",
        "3",
        "-q",
        "--out",
        &cmp.display().to_string(),
    ]);
    for (r, drawn) in drawn.iter().enumerate() {
        let base = overrides(&cmp.join(format!("baseline/rep-{r:03}/manifest.json")));
        let variant = overrides(&cmp.join(format!("duty-free/rep-{r:03}/manifest.json")));
        assert_eq!(&base, drawn, "replication {r} draws as run does");
        // The variant fixes the duty: the other three draws are common to both arms.
        assert_eq!(variant, base[1..].to_vec(), "replication {r}");
    }
}
