//! `tradesim run`: determinism, the log's contract, tables against the log, conservation,
//! hub invariants, and the direction of policy effects.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::*;

/// One row of events.csv, read naively (the test does not trust the library's reader).
#[derive(Debug, Clone)]
struct Row {
    seq: u64,
    time: u64,
    kind: String,
    order: u64,
    market: String,
    route: String,
    hub: String,
    fields: Vec<String>,
}

impl Row {
    fn num(&self, column: &str) -> u64 {
        let i = COLUMNS.iter().position(|c| *c == column).unwrap();
        self.fields[i]
            .parse()
            .unwrap_or_else(|_| panic!("{column} of {self:?}"))
    }
}

// The log's columns written out again on purpose: the test states the contract itself,
// so a change to the library's list cannot pass unnoticed.
const COLUMNS: [&str; 26] = [
    "seq",
    "time_s",
    "time",
    "kind",
    "order_id",
    "market",
    "route",
    "hub",
    "seller",
    "category",
    "method",
    "attempt",
    "success",
    "value_cents",
    "duty_cents",
    "vat_cents",
    "inspected",
    "wait_s",
    "service_s",
    "lead_s",
    "freight_cents",
    "fee_cents",
    "commission_cents",
    "finance_cents",
    "cod_cents",
    "to_cash_s",
];

/// Whether the events of a paid order after its payment follow the lifecycle: dispatch,
/// the hub if its route has one (and the seller's payment right there when e-financed),
/// customs, then a refusal at the door, or a delivery followed by the seller's payment
/// and a return in either order (each perhaps past the horizon).
fn lifecycle_ok(rest: &[&str], via_hub: bool) -> bool {
    let mut path = vec!["dispatched"];
    if via_hub {
        path.extend(["hub_arrived", "hub_departed"]);
    }
    let mut i = 0;
    for step in path {
        match rest.get(i) {
            None => return true,
            Some(k) if *k == step => i += 1,
            _ => return false,
        }
    }
    let financed = via_hub && rest.get(i) == Some(&"seller_paid");
    i += usize::from(financed);
    match rest.get(i) {
        None => return true,
        Some(&"customs_cleared") => i += 1,
        _ => return false,
    }
    match rest.get(i) {
        None => true,
        Some(&"refused") => !financed && rest.len() == i + 1,
        Some(&"delivered") => {
            let after = &rest[i + 1..];
            let pays = after.iter().filter(|k| **k == "seller_paid").count();
            let returns = after.iter().filter(|k| **k == "returned").count();
            after.len() == pays + returns && pays <= usize::from(!financed) && returns <= 1
        }
        _ => false,
    }
}

fn read_log(dir: &Path) -> Vec<Row> {
    let text = read(&dir.join("events.csv"));
    let meta: serde_json::Value =
        serde_json::from_str(&read(&dir.join("events.meta.json"))).unwrap();
    assert_eq!(meta["format"], "tradesim-events");
    assert_eq!(meta["schema"], 4, "the sidecar states the schema version");
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        COLUMNS.join(","),
        "the log is plain CSV: the header first"
    );
    let mut rows = Vec::new();
    for line in lines {
        let f: Vec<String> = line.split(',').map(str::to_string).collect();
        assert_eq!(f.len(), COLUMNS.len(), "{line}");
        rows.push(Row {
            seq: f[0].parse().unwrap(),
            time: f[1].parse().unwrap(),
            kind: f[3].clone(),
            order: f[4].parse().unwrap(),
            market: f[5].clone(),
            route: f[6].clone(),
            hub: f[7].clone(),
            fields: f,
        });
    }
    assert_eq!(
        meta["events"].as_u64(),
        Some(rows.len() as u64),
        "the sidecar counts the rows"
    );
    rows
}

#[test]
fn thread_count_changes_nothing_but_speed() {
    let dir = tmp();
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    let four = dir.path().join("four");
    run_small(&one, &["--threads", "1"]);
    run_small(&two, &["--threads", "2"]);
    run_small(&four, &["--threads", "4"]);
    let a = outputs(&one);
    assert_eq!(
        a.len(),
        9,
        "events.csv, its sidecar and seven tables: {:?}",
        a.keys()
    );
    assert_eq!(a, outputs(&two));
    assert_eq!(a, outputs(&four));
    // The manifests differ only in the thread count.
    let m1 = read(&one.join("manifest.json")).replace("\"threads\": 1", "\"threads\": N");
    let m2 = read(&two.join("manifest.json")).replace("\"threads\": 2", "\"threads\": N");
    assert_eq!(m1, m2);
}

