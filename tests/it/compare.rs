//! `tradesim compare` (issue 6): common random numbers, paired intervals, the table and
//! the chart.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::{csv, data, fails, ok, outputs, read, shipped, tmp};

/// The metric as `summary.csv` names it, then the contract's columns.
const HEADER: &str = "entity,entity_kind,metric,variant,baseline_mean,variant_mean,diff,rel_diff,ci95_low,ci95_high,significant";

/// Runs `compare` on the small scenario into `out` with extra arguments; returns stdout.
fn compare_small(out: &Path, variants: &[&str], extra: &[&str]) -> String {
    let mut args = vec![
        "compare".to_string(),
        data("small.toml").display().to_string(),
    ];
    for v in variants {
        args.extend(["--variant".to_string(), v.to_string()]);
    }
    args.extend(["--out".to_string(), out.display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    ok(&args)
}

/// `compare.csv` as (`ENTITY.METRIC`, variant) -> column name -> value (the small
/// scenario's entities of different kinds have different ids).
fn rows(dir: &Path) -> BTreeMap<(String, String), BTreeMap<String, String>> {
    let (header, rows) = csv(&dir.join("compare.csv"));
    let n = rows.len();
    let map: BTreeMap<_, _> = rows
        .into_iter()
        .map(|r| {
            let key = (format!("{}.{}", r[0], r[2]), r[3].clone());
            (key, header.iter().cloned().zip(r).collect())
        })
        .collect();
    assert_eq!(map.len(), n, "one row per metric and variant");
    map
}

fn num(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column} = {:?} is not a number", row[column]))
}

#[test]
fn compare_csv_header_is_exactly_the_contract() {
    let dir = tmp();
    let out = dir.path().join("cmp");
    compare_small(&out, &["noop"], &["--replications", "2", "--quiet"]);
    let text = read(&out.join("compare.csv"));
    let header = text.lines().next().unwrap();
    assert!(header.starts_with(&format!("{HEADER},")), "{header}");
    assert_eq!(header, format!("{HEADER},sd_diff,replications"));
    assert_eq!(
        read(&out.join("compare_daily.csv")).lines().next().unwrap(),
        "date,variant,orders,mean_lead_time_days,duty_usd"
    );
}

#[test]
fn noop_variant_gives_exactly_zero_difference_everywhere() {
    let dir = tmp();
    let out = dir.path().join("cmp");
    let printed = compare_small(&out, &["noop"], &["--replications", "3"]);
    let rows = rows(&out);
    let summary_metrics = csv(&out.join("baseline/rep-000/summary.csv")).1.len();
    assert_eq!(rows.len(), summary_metrics, "one row per summary metric");
    for ((metric, variant), row) in &rows {
        assert_eq!(variant, "noop");
        assert_eq!(row["baseline_mean"], row["variant_mean"], "{metric}");
        for column in ["diff", "ci95_low", "ci95_high", "sd_diff"] {
            assert_eq!(row[column], "0.0000", "{metric} {column}");
        }
        assert_eq!(row["significant"], "false", "{metric}");
        assert_eq!(row["replications"], "3", "{metric}");
    }
    // Not only the summaries: every table of every replication is the same, byte for byte.
    for r in 0..3 {
        let rep = format!("rep-{r:03}");
        assert_eq!(
            outputs(&out.join("baseline").join(&rep)),
            outputs(&out.join("noop").join(&rep)),
            "{rep}"
        );
    }
    assert!(
        printed.contains("noop vs baseline")
            && printed.contains("identical to the baseline in every replication on all"),
        "{printed}"
    );
}

#[test]
fn ru_de_minimis_200_raises_russian_duties_with_an_interval_above_zero() {
    let dir = tmp();
    let out = dir.path().join("cmp");
    let printed = ok(&[
        "compare",
        &shipped("dftz_baseline.toml").display().to_string(),
        "--variant",
        "ru-de-minimis-200",
        "--sample",
        "0.002",
        "--replications",
        "5",
        "--out",
        &out.display().to_string(),
    ]);
    let rows = rows(&out);
    for metric in ["RU.duty_usd", "all.duty_usd"] {
        let row = &rows[&(metric.to_string(), "ru-de-minimis-200".to_string())];
        assert!(num(row, "diff") > 0.0, "{metric}: {row:?}");
        assert!(num(row, "ci95_low") > 0.0, "{metric}: {row:?}");
        assert!(
            num(row, "variant_mean") > num(row, "baseline_mean"),
            "{metric}: {row:?}"
        );
        assert_eq!(row["significant"], "true", "{metric}");
    }
    // The policy is Russia's: India's orders are untouched, replication by replication.
    let india = &rows[&("IN.orders".to_string(), "ru-de-minimis-200".to_string())];
    assert_eq!(
        (india["diff"].as_str(), india["sd_diff"].as_str()),
        ("0.0000", "0.0000")
    );
    // The terminal shows the same row, aligned, with its interval and a star.
    let line = printed
        .lines()
        .find(|l| l.trim_start().starts_with("RU.duty_usd"))
        .expect("RU.duty_usd on the terminal");
    assert!(line.trim_end().ends_with('*'), "{line}");
}

/// Issue 21: `replications.csv` holds every replication's summary rows, arm by arm in the
/// order given, and is what `compare.csv`'s means are taken over.
#[test]
fn replications_csv_holds_every_summary_row_of_every_arm() {
    let dir = tmp();
    let out = dir.path().join("cmp");
    let arms = ["baseline", "low-threshold", "more-lines"];
    compare_small(&out, &arms[1..], &["--replications", "3", "--quiet"]);
    let (header, replications) = csv(&out.join("replications.csv"));
    assert_eq!(
        header,
        [
            "variant",
            "replication",
            "entity",
            "entity_kind",
            "metric",
            "value"
        ]
    );
    // Arm by arm, replication by replication, each block exactly that replication's
    // summary.csv (the small scenario's arms share its entities).
    let summary_rows = csv(&out.join("baseline/rep-000/summary.csv")).1.len();
    assert_eq!(replications.len(), arms.len() * 3 * summary_rows);
    let mut blocks = replications.chunks(summary_rows);
    for arm in arms {
        for r in 0..3 {
            let block = blocks.next().unwrap();
            let (_, want) = csv(&out.join(arm).join(format!("rep-{r:03}/summary.csv")));
            let got: Vec<&[String]> = block
                .iter()
                .inspect(|row| assert_eq!((&*row[0], &*row[1]), (arm, &*r.to_string())))
                .map(|row| &row[2..])
                .collect();
            assert_eq!(got, want, "{arm} replication {r}");
        }
    }
    // Each arm's mean in compare.csv is the mean of its replications' values (to the
    // four decimals it is printed with).
    let compared = rows(&out);
    let mut checked = 0;
    for ((metric, variant), row) in &compared {
        for (arm, column) in [
            ("baseline", "baseline_mean"),
            (variant.as_str(), "variant_mean"),
        ] {
            let values: Vec<f64> = replications
                .iter()
                .filter(|r| r[0] == arm && format!("{}.{}", r[2], r[4]) == *metric)
                .filter_map(|r| r[5].parse().ok())
                .collect();
            if values.len() < 3 {
                assert_eq!(
                    row[column], "",
                    "{metric} {arm}: a replication without a value"
                );
                continue;
            }
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            assert!(
                (num(row, column) - mean).abs() <= 5e-5 + 1e-12 * mean.abs(),
                "{metric} {arm}: {} against {mean}",
                row[column]
            );
            checked += 1;
        }
    }
    assert!(
        checked > compared.len(),
        "most metrics have values: {checked}"
    );
}

#[test]
fn serial_and_parallel_replications_write_identical_files() {
    let dir = tmp();
    let serial = dir.path().join("serial");
    let parallel = dir.path().join("parallel");
    let variants = ["low-threshold", "more-lines"];
    compare_small(
        &serial,
        &variants,
        &["--replications", "3", "--threads", "1", "--quiet"],
    );
    compare_small(
        &parallel,
        &variants,
        &["--replications", "3", "--threads", "2", "--quiet"],
    );
    let top = outputs(&serial);
    assert_eq!(
        top.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "compare.csv",
            "compare.svg",
            "compare_daily.csv",
            "replications.csv"
        ]
    );
    assert_eq!(top, outputs(&parallel));
    for arm in ["baseline", "low-threshold", "more-lines"] {
        for r in 0..3 {
            let rep = Path::new(arm).join(format!("rep-{r:03}"));
            assert_eq!(
                outputs(&serial.join(&rep)),
                outputs(&parallel.join(&rep)),
                "{}",
                rep.display()
            );
        }
    }
}

