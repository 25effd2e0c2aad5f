//! Issue 23: targets over periods held against the published record, parameters fitted
//! by `calibrate --fit`, and the backtest table.

use crate::support::*;

/// The value `calibrate --fit` solved for `path` (see `fitted_sets`).
fn fitted_value(out: &str, path: &str) -> f64 {
    fitted_sets(out)
        .into_iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("{path} in {out}"))
        .1
}

/// Fits `file` twice: the same bits both times, converged, and every `(path, value)` the
/// file ships within 2e-5 of the fit (the file's values are the fit's, rounded to six
/// figures). Returns the output.
fn fit_reproduces(file: &str, shipped_values: &[(&str, f64)], sample: &str) -> String {
    let fit = || ok(&["calibrate", file, "--fit", "--sample", sample]);
    let (a, b) = (fit(), fit());
    assert_eq!(fitted_sets(&a), fitted_sets(&b), "the same fit twice");
    assert!(a.contains("converged"), "{a}");
    assert!(
        !a.contains("(at its bound)"),
        "no parameter stops at a bound:\n{a}"
    );
    for (path, shipped) in shipped_values {
        let fitted = fitted_value(&a, path);
        assert!(
            (fitted / shipped - 1.0).abs() < 2e-5,
            "{file} {path}: fitted {fitted}, the file has {shipped}"
        );
    }
    a
}

