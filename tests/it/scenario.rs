//! The scenario language: every class of bad input is named with its location, overrides
//! apply in order, and every shipped scenario and variant validates.

use std::path::Path;

use crate::support::*;

/// Writes `small.toml` with `edits` (old -> new, each must match) applied, into `dir`.
fn small_with(dir: &Path, edits: &[(&str, &str)]) -> std::path::PathBuf {
    let mut text = read(&data("small.toml"));
    for (old, new) in edits {
        assert!(text.contains(old), "test edit target `{old}` not found");
        text = text.replacen(old, new, 1);
    }
    let path = dir.join("scenario.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `tradesim validate` on a file that must fail; returns stderr, asserting exit 2.
fn invalid(path: &Path, extra: &[&str]) -> String {
    let mut args = vec!["validate".to_string(), path.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    fails(2, &args)
}

#[test]
fn syntax_errors_name_line_and_column() {
    let dir = tmp();
    let path = small_with(dir.path(), &[("days = 10", "days = 10x")]);
    let err = invalid(&path, &[]);
    assert!(
        err.starts_with(&format!(
            "error: {}:9:8: string values must be quoted",
            path.display()
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn unknown_keys_are_errors_with_their_location() {
    let dir = tmp();
    let path = small_with(
        dir.path(),
        &[("fee_usd = 0.3", "fee_usd = 0.3\nfee_eur = 0.3")],
    );
    let err = invalid(&path, &[]);
    assert_eq!(
        err.trim_end(),
        format!(
            "error: {}:17:1: unknown field `fee_eur`, expected one of `id`, `name`, `lines`, `service_time`, `capacity_changes`, `fee_usd`, `efinance_rate`",
            path.display()
        )
    );
}

#[test]
fn every_unknown_key_is_reported_at_once() {
    let dir = tmp();
    let path = small_with(
        dir.path(),
        &[
            ("fee_usd = 0.3", "fee_usd = 0.3\nfee_eur = 0.3"),
            (
                "return_rate = 0.05",
                "return_rate = 0.05\nreturn_ratio = 0.1",
            ),
            ("days = 10", "days = 10\ncolour = \"red\""),
        ],
    );
    let err = invalid(&path, &[]);
    let f = path.display();
    let expected = [
        format!(
            "error: {f}:10:1: unknown field `colour`, expected one of `name`, `description`, `seed`, `start_date`, `days`"
        ),
        format!(
            "{f}:18:1: unknown field `fee_eur`, expected one of `id`, `name`, `lines`, `service_time`, `capacity_changes`, `fee_usd`, `efinance_rate`"
        ),
        format!("{f}:43:1: unknown field `return_ratio`, expected one of"),
    ];
    for line in &expected {
        assert!(err.contains(line.as_str()), "missing\n  {line}\nin\n{err}");
    }
    assert_eq!(err.lines().count(), 3, "{err}");
}

#[test]
fn every_problem_is_reported_at_once_with_its_path_and_line() {
    let dir = tmp();
    let path = small_with(
        dir.path(),
        &[
            ("success = 0.9 }", "success = 1.3 }"),
            ("\"CN\" = 0.7, \"MY\" = 0.3", "\"CN\" = 0.7, \"MY\" = 0.2"),
            ("via = \"HUB\"", "via = \"HUBB\""),
            ("date = \"2016-11-11\"", "date = \"2016-12-11\""),
            ("median_days = 1.5", "median_dayz = 1.5"),
            ("lines = 4\n", "lines = -4\n"),
            ("orders_per_buyer_day = 0.01", "orders_per_buyer_day = 0.0"),
        ],
    );
    let err = invalid(&path, &[]);
    let f = path.display();
    let expected = [
        format!("{f}:14:1: hub.HUB.lines: must be a whole number from 1 to 1000000, found -4"),
        format!(
            "{f}:30:35: market.RU.payment[0].success: 1.3 is not a probability (expected a number in [0, 1])"
        ),
        format!(
            "{f}:39:1: market.RU.last_mile: missing key `median_<unit>` (unit one of seconds|minutes|hours|days)"
        ),
        format!(
            "{f}:39:35: market.RU.last_mile.median_dayz: unknown key `median_dayz` for a lognormal distribution; expected median_<seconds|minutes|hours|days>, sigma"
        ),
        format!("{f}:43:1: market.RU.sources: shares must sum to 1, found 0.9"),
        format!("{f}:51:1: market.IN.orders_per_buyer_day: must be a positive number, found 0"),
        format!("{f}:91:1: route.MY:RU.via: unknown hub \"HUBB\"; known: HUB"),
        format!(
            "{f}:112:1: peak[0].date: 2016-12-11 is outside the horizon 2016-11-07 to 2016-11-16"
        ),
    ];
    for line in &expected {
        assert!(err.contains(line.as_str()), "missing\n  {line}\nin\n{err}");
    }
    assert_eq!(
        err.lines().count(),
        expected.len(),
        "one line per problem:\n{err}"
    );
}

#[test]
fn cross_references_are_checked() {
    let dir = tmp();
    // A market buying from a pool with no route; an unknown pool in sources; a peak
    // naming an unknown market; a duplicate id.
    let path = small_with(
        dir.path(),
        &[
            (
                "[[route]]\nsellers = \"CN\"\nmarket = \"IN\"",
                "[[route]]\nsellers = \"CN\"\nmarket = \"RU\"",
            ),
            ("markets = [\"RU\", \"IN\"]", "markets = [\"RU\", \"BR\"]"),
            ("id = \"MY\"", "id = \"CN\""),
        ],
    );
    let err = invalid(&path, &[]);
    for needle in [
        "route.CN:RU: a second route for CN:RU",
        "market.IN.sources.CN: the market buys from \"CN\" but no [[route]] connects them",
        "peak[0].markets[1]: unknown market \"BR\"; known: RU, IN",
        "sellers[1].id: duplicate id \"CN\"",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in\n{err}");
    }
}

#[test]
fn overrides_name_what_is_missing_and_what_exists() {
    let err = invalid(&data("small.toml"), &["--set", "market.XX.usd_rate=3"]);
    assert!(
        err.contains("market.XX.usd_rate: `market` has no element `XX`; it has: RU, IN (from --set market.XX.usd_rate=3)"),
        "{err}"
    );
    let err = invalid(&data("small.toml"), &["--set", "hub.HUB.lanes=3"]);
    assert!(err.contains("unknown field `lanes`"), "{err}");
    let err = invalid(
        &data("small.toml"),
        &["--set", "market.RU.customs.duty_rate=-1"],
    );
    assert!(
        err.contains("(override market.RU.customs.duty_rate): market.RU.customs.duty_rate: must not be negative, found -1"),
        "{err}"
    );
    let err = invalid(&data("small.toml"), &["--variant", "nope"]);
    assert!(
        err.contains("unknown variant `nope`; the scenario's variants: noop, low-threshold"),
        "{err}"
    );
    let err = invalid(&data("small.toml"), &["--set", "no-equals-sign"]);
    assert!(err.contains("expected PATH=VALUE"), "{err}");
}

#[test]
fn set_applies_after_the_variant() {
    // The variant sets the threshold to 5; --set then moves it to 7, and validate shows
    // the landed cost that results. Applying them the other way round would show 5.
    let with_variant = ok(&[
        "validate",
        &data("small.toml").display().to_string(),
        "--variant",
        "low-threshold",
    ]);
    let both = ok(&[
        "validate",
        &data("small.toml").display().to_string(),
        "--variant",
        "low-threshold",
        "--set",
        "market.RU.customs.de_minimis_usd=40",
    ]);
    let base = ok(&["validate", &data("small.toml").display().to_string()]);
    let landed = |out: &str| -> String {
        out.lines()
            .find(|l| l.contains("demand x"))
            .expect("RU's demand line")
            .to_string()
    };
    assert_ne!(
        landed(&with_variant),
        landed(&base),
        "the variant changes RU's landed cost"
    );
    assert_eq!(
        landed(&both),
        landed(&base),
        "--set on top restores the file's threshold"
    );
}

#[test]
fn validate_prints_expected_volumes_and_hub_load() {
    let out = ok(&["validate", &data("small.toml").display().to_string()]);
    assert!(
        out.contains("RU Russia: 2,000 orders on a normal day (2016-11-07 Mon)"),
        "{out}"
    );
    assert!(
        out.contains("2016-11-11 Singles' Day (x3): 6,600 orders"),
        "{out}"
    );
    assert!(
        out.contains("HUB Test hub: 4 lines, 1,728 parcels/day"),
        "{out}"
    );
    assert!(out.contains("warning: utilisation >= 1"), "{out}");
    assert!(out.contains("noop ok"), "{out}");
}

#[test]
fn every_shipped_scenario_and_variant_validates() {
    let dir = repo().join("scenarios");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        seen += 1;
        let out = ok(&["validate", &path.display().to_string()]);
        let text = read(&path);
        for name in text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("name = \""))
        {
            let name = name.trim_end_matches('"');
            if text.contains(&format!("[[variant]]\nname = \"{name}\"")) {
                assert!(
                    out.contains(&format!("{name} ok")),
                    "{name} in {}:\n{out}",
                    path.display()
                );
                ok(&["validate", &path.display().to_string(), "--variant", name]);
            }
        }
    }
    assert!(seen >= 4, "the four shipped scenarios");
    let listing = ok(&["scenarios"]);
    for needle in [
        "dftz_baseline",
        "aliexpress_russia_2016",
        "aliexpress_russia_2015",
        "india_demonetisation_2016",
        "--variant ru-de-minimis-200",
        "--variant in-wallet-shift",
        "--variant dftz-efinance",
        "--variant no-demonetisation",
    ] {
        assert!(listing.contains(needle), "`{needle}` in\n{listing}");
    }
}

#[test]
fn nothing_is_written_for_an_invalid_scenario() {
    let dir = tmp();
    let path = small_with(dir.path(), &[("success = 0.9 }", "success = 1.3 }")]);
    let out = dir.path().join("out");
    let err = fails(
        2,
        &[
            "run",
            &path.display().to_string(),
            "--out",
            &out.display().to_string(),
        ],
    );
    assert!(err.contains("is not a probability"), "{err}");
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "only the scenario file: {leftovers:?}");
}

/// A name too long for a row of the event log is refused where it is written, before any
/// run could write a log that `replay` would not read back.
#[test]
fn names_too_long_for_the_event_log_are_refused() {
    let dir = tmp();
    let long = "x".repeat(101);
    let path = small_with(
        dir.path(),
        &[("method = \"cash\"", &format!("method = \"{long}\""))],
    );
    let err = invalid(&path, &[]);
    assert!(
        err.contains("a name of 101 bytes is too long (at most 100)"),
        "{err}"
    );
    // The longest name allowed runs, and its log reads back.
    let name = "x".repeat(100);
    let fits = small_with(
        dir.path(),
        &[("method = \"cash\"", &format!("method = \"{name}\""))],
    );
    let run = dir.path().join("run");
    let fits = fits.display().to_string();
    ok(&["run", &fits, "--out", &run.display().to_string(), "-q"]);
    let log = read(&run.join("events.csv"));
    assert!(
        log.contains(&format!(",{name},")),
        "the long method is in the log"
    );
    ok(&["replay", &run.display().to_string(), "--check"]);
}

/// A library caller gets each problem's line and column as numbers.
#[test]
fn problems_carry_their_line_and_column() {
    let text = std::fs::read_to_string(data("tiny.toml"))
        .unwrap()
        .replace("return_rate = 0.15", "return_rate = 1.15");
    let err = tradesim::load_str(&text, "t.toml", None, &[]).unwrap_err();
    let tradesim::ScenarioError::Invalid(problems) = err else {
        panic!("{err}")
    };
    let p = &problems[0];
    assert_eq!(p.path, "market.RU.return_rate");
    let line = text.lines().position(|l| l.contains("1.15")).unwrap() + 1;
    assert_eq!(p.line_column().map(|(l, _)| l), Some(line), "{p}");
    let whole = tradesim::load_str("x = 1", "t.toml", None, &[]).unwrap_err();
    assert!(whole.to_string().contains("t.toml"));
}

/// Issue 18: the money keys are checked like every other, each problem named with its
/// path and line, all at once; and an override of one is named by its path.
#[test]
fn issue_18_money_keys_are_checked_with_their_location() {
    let t = tmp();
    let path = small_with(
        t.path(),
        &[
            ("collect = \"delivery\"", "collect = \"door\""),
            (
                "success = 0.6, abandon = 0.1",
                "success = 0.6, abandon = 1.5",
            ),
            (
                "{ method = \"card\", share = 0.7, success = 0.9 }",
                "{ method = \"card\", share = 0.7, success = 0.9, refusal = 0.1 }",
            ),
            ("commission_rate = 0.05", "commission_rate = -0.05"),
            ("outside_share = 0.5", "outside_share = 0.0"),
            (
                "refusal = 0.2, fee_usd = 0.5",
                "refusal = 0.2, fee_usd = 2e6",
            ),
            ("auto_confirm_days = 2", "auto_confirm_days = -1"),
        ],
    );
    let err = invalid(&path, &[]);
    let f = path.display().to_string();
    for (at, message) in [
        (
            "market.IN.payment[1].collect",
            "expected \"order\" or \"delivery\", found \"door\"",
        ),
        ("market.RU.payment[1].abandon", "1.5 is not a probability"),
        (
            "market.RU.payment[0].refusal",
            "only a method collected at delivery (collect = \"delivery\") can be refused at the door",
        ),
        ("market.RU.commission_rate", "-0.05 is not a probability"),
        (
            "market.IN.elasticities.outside_share",
            "expected a share above 0 and at most 1, found 0",
        ),
        (
            "market.IN.payment[1].fee_usd",
            "expected an amount from 0 to 1000000 USD, found 2000000",
        ),
        (
            "market.RU.settlement.auto_confirm_days",
            "must not be negative, found -1",
        ),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(&format!(" {at}: ")))
            .unwrap_or_else(|| panic!("no problem at {at} in:\n{err}"));
        assert!(line.contains(message), "{at}: {line}");
        let located = line
            .trim_start_matches("error: ")
            .strip_prefix(&format!("{f}:"))
            .and_then(|rest| rest.split(':').next())
            .is_some_and(|n| n.parse::<u32>().is_ok());
        assert!(located, "{at} has a line number: {line}");
    }
    let err = invalid(&data("small.toml"), &["--set", "hub.HUB.efinance_rate=2"]);
    assert!(
        err.contains("hub.HUB.efinance_rate") && err.contains("2 is not a probability"),
        "{err}"
    );
}

/// Issue 19: a run of a shorter or later horizon than the file's leaves out the dated
/// entries that fall outside it (a capacity change before it sets the first day's
/// lines), targets outside it are notes for `validate` and `calibrate`, and a date
/// outside the file's own horizon is still an error.
#[test]
fn issue_19_a_moved_horizon_leaves_out_what_falls_outside_it() {
    let t = tmp();
    let file = shipped("dftz_baseline.toml");
    let f = file.display().to_string();
    let out = t.path().join("short");
    ok(&[
        "run",
        &f,
        "--set",
        "scenario.days=2",
        "--set",
        "scenario.drain_days=0",
        "--sample",
        "0.002",
        "--no-event-log",
        "--quiet",
        "--out",
        &out.display().to_string(),
    ]);
    let facilities = read(&out.join("daily_facilities.csv"));
    let dates: std::collections::BTreeSet<&str> = facilities
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(dates.len(), 2, "a row per day of the short horizon");

    let said = ok(&["validate", &f, "--set", "scenario.days=5"]);
    assert!(
        said.contains(
            "2016-11-11 RU orders = 20,000,000 ± 2 % (outside the horizon 2016-11-01 to 2016-11-05: calibrate skips it)"
        ),
        "{said}"
    );
    let later = ok(&[
        "validate",
        &f,
        "--set",
        "scenario.start_date=\"2016-11-12\"",
        "--set",
        "scenario.days=10",
    ]);
    assert!(
        later.contains(
            "MY-DFTZ Malaysia Digital Free Trade Zone e-fulfilment hub, KLIA Aeropolis: 24 lines"
        ),
        "the 2016-11-10 expansion is in force on the first day: {later}"
    );

    let err = fails(2, &["calibrate", &f, "--set", "scenario.days=1", "--quiet"]);
    assert!(
        err.contains("every [[target]] of scenario dftz_baseline lies outside its horizon 2016-11-01 to 2016-11-01"),
        "{err}"
    );
    let err = fails(2, &["validate", &f, "--set", "peak[0].date=\"2016-12-08\""]);
    assert!(
        err.contains("peak[0].date: 2016-12-08 is outside the horizon 2016-11-01 to 2016-11-30"),
        "{err}"
    );
}
