//! `orders.csv` (issue 21): one row per order, the same for any thread count, with or
//! without the log and in replay, each row's stages in lifecycle order, and every count
//! and sum the same as the tables'.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::support::*;

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Runs `scenario` with `--orders` into `out`.
fn run_orders(scenario: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec!["run", "--orders", "--quiet", "--out"];
    let (scenario, out) = (s(scenario), s(out));
    args.push(&out);
    args.push(&scenario);
    args.extend(extra);
    ok(&args);
}

/// A CSV file's rows, each a map from column to cell.
fn rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let (header, rows) = csv(path);
    rows.into_iter()
        .map(|r| {
            assert_eq!(r.len(), header.len(), "{}: {r:?}", path.display());
            header.iter().cloned().zip(r).collect()
        })
        .collect()
}

/// Dollars with two decimals as cents, exactly.
fn cents(cell: &str) -> i64 {
    let (whole, frac) = cell.split_once('.').expect("two decimals");
    assert_eq!(frac.len(), 2, "{cell}");
    let c =
        whole.trim_start_matches('-').parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap();
    if cell.starts_with('-') { -c } else { c }
}

/// The sum of a money column over the rows that `keep` keeps.
fn total(
    rows: &[BTreeMap<String, String>],
    column: &str,
    keep: impl Fn(&BTreeMap<String, String>) -> bool,
) -> i64 {
    rows.iter()
        .filter(|r| keep(r))
        .map(|r| cents(&r[column]))
        .sum()
}

/// Rows with a value in `column`.
fn with(rows: &[BTreeMap<String, String>], column: &str) -> usize {
    rows.iter().filter(|r| !r[column].is_empty()).count()
}

#[test]
fn orders_csv_is_the_same_for_any_thread_count_with_or_without_the_log_and_in_replay() {
    let t = tmp();
    let small = data("small.toml");
    let logged = t.path().join("logged");
    run_orders(&small, &logged, &["--threads", "1"]);
    let want = fs::read(logged.join("orders.csv")).unwrap();
    assert!(want.len() > 1000, "the small run has orders");
    for threads in ["1", "2"] {
        let unlogged = t.path().join(format!("unlogged-{threads}"));
        run_orders(&small, &unlogged, &["--no-event-log", "--threads", threads]);
        assert!(
            fs::read(unlogged.join("orders.csv")).unwrap() == want,
            "--no-event-log --threads {threads}"
        );
    }
    let two = t.path().join("two");
    run_orders(&small, &two, &["--threads", "2"]);
    assert!(
        fs::read(two.join("orders.csv")).unwrap() == want,
        "--threads 2"
    );

    let replayed = t.path().join("replayed");
    ok(&["replay", &s(&logged), "--orders", "--out", &s(&replayed)]);
    assert!(
        fs::read(replayed.join("orders.csv")).unwrap() == want,
        "replay --orders"
    );
    let checked = ok(&["replay", &s(&logged), "--check"]);
    assert!(checked.contains("orders.csv           same"), "{checked}");

    let manifest = read(&logged.join("manifest.json"));
    assert!(manifest.contains("\"orders_csv\": true"), "{manifest}");
    assert!(manifest.contains("\"orders.csv\": "), "{manifest}");
    let reproduced = ok(&["reproduce", &s(&logged), "--threads", "2"]);
    assert!(reproduced.contains("ok       orders.csv"), "{reproduced}");
}