/// `calibrate --fit` solves the eight-parameter fit of aliexpress_russia_2015_2017 (seven
/// values and one scale on the order values) to the values written in the file (they
/// came from it), the same bits every time, none at a
/// bound (November's base flow was pinned at its lower bound while the 11.11 wave arrived
/// in November: the transit time is now fitted), and the run with them meets every
/// fitted target at a 1 % sample; the held-out 2017 figures are reported and do not fail
/// it, and the held-out 2017 delivery time (about 30 days) is met by the fitted transit.
#[test]
fn issue_23_the_fit_is_deterministic_and_reproduces_the_shipped_values() {
    let file = shipped("aliexpress_russia_2015_2017.toml")
        .display()
        .to_string();
    let a = fit_reproduces(
        &file,
        &[
            ("market.RU.orders_per_buyer_day", 0.0115327),
            ("market.RU.growth", 0.538609),
            ("market.RU.monthly[10]", 0.826293),
            ("market.RU.monthly[11]", 1.83362),
            ("route.CN-SME:RU.transit.median_days", 17.0667),
            ("peak[3].multiplier", 34.9244),
            ("peak[9].multiplier", 45.4726),
            // One scale on the six order-value medians: each fitted as written.
            ("sellers.CN-SME.order_value.electronics.median_usd", 9.71292),
            ("sellers.CN-SME.order_value.apparel.median_usd", 8.09410),
            ("sellers.CN-SME.order_value.home.median_usd", 6.47528),
            ("sellers.MY-SME.order_value.electronics.median_usd", 12.1412),
            ("sellers.MY-SME.order_value.apparel.median_usd", 11.3317),
            ("sellers.MY-SME.order_value.home.median_usd", 9.71292),
        ],
        "0.01",
    );
    assert!(fitted_value(&a, "market.RU.monthly[10]") > 0.5, "{a}");
    assert!(a.contains("12 of 12 targets within tolerance"), "{a}");
    // The scale is a factor on the written medians, which are its own result: about 1.
    let scale: f64 = a
        .lines()
        .find_map(|l| l.strip_prefix("  scale "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a scale line in {a}"));
    assert!((scale - 1.0).abs() < 2e-5, "{a}");
    assert!(a.contains("held out:"), "{a}");
    let lead = a
        .lines()
        .find(|l| l.contains("mean_lead_time_days") && l.contains("held out"))
        .unwrap_or_else(|| panic!("{a}"));
    assert!(lead.trim_end().ends_with("pass"), "{lead}");
}

/// The CN-SME route's transit line of a file (the table up to the comment).
fn cn_transit(text: &str) -> &str {
    let route = text
        .split("[[route]]")
        .find(|r| r.contains("sellers = \"CN-SME\""))
        .expect("a CN-SME route");
    let line = route
        .lines()
        .find(|l| l.starts_with("transit = "))
        .expect("its transit");
    line.split('#').next().unwrap().trim_end()
}

/// The single-day Singles' Day files, and dftz_baseline's Russia, take their base flow and
/// their transit from China from the three-year fit and fit only their 11.11 multiplier,
/// which `calibrate --fit` reproduces; and the two multipliers give the reported +85 % from
/// 2015 to 2016 with the fit's year of growth.
#[test]
fn issue_23_single_day_files_are_rebased_on_the_whole_year_fit() {
    let (f15, f16, dftz) = (
        shipped("aliexpress_russia_2015.toml").display().to_string(),
        shipped("aliexpress_russia_2016.toml").display().to_string(),
        shipped("dftz_baseline.toml").display().to_string(),
    );
    let whole = read(&shipped("aliexpress_russia_2015_2017.toml"));
    let a15 = fit_reproduces(&f15, &[("peak[3].multiplier", 34.9058)], "0.005");
    let a16 = fit_reproduces(&f16, &[("peak[3].multiplier", 45.5019)], "0.005");
    let a_dftz = fit_reproduces(&dftz, &[("peak[3].multiplier", 45.5021)], "0.005");
    assert!(
        a_dftz.contains("2 of 2 targets within tolerance"),
        "{a_dftz}"
    );
    for a in [&a15, &a16] {
        assert!(a.contains("1 of 1 targets within tolerance"), "{a}");
    }
    for file in [&f15, &f16, &dftz] {
        let text = read(std::path::Path::new(file));
        for line in [
            "growth = 0.538609",
            "monthly = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.826293, 1.83362]",
        ] {
            assert!(text.contains(line), "{file} lacks {line}");
        }
        assert_eq!(cn_transit(&text), cn_transit(&whole), "{file}");
    }
    assert!(cn_transit(&whole).contains("median_days = 17.0667"));
    // Base rate per buyer-day on each file's first day (Russia's, its first market), from
    // the three-year file's.
    let at = |days: f64| 0.0115327 * 1.538609f64.powf(days / 365.25);
    let read_rate = |file: &str| -> f64 {
        let text = read(std::path::Path::new(file));
        let line = text
            .lines()
            .find(|l| l.starts_with("orders_per_buyer_day"))
            .unwrap();
        line.split('=')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!((read_rate(&f15) / (at(307.0) * 22.0 / 18.0) - 1.0).abs() < 1e-5);
    assert!((read_rate(&f16) / at(673.0) - 1.0).abs() < 1e-5);
    assert!((read_rate(&dftz) / at(670.0) - 1.0).abs() < 1e-5);
    // 2015 -> 2016 on Singles' Day: users (22 x rate over 18 x 22/18 x rate) cancel, a
    // year of growth, the multipliers and the weekdays (Friday 0.94, Wednesday 1.02).
    let growth = 1.538609f64.powf(366.0 / 365.25) * 45.5019 / 34.9058 * 0.94 / 1.02;
    assert!((growth - 1.85).abs() < 0.001, "{growth}");
}

/// The seller pools' order-value lines of a file (tables up to their comments).
fn order_values(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("order_value = "))
        .map(|l| l.split('#').next().unwrap().trim_end())
        .collect()
}

/// One price level for the same goods: every shipped file's sellers take the order values
/// the three-year file fits to AKIT's roubles (0.80941 times the assumed medians).
#[test]
fn issue_23_every_file_takes_the_fitted_order_values() {
    let whole = read(&shipped("aliexpress_russia_2015_2017.toml"));
    let fitted = order_values(&whole);
    assert_eq!(fitted.len(), 2, "{fitted:?}");
    assert!(fitted[0].contains("median_usd = 9.71292"), "{}", fitted[0]);
    for file in [
        "aliexpress_russia_2015.toml",
        "aliexpress_russia_2016.toml",
        "aliexpress_russia_2016_2020.toml",
        "dftz_baseline.toml",
        "india_demonetisation_2016.toml",
    ] {
        assert_eq!(order_values(&read(&shipped(file))), fitted, "{file}");
    }
}

/// The shipped scenario's fitted targets pass at a 1 % sample without refitting, and
/// `--out` writes backtest.csv: a row per target with its record, its interval over the
/// replications and whether it was fitted.
#[test]
fn issue_23_calibrate_writes_the_backtest_table() {
    let t = tmp();
    let out = t.path().join("bt");
    let file = shipped("aliexpress_russia_2015_2017.toml")
        .display()
        .to_string();
    ok(&[
        "calibrate",
        &file,
        "--sample",
        "0.01",
        "--replications",
        "2",
        "--quiet",
        "--out",
        &out.display().to_string(),
    ]);
    let (header, rows) = csv(&out.join("backtest.csv"));
    assert_eq!(rows.len(), 19);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for r in &rows {
        assert!(!r[col("record")].is_empty(), "{r:?}");
        assert_eq!(r[col("replications")], "2");
        let (low, mean, high): (f64, f64, f64) = (
            r[col("ci95_low")].parse().unwrap(),
            r[col("simulated")].parse().unwrap(),
            r[col("ci95_high")].parse().unwrap(),
        );
        assert!(low <= mean && mean <= high, "{r:?}");
        if r[col("fitted")] == "true" {
            assert_eq!(r[col("within_tolerance")], "true", "{r:?}");
        }
    }
    let held: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r[col("fitted")] == "false")
        .collect();
    assert_eq!(held.len(), 7);
    // The 2017 total, extrapolated from 2015-2016's growth, overshoots the record.
    let year_2017 = held
        .iter()
        .find(|r| r[col("record")] == "ru-post-items-2017")
        .unwrap();
    assert!(year_2017[col("error_pct")].parse::<f64>().unwrap() > 10.0);
}

/// A target names one day or a whole period, and a record row that exists and agrees.
#[test]
fn issue_23_targets_are_checked_against_their_period_and_record() {
    let t = tmp();
    let base = read(&shipped("aliexpress_russia_2015_2017.toml"));
    let write = |name: &str, text: &str| {
        let dir = t.path().join(name);
        std::fs::create_dir_all(dir.join("record")).unwrap();
        std::fs::copy(
            repo().join("scenarios/record/record.csv"),
            dir.join("record/record.csv"),
        )
        .unwrap();
        let file = dir.join("s.toml");
        std::fs::write(&file, text).unwrap();
        file.display().to_string()
    };
    // (name, text replaced, replacement, what the error says)
    for (name, from, to, says) in [
        (
            "unknown",
            "record = \"ru-post-items-2015\"",
            "record = \"ru-post-items-1999\"",
            "record `ru-post-items-1999` is not in",
        ),
        (
            "differs",
            "value = 128000000",
            "value = 127000000",
            "value 127000000 differs from record `ru-post-items-2015`'s 128000000",
        ),
        (
            "backwards",
            "to = \"2015-12-31\"",
            "to = \"2014-12-31\"",
            "target[0].to: 2014-12-31 is before from 2015-01-01",
        ),
        (
            "both",
            "from = \"2015-01-01\"",
            "date = \"2015-01-01\"\nfrom = \"2015-01-01\"",
            "give either `date` (one day) or both `from` and `to`",
        ),
        (
            "no_versus",
            "versus_from = \"2015-01-01\"\n",
            "",
            "a growth:METRIC target needs versus_from and versus_to",
        ),
    ] {
        let file = write(name, &base.replacen(from, to, 1));
        let err = fails(2, &["validate", &file, "--sample", "0.01"]);
        assert!(err.contains(says), "{name}: {err}");
    }
    let said = ok(&["validate", &write("fine", &base), "--sample", "0.01"]);
    assert!(
        said.contains("record ru-post-items-2016: international postal items with goods received"),
        "{said}"
    );
}

/// Metrics over a period are the runs' own tables folded as documented: a run and a
/// calibration of the same seed agree on the average order (GMV over orders not
/// cancelled, in USD and in roubles at the day's rate), a payment method's share and the
/// seller pools' shares.
#[test]
fn issue_23_period_metrics_are_the_tables_folded() {
    let t = tmp();
    let mut text = read(&data("tiny.toml"));
    for metric in [
        "aov_usd",
        "aov_local",
        "share:cash",
        "orders",
        "pool_share:CN",
        "pool_share:MY",
    ] {
        text.push_str(&format!(
            "\n[[target]]\nfrom = \"2016-11-09\"\nto = \"2016-11-12\"\nmarket = \"RU\"\nmetric = \"{metric}\"\nvalue = 1\ntolerance = 0.1\nfit = false\n"
        ));
    }
    let file = t.path().join("s.toml");
    std::fs::write(&file, text).unwrap();
    let file = file.display().to_string();
    let bt = t.path().join("bt");
    ok(&[
        "calibrate",
        &file,
        "--quiet",
        "--out",
        &bt.display().to_string(),
    ]);
    let run = t.path().join("run");
    ok(&["run", &file, "--quiet", "--out", &run.display().to_string()]);
    let (header, rows) = csv(&run.join("daily_markets.csv"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let ru: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r[1] == "RU" && r[0].as_str() <= "2016-11-12")
        .collect();
    let sum = |name: &str| -> f64 {
        ru.iter()
            .map(|r| r[col(name)].parse::<f64>().unwrap())
            .sum()
    };
    let aov = sum("gmv_usd") / (sum("orders") - sum("cancelled"));
    let (bh, brows) = csv(&bt.join("backtest.csv"));
    let simulated = |metric: &str| -> f64 {
        let r = brows
            .iter()
            .find(|r| r[bh.iter().position(|h| h == "metric").unwrap()] == metric)
            .unwrap();
        r[bh.iter().position(|h| h == "simulated").unwrap()]
            .parse()
            .unwrap()
    };
    assert!(
        (simulated("aov_usd") - aov).abs() < 1e-9 * aov,
        "{} vs {aov}",
        simulated("aov_usd")
    );
    // tiny's rouble: 64 RUB per USD on every day.
    assert!((simulated("aov_local") - 64.0 * aov).abs() < 1e-6 * aov);
    assert_eq!(simulated("orders"), sum("orders"));
    // The share of cash orders: between 0 and 1, near the file's 30 %.
    let cash = simulated("share:cash");
    assert!((0.15..0.45).contains(&cash), "{cash}");
    // Every order is with one pool: the pools' shares add up to one, CN's near its 70 %.
    let (cn, my) = (simulated("pool_share:CN"), simulated("pool_share:MY"));
    assert!(
        (cn + my - 1.0).abs() < 1e-12 && (0.55..0.85).contains(&cn),
        "{cn} {my}"
    );
}

/// Review findings of issue 23, kept fixed: the expected parcels cleared count orders
/// placed in a warm-up (tiny's first warm-up day clears on 2016-11-10 and after); a
/// growth may be negative and ignores the scope; a goal of 0 is refused by `--fit`.
#[test]
fn issue_23_expectations_count_the_warm_up_and_growth_may_fall() {
    let t = tmp();
    let mut text = read(&data("tiny.toml"));
    text.push_str(
        "\n[[target]]\ndate = \"2016-11-10\"\nmarket = \"RU\"\nmetric = \"cleared\"\nvalue = 40\ntolerance = 0.5\nfit = false\n\
         \n[[target]]\nfrom = \"2016-11-13\"\nto = \"2016-11-14\"\nversus_from = \"2016-11-11\"\nversus_to = \"2016-11-12\"\nmarket = \"RU\"\nmetric = \"growth:orders\"\nvalue = -0.5\nscope = 0.5\ntolerance = 0.5\nfit = false\n",
    );
    let file = t.path().join("s.toml");
    std::fs::write(&file, &text).unwrap();
    let file = file.display().to_string();
    let bt = t.path().join("bt");
    ok(&[
        "calibrate",
        &file,
        "--quiet",
        "--out",
        &bt.display().to_string(),
    ]);
    let (h, rows) = csv(&bt.join("backtest.csv"));
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let cleared = rows.iter().find(|r| r[col("metric")] == "cleared").unwrap();
    let expected: f64 = cleared[col("expected")].parse().unwrap();
    assert!(
        expected > 10.0,
        "warm-up orders expected to clear: {cleared:?}"
    );
    let growth = rows
        .iter()
        .find(|r| r[col("metric")] == "growth:orders")
        .unwrap();
    assert_eq!(
        growth[col("goal")],
        "-0.5",
        "a growth's goal ignores its scope"
    );
    let simulated: f64 = growth[col("simulated")].parse().unwrap();
    // The days after Singles' Day have fewer orders than it and its tail.
    assert!(simulated < 0.0, "{growth:?}");

    let zero = t.path().join("zero.toml");
    std::fs::write(
        &zero,
        format!(
            "{}\n[[fit]]\npath = \"market.RU.orders_per_buyer_day\"\nmin = 0.01\nmax = 0.05\n\n[[target]]\ndate = \"2016-11-10\"\nmarket = \"RU\"\nmetric = \"orders\"\nvalue = 0\ntolerance = 0.1\n",
            read(&data("tiny.toml"))
        ),
    )
    .unwrap();
    let err = fails(
        2,
        &["calibrate", &zero.display().to_string(), "--fit", "--quiet"],
    );
    assert!(
        err.contains("a goal of 0 has no relative error to fit"),
        "{err}"
    );
}

/// The numbers in `calibrate --fit`'s `--set` lines, by path.
fn fitted_sets(out: &str) -> Vec<(String, f64)> {
    out.lines()
        .filter_map(|l| l.strip_prefix("  --set "))
        .map(|l| {
            let (path, rest) = l.rsplit_once('=').unwrap();
            let value = rest.split_whitespace().next().unwrap().parse().unwrap();
            (path.to_string(), value)
        })
        .collect()
}

/// India's payment mix: `calibrate --fit` solves cash on delivery's share before 8
/// November and the demonetisation change's share after it, each balanced by the
/// wallet, to the values written in the file, the same bits every time; every fitted
/// target passes at a 5 % sample, and the held-out RBI wallet growth is reported with
/// its error, the run's figure agreeing with the model's expectation of it.
#[test]
fn issue_23_india_payment_mix_fit_reproduces_the_shipped_values() {
    let file = shipped("india_demonetisation_2016.toml")
        .display()
        .to_string();
    let t = tmp();
    let bt = t.path().join("bt");
    let fit = |extra: &[&str]| {
        let mut args = vec!["calibrate", &file, "--fit", "--sample", "0.05"];
        args.extend(extra);
        ok(&args)
    };
    let a = fit(&["--out", &bt.display().to_string()]);
    assert_eq!(
        fitted_sets(&a),
        fitted_sets(&fit(&[])),
        "the same fit twice"
    );
    assert!(a.contains("converged"), "{a}");
    let sets = fitted_sets(&a);
    for (path, shipped) in [
        ("market.IN.payment.cod.share", 0.636332),
        ("market.IN.payment.wallet.share", 0.113668),
        (
            r#"change.demonetisation.set."market.IN.payment.cod.share""#,
            0.50,
        ),
        (
            r#"change.demonetisation.set."market.IN.payment.wallet.share""#,
            0.25,
        ),
    ] {
        let fitted = sets
            .iter()
            .find(|(p, _)| p == path)
            .unwrap_or_else(|| panic!("{path} in {a}"))
            .1;
        assert!(
            (fitted / shipped - 1.0).abs() < 2e-5,
            "{path}: fitted {fitted}, the file has {shipped}"
        );
    }
    assert!(a.contains("5 of 5 targets within tolerance"), "{a}");
    let (h, rows) = csv(&bt.join("backtest.csv"));
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    for r in &rows {
        if r[col("fitted")] == "true" {
            assert_eq!(r[col("within_tolerance")], "true", "{r:?}");
        }
    }
    let wallet = rows
        .iter()
        .find(|r| r[col("record")] == "in-rbi-wallet-txns-growth-2016-12")
        .expect("the RBI wallet growth held out");
    assert_eq!(wallet[col("fitted")], "false");
    let (expected, simulated): (f64, f64) = (
        wallet[col("expected")].parse().unwrap(),
        wallet[col("simulated")].parse().unwrap(),
    );
    // Wallet orders roughly double from October to December in the model, short of the
    // RBI's +114 %: the error is shown, not fitted away.
    // One run at 5 %: about 9,000 wallet orders in October, so about 0.03 of noise.
    assert!((expected - simulated).abs() < 0.1, "{wallet:?}");
    assert!((0.8..1.14).contains(&simulated), "{wallet:?}");
}

/// A `[[fit]]` with a `balance` moves two values the opposite ways, so a payment mix
/// still sums to 1, whether the values are a market's or a dated change's (a key with
/// dots, quoted in the path); `method_orders:METHOD` counts a method's orders as the
/// model expects them; a balance that is the path itself, or an unknown method, is an
/// error located in the file.
#[test]
fn issue_23_a_balanced_fit_keeps_the_mix_and_counts_a_methods_orders() {
    let t = tmp();
    let base = format!(
        "{}{}",
        read(&data("tiny.toml")),
        r#"
[[change]]
name = "shift"
date = "2016-11-11"
set = { "market.RU.payment.cash.share" = 0.2, "market.RU.payment.card.share" = 0.8 }

[[fit]]
path = "market.RU.payment.cash.share"
balance = "market.RU.payment.card.share"
min = 0.05
max = 0.95

[[fit]]
path = 'change.shift.set."market.RU.payment.cash.share"'
balance = 'change.shift.set."market.RU.payment.card.share"'
min = 0.05
max = 0.95

[[target]]
from = "2016-11-09"
to = "2016-11-10"
market = "RU"
metric = "share:cash"
value = 0.4
tolerance = 0.5

[[target]]
from = "2016-11-11"
to = "2016-11-14"
market = "RU"
metric = "share:cash"
value = 0.1
tolerance = 0.5

[[target]]
from = "2016-11-09"
to = "2016-11-14"
market = "RU"
metric = "method_orders:cash"
value = 1
tolerance = 1
fit = false
"#
    );
    let file = t.path().join("s.toml");
    std::fs::write(&file, &base).unwrap();
    let file = file.display().to_string();
    let bt = t.path().join("bt");
    let out = ok(&[
        "calibrate",
        &file,
        "--fit",
        "--set",
        "market.RU.active_buyers=250000",
        "--out",
        &bt.display().to_string(),
    ]);
    let sets = fitted_sets(&out);
    let value = |path: &str| sets.iter().find(|(p, _)| p == path).unwrap().1;
    assert!(
        (value("market.RU.payment.cash.share") - 0.4).abs() < 1e-6,
        "{out}"
    );
    assert!(
        (value("market.RU.payment.card.share") - 0.6).abs() < 1e-6,
        "{out}"
    );
    let cash = r#"change.shift.set."market.RU.payment.cash.share""#;
    let card = r#"change.shift.set."market.RU.payment.card.share""#;
    assert!((value(cash) - 0.1).abs() < 1e-6, "{out}");
    assert!((value(cash) + value(card) - 1.0).abs() < 1e-12, "{out}");
    let (h, rows) = csv(&bt.join("backtest.csv"));
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let counted = rows
        .iter()
        .find(|r| r[col("metric")] == "method_orders:cash")
        .unwrap();
    let (expected, simulated): (f64, f64) = (
        counted[col("expected")].parse().unwrap(),
        counted[col("simulated")].parse().unwrap(),
    );
    // About 5,000 orders a day, 40 % then 10 % of them cash: thousands counted.
    assert!(expected > 1000.0, "{counted:?}");
    assert!((simulated / expected - 1.0).abs() < 0.1, "{counted:?}");

    for (from, to, says) in [
        (
            "balance = \"market.RU.payment.card.share\"",
            "balance = \"market.RU.payment.cash.share\"",
            "fit[0].balance",
        ),
        (
            "metric = \"method_orders:cash\"",
            "metric = \"method_orders:cheque\"",
            "market RU has no payment method \"cheque\"",
        ),
    ] {
        let bad = t.path().join("bad.toml");
        std::fs::write(&bad, base.replacen(from, to, 1)).unwrap();
        let err = fails(2, &["validate", &bad.display().to_string()]);
        assert!(err.contains(says), "{err}");
    }
}
