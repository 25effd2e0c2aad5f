//! Issue 19: dated changes. A `[[change]]` sets override paths from its date on; an
//! order follows the rules in force on the day it was placed, hubs the lines of each
//! day; a change may alter values, not what the scenario is made of.

use std::path::Path;

use crate::support::*;

/// `tests/data/small.toml` (2016-11-07 to 2016-11-16) with `extra` appended.
fn small_plus(dir: &Path, extra: &str) -> String {
    let path = dir.join("changed.toml");
    std::fs::write(&path, read(&data("small.toml")) + extra).unwrap();
    path.display().to_string()
}

const COD_ENDS: &str = r#"
[[change]]
name = "cod-ends"
date = "2016-11-12"
description = "India stops cash on delivery"
set = { "market.IN.payment.cod.share" = 0.0, "market.IN.payment.wallet.share" = 1.0, "hub.HUB.capacity_changes" = [{ date = "2016-11-14", lines = 9 }] }
"#;

#[test]
fn issue_19_an_order_follows_the_rules_in_force_when_it_was_placed() {
    let t = tmp();
    let file = small_plus(t.path(), COD_ENDS);
    let out = t.path().join("run");
    ok(&["run", &file, "--quiet", "--out", &out.display().to_string()]);
    let change_s = 5 * 86_400; // 2016-11-12 00:00 from the start, 2016-11-07
    let text = read(&out.join("events.csv"));
    let (mut before, mut after, mut cod_delivered_after) = (0, 0, 0);
    let mut cod_orders = std::collections::BTreeSet::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let time: u32 = f[1].parse().unwrap();
        if f[3] == "order_placed" && f[5] == "IN" && f[10] == "cod" {
            if time < change_s {
                before += 1;
                cod_orders.insert(f[4].to_string());
            } else {
                after += 1;
            }
        }
        if f[3] == "delivered" && time >= change_s && cod_orders.contains(f[4]) {
            // Placed before the change: still cash at the door after it.
            assert_ne!(f[24], "0", "{line}");
            cod_delivered_after += 1;
        }
    }
    assert!(before > 1000, "{before} COD orders before the change");
    assert_eq!(after, 0, "no COD order after the change");
    assert!(cod_delivered_after > 100, "{cod_delivered_after}");
    // The hub's lines follow the scenario of each day: the file's (4 lines, 1 during its
    // outage on 10-11 November), then from the change its own capacity changes (no
    // outage, 9 lines from 14 November).
    let (header, rows) = csv(&out.join("daily_facilities.csv"));
    let lines = header.iter().position(|h| h == "lines").unwrap();
    let kind = header.iter().position(|h| h == "kind").unwrap();
    let by_day: Vec<&str> = rows
        .iter()
        .filter(|r| r[kind] == "hub")
        .map(|r| r[lines].as_str())
        .collect();
    assert_eq!(by_day, ["4", "4", "4", "1", "1", "4", "4", "9", "9", "9"]);
    ok(&["replay", &out.display().to_string(), "--check"]);

    // Thread counts change nothing, with changes as without.
    let two = t.path().join("two");
    ok(&[
        "run",
        &file,
        "--quiet",
        "--threads",
        "2",
        "--no-event-log",
        "--out",
        &two.display().to_string(),
    ]);
    let one = t.path().join("one");
    ok(&[
        "run",
        &file,
        "--quiet",
        "--threads",
        "1",
        "--no-event-log",
        "--out",
        &one.display().to_string(),
    ]);
    let (mut a, mut b) = (outputs(&one), outputs(&two));
    a.remove("manifest.json");
    b.remove("manifest.json");
    assert_eq!(a, b);

    let said = ok(&["validate", &file]);
    assert!(
        said.contains("changes (in the order they take effect)\n  2016-11-12 cod-ends: India stops cash on delivery"),
        "{said}"
    );
}