#[test]
fn replay_check_compares_the_runs_orders_csv_and_old_manifests_still_reproduce() {
    let t = tmp();
    let run = t.path().join("run");
    run_orders(&data("tiny.toml"), &run, &[]);
    let path = run.join("orders.csv");
    let text = read(&path);
    let third = text.lines().nth(2).unwrap();
    let changed = third.replacen(',', ",9", 1);
    fs::write(&path, text.replacen(third, &changed, 1)).unwrap();
    let o = tradesim(&["replay", &s(&run), "--check"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("orders.csv           differs (from line 3)"),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("1 of 8 tables"), "{}", stderr(&o));
    fs::write(&path, &text[..text.len() - 1]).unwrap();
    let o = tradesim(&["replay", &s(&run), "--check"]);
    let last = text.lines().count();
    assert!(
        stdout(&o).contains(&format!("orders.csv           differs (from line {last})")),
        "a file cut short: {}",
        stdout(&o)
    );

    // Without --orders the run has no orders.csv, and a manifest from before the option
    // (no `orders_csv`) is still read.
    let plain = t.path().join("plain");
    run_small(&plain, &["--sample", "0.1"]);
    assert!(!plain.join("orders.csv").exists());
    let manifest = plain.join("manifest.json");
    let text = read(&manifest);
    assert!(text.contains("\"orders_csv\": false,\n"), "{text}");
    fs::write(&manifest, text.replace("  \"orders_csv\": false,\n", "")).unwrap();
    ok(&["reproduce", &s(&plain), "--quiet"]);
    let checked = ok(&["replay", &s(&plain), "--check"]);
    assert!(!checked.contains("orders.csv"), "{checked}");
}

/// Each row's stage times come in lifecycle order.
fn stages_in_order(dir: &Path) {
    let path = dir.join("orders.csv");
    let lifecycle = [
        "placed_s",
        "paid_s",
        "dispatched_s",
        "hub_arrived_s",
        "hub_departed_s",
        "linehaul_departed_s",
        "customs_cleared_s",
        "delivered_s",
        "returned_s",
    ];
    let after = |r: &BTreeMap<String, String>, later: &str, earlier: &[&str]| {
        let t = |c: &str| r[c].parse::<u64>().ok();
        if let Some(late) = t(later) {
            for e in earlier {
                if let Some(early) = t(e) {
                    assert!(
                        early <= late,
                        "{}: {e} after {later}: {r:?}",
                        path.display()
                    );
                }
            }
        }
    };
    let rows = rows(&path);
    for r in &rows {
        for (i, stage) in lifecycle.iter().enumerate() {
            after(r, stage, &lifecycle[..i]);
        }
        after(r, "cancelled_s", &["placed_s"]);
        after(r, "refused_s", &lifecycle[..7]);
        after(r, "seller_paid_s", &["placed_s", "paid_s", "dispatched_s"]);
    }
    let ids: Vec<u64> = rows
        .iter()
        .map(|r| r["order_id"].parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted by order id");
}

#[test]
fn each_rows_stages_come_in_lifecycle_order() {
    let t = tmp();
    run_orders(&data("tiny.toml"), &t.path().join("tiny"), &[]);
    stages_in_order(&t.path().join("tiny"));
    run_orders(
        &data("small.toml"),
        &t.path().join("small"),
        &["--sample", "0.3"],
    );
    stages_in_order(&t.path().join("small"));
}

/// Every count and sum of orders.csv is the tables'.
fn agrees_with_the_tables(dir: &Path) {
    let orders = rows(&dir.join("orders.csv"));
    let summary = summary(dir);
    let count = |metric: &str| summary[&format!("all.{metric}")].parse::<i64>().unwrap();
    let usd = |metric: &str| cents(&summary[&format!("all.{metric}")]);
    let n = |column| with(&orders, column) as i64;
    let placed = n("placed_s");
    assert_eq!(placed, count("orders"), "orders placed");
    assert_eq!(n("cancelled_s"), count("cancelled"));
    assert_eq!(n("delivered_s"), count("delivered"));
    assert_eq!(n("returned_s"), count("returned"));
    assert_eq!(n("refused_s"), count("refused"));
    assert_eq!(
        placed - n("cancelled_s") - n("delivered_s") - n("refused_s"),
        count("in_flight")
    );
    let daily = rows(&dir.join("daily_markets.csv"));
    let day_sum = |c: &str| {
        daily
            .iter()
            .map(|r| r[c].parse::<i64>().unwrap())
            .sum::<i64>()
    };
    assert_eq!(n("dispatched_s"), day_sum("dispatched"));
    assert_eq!(n("customs_cleared_s"), day_sum("cleared"));
    let payments = rows(&dir.join("payments.csv"));
    let paid: i64 = payments
        .iter()
        .map(|r| r["attempts"].parse::<i64>().unwrap() - r["failures"].parse::<i64>().unwrap())
        .sum();
    assert_eq!(n("paid_s"), paid, "successful payments");

    let all = |_: &BTreeMap<String, String>| true;
    assert_eq!(total(&orders, "duty_usd", all), usd("duty_usd"));
    assert_eq!(total(&orders, "vat_usd", all), usd("vat_usd"));
    let gmv = total(&orders, "value_usd", |r| !r["placed_s"].is_empty())
        - total(&orders, "value_usd", |r| !r["cancelled_s"].is_empty());
    assert_eq!(gmv, usd("gmv_usd"));
    let sellers = rows(&dir.join("sellers.csv"));
    let pools = |c: &str| total(&sellers, c, |r| r["tier"] == "all");
    assert_eq!(total(&orders, "freight_usd", all), pools("freight_usd"));
    assert_eq!(total(&orders, "hub_fee_usd", all), pools("hub_fees_usd"));
    assert_eq!(
        total(&orders, "finance_fee_usd", all),
        pools("finance_fees_usd")
    );
    assert_eq!(
        total(&orders, "commission_usd", all),
        pools("commission_usd")
    );
    assert_eq!(
        total(&orders, "payment_fees_usd", all),
        total(&payments, "fees_usd", all)
    );
    let cashflow = rows(&dir.join("cashflow.csv"));
    assert_eq!(
        total(&orders, "cod_usd", all),
        total(&cashflow, "cod_collected_usd", all)
    );
    for column in ["cod_usd", "finance_fee_usd", "refused_s"] {
        assert!(
            orders
                .iter()
                .any(|r| !["", "0.00"].contains(&r[column].as_str())),
            "{}: the run has some {column}",
            dir.display()
        );
    }

    let leads: Vec<f64> = orders
        .iter()
        .filter(|r| !r["lead_time_days"].is_empty())
        .map(|r| r["lead_time_days"].parse().unwrap())
        .collect();
    assert_eq!(leads.len() as i64, count("delivered"));
    let mean = leads.iter().sum::<f64>() / leads.len() as f64;
    let want: f64 = summary["all.mean_lead_time_days"].parse().unwrap();
    assert!(
        (mean - want).abs() < 1e-4,
        "mean lead time {mean} vs {want}"
    );
    let statuses = ["cancelled", "in_flight", "delivered", "returned", "refused"];
    for (status, column) in [
        ("cancelled", "cancelled_s"),
        ("refused", "refused_s"),
        ("returned", "returned_s"),
    ] {
        assert_eq!(
            orders.iter().filter(|r| r["status"] == status).count(),
            with(&orders, column),
            "{status}"
        );
    }
    assert!(
        orders
            .iter()
            .all(|r| r["status"].is_empty() || statuses.contains(&r["status"].as_str())),
        "statuses"
    );
}

#[test]
fn orders_agree_with_the_tables_count_for_count_and_to_the_cent() {
    let t = tmp();
    // A warm-up (orders with no `order_placed`), every kind of event.
    let tiny = t.path().join("tiny");
    run_orders(&data("tiny.toml"), &tiny, &[]);
    agrees_with_the_tables(&tiny);
    let warmup = rows(&tiny.join("orders.csv"))
        .into_iter()
        .filter(|r| r["placed_s"].is_empty())
        .collect::<Vec<_>>();
    assert!(!warmup.is_empty(), "orders of the warm-up have rows");
    assert!(
        warmup
            .iter()
            .all(|r| r["placed_time"].is_empty() && r["category"].is_empty()),
        "with no placement"
    );
    assert!(
        warmup
            .iter()
            .any(|r| !r["delivered_s"].is_empty() && !r["lead_time_days"].is_empty()),
        "but their later stages"
    );
    // The placement's clock time is its second since the start, on the scenario's clock.
    let first = rows(&tiny.join("orders.csv"))
        .into_iter()
        .find(|r| !r["placed_s"].is_empty())
        .unwrap();
    let at: u64 = first["placed_s"].parse().unwrap();
    let clock = format!(
        "T{:02}:{:02}:{:02}",
        at % 86_400 / 3600,
        at % 3600 / 60,
        at % 60
    );
    assert!(first["placed_time"].starts_with("2016-11-"), "{first:?}");
    assert!(first["placed_time"].contains(&clock), "{first:?}");

    let small = t.path().join("small");
    run_orders(
        &data("small.toml"),
        &small,
        &[
            "--sample",
            "0.3",
            "--variant",
            "efinance",
            "--set",
            "scenario.drain_days=5",
        ],
    );
    agrees_with_the_tables(&small);
}

/// The checked-in log's orders.csv, snapshot-tested beside its tables:
/// `UPDATE_SNAPSHOTS=1 cargo test --release --test it orders` rewrites it.
#[test]
fn the_checked_in_logs_orders_match_their_snapshot() {
    let t = tmp();
    let out = t.path().join("out");
    ok(&[
        "replay",
        &s(&data("tiny_run/events.csv")),
        "--orders",
        "--out",
        &s(&out),
    ]);
    let got = fs::read(out.join("orders.csv")).unwrap();
    let expected = data("tiny_run/expected/orders.csv");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        fs::write(&expected, &got).unwrap();
    }
    let want = fs::read(&expected)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 writes it)", expected.display()));
    assert!(
        want == got,
        "orders.csv replayed from the checked-in log differs from its snapshot \
         (UPDATE_SNAPSHOTS=1 rewrites it):\n{}",
        String::from_utf8_lossy(&got)
    );
}