/// The shipped month, with its hub and direct routes, on 1 and 2 threads; and without
/// the log, where parcels with no hub queue ahead run to the horizon as soon as they are
/// drawn instead of waiting for each event's hour, the very same tables (the baseline,
/// and the variant whose hub outage makes parcels queue for days).
#[test]
fn shipped_scenario_is_identical_across_threads_at_a_sample() {
    let dir = tmp();
    for variant in [None, Some("dftz-outage")] {
        let (mut outs, mut logs) = (Vec::new(), Vec::new());
        for (threads, log) in [("1", true), ("2", true), ("1", false), ("2", false)] {
            let out = dir.path().join(format!("{variant:?}-{threads}-{log}"));
            let out_text = out.display().to_string();
            let mut args = vec![
                "run".to_string(),
                shipped("dftz_baseline.toml").display().to_string(),
                "--sample".into(),
                "0.002".into(),
                "--threads".into(),
                threads.into(),
                "--quiet".into(),
                "--out".into(),
                out_text,
            ];
            if let Some(v) = variant {
                args.extend(["--variant".into(), v.into()]);
            }
            if !log {
                args.push("--no-event-log".into());
            }
            ok(&args);
            let mut files = outputs(&out);
            logs.extend(files.remove("events.csv"));
            files.remove("events.meta.json");
            assert_eq!(files.len(), 7, "seven tables");
            outs.push(files);
        }
        assert_eq!(logs.len(), 2);
        assert!(logs[0] == logs[1], "{variant:?}: the logs differ");
        for (i, other) in outs.iter().enumerate().skip(1) {
            assert!(*other == outs[0], "{variant:?}: run {i} differs");
        }
    }
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let dir = tmp();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    run_small(&a, &[]);
    run_small(&b, &[]);
    run_small(&c, &["--seed", "43"]);
    assert_eq!(outputs(&a), outputs(&b));
    assert_ne!(outputs(&a)["events.csv"], outputs(&c)["events.csv"]);
    assert_ne!(outputs(&a)["summary.csv"], outputs(&c)["summary.csv"]);
    assert!(read(&c.join("manifest.json")).contains("\"seed\": 43"));
}

#[test]
fn the_log_obeys_its_contract_and_every_lifecycle_is_valid() {
    let dir = tmp();
    let out = dir.path().join("run");
    run_small(&out, &[]);
    let rows = read_log(&out);
    assert!(rows.len() > 50_000, "{} events", rows.len());
    for (i, w) in rows.windows(2).enumerate() {
        assert_eq!(w[1].seq, w[0].seq + 1, "seq strictly increasing at row {i}");
        assert!(w[1].time >= w[0].time, "time non-decreasing at row {i}");
        if w[1].time == w[0].time {
            assert!(
                w[1].order >= w[0].order,
                "ties resolved by order id at row {i}"
            );
        }
    }
    assert_eq!(rows[0].seq, 1);

    // Replay each order's story through the lifecycle state machine.
    let mut stories: BTreeMap<u64, Vec<&Row>> = BTreeMap::new();
    for r in &rows {
        stories.entry(r.order).or_default().push(r);
    }
    let mut ended = 0;
    for (id, story) in &stories {
        let kinds: Vec<&str> = story.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds[0], "order_placed", "order {id}: {kinds:?}");
        let attempts = kinds[1..]
            .iter()
            .take_while(|k| **k == "payment_attempted")
            .count();
        let rest: Vec<&str> = kinds[1 + attempts..].to_vec();
        for (k, row) in story[1..=attempts].iter().enumerate() {
            assert_eq!(
                row.num("attempt"),
                k as u64 + 1,
                "order {id}: attempts numbered"
            );
            if k + 1 < attempts {
                assert_eq!(
                    row.fields[12], "0",
                    "order {id}: only the last attempt can succeed"
                );
            }
        }
        let paid = attempts > 0 && story[attempts].fields[12] == "1";
        // In this scenario the MY pool ships via the hub, CN direct.
        let via_hub = story[0].route.starts_with("MY:");
        let valid = if attempts == 0 {
            // Abandoned (cancelled in the second it was placed, with no attempt), or
            // placed so late that its first attempt falls past the horizon.
            rest.is_empty() || (rest == ["order_cancelled"] && story[1].num("attempt") == 0)
        } else if !paid {
            rest.is_empty() || rest == ["order_cancelled"]
        } else {
            lifecycle_ok(&rest, via_hub)
        };
        assert!(valid, "order {id} on {}: {kinds:?}", story[0].route);
        for r in story {
            assert_eq!(r.market, story[0].market);
            assert_eq!(r.route, story[0].route);
        }
        if let Some(d) = story.iter().find(|r| r.kind == "delivered") {
            assert_eq!(
                d.num("lead_s"),
                d.time - story[0].time,
                "order {id}: lead time"
            );
        }
        if kinds
            .iter()
            .any(|k| matches!(*k, "order_cancelled" | "delivered" | "refused"))
        {
            ended += 1;
        }
    }
    assert!(
        ended > stories.len() / 2,
        "most orders end inside the horizon"
    );
}