#[test]
fn issue_19_changes_are_checked_with_their_location() {
    let t = tmp();
    let structural = small_plus(
        t.path(),
        r#"
[[change]]
name = "direct"
date = "2016-11-10"
set = { "route.MY:RU.via" = "" }
"#,
    );
    let err = fails(2, &["validate", &structural]);
    assert!(
        err.contains(
            "change[0].set: a dated change may alter values, not what the scenario is made of"
        ),
        "{err}"
    );
    let run_level = small_plus(
        t.path(),
        r#"
[[change]]
name = "longer"
date = "2016-11-10"
set = { "scenario.days" = 20 }
"#,
    );
    let err = fails(2, &["validate", &run_level]);
    assert!(
        err.contains("change[0].set: `scenario.days`: a dated change sets the world's values"),
        "{err}"
    );
    let outside = small_plus(
        t.path(),
        r#"
[[change]]
name = "late"
date = "2016-12-10"
set = { "hub.HUB.lines" = 2 }

[[change]]
name = "late"
date = "2016-11-10"
set = { "market.IN.payment.cod.share" = 2.0 }
"#,
    );
    let err = fails(2, &["validate", &outside]);
    for expected in [
        "change[0].date: 2016-12-10 is outside the horizon 2016-11-07 to 2016-11-16",
        "change[1].name: duplicate change name \"late\"",
    ] {
        assert!(err.contains(expected), "{expected} in {err}");
    }
    let bad_value = small_plus(
        t.path(),
        r#"
[[change]]
name = "bad"
date = "2016-11-10"
set = { "market.IN.payment.cod.share" = 2.0 }
"#,
    );
    let err = fails(2, &["validate", &bad_value]);
    assert!(
        err.contains(
            "market.IN.payment[1].share: 2 is not a probability (expected a number in [0, 1]) (with change `bad` of 2016-11-10 in force)"
        ),
        "{err}"
    );
}

/// The shipped demonetisation scenario against its counterfactual: without the change
/// of 8 November India places more orders, more of them are cash on delivery (more
/// abandoned, so more cancelled), fewer parcels are refused at the door, and the sellers
/// are paid sooner (COD remittance is faster than the escrow of wallet payments).
#[test]
fn issue_19_demonetisation_moves_india_the_documented_way() {
    let t = tmp();
    let out = t.path().join("cmp");
    ok(&[
        "compare",
        &shipped("india_demonetisation_2016.toml")
            .display()
            .to_string(),
        "--variant",
        "no-demonetisation",
        "--sample",
        "0.02",
        "--replications",
        "3",
        "--quiet",
        "--out",
        &out.display().to_string(),
    ]);
    let (header, rows) = csv(&out.join("compare.csv"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    // A metric as the terminal names it: `IN.orders` is entity `IN`, metric `orders`.
    let diff = |metric: &str| -> f64 {
        let (entity, name) = metric.split_once('.').unwrap();
        let row = rows
            .iter()
            .find(|r| r[col("entity")] == entity && r[col("metric")] == name)
            .unwrap();
        assert_eq!(row[col("significant")], "true", "{metric}: {row:?}");
        row[col("diff")].parse().unwrap()
    };
    assert!(diff("IN.orders") > 0.0);
    assert!(diff("IN.cancelled") > 0.0);
    assert!(diff("IN.refused") < 0.0);
    assert!(diff("MY-SME.mean_days_to_cash") < 0.0);
}

/// A peak of 0 closes its markets for the day (refused before issue 19): no orders that
/// day, and the days around it as before.
#[test]
fn issue_19_a_peak_of_zero_closes_the_market_for_the_day() {
    let t = tmp();
    let out = t.path().join("closed");
    ok(&[
        "run",
        &data("tiny.toml").display().to_string(),
        "--set",
        "peak[0].multiplier=0",
        "--no-event-log",
        "--quiet",
        "--out",
        &out.display().to_string(),
    ]);
    let (header, rows) = csv(&out.join("daily_markets.csv"));
    let orders = header.iter().position(|h| h == "orders").unwrap();
    for r in &rows {
        let n: u64 = r[orders].parse().unwrap();
        if r[0] == "2016-11-11" {
            assert_eq!(n, 0, "{r:?}");
        } else if r[0].as_str() < "2016-11-14" {
            assert!(n > 0, "{r:?}");
        }
    }
}
