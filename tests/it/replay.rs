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

/// Every table file of a directory, without the log and the manifest.
fn tables(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = outputs(dir);
    files.remove("events.csv");
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

/// Replays `text` as a run's events.csv and asserts it fails (exit 2) naming `line` and
/// `expected`, leaving no output behind.
fn rejects(text: &[u8], line: usize, expected: &str) -> String {
    let t = tmp();
    let run = t.path().join("run");
    fs::create_dir(&run).unwrap();
    fs::write(run.join("events.csv"), text).unwrap();
    let err = fails(2, &["replay", &s(&run)]);
    assert!(
        err.contains(&format!("events.csv: line {line}: ")),
        "line {line}: {err}"
    );
    assert!(err.contains(expected), "expected `{expected}` in: {err}");
    only(&run, &["events.csv"]);
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
            fields.len() == 25 && f(&fields)
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
fn a_log_truncated_at_a_line_break_lacks_its_end_marker() {
    let lines = tiny_lines();
    // Lines 1-3 are the header, so line 700 holds seq 697.
    rejects(
        &joined(&lines[..700]),
        701,
        "expected the row with seq 698 or the end marker `#end events=697`, found the end of the file: \
         the log is truncated after 697 events",
    );
    rejects(
        &joined(&lines[..1]),
        2,
        "the log is truncated in its header",
    );
    rejects(
        b"",
        1,
        "not a tradesim event log: expected `#tradesim-events schema=3`, found an empty file",
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
        "expected seq 97, found 98: rows are missing, repeated or out of order",
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
    let i = find(&lines, 3, |f| f[2] == "order_placed");
    assert_eq!(lines[i + 1].split(',').nth(2), Some("payment_attempted"));
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
    let i = find(&lines, 1000, |f| f[2] == "order_placed");
    set_field(&mut lines, i, 12, "12x4");
    rejects(
        &joined(&lines),
        i + 1,
        "column `value_cents`: expected a whole number, found `12x4`",
    );

    let mut lines = tiny_lines();
    let i = find(&lines, 1500, |f| f[2] == "hub_departed");
    set_field(&mut lines, i, 16, "");
    rejects(
        &joined(&lines),
        i + 1,
        "column `wait_s`: expected a whole number, found nothing",
    );

    let mut lines = tiny_lines();
    let i = find(&lines, 1200, |f| f[2] == "dispatched");
    set_field(&mut lines, i, 13, "5");
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
        "expected 25 comma-separated fields, found 26",
    );
}

#[test]
fn an_unknown_market_is_named() {
    let mut lines = tiny_lines();
    let i = find(&lines, 1200, |f| f[4] == "RU");
    set_field(&mut lines, i, 4, "XX");
    rejects(
        &joined(&lines),
        i + 1,
        "column `market`: unknown `XX` (the context lists: RU, IN)",
    );

    let mut lines = tiny_lines();
    let i = find(&lines, 1300, |f| f[2] == "delivered");
    set_field(&mut lines, i, 2, "teleported");
    rejects(
        &joined(&lines),
        i + 1,
        "column `kind`: unknown event kind `teleported`",
    );
}

#[test]
fn a_foreign_csv_is_not_taken_for_a_log() {
    rejects(
        b"date,market,orders\n2016-11-11,RU,5\n",
        1,
        "not a tradesim event log: expected `#tradesim-events schema=3`, found `date,market,orders`",
    );
    // A log's rows without its header lines.
    rejects(&joined(&tiny_lines()[2..]), 1, "not a tradesim event log");
    // A run's table handed over instead of its log.
    let mut lines = tiny_lines();
    lines[2] = "seq,time_s,kind".to_string();
    rejects(
        &joined(&lines),
        3,
        "expected the header `seq,time_s,kind,order_id,",
    );
    let mut lines = tiny_lines();
    lines[1] = "#context {\"scenario\":\"x\"}".to_string();
    rejects(&joined(&lines), 2, "unreadable context");
}

#[test]
fn a_log_of_another_schema_is_rejected_with_both_versions_named() {
    let mut lines = tiny_lines();
    lines[0] = "#tradesim-events schema=4".to_string();
    rejects(
        &joined(&lines),
        1,
        "event log schema 4 is not supported: tradesim 0.1.0 reads schema 3; it was written by a newer tradesim",
    );
    lines[0] = "#tradesim-events schema=1".to_string();
    rejects(
        &joined(&lines),
        1,
        "event log schema 1 is not supported: tradesim 0.1.0 reads schema 3; it was written by an older tradesim: run its scenario again with this one",
    );
}

#[test]
fn a_log_with_rows_lost_or_added_after_its_end_is_rejected() {
    let mut lines = tiny_lines();
    let end = lines.len() - 1;
    lines[end] = "#end events=9999".to_string();
    rejects(
        &joined(&lines),
        end + 1,
        "the end marker counts 9999 events but the log holds",
    );
    let mut lines = tiny_lines();
    lines.push("1,2,3".to_string());
    rejects(&joined(&lines), lines.len(), "text after the end marker");
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
    assert_eq!(said.matches("ok       ").count(), 8, "{said}");
    assert!(said.contains("reproduced: all 8 files match"), "{said}");
    assert_eq!(ok(&["reproduce", &manifest, "--quiet"]), "");
    only(
        &run,
        &[
            ".tradesim-output",
            "cashflow.csv",
            "daily_facilities.csv",
            "daily_markets.csv",
            "events.csv",
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
    assert_eq!(said.matches("ok       ").count(), 7, "{said}");
    let err = stderr(&o);
    assert!(err.contains("1 of 8 files differ: payments.csv"), "{err}");
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
    for line in tiny_lines().iter().skip(3) {
        let fields: Vec<String> = line.split(',').map(str::to_string).collect();
        if fields.len() == 25 {
            by_order
                .entry(fields[3].parse().unwrap())
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
    rows.iter().any(|r| r[2] == kind)
}

/// `explain` on the checked-in log: a copy in its own run directory.
fn explain(order: u64) -> String {
    let t = tmp();
    fs::copy(tiny_log(), t.path().join("events.csv")).unwrap();
    ok(&["explain", &s(t.path()), &order.to_string()])
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
            .any(|r| r[2] == "customs_cleared" && r[15] == "1" && r[13] != "0")
    });
    let story = explain(id);
    let customs = rows.iter().find(|r| r[2] == "customs_cleared").unwrap();
    let duty = format!(
        "duty {}.{:02} USD",
        customs[13].parse::<u64>().unwrap() / 100,
        customs[13].parse::<u64>().unwrap() % 100
    );
    assert!(
        story.contains(&format!(
            "{}  cleared customs in {}",
            when(&customs[1]),
            customs[4]
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
            .any(|r| r[2] == "customs_cleared" && r[13] == "0" && r[14] == "0")
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
            .any(|r| r[2] == "hub_departed" && r[16].parse::<u64>().unwrap() > 3 * 3600)
            && has(rows, "delivered")
    });
    let story = explain(id);
    let arrived = rows.iter().find(|r| r[2] == "hub_arrived").unwrap();
    let departed = rows.iter().find(|r| r[2] == "hub_departed").unwrap();
    let wait_h = departed[16].parse::<f64>().unwrap() / 3600.0;
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
    let delivered = rows.iter().find(|r| r[2] == "delivered").unwrap();
    let lead = delivered[18].parse::<f64>().unwrap() / 86_400.0;
    assert!(
        story.contains(&format!("lead time {lead:.1} days from placement")),
        "{story}"
    );

    // The tiny hub has no lines on its third day, 2016-11-11: a parcel queued then says so.
    let (id, _) = order_where(|rows| {
        rows.iter().any(|r| {
            let t: u64 = r[1].parse().unwrap();
            r[2] == "hub_arrived" && (2 * 86_400..3 * 86_400).contains(&t)
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
    let returned = rows.iter().find(|r| r[2] == "returned").unwrap();
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
    let (id, _) = order_where(|rows| rows.last().unwrap()[2] == "hub_departed");
    let story = explain(id);
    assert!(
        story.contains(
            "still in flight at the end of the horizon (2016-11-15 Tue 00:00:00): in transit to"
        ),
        "{story}"
    );

    let t = tmp();
    fs::copy(tiny_log(), t.path().join("events.csv")).unwrap();
    let err = fails(2, &["explain", &s(t.path()), "987654321"]);
    assert!(
        err.contains("order 987654321 is not in") && err.contains("order ids run from 0 to"),
        "{err}"
    );
}
