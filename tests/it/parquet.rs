//! The event log as Parquet (issue 21): `run --log parquet` writes `events/`, one file per
//! day; `replay` rebuilds the very tables the CSV log gives; the bytes do not depend on
//! `--threads`; the files are far smaller than `events.csv`; `reproduce` checks every
//! day's file; a damaged file is refused; pandas, DuckDB and Polars read it as it is.

use std::fs;
use std::path::Path;

use crate::support::*;

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Every file under `dir`, by its path there.
fn files_under(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                files.insert(name, fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn bytes_under(dir: &Path) -> usize {
    files_under(dir).values().map(Vec::len).sum()
}

/// small.toml with both logs: the tables replayed from the Parquet log are those
/// replayed from events.csv and the run's own, byte for byte.
#[test]
fn replay_of_the_parquet_log_gives_the_csv_logs_tables() {
    let t = tmp();
    let (csv, parquet) = (t.path().join("csv"), t.path().join("parquet"));
    run_small(&csv, &[]);
    run_small(&parquet, &["--log", "parquet"]);
    assert!(!parquet.join("events.csv").exists());
    let days = fs::read_dir(parquet.join("events")).unwrap().count();
    assert!(days > 1, "a directory per day");
    let (from_csv, from_parquet) = (t.path().join("from_csv"), t.path().join("from_parquet"));
    ok(&["replay", &s(&csv), "--out", &s(&from_csv)]);
    let said = ok(&[
        "replay",
        &s(&parquet),
        "--out",
        &s(&from_parquet),
        "--check",
    ]);
    assert!(said.contains("events"), "{said}");
    let tables = outputs(&from_csv);
    assert_eq!(tables.len(), 7);
    assert!(
        outputs(&from_parquet) == tables,
        "tables differ between the logs"
    );
    // The log's directory itself is accepted too, and the run's tables are the same.
    ok(&["replay", &s(&parquet.join("events")), "--check"]);
    let mut run_tables = outputs(&parquet);
    run_tables.remove("events.csv");
    assert!(run_tables == tables);
    // `explain` reads it through the same reader.
    let story = ok(&["explain", &s(&parquet), "3"]);
    assert_eq!(story, ok(&["explain", &s(&csv), "3"]));
}

/// The files are the same bytes whatever `--threads`, and `reproduce` checks each of
/// them and notices one changed after the run.
#[test]
fn parquet_files_do_not_depend_on_threads_and_reproduce_checks_each() {
    let t = tmp();
    let (one, two) = (t.path().join("one"), t.path().join("two"));
    run_small(&one, &["--log", "parquet", "--threads", "1"]);
    run_small(&two, &["--log", "parquet", "--threads", "2"]);
    let files = files_under(&one.join("events"));
    assert!(
        files == files_under(&two.join("events")),
        "--threads changed the log"
    );
    let manifest = read(&one.join("manifest.json"));
    assert!(
        manifest.contains("\"log_format\": \"parquet\""),
        "{manifest}"
    );
    let first = files.keys().next().unwrap();
    assert!(manifest.contains(&format!("events/{first}")), "{manifest}");
    let said = ok(&["reproduce", &s(&one), "--threads", "2"]);
    assert!(said.contains(&format!("ok       events/{first}")), "{said}");
    // A day's file changed after the run is named.
    let path = one.join("events").join(first);
    let mut bytes = fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    fs::write(&path, bytes).unwrap();
    let said = fails(1, &["reproduce", &s(&one)]);
    assert!(said.contains(&format!("events/{first}")), "{said}");
}

/// At least 5x smaller than events.csv on a realistic run (the bar).
#[test]
fn the_parquet_log_is_at_least_five_times_smaller_than_the_csv_log() {
    let t = tmp();
    let (csv, parquet) = (t.path().join("csv"), t.path().join("parquet"));
    let scenario = s(&shipped("dftz_baseline.toml"));
    let args = |out: &Path, log: &str| {
        vec![
            "run".to_string(),
            scenario.clone(),
            "--sample".into(),
            "0.01".into(),
            "--log".into(),
            log.into(),
            "--out".into(),
            s(out),
            "-q".into(),
        ]
    };
    ok(&args(&csv, "csv"));
    ok(&args(&parquet, "parquet"));
    let csv_bytes = fs::metadata(csv.join("events.csv")).unwrap().len() as usize;
    let parquet_bytes = bytes_under(&parquet.join("events"));
    let ratio = csv_bytes as f64 / parquet_bytes as f64;
    eprintln!("events.csv {csv_bytes} bytes, events/ {parquet_bytes} bytes: {ratio:.1}x");
    assert!(ratio >= 5.0, "only {ratio:.2}x smaller");
}

/// A day's file cut short is refused with the file named (exit 2), and nothing is
/// written; `--no-event-log` and `--log` together are a usage error.
#[test]
fn a_damaged_parquet_log_is_refused_with_the_file_named() {
    let t = tmp();
    let run = t.path().join("run");
    run_small(&run, &["--log", "parquet"]);
    let mut days: Vec<_> = fs::read_dir(run.join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    days.sort();
    let file = days[1].join("part-0.parquet");
    let bytes = fs::read(&file).unwrap();
    fs::write(&file, &bytes[..bytes.len() - 100]).unwrap();
    let out = t.path().join("replayed");
    let said = fails(2, &["replay", &s(&run), "--out", &s(&out)]);
    assert!(
        said.contains(&s(&file)) && said.contains("damaged or truncated"),
        "{said}"
    );
    assert!(!out.exists());
    let said = fails(
        2,
        &[
            "run",
            &s(&data("small.toml")),
            "--no-event-log",
            "--log",
            "parquet",
        ],
    );
    assert!(said.contains("--no-event-log"), "{said}");
}

/// pandas, DuckDB and Polars read the log with bare calls, with its types
/// (tests/python/load_parquet.py), using the Python in `TRADESIM_PYTHON`.
#[test]
fn pandas_duckdb_and_polars_read_the_parquet_log() {
    let Some(python) = python() else { return };
    let t = tmp();
    let run = t.path().join("run");
    run_small(&run, &["--log", "parquet"]);
    let manifest = read(&run.join("manifest.json"));
    let events: u64 = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("\"events\": "))
        .and_then(|v| v.trim_end_matches(',').parse().ok())
        .expect("the manifest counts the events");
    let events_text = events.to_string();
    let said = run_script(
        &python,
        "load_parquet.py",
        &[run.as_os_str(), events_text.as_ref()],
    );
    for client in ["pandas", "duckdb", "polars"] {
        assert!(said.contains(&format!("{client}: {events} rows")), "{said}");
    }
}

/// `orders.csv` is the same whichever log the run writes, and a Parquet log's replay
/// rebuilds it byte for byte.
#[test]
fn orders_csv_is_the_same_from_either_log() {
    let t = tmp();
    let (csv, parquet) = (t.path().join("csv"), t.path().join("parquet"));
    run_small(&csv, &["--orders"]);
    run_small(&parquet, &["--orders", "--log", "parquet"]);
    let orders = fs::read(csv.join("orders.csv")).unwrap();
    assert!(orders.len() > 1000, "orders.csv has rows");
    assert!(fs::read(parquet.join("orders.csv")).unwrap() == orders);
    let replayed = t.path().join("replayed");
    ok(&["replay", &s(&parquet), "--orders", "--out", &s(&replayed)]);
    assert!(fs::read(replayed.join("orders.csv")).unwrap() == orders);
    let said = ok(&["replay", &s(&parquet), "--check"]);
    assert!(said.contains("orders.csv           same"), "{said}");
}
