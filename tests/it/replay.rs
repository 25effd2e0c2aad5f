//! `tradesim replay`, `reproduce` and `explain` (issue 4): tables rebuilt from the log
//! alone, damaged logs named by line, runs proven reproduced, and orders explained.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::*;

/// The checked-in log, made from tests/data/tiny.toml (its expected tables are beside it).
fn tiny_log() -> PathBuf {
    data("tiny_run/events.csv")
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Every table file of a directory, without the log and the manifest (and the opt-in
/// orders.csv, which tests/it/orders.rs checks).
fn tables(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = outputs(dir);
    files.remove("events.csv");
    files.remove("events.meta.json");
    files.remove("orders.csv");
    assert_eq!(files.len(), 7, "seven tables in {}", dir.display());
    files
}

/// The directory holds nothing but `keep` (no staging directory left behind).
fn only(dir: &Path, keep: &[&str]) {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names, keep, "contents of {}", dir.display());
}

/// Runs the scenario, replays the run into another directory, and asserts that the
/// replayed tables are the run's, byte for byte (and that `--check` says so).
fn run_then_replay(scenario: &Path, extra: &[&str]) {
    let t = tmp();
    let run = t.path().join("run");
    let mut args = vec![
        "run".to_string(),
        s(scenario),
        "--out".into(),
        s(&run),
        "--quiet".into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    ok(&args);
    let out = t.path().join("replayed");
    let said = ok(&["replay", &s(&run), "--out", &s(&out)]);
    assert!(said.contains("replayed"), "{said}");
    assert_eq!(
        tables(&run),
        tables(&out),
        "{} {extra:?}",
        scenario.display()
    );
    only(
        &out,
        &[
            ".tradesim-output",
            "cashflow.csv",
            "daily_facilities.csv",
            "daily_markets.csv",
            "lead_times.csv",
            "payments.csv",
            "sellers.csv",
            "summary.csv",
        ],
    );
    let checked = ok(&["replay", &s(&run), "--check"]);
    assert_eq!(checked.matches(" same").count(), 7, "{checked}");
    assert!(!run.join("replay").exists(), "--check alone writes nothing");
}

#[test]
fn replay_rebuilds_the_small_runs_tables_at_one_and_two_threads() {
    run_then_replay(&data("small.toml"), &["--threads", "1"]);
    run_then_replay(&data("small.toml"), &["--threads", "2"]);
    run_then_replay(
        &data("small.toml"),
        &["--threads", "2", "--variant", "more-lines", "--seed", "3"],
    );
}

#[test]
fn replay_rebuilds_every_shipped_scenarios_tables() {
    let mut n = 0;
    for entry in fs::read_dir(repo().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            run_then_replay(&path, &["--sample", "0.002", "--threads", "2"]);
            n += 1;
        }
    }
    assert!(n >= 3, "the shipped scenarios are found");
}

#[test]
fn replay_writes_beside_the_run_by_default_and_never_over_it_unasked() {
    let t = tmp();
    let run = t.path().join("run");
    run_small(&run, &["--sample", "0.2"]);
    ok(&["replay", &s(&run)]);
    assert_eq!(tables(&run), tables(&run.join("replay")));
    let err = fails(2, &["replay", &s(&run)]);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    ok(&["replay", &s(&run.join("events.csv")), "--force"]);
    assert_eq!(tables(&run), tables(&run.join("replay")));
    let err = fails(2, &["replay", &s(&run), "--out", &s(&run), "--force"]);
    assert!(err.contains("an input of this command"), "{err}");
    assert!(run.join("events.csv").is_file(), "the run is untouched");
}

#[test]
fn replay_check_names_each_table_that_differs() {
    let t = tmp();
    let run = t.path().join("run");
    run_small(&run, &["--sample", "0.2"]);
    let sellers = run.join("sellers.csv");
    let text = read(&sellers).replacen("CN,RU,all,", "CN,RU,all,1", 1);
    fs::write(&sellers, text).unwrap();
    fs::remove_file(run.join("lead_times.csv")).unwrap();
    let o = tradesim(&["replay", &s(&run), "--check"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let said = stdout(&o);
    assert!(
        said.contains("sellers.csv          differs (from line 2)"),
        "{said}"
    );
    assert!(
        said.contains("lead_times.csv       differs (the run has no lead_times.csv)"),
        "{said}"
    );
    assert!(said.contains("daily_markets.csv    same"), "{said}");
    let err = stderr(&o);
    assert!(
        err.contains("2 of 7 tables") && err.contains("sellers.csv, lead_times.csv"),
        "{err}"
    );
}

#[test]
fn replay_of_a_run_without_a_log_says_why() {
    let t = tmp();
    let run = t.path().join("run");
    run_small(&run, &["--sample", "0.2", "--no-event-log"]);
    let err = fails(2, &["replay", &s(&run)]);
    assert!(
        err.contains("has no events.csv") && err.contains("--no-event-log"),
        "{err}"
    );
    let err = fails(2, &["explain", &s(&run), "1"]);
    assert!(err.contains("--no-event-log"), "{err}");
    let err = fails(2, &["replay", &s(&t.path().join("nowhere"))]);
    assert!(err.contains("no such run directory or event log"), "{err}");

    let reps = t.path().join("reps");
    run_small(&reps, &["--sample", "0.2", "--replications", "2"]);
    let err = fails(2, &["replay", &s(&reps)]);
    assert!(err.contains("rep-000") && err.contains("rep-001"), "{err}");
    ok(&["replay", &s(&reps.join("rep-001")), "--check"]);
}

/// The checked-in log's replayed tables, snapshot-tested: a change to the log format or
/// to a fold shows up here. `UPDATE_SNAPSHOTS=1 cargo test --release --test it replay`
/// rewrites the expected tables (review the diff).
#[test]
fn replayed_tables_of_the_checked_in_log_match_their_snapshots() {
    let log = tiny_log();
    assert!(
        fs::metadata(&log).unwrap().len() < 300_000,
        "the checked-in log stays small"
    );
    let t = tmp();
    let out = t.path().join("out");
    ok(&["replay", &s(&log), "--out", &s(&out)]);
    let expected = data("tiny_run/expected");
    let got = tables(&out);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        fs::create_dir_all(&expected).unwrap();
        for (name, bytes) in &got {
            fs::write(expected.join(name), bytes).unwrap();
        }
    }
    for (name, bytes) in &got {
        let want = fs::read(expected.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e} (UPDATE_SNAPSHOTS=1 writes it)"));
        assert!(
            want == *bytes,
            "{name} replayed from {} differs from its snapshot (UPDATE_SNAPSHOTS=1 rewrites it):\n{}",
            log.display(),
            String::from_utf8_lossy(bytes)
        );
    }
    assert_eq!(tables(&expected).len(), got.len(), "no stale snapshot");
}

// ---- damaged logs ----

/// The checked-in log's lines (without line breaks).
fn tiny_lines() -> Vec<String> {
    read(&tiny_log()).lines().map(str::to_string).collect()
}

fn tiny_sidecar() -> String {
    read(&data("tiny_run/events.meta.json"))
}

/// Replays `text` as a run's events.csv, beside the tiny log's sidecar, and asserts it
/// fails (exit 2) naming `line` and `expected`, leaving no output behind.
fn rejects(text: &[u8], line: usize, expected: &str) -> String {
    let err = rejects_with(text, Some(&tiny_sidecar()), expected);
    assert!(
        err.contains(&format!("events.csv: line {line}: ")),
        "line {line}: {err}"
    );
    err
}

/// Replays `text` as a run's events.csv beside `sidecar` (none: no sidecar) and asserts
/// it fails (exit 2) saying `expected`, leaving no output behind.
fn rejects_with(text: &[u8], sidecar: Option<&str>, expected: &str) -> String {
    let t = tmp();
    let run = t.path().join("run");
    fs::create_dir(&run).unwrap();
    fs::write(run.join("events.csv"), text).unwrap();
    let mut files = vec!["events.csv"];
    if let Some(sidecar) = sidecar {
        fs::write(run.join("events.meta.json"), sidecar).unwrap();
        files.push("events.meta.json");
    }
    let err = fails(2, &["replay", &s(&run)]);
    assert!(err.contains(expected), "expected `{expected}` in: {err}");
    only(&run, &files);
    let out = t.path().join("out");
    fails(2, &["replay", &s(&run), "--out", &s(&out)]);
    only(t.path(), &["run"]);
    err
}

fn joined(lines: &[String]) -> Vec<u8> {
    let mut text = lines.join("\n");
    text.push('\n');
    text.into_bytes()
}

/// Index (0-based, so line index + 1) of the first row from `from` that satisfies `f`.
fn find(lines: &[String], from: usize, f: impl Fn(&[&str]) -> bool) -> usize {
    (from..lines.len())
        .find(|&i| {
            let fields: Vec<&str> = lines[i].split(',').collect();
            fields.len() == 26 && f(&fields)
        })
        .expect("a suitable row")
}

fn set_field(lines: &mut [String], i: usize, column: usize, value: &str) {
    let mut fields: Vec<&str> = lines[i].split(',').collect();
    fields[column] = value;
    lines[i] = fields.join(",");
}

#[test]
fn a_log_truncated_mid_line_is_named_at_its_last_line() {
    let lines = tiny_lines();
    let mut text = joined(&lines[..700]);
    text.extend_from_slice(&lines[700].as_bytes()[..10]);
    rejects(&text, 701, "the last line is cut short");
}

#[test]
fn a_log_truncated_at_a_line_break_is_caught_by_its_sidecars_count() {
    let lines = tiny_lines();
    // Line 1 is the header, so line 700 holds seq 699.
    rejects(
        &joined(&lines[..700]),
        701,
        "the file ends after 699 events but its sidecar counts 2998: the log is truncated",
    );
    rejects(
        &joined(&lines[..1]),
        2,
        "the file ends after 0 events but its sidecar counts 2998",
    );
    rejects(
        b"",
        1,
        "expected the header `seq,time_s,time,kind,order_id,",
    );
}

#[test]
fn a_log_edited_after_its_run_is_caught_by_its_sidecars_digest() {
    // Every row still valid, one value changed.
    let mut lines = tiny_lines();
    let i = find(&lines, 1000, |f| f[3] == "order_placed");
    let value: u64 = lines[i].split(',').nth(13).unwrap().parse().unwrap();
    set_field(&mut lines, i, 13, &(value + 1).to_string());
    rejects(
        &joined(&lines),
        lines.len() + 1,
        "the file does not match its sidecar: 282460 bytes with SHA-256",
    );
}

#[test]
fn a_time_that_is_not_its_time_s_is_named() {
    let mut lines = tiny_lines();
    let i = find(&lines, 800, |_| true);
    let time = lines[i].split(',').nth(2).unwrap().to_string();
    set_field(&mut lines, i, 2, &time.replace("+00:00", "+03:00"));
    rejects(
        &joined(&lines),
        i + 1,
        &format!("column `time`: expected `{time}` for time_s"),
    );
}

#[test]
fn a_row_moved_out_of_order_is_named() {
    let mut lines = tiny_lines();
    let row = lines.remove(99);
    lines.insert(110, row);
    rejects(
        &joined(&lines),
        100,
        "expected seq 99, found 100: rows are missing, repeated or out of order",
    );

    // Renumbered to hide the move, the time order still catches it.
    let mut lines = tiny_lines();
    let i = find(&lines, 500, |_| true);
    let i = (i..).find(|&i| {
        let t = |i: usize| lines[i].split(',').nth(1).unwrap().parse::<u64>().unwrap();
        t(i) < t(i + 1)
    });
    let i = i.unwrap();
    lines.swap(i, i + 1);
    let (a, b) = (
        lines[i + 1].split(',').next().unwrap().to_string(),
        lines[i].split(',').next().unwrap().to_string(),
    );
    set_field(&mut lines, i, 0, &a);
    set_field(&mut lines, i + 1, 0, &b);
    rejects(&joined(&lines), i + 2, "is earlier than the previous row's");

    // Two events of one order at the same second, swapped.
    let mut lines = tiny_lines();
    let i = find(&lines, 1, |f| f[3] == "order_placed");
    assert_eq!(lines[i + 1].split(',').nth(3), Some("payment_attempted"));
    lines.swap(i, i + 1);
    let (a, b) = (
        lines[i + 1].split(',').next().unwrap().to_string(),
        lines[i].split(',').next().unwrap().to_string(),
    );
    set_field(&mut lines, i, 0, &a);
    set_field(&mut lines, i + 1, 0, &b);
    rejects(&joined(&lines), i + 2, "`order_placed` of order");
}

#[test]
fn a_garbled_number_is_named_with_its_column() {
    let mut lines = tiny_lines();
    let i = find(&lines, 1000, |f| f[3] == "order_placed");
    set_field(&mut lines, i, 13, "12x4");
    rejects(
        &joined(&lines),
        i + 1,
        "column `value_cents`: expected a whole number, found `12x4`",
    );

    let mut lines = tiny_lines();
    let i = find(&lines, 1500, |f| f[3] == "hub_departed");
    set_field(&mut lines, i, 17, "");
    rejects(
        &joined(&lines),
        i + 1,
        "column `wait_s`: expected a whole number, found nothing",
    );

    let mut lines = tiny_lines();
    let i = find(&lines, 1200, |f| f[3] == "dispatched");
    set_field(&mut lines, i, 14, "5");
    rejects(
        &joined(&lines),
        i + 1,
        "column `duty_cents`: expected nothing for a `dispatched` event, found `5`",
    );

    let mut lines = tiny_lines();
    lines[900] = lines[900].replacen(',', ",,", 1);
    rejects(
        &joined(&lines),
        901,
        "expected 26 comma-separated fields, found 27",
    );
}

#[test]
fn an_unknown_market_is_named() {
    let mut lines = tiny_lines();
    let i = find(&lines, 1200, |f| f[5] == "RU");
    set_field(&mut lines, i, 5, "XX");
    rejects(
        &joined(&lines),
        i + 1,
        "column `market`: unknown `XX` (the context lists: RU, IN)",
    );

    let mut lines = tiny_lines();
    let i = find(&lines, 1300, |f| f[3] == "delivered");
    set_field(&mut lines, i, 3, "teleported");
    rejects(
        &joined(&lines),
        i + 1,
        "column `kind`: unknown event kind `teleported`",
    );
}

#[test]
fn a_foreign_csv_or_a_missing_sidecar_is_not_taken_for_a_log() {
    rejects(
        b"date,market,orders\n2016-11-11,RU,5\n",
        1,
        "expected the header `seq,time_s,time,kind,order_id,",
    );
    // A log's rows without its header.
    rejects(&joined(&tiny_lines()[1..]), 1, "expected the header");
    // The log without its sidecar.
    rejects_with(&joined(&tiny_lines()), None, "events.csv: no sidecar");
    // A sidecar that is not one.
    rejects_with(
        &joined(&tiny_lines()),
        Some("{\"scenario\":\"x\"}"),
        "events.meta.json: not a tradesim log's sidecar",
    );
    let inconsistent = tiny_sidecar().replace("\"days\": 6", "\"days\": 0");
    rejects_with(
        &joined(&tiny_lines()),
        Some(&inconsistent),
        "the sidecar's context is inconsistent",
    );
}

#[test]
fn a_log_of_another_schema_is_rejected_with_both_versions_named() {
    let newer = tiny_sidecar().replace("\"schema\": 4", "\"schema\": 5");
    rejects_with(
        &joined(&tiny_lines()),
        Some(&newer),
        "event log schema 5 is not supported: tradesim 0.1.0 reads schema 4; it was written by a newer tradesim",
    );
    // Schema 3 and earlier: the version and context inside the CSV, no sidecar.
    let mut old = vec![
        "#tradesim-events schema=3".to_string(),
        "#context {}".to_string(),
    ];
    old.extend(tiny_lines());
    rejects_with(
        &joined(&old),
        None,
        "events.csv: line 1: event log schema 3 is not supported: tradesim 0.1.0 reads schema 4; it was written by an older tradesim: run its scenario again with this one",
    );
}

#[test]
fn a_log_with_rows_added_or_out_of_its_horizon_is_rejected() {
    let mut lines = tiny_lines();
    let last = lines.last().unwrap().clone();
    let seq: u64 = last.split(',').next().unwrap().parse().unwrap();
    let mut extra: Vec<&str> = last.split(',').collect();
    let next = (seq + 1).to_string();
    extra[0] = &next;
    extra[4] = "999999";
    lines.push(extra.join(","));
    rejects(
        &joined(&lines),
        lines.len() + 1,
        "the file ends after 2999 events but its sidecar counts 2998: the log is not the one the sidecar describes",
    );
    let mut lines = tiny_lines();
    set_field(&mut lines, 1000, 1, "999999999");
    rejects(
        &joined(&lines),
        1001,
        "column `time_s`: 999999999 is not inside the horizon of 6 days",
    );
}

// ---- reproduce ----

#[test]
fn reproduce_passes_on_an_untouched_run_and_names_a_tampered_table() {
    let t = tmp();
    let run = t.path().join("run");
    run_small(
        &run,
        &[
            "--sample",
            "0.2",
            "--variant",
            "low-threshold",
            "--set",
            "market.IN.customs.vat_rate=0.1",
        ],
    );
    let manifest = s(&run.join("manifest.json"));
    let said = ok(&["reproduce", &manifest, "--threads", "3"]);
    assert_eq!(said.matches("ok       ").count(), 9, "{said}");
    assert!(said.contains("reproduced: all 9 files match"), "{said}");
    assert_eq!(ok(&["reproduce", &manifest, "--quiet"]), "");
    only(
        &run,
        &[
            ".tradesim-output",
            "cashflow.csv",
            "daily_facilities.csv",
            "daily_markets.csv",
            "events.csv",
            "events.meta.json",
            "lead_times.csv",
            "manifest.json",
            "payments.csv",
            "sellers.csv",
            "summary.csv",
        ],
    );

    let payments = run.join("payments.csv");
    fs::write(&payments, read(&payments).replacen("card", "kard", 1)).unwrap();
    let o = tradesim(&["reproduce", &manifest]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let said = stdout(&o);
    assert!(
        said.contains("DIFFERS  payments.csv") && said.contains("has changed since the run"),
        "{said}"
    );
    assert_eq!(said.matches("ok       ").count(), 8, "{said}");
    let err = stderr(&o);
    assert!(err.contains("1 of 9 files differ: payments.csv"), "{err}");
}

#[test]
fn reproduce_refuses_a_changed_scenario_file() {
    let t = tmp();
    let scenario = t.path().join("mine.toml");
    fs::copy(data("small.toml"), &scenario).unwrap();
    let run = t.path().join("run");
    ok(&[
        "run",
        &s(&scenario),
        "--out",
        &s(&run),
        "--quiet",
        "--sample",
        "0.2",
    ]);
    ok(&["reproduce", &s(&run.join("manifest.json"))]);
    let before = read(&scenario);
    fs::write(
        &scenario,
        before.replace("duty_rate = 0.3", "duty_rate = 0.35"),
    )
    .unwrap();
    let err = fails(1, &["reproduce", &s(&run.join("manifest.json"))]);
    assert!(
        err.contains("mine.toml` has changed since the run"),
        "{err}"
    );
    assert!(
        err.contains(&sha(before.as_bytes())) && err.contains("nothing was re-run"),
        "{err}"
    );
    assert!(
        err.contains(&sha(read(&scenario).as_bytes())),
        "both hashes: {err}"
    );
    fs::remove_file(&scenario).unwrap();
    let err = fails(2, &["reproduce", &s(&run)]);
    assert!(
        err.contains("cannot read the scenario file") && err.contains("mine.toml"),
        "{err}"
    );
}

fn sha(bytes: &[u8]) -> String {
    tradesim::scenario::sha256_hex(bytes)
}

// ---- explain ----

/// The first order in the checked-in log whose rows satisfy `f` (rows as fields).
fn order_where(f: impl Fn(&[Vec<String>]) -> bool) -> (u64, Vec<Vec<String>>) {
    let mut by_order: std::collections::BTreeMap<u64, Vec<Vec<String>>> = Default::default();
    for line in tiny_lines().iter().skip(1) {
        let fields: Vec<String> = line.split(',').map(str::to_string).collect();
        if fields.len() == 26 {
            by_order
                .entry(fields[4].parse().unwrap())
                .or_default()
                .push(fields);
        }
    }
    by_order
        .into_iter()
        // Orders placed in the warm-up have no placement in the log.
        .find(|(_, rows)| has(rows, "order_placed") && f(rows))
        .expect("a suitable order")
}

fn has(rows: &[Vec<String>], kind: &str) -> bool {
    rows.iter().any(|r| r[3] == kind)
}

/// `explain` on the checked-in log: a copy in its own run directory.
fn explain(order: u64) -> String {
    let t = tmp();
    copy_tiny_log(t.path());
    ok(&["explain", &s(t.path()), &order.to_string()])
}

/// The checked-in log and its sidecar, copied into `dir`.
fn copy_tiny_log(dir: &Path) {
    for name in ["events.csv", "events.meta.json"] {
        fs::copy(data("tiny_run").join(name), dir.join(name)).unwrap();
    }
}

/// The log's time as explain writes it (the tiny scenario starts 2016-11-09, a Wednesday).
fn when(time_s: &str) -> String {
    let t: u32 = time_s.parse().unwrap();
    let day = t / 86_400;
    let weekday = ["Wed", "Thu", "Fri", "Sat", "Sun", "Mon", "Tue"][day as usize % 7];
    let sec = t % 86_400;
    format!(
        "2016-11-{:02} {weekday} {:02}:{:02}:{:02}",
        9 + day,
        sec / 3600,
        sec / 60 % 60,
        sec % 60
    )
}

#[test]
fn explain_tells_a_cancelled_order() {
    let (id, rows) = order_where(|rows| has(rows, "order_cancelled") && rows.len() > 3);
    let story = explain(id);
    assert!(
        story.starts_with(&format!("Order {id} (scenario tiny, seed 7")),
        "{story}"
    );
    assert!(
        story.contains(&format!("{}  placed in market", when(&rows[0][1]))),
        "{story}"
    );
    assert!(
        story.contains("payment attempt 1 by") && story.contains(": failed"),
        "{story}"
    );
    assert!(
        story.contains("payment attempt 2 by") && story.contains("after the previous attempt"),
        "{story}"
    );
    assert!(
        story.contains("cancelled: all 2 payment attempts failed"),
        "{story}"
    );
    assert!(
        story.contains("Outcome: cancelled before dispatch."),
        "{story}"
    );
    assert!(!story.contains("dispatched by"), "{story}");
}

#[test]
fn explain_tells_an_inspected_and_taxed_order() {
    let (id, rows) = order_where(|rows| {
        rows.iter()
            .any(|r| r[3] == "customs_cleared" && r[16] == "1" && r[14] != "0")
    });
    let story = explain(id);
    let customs = rows.iter().find(|r| r[3] == "customs_cleared").unwrap();
    let duty = format!(
        "duty {}.{:02} USD",
        customs[14].parse::<u64>().unwrap() / 100,
        customs[14].parse::<u64>().unwrap() % 100
    );
    assert!(
        story.contains(&format!(
            "{}  cleared customs in {}",
            when(&customs[1]),
            customs[5]
        )),
        "{story}"
    );
    assert!(
        story.contains(&duty) && story.contains("above the market's de minimis threshold"),
        "{story}"
    );
    assert!(story.contains("held for inspection"), "{story}");

    let (id, _) = order_where(|rows| {
        rows.iter()
            .any(|r| r[3] == "customs_cleared" && r[14] == "0" && r[15] == "0")
    });
    let story = explain(id);
    assert!(
        story.contains("no duty or VAT (its value is below the market's de minimis threshold)"),
        "{story}"
    );
}

#[test]
fn explain_tells_a_hub_routed_order_with_its_wait() {
    let (id, rows) = order_where(|rows| {
        rows.iter()
            .any(|r| r[3] == "hub_departed" && r[17].parse::<u64>().unwrap() > 3 * 3600)
            && has(rows, "delivered")
    });
    let story = explain(id);
    let arrived = rows.iter().find(|r| r[3] == "hub_arrived").unwrap();
    let departed = rows.iter().find(|r| r[3] == "hub_departed").unwrap();
    let wait_h = departed[17].parse::<f64>().unwrap() / 3600.0;
    assert!(
        story.contains(&format!("{}  arrived at hub HUB", when(&arrived[1]))),
        "{story}"
    );
    assert!(
        story.contains(&format!(
            "{}  left hub HUB after {wait_h:.1} h in its queue",
            when(&departed[1])
        )),
        "{story}"
    );
    assert!(story.contains("via hub HUB"), "{story}");
    let delivered = rows.iter().find(|r| r[3] == "delivered").unwrap();
    let lead = delivered[19].parse::<f64>().unwrap() / 86_400.0;
    assert!(
        story.contains(&format!("lead time {lead:.1} days from placement")),
        "{story}"
    );

    // The tiny hub has no lines on its third day, 2016-11-11: a parcel queued then says so.
    let (id, _) = order_where(|rows| {
        rows.iter().any(|r| {
            let t: u64 = r[1].parse().unwrap();
            r[3] == "hub_arrived" && (2 * 86_400..3 * 86_400).contains(&t)
        }) && has(rows, "hub_departed")
    });
    let story = explain(id);
    assert!(
        story.contains("in its queue (the hub had no lines on 2016-11-11)"),
        "{story}"
    );
}

#[test]
fn explain_tells_a_returned_order() {
    let (id, rows) = order_where(|rows| has(rows, "returned"));
    let story = explain(id);
    let returned = rows.iter().find(|r| r[3] == "returned").unwrap();
    assert!(
        story.contains(&format!("{}  returned by the buyer", when(&returned[1]))),
        "{story}"
    );
    assert!(story.contains("then returned."), "{story}");
    assert!(
        story.contains("seller     rank") && story.contains("goods      "),
        "{story}"
    );
}

#[test]
fn explain_tells_an_order_still_in_flight_and_refuses_an_unknown_one() {
    let (id, _) = order_where(|rows| rows.last().unwrap()[3] == "hub_departed");
    let story = explain(id);
    assert!(
        story.contains(
            "still in flight at the end of the horizon (2016-11-15 Tue 00:00:00): in transit to"
        ),
        "{story}"
    );

    let t = tmp();
    copy_tiny_log(t.path());
    let err = fails(2, &["explain", &s(t.path()), "987654321"]);
    assert!(
        err.contains("order 987654321 is not in") && err.contains("order ids run from 0 to"),
        "{err}"
    );
}

#[test]
fn the_time_column_is_time_s_on_the_scenarios_clock() {
    let t = tmp();
    let run = t.path().join("run");
    ok(&[
        "run",
        &s(&data("tiny.toml")),
        "--out",
        &s(&run),
        "--quiet",
        "--set",
        "scenario.utc_offset=\"+05:30\"",
    ]);
    let sidecar: serde_json::Value =
        serde_json::from_str(&read(&run.join("events.meta.json"))).unwrap();
    assert_eq!(sidecar["context"]["utc_offset"], "+05:30");
    let text = read(&run.join("events.csv"));
    let mut rows = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let t: u32 = f[1].parse().unwrap();
        // The tiny scenario's six days all fall in November 2016, from the 9th.
        let (day, sec) = (t / 86_400, t % 86_400);
        let expected = format!(
            "2016-11-{:02}T{:02}:{:02}:{:02}+05:30",
            9 + day,
            sec / 3600,
            sec / 60 % 60,
            sec % 60
        );
        assert_eq!(f[2], expected, "{line}");
        rows += 1;
    }
    assert_eq!(sidecar["events"].as_u64(), Some(rows));
    ok(&["replay", &s(&run), "--check"]);
}