#[test]
fn tables_count_what_the_log_holds_and_orders_are_conserved() {
    let dir = tmp();
    let out = dir.path().join("run");
    run_small(&out, &[]);
    let rows = read_log(&out);
    // The scenario starts on 2016-11-07; its dates, written out (an oracle independent
    // of the calendar arithmetic in src/date.rs).
    let dates: Vec<String> = (7..=30)
        .map(|d| format!("2016-11-{d:02}"))
        .chain((1..=31).map(|d| format!("2016-12-{d:02}")))
        .collect();
    let date_of = |t: u64| dates[(t / 86_400) as usize].clone();
    let mut counted: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let mut duty: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in &rows {
        *counted
            .entry((date_of(r.time), r.market.clone(), r.kind.clone()))
            .or_default() += 1;
        if r.kind == "customs_cleared" {
            *duty.entry((date_of(r.time), r.market.clone())).or_default() += r.num("duty_cents");
        }
    }
    let (header, table) = csv(&out.join("daily_markets.csv"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for row in &table {
        let key = |kind: &str| {
            counted
                .get(&(row[0].clone(), row[1].clone(), kind.to_string()))
                .copied()
                .unwrap_or(0)
        };
        assert_eq!(
            row[col("orders")].parse::<u64>().unwrap(),
            key("order_placed"),
            "{row:?}"
        );
        assert_eq!(
            row[col("cancelled")].parse::<u64>().unwrap(),
            key("order_cancelled"),
            "{row:?}"
        );
        assert_eq!(
            row[col("payment_attempts")].parse::<u64>().unwrap(),
            key("payment_attempted"),
            "{row:?}"
        );
        assert_eq!(
            row[col("dispatched")].parse::<u64>().unwrap(),
            key("dispatched"),
            "{row:?}"
        );
        assert_eq!(
            row[col("delivered")].parse::<u64>().unwrap(),
            key("delivered"),
            "{row:?}"
        );
        assert_eq!(
            row[col("returned")].parse::<u64>().unwrap(),
            key("returned"),
            "{row:?}"
        );
        let cents = duty
            .get(&(row[0].clone(), row[1].clone()))
            .copied()
            .unwrap_or(0);
        assert_eq!(
            row[col("duty_usd")],
            format!("{}.{:02}", cents / 100, cents % 100),
            "{row:?}"
        );
    }

    // Conservation: placed = cancelled + delivered + in flight, per market, and in
    // flight is exactly the orders whose story has not ended.
    let s = summary(&out);
    for market in ["RU", "IN"] {
        let n = |m: &str| s[&format!("{market}.{m}")].parse::<u64>().unwrap();
        assert_eq!(
            n("orders"),
            n("cancelled") + n("delivered") + n("refused") + n("in_flight"),
            "{market}"
        );
        let mut ended: BTreeMap<u64, bool> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.market == market) {
            let end = matches!(r.kind.as_str(), "order_cancelled" | "delivered" | "refused");
            *ended.entry(r.order).or_default() |= end;
        }
        let open = ended.values().filter(|e| !**e).count();
        assert_eq!(n("in_flight"), open as u64, "{market}");
        assert!(n("returned") > 0 || market == "IN");
    }
    assert_eq!(s["all.events"].parse::<usize>().unwrap(), rows.len());
}

#[test]
fn hubs_are_fifo_never_exceed_their_lines_and_depart_after_arrival() {
    let dir = tmp();
    let out = dir.path().join("run");
    run_small(&out, &[]);
    let rows = read_log(&out);
    // arrival time, order id -> (start of service, departure)
    let mut arrivals: BTreeMap<u64, u64> = BTreeMap::new();
    let mut served: Vec<(u64, u64, u64, u64)> = Vec::new(); // (arrival, order, start, departure)
    for r in rows.iter().filter(|r| r.hub == "HUB") {
        match r.kind.as_str() {
            "hub_arrived" => {
                arrivals.insert(r.order, r.time);
            }
            "hub_departed" => {
                let arrival = arrivals[&r.order];
                let (wait, service) = (r.num("wait_s"), r.num("service_s"));
                assert_eq!(arrival + wait + service, r.time, "order {}", r.order);
                served.push((arrival, r.order, arrival + wait, r.time));
            }
            _ => unreachable!(),
        }
    }
    assert!(served.len() > 5_000);
    // FIFO: in (arrival, order id) order, service starts never go backwards.
    served.sort();
    for w in served.windows(2) {
        assert!(w[1].2 >= w[0].2, "FIFO broken: {:?} then {:?}", w[0], w[1]);
    }
    // Never more parcels in service than the 4 lines.
    let mut edges: Vec<(u64, i64)> = Vec::new();
    for (_, _, start, end) in &served {
        if end > start {
            edges.push((*start, 1));
            edges.push((*end, -1));
        }
    }
    edges.sort();
    let mut busy = 0i64;
    for (t, delta) in edges {
        busy += delta;
        assert!(busy <= 4, "more than 4 parcels in service at {t}");
    }
    // During the outage, parcels that start service do so one at a time.
    let outage: Vec<&(u64, u64, u64, u64)> = served
        .iter()
        .filter(|s| s.2 >= 3 * 86_400 + 3600 && s.3 <= 5 * 86_400)
        .collect();
    for w in outage.windows(2) {
        assert!(
            w[1].2 >= w[0].3,
            "one line during the outage: {:?} overlaps {:?}",
            w[0],
            w[1]
        );
    }
}

#[test]
fn policy_moves_metrics_the_right_way() {
    let dir = tmp();
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        run_small(&out, &[&["--no-event-log"], extra].concat());
        out
    };
    let base = run("base", &[]);
    let low = run("low", &["--variant", "low-threshold"]);
    let lines = run("lines", &["--variant", "more-lines"]);
    let duty = run("duty", &["--variant", "high-duty"]);
    assert!(
        summary_f64(&low, "RU.duty_usd") > 2.0 * summary_f64(&base, "RU.duty_usd"),
        "a lower threshold collects more duty"
    );
    assert!(
        summary_f64(&low, "RU.orders") < summary_f64(&base, "RU.orders"),
        "and dearer imports sell less"
    );
    assert!(
        summary_f64(&lines, "HUB.mean_wait_hours")
            < summary_f64(&base, "HUB.mean_wait_hours") / 2.0,
        "more lines, shorter waits"
    );
    assert!(
        summary_f64(&duty, "RU.orders") < 0.95 * summary_f64(&base, "RU.orders"),
        "a higher duty lowers orders"
    );
    assert_eq!(
        summary(&base)["IN.orders"],
        summary(&duty)["IN.orders"],
        "India is untouched by Russia's duty"
    );
}