/// A run whose rows would not fit is refused with --orders, though it fits without.
#[test]
fn a_run_whose_orders_cannot_be_held_is_refused_with_its_estimate() {
    let Some(memory) = read(Path::new("/proc/meminfo"))
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
    else {
        assert!(std::env::var_os("CI").is_none(), "no /proc/meminfo");
        println!("skipped: no /proc/meminfo to size the run by");
        return;
    };
    // Twice the machine's memory at 96 bytes an order, over 3600 days of IN's
    // 0.01 orders a buyer and day; a hub that never queues them.
    let buyers = 2.0 * memory * 1024.0 / (96.0 * 3600.0 * 0.01);
    let t = tmp();
    let sets = [
        "scenario.days=3600".to_string(),
        format!("market.IN.active_buyers={buyers:.0}"),
        "hub.HUB.lines=1000000".into(),
        "hub.HUB.capacity_changes=[]".into(),
    ];
    let mut args = vec!["validate".to_string(), s(&data("tiny.toml"))];
    for set in &sets {
        args.extend(["--set".to_string(), set.clone()]);
    }
    ok(&args);
    args[0] = "run".into();
    args.extend(["--orders".into(), "--out".into(), s(&t.path().join("out"))]);
    let err = fails(2, &args);
    assert!(
        err.contains("orders held for orders.csv") && err.contains("a --sample of at most"),
        "{err}"
    );
    assert_eq!(
        fs::read_dir(t.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn the_readme_documents_every_column() {
    let readme = read(&repo().join("README.md"));
    let start = readme
        .find("**`orders.csv`**")
        .expect("orders.csv in Outputs");
    let end = start + readme[start..].find("**`manifest.json`**").unwrap();
    let documented: Vec<&str> = readme[start..end]
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .flat_map(|l| l.split(" |").next().unwrap().split(", "))
        .map(|c| c.trim_matches('`'))
        .collect();
    let t = tmp();
    let out = t.path().join("out");
    ok(&[
        "replay",
        &s(&data("tiny_run/events.csv")),
        "--orders",
        "--out",
        &s(&out),
    ]);
    let (header, _) = csv(&out.join("orders.csv"));
    assert_eq!(documented, header, "README's orders.csv columns, in order");
}