#[test]
fn variants_share_the_baseline_streams_unless_asked_otherwise() {
    let dir = tmp();
    let common = dir.path().join("common");
    let independent = dir.path().join("independent");
    compare_small(&common, &["high-duty"], &["--replications", "2", "--quiet"]);
    compare_small(
        &independent,
        &["high-duty"],
        &["--replications", "2", "--quiet", "--independent"],
    );
    let seed = |dir: &Path| -> serde_json::Value {
        let text = read(&dir.join("manifest.json"));
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["seed"].clone()
    };
    for r in ["rep-000", "rep-001"] {
        let base = seed(&common.join("baseline").join(r));
        assert_eq!(base, seed(&common.join("high-duty").join(r)));
        assert_ne!(base, seed(&independent.join("high-duty").join(r)));
    }
    // A duty rate changes no order, so with common streams India does not move at all.
    let common_rows = rows(&common);
    let india = &common_rows[&("IN.orders".to_string(), "high-duty".to_string())];
    assert_eq!(india["sd_diff"], "0.0000");
    let independent_rows = rows(&independent);
    let india = &independent_rows[&("IN.orders".to_string(), "high-duty".to_string())];
    assert_ne!(india["sd_diff"], "0.0000");
}

#[test]
fn one_replication_gives_a_difference_without_an_interval() {
    let dir = tmp();
    let out = dir.path().join("cmp");
    let printed = compare_small(&out, &["low-threshold"], &["--replications", "1"]);
    let rows = rows(&out);
    let row = &rows[&("RU.duty_usd".to_string(), "low-threshold".to_string())];
    assert!(num(row, "diff") > 0.0);
    for column in ["ci95_low", "ci95_high", "significant", "sd_diff"] {
        assert_eq!(row[column], "", "{column}");
    }
    assert!(printed.contains("no confidence interval"), "{printed}");
}