/// Without the log the steps are not sorted (the tables need no order): the tables are
/// still the very same, whatever the thread count.
#[test]
fn no_event_log_writes_the_very_same_tables() {
    let dir = tmp();
    let a = dir.path().join("a");
    run_small(&a, &[]);
    let mut with_log = outputs(&a);
    with_log.remove("events.csv");
    with_log.remove("events.meta.json");
    for threads in ["1", "2", "4"] {
        let b = dir.path().join(format!("b{threads}"));
        run_small(&b, &["--no-event-log", "--threads", threads]);
        assert_eq!(with_log, outputs(&b), "{threads} threads");
        assert!(!b.join("events.csv").exists());
        assert!(!b.join("events.meta.json").exists());
    }
}

#[test]
fn replications_sample_and_output_directory_rules() {
    let dir = tmp();
    let out = dir.path().join("reps");
    run_small(
        &out,
        &["--replications", "3", "--sample", "0.5", "--no-event-log"],
    );
    for r in 0..3 {
        let rep = out.join(format!("rep-{r:03}"));
        let manifest = read(&rep.join("manifest.json"));
        assert!(
            manifest.contains(&format!("\"replication\": {r}")),
            "{manifest}"
        );
        assert!(manifest.contains("\"sample\": 0.5"), "{manifest}");
    }
    assert_ne!(
        outputs(&out.join("rep-000")),
        outputs(&out.join("rep-001")),
        "replications differ"
    );
    // Half the buyers, about half the orders (Poisson noise is small at this volume).
    let full = dir.path().join("full");
    run_small(&full, &["--no-event-log"]);
    let ratio = summary_f64(&out.join("rep-000"), "all.orders") / summary_f64(&full, "all.orders");
    assert!((ratio - 0.5).abs() < 0.02, "{ratio}");

    // An existing directory is never overwritten without --force, and is with it.
    let before = read(&full.join("summary.csv"));
    let err = fails(
        2,
        &[
            "run",
            &data("small.toml").display().to_string(),
            "--out",
            &full.display().to_string(),
            "--quiet",
            "--seed",
            "1",
        ],
    );
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(read(&full.join("summary.csv")), before);
    run_small(&full, &["--no-event-log", "--seed", "1", "--force"]);
    assert_ne!(read(&full.join("summary.csv")), before);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        leftovers.iter().all(|n| !n.contains("tmp")),
        "no staging directories left: {leftovers:?}"
    );

    let err = fails(
        2,
        &[
            "run",
            &data("small.toml").display().to_string(),
            "--sample",
            "0",
            "--out",
            &dir.path().join("z").display().to_string(),
        ],
    );
    assert!(err.contains("--sample must be in (0, 1]"), "{err}");
}

