//! Issue 5: `tradesim calibrate` and the shipped scenarios' calibration targets, and the
//! direction in which every policy variant of dftz_baseline moves its headline metric.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{
    csv, data, fails, ok, read, shipped, stderr, stdout, summary_f64, tmp, tradesim,
};

/// The table rows of `calibrate`'s output: (date, market, metric, simulated, result).
fn rows(out: &str) -> Vec<(String, String, String, f64, String)> {
    out.lines()
        .filter(|l| {
            l.len() > 10
                && l.as_bytes()[4] == b'-'
                && l.as_bytes()[7] == b'-'
                && l.as_bytes()[10] == b' '
        })
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let simulated = f[4].replace(',', "").parse().expect("simulated value");
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].to_string(),
                simulated,
                f[f.len() - 1].to_string(),
            )
        })
        .collect()
}

fn calibrate(scenario: &Path, extra: &[&str]) -> String {
    let mut args = vec!["calibrate".to_string(), scenario.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    ok(&args)
}

#[test]
fn aliexpress_russia_2016_meets_20_million_orders_on_singles_day() {
    // 20,000,000 x 0.005 = 100,000 simulated orders: Poisson noise 0.32 %, tolerance 2 %.
    let out = calibrate(
        &shipped("aliexpress_russia_2016.toml"),
        &["--sample", "0.005"],
    );
    let r = rows(&out);
    assert_eq!(r.len(), 1, "{out}");
    assert_eq!(
        (r[0].0.as_str(), r[0].1.as_str(), r[0].2.as_str()),
        ("2016-11-11", "RU", "orders")
    );
    assert!((r[0].3 / 20_000_000.0 - 1.0).abs() <= 0.02, "{out}");
    assert_eq!(r[0].4, "pass", "{out}");
    assert!(out.contains("1 of 1 targets within tolerance"), "{out}");
}

#[test]
fn aliexpress_russia_2015_meets_10_8_million_orders_on_singles_day() {
    // 10,810,811 x 0.005 = 54,054 simulated orders: Poisson noise 0.43 %, tolerance 2 %.
    let out = calibrate(
        &shipped("aliexpress_russia_2015.toml"),
        &["--sample", "0.005"],
    );
    let r = rows(&out);
    assert_eq!(r.len(), 2, "{out}");
    assert_eq!(
        (r[0].0.as_str(), r[0].1.as_str(), r[0].2.as_str()),
        ("2015-11-11", "RU", "orders")
    );
    assert!((r[0].3 / 10_810_811.0 - 1.0).abs() <= 0.02, "{out}");
    assert_eq!(r[0].4, "pass", "{out}");
    // Yandex.Money's average order is held out: reported, never fitted.
    assert_eq!(r[1].2, "aov_local", "{out}");
    assert!(out.contains("1 of 1 targets within tolerance"), "{out}");
    assert!(out.contains("held out: rms error"), "{out}");
}

#[test]
fn dftz_baseline_meets_its_targets() {
    // RU: 400,000 simulated orders on 2016-11-11 (noise 0.16 %). IN: 55,550 x 0.02 = 1,111
    // orders on 2016-11-02, whose Poisson noise (3 %) exceeds the 2 % tolerance: this
    // assertion holds for the scenario's seed (the random streams are a function of the
    // seed and the work unit) and the next test checks India beyond the noise.
    let out = calibrate(&shipped("dftz_baseline.toml"), &["--sample", "0.02"]);
    let r = rows(&out);
    assert_eq!(r.len(), 2, "{out}");
    assert!(r.iter().all(|x| x.4 == "pass"), "{out}");
    assert!(out.contains("2 of 2 targets within tolerance"), "{out}");
    assert!(
        out.contains("note: at sample 0.02 the Poisson noise on 2016-11-02 IN orders"),
        "{out}"
    );
}

#[test]
fn dftz_baseline_india_target_holds_beyond_sampling_noise() {
    // India's target needs ~28,000 simulated orders on the day for a 3-sigma margin on 2 %,
    // a 0.5 sample; Russia (which India's orders do not depend on) is thinned to 1 % of its
    // buyers, with its target scaled alike, to keep the run to a couple of seconds.
    let out = calibrate(
        &shipped("dftz_baseline.toml"),
        &[
            "--sample",
            "0.5",
            "--set",
            "market.RU.active_buyers=220000",
            "--set",
            "target[0].value=200000",
        ],
    );
    let r = rows(&out);
    let india = r.iter().find(|x| x.1 == "IN").expect("India's target");
    assert_eq!(india.4, "pass", "{out}");
    assert!((india.3 / 55_550.0 - 1.0).abs() <= 0.02, "{out}");
    assert!(
        !out.contains("note:"),
        "a 0.5 sample is enough for India's target:\n{out}"
    );
}

#[test]
fn unmet_target_fails_with_exit_1_and_names_it() {
    // 0.0283457 instead of 0.0255111 orders per buyer and day (the file's base flow / 0.9):
    // 11 % more orders on Singles' Day.
    let file = shipped("aliexpress_russia_2016.toml");
    let args = [
        "calibrate",
        file.to_str().unwrap(),
        "--sample",
        "0.005",
        "--set",
        "market.RU.orders_per_buyer_day=0.0283457",
    ];
    let o = tradesim(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = rows(&stdout(&o));
    assert_eq!(r[0].4, "FAIL", "{}", stdout(&o));
    assert!(
        (r[0].3 / 22_222_222.0 - 1.0).abs() <= 0.02,
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("0 of 1 targets within tolerance"),
        "{}",
        stdout(&o)
    );
    let err = stderr(&o);
    assert!(
        err.contains("1 of 1 calibration targets failed: 2016-11-11 RU orders +1"),
        "{err}"
    );
    assert!(err.contains("tolerance 2.00 %"), "{err}");
}

#[test]
fn quiet_prints_nothing_and_still_fails_by_exit_code() {
    let small = data("small.toml");
    let small = small.to_str().unwrap();
    assert_eq!(ok(&["calibrate", small, "--quiet"]), "");
    let o = tradesim(&[
        "calibrate",
        small,
        "--quiet",
        "--set",
        "market.RU.active_buyers=1000",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains("calibration targets failed"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn scenario_without_targets_is_a_usage_error() {
    let dir = tmp();
    let text = read(&data("small.toml"));
    let cut = text.find("[[target]]").expect("small.toml has a target");
    let file = dir.path().join("no_targets.toml");
    std::fs::write(&file, &text[..cut]).unwrap();
    let err = fails(2, &["calibrate", file.to_str().unwrap()]);
    assert!(err.contains("no [[target]]s to calibrate against"), "{err}");
    assert!(err.contains("no_targets.toml"), "{err}");
}

#[test]
fn bad_sample_is_a_usage_error() {
    let err = fails(
        2,
        &[
            "calibrate",
            data("small.toml").to_str().unwrap(),
            "--sample",
            "0",
        ],
    );
    assert!(err.contains("--sample must be in (0, 1]"), "{err}");
}

#[test]
fn calibrate_leaves_no_temporary_files_and_ignores_thread_count() {
    let dir = tmp();
    let run = |threads: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_tradesim"))
            .args([
                "calibrate",
                data("small.toml").to_str().unwrap(),
                "--threads",
                threads,
            ])
            .env("TMPDIR", dir.path())
            .output()
            .expect("tradesim runs");
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let one = run("1");
    assert_eq!(one, run("2"));
    assert!(one.contains("2016-11-11  RU      orders"), "{one}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "calibrate left {left:?} behind");
}

// ---------------------------------------------------------------------------------------
// Every variant of dftz_baseline moves its headline metric in the documented direction.
// Baseline and variant run with the same seed (common random numbers) at a 1 % sample:
// ~450,000 orders in about half a second each. The margins below held for seeds 1-6 too.
// ---------------------------------------------------------------------------------------

const SAMPLE: &str = "0.01";
const SEED: &str = "20161101";

/// Runs dftz_baseline and one variant into `dir`/base and `dir`/VARIANT.
fn baseline_and(dir: &Path, variant: &str) -> (PathBuf, PathBuf) {
    let scenario = shipped("dftz_baseline.toml");
    let run = |name: &str, extra: &[&str]| {
        let out = dir.join(name);
        let mut args = vec![
            "run",
            scenario.to_str().unwrap(),
            "--sample",
            SAMPLE,
            "--seed",
            SEED,
        ];
        args.extend(["--no-event-log", "--quiet", "--out", out.to_str().unwrap()]);
        args.extend(extra);
        ok(&args);
        out
    };
    (run("base", &[]), run(variant, &["--variant", variant]))
}

/// `mean_days` of a route in `lead_times.csv`.
fn route_mean_days(dir: &Path, route: &str) -> f64 {
    let (header, rows) = csv(&dir.join("lead_times.csv"));
    let route_col = header
        .iter()
        .position(|h| h == "route")
        .expect("route column");
    let mean_col = header
        .iter()
        .position(|h| h == "mean_days")
        .expect("mean_days column");
    let row = rows
        .iter()
        .find(|r| r[route_col] == route)
        .unwrap_or_else(|| panic!("no row for {route}"));
    row[mean_col].parse().expect("mean_days is a number")
}

#[test]
fn ru_de_minimis_200_raises_duties_and_lowers_russian_orders() {
    let dir = tmp();
    let (base, var) = baseline_and(dir.path(), "ru-de-minimis-200");
    let (d0, d1) = (
        summary_f64(&base, "RU.duty_usd"),
        summary_f64(&var, "RU.duty_usd"),
    );
    // Nearly every AliExpress parcel is under EUR 1000 and few are over EUR 200, so the
    // variant multiplies a small sum (x131 at full scale, README).
    assert!(d1 > 10.0 * d0.max(10.0), "RU.duty_usd {d0} -> {d1}");
    let (o0, o1) = (
        summary_f64(&base, "RU.orders"),
        summary_f64(&var, "RU.orders"),
    );
    assert!(o1 < o0, "RU.orders {o0} -> {o1}");
}

#[test]
fn dftz_direct_lengthens_malaysian_lead_times() {
    let dir = tmp();
    let (base, var) = baseline_and(dir.path(), "dftz-direct");
    for route in ["MY-SME:RU", "MY-SME:IN"] {
        let (l0, l1) = (route_mean_days(&base, route), route_mean_days(&var, route));
        assert!(l1 > l0 + 1.0, "{route} mean lead time {l0} -> {l1} days");
    }
    assert_eq!(
        summary_f64(&var, "MY-DFTZ.arrived"),
        0.0,
        "no parcel goes through the hub"
    );
}

#[test]
fn dftz_outage_raises_the_hub_peak_backlog() {
    let dir = tmp();
    let (base, var) = baseline_and(dir.path(), "dftz-outage");
    let (b0, b1) = (
        summary_f64(&base, "MY-DFTZ.max_backlog"),
        summary_f64(&var, "MY-DFTZ.max_backlog"),
    );
    assert!(b1 > 2.0 * b0, "MY-DFTZ.max_backlog {b0} -> {b1}");
}

#[test]
fn in_wallet_shift_lowers_indian_cancellations() {
    let dir = tmp();
    let (base, var) = baseline_and(dir.path(), "in-wallet-shift");
    let (c0, c1) = (
        summary_f64(&base, "IN.cancelled"),
        summary_f64(&var, "IN.cancelled"),
    );
    assert!(c1 < 0.8 * c0, "IN.cancelled {c0} -> {c1}");
}

#[test]
fn dftz_double_capacity_lowers_the_hub_mean_wait() {
    let dir = tmp();
    let (base, var) = baseline_and(dir.path(), "dftz-double-capacity");
    let (w0, w1) = (
        summary_f64(&base, "MY-DFTZ.mean_wait_hours"),
        summary_f64(&var, "MY-DFTZ.mean_wait_hours"),
    );
    assert!(w1 < 0.5 * w0, "MY-DFTZ.mean_wait_hours {w0} -> {w1}");
}

/// Issue 23: every shipped scenario meets every target it fits (`calibrate` exits 0 only
/// then; held-out targets report their errors without failing it) at a small sample:
/// 0.02, or the sample `calibrate` names for a 3-sigma margin on a target whose Poisson
/// noise at 0.02 exceeds a third of its tolerance.
#[test]
fn every_shipped_scenario_meets_its_fitted_targets_at_a_small_sample() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(shipped(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    for file in &files {
        let run = |sample: f64| {
            let o = tradesim(&[
                "calibrate".to_string(),
                file.display().to_string(),
                "--sample".to_string(),
                sample.to_string(),
            ]);
            (o.status.success(), stdout(&o), stderr(&o))
        };
        let (mut passed, mut out, mut err) = run(0.02);
        let margin = out
            .lines()
            .filter_map(|l| l.split("use --sample ").nth(1))
            .filter_map(|s| s.split_whitespace().next()?.parse::<f64>().ok())
            .fold(0.0, f64::max);
        if margin > 0.02 {
            (passed, out, err) = run(margin.min(1.0));
        }
        assert!(passed, "{}:\n{out}\n{err}", file.display());
        let score = out
            .lines()
            .find(|l| l.starts_with("score:"))
            .unwrap_or_else(|| panic!("{}: no score line in {out}", file.display()));
        let (met, of) = score
            .split(" targets within tolerance")
            .next()
            .and_then(|s| s.rsplit("; ").next())
            .and_then(|s| s.split_once(" of "))
            .unwrap_or_else(|| panic!("{}: {score}", file.display()));
        assert_eq!(met.trim(), of.trim(), "{}: {out}", file.display());
    }
}