#[test]
fn chart_has_a_panel_per_series_and_a_line_per_arm() {
    let dir = tmp();
    let out = dir.path().join("cmp");
    compare_small(
        &out,
        &["low-threshold", "more-lines"],
        &["--replications", "2", "--quiet"],
    );
    let svg = read(&out.join("compare.svg"));
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    for text in [
        "Orders placed per day",
        "Mean lead time in days",
        "Duties collected per day (USD)",
        ">baseline<",
        ">low-threshold<",
        ">more-lines<",
        ">2016-11-07<",
    ] {
        assert!(svg.contains(text), "{text} missing");
    }
    // Three panels, three arms: nine data lines (plus the three axes).
    assert_eq!(svg.matches("<path d=\"M").count(), 9 + 3);
    // The chart's numbers are in compare_daily.csv: one row per day and arm.
    let (_, daily) = csv(&out.join("compare_daily.csv"));
    assert_eq!(daily.len(), 10 * 3);
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let dir = tmp();
    let out = dir.path().join("cmp");
    let small = data("small.toml").display().to_string();
    let out_arg = out.display().to_string();
    let err = fails(
        2,
        &[
            "compare",
            &small,
            "--variant",
            "no-such-variant",
            "--out",
            &out_arg,
        ],
    );
    assert!(err.contains("unknown variant `no-such-variant`"), "{err}");
    let err = fails(
        2,
        &[
            "compare",
            &small,
            "--variant",
            "noop",
            "--variant",
            "noop",
            "--out",
            &out_arg,
        ],
    );
    assert!(err.contains("given twice"), "{err}");
    fails(
        2,
        &[
            "compare",
            &small,
            "--variant",
            "noop",
            "--replications",
            "0",
            "--out",
            &out_arg,
        ],
    );
    fails(
        2,
        &[
            "compare",
            &small,
            "--variant",
            "noop",
            "--sample",
            "0",
            "--out",
            &out_arg,
        ],
    );
    fails(2, &["compare", &small, "--out", &out_arg]);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written, not even a staging directory"
    );

    // An existing directory is replaced only with --force.
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep"), "x").unwrap();
    let err = fails(
        2,
        &[
            "compare",
            &small,
            "--variant",
            "noop",
            "--replications",
            "1",
            "--out",
            &out_arg,
        ],
    );
    assert!(err.contains("--force"), "{err}");
    assert!(out.join("keep").exists());
    // Not even with --force: tradesim did not write it.
    let err = fails(
        2,
        &[
            "compare",
            &small,
            "--variant",
            "noop",
            "--out",
            &out_arg,
            "--force",
        ],
    );
    assert!(err.contains("not written by tradesim"), "{err}");
    assert!(out.join("keep").exists());
    // A comparison tradesim wrote is replaced with --force.
    std::fs::remove_dir_all(&out).unwrap();
    compare_small(&out, &["noop"], &["--replications", "1", "--quiet"]);
    std::fs::write(out.join("keep"), "x").unwrap();
    compare_small(
        &out,
        &["noop"],
        &["--replications", "1", "--quiet", "--force"],
    );
    assert!(!out.join("keep").exists() && out.join("compare.csv").exists());
}