#[test]
fn the_manifest_records_the_run_and_hashes_every_file() {
    let dir = tmp();
    let out = dir.path().join("run");
    run_small(
        &out,
        &["--variant", "low-threshold", "--set", "hub.HUB.fee_usd=0.5"],
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&out.join("manifest.json"))).unwrap();
    assert_eq!(manifest["variant"], "low-threshold");
    assert_eq!(manifest["overrides"][0], "hub.HUB.fee_usd=0.5");
    assert_eq!(manifest["seed"], 42);
    let files = manifest["files"].as_object().unwrap();
    assert_eq!(files.len(), 9);
    for (name, hash) in files {
        use sha2::Digest;
        let bytes = std::fs::read(out.join(name)).unwrap();
        let digest: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hash.as_str().unwrap(), digest, "{name}");
    }
    let rows = read_log(&out);
    assert_eq!(manifest["events"].as_u64().unwrap(), rows.len() as u64);
}

/// A regression guard: the hashes of a small run's files are checked in, so any change to
/// the model, the random streams or the formats shows up. After an intended change, run
/// with `UPDATE_SNAPSHOTS=1` and commit `tests/data/small.sha256`.
#[test]
fn small_run_matches_its_checked_in_hashes() {
    let dir = tmp();
    let out = dir.path().join("run");
    run_small(&out, &["--threads", "2"]);
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&out.join("manifest.json"))).unwrap();
    let mut actual = String::new();
    for (name, hash) in manifest["files"].as_object().unwrap() {
        actual.push_str(&format!("{}  {name}\n", hash.as_str().unwrap()));
    }
    let path = data("small.sha256");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    assert_eq!(
        read(&path),
        actual,
        "outputs changed; if on purpose, rerun with UPDATE_SNAPSHOTS=1"
    );
}

/// Ctrl-C during a run: exit code 1, a clear message, no output directory and no
/// staging directory left behind.
#[test]
fn an_interrupted_run_leaves_nothing_behind() {
    let dir = tmp();
    let out = dir.path().join("run");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_tradesim"))
        .args([
            "run",
            &shipped("dftz_baseline.toml").display().to_string(),
            "--sample",
            "0.5",
        ])
        .args(["--out", &out.display().to_string(), "--quiet"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the staging directory exists, so the run is under way.
    let started = std::time::Instant::now();
    while std::fs::read_dir(dir.path()).unwrap().count() == 0 {
        assert!(started.elapsed().as_secs() < 60, "the run never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The handler is installed before the scenario is read, so the signal cannot come
    // too early once the staging directory exists.
    // The shell's built-in `kill`, so the test needs no extra package.
    let killed = std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
