//! Issue 23: a `[[fit]]` that moves several paths by one parameter (`paths`), as a
//! factor on their written values (`scale = true`), and its checks.

use crate::support::*;

/// tiny.toml with a scale on both pools' electronics medians and Malaysia's constant
/// apparel value, fitted to Russia's average order `aov` (USD) over four days.
fn with_scale(aov: f64) -> String {
    let fit = format!(
        r#"
[[fit]]
paths = [
  "sellers.CN.order_value.electronics.median_usd",
  "sellers.MY.order_value.electronics.median_usd",
  "sellers.MY.order_value.apparel.value_usd",
]
scale = true
min = 0.2
max = 5.0

[[target]]
from = "2016-11-09"
to = "2016-11-12"
market = "RU"
metric = "aov_usd"
value = {aov}
tolerance = 0.3
"#
    );
    format!("{}{fit}", read(&data("tiny.toml")))
}

/// The `--set` lines of `calibrate --fit`, by path.
fn sets(out: &str) -> Vec<(String, f64)> {
    out.lines()
        .filter_map(|l| l.strip_prefix("  --set "))
        .map(|l| {
            let (path, rest) = l.split_once('=').unwrap();
            (
                path.to_string(),
                rest.split_whitespace().next().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// One parameter moves every path by the same factor on its written value, so their
/// ratios hold; the fit meets the average order the model expects, deterministically.
#[test]
fn issue_23_a_scale_moves_several_values_by_one_factor() {
    let t = tmp();
    let file = t.path().join("s.toml");
    // The model's expected average order as written, from a calibration that holds out.
    std::fs::write(
        &file,
        with_scale(1.0).replace("tolerance = 0.3\n", "tolerance = 0.3\nfit = false\n"),
    )
    .unwrap();
    let file_s = file.display().to_string();
    let bt = t.path().join("bt");
    ok(&[
        "calibrate",
        &file_s,
        "--quiet",
        "--out",
        &bt.display().to_string(),
    ]);
    let (h, rows) = csv(&bt.join("backtest.csv"));
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let written: f64 = rows[0][col("expected")].parse().unwrap();
    assert!(written > 1.0, "{rows:?}");

    // A third dearer: every scaled value about a third higher (the unscaled empirical
    // apparel of CN holds its part of the average down, so a little more).
    std::fs::write(&file, with_scale(written * 4.0 / 3.0)).unwrap();
    let fitted_bt = t.path().join("fitted");
    let a = ok(&[
        "calibrate",
        &file_s,
        "--fit",
        "--out",
        &fitted_bt.display().to_string(),
    ]);
    let b = ok(&["calibrate", &file_s, "--fit"]);
    assert_eq!(sets(&a), sets(&b), "the same fit twice");
    assert!(
        a.contains("converged") && a.contains("1 of 1 targets within tolerance"),
        "{a}"
    );
    let s = sets(&a);
    assert_eq!(s.len(), 3, "{a}");
    let value = |p: &str| s.iter().find(|(q, _)| q.ends_with(p)).unwrap().1;
    let scale = value("CN.order_value.electronics.median_usd") / 25.0;
    assert!(scale > 4.0 / 3.0 && scale < 2.0, "{a}");
    assert!(
        (value("MY.order_value.electronics.median_usd") / 30.0 - scale).abs() < 1e-12,
        "{a}"
    );
    assert!(
        (value("MY.order_value.apparel.value_usd") / 15.0 - scale).abs() < 1e-12,
        "{a}"
    );
    let printed: f64 = a
        .lines()
        .find_map(|l| l.strip_prefix("  scale "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{a}"));
    assert!((printed - scale).abs() < 1e-12, "{a}");
    // The model's expectation meets the goal; the one small run is within its 30 %.
    let (h, rows) = csv(&fitted_bt.join("backtest.csv"));
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let expected: f64 = rows[0][col("expected")].parse().unwrap();
    assert!(
        (expected / (written * 4.0 / 3.0) - 1.0).abs() < 1e-6,
        "{rows:?}"
    );
}

/// `base` with its `paths = [...]` list replaced by `with`.
fn replace_paths(base: &str, with: &str) -> String {
    let start = base.find("paths = [").unwrap();
    let end = start + base[start..].find(']').unwrap() + 1;
    format!("{}{with}{}", &base[..start], &base[end..])
}

/// Each misuse of `path`, `paths`, `scale` and `balance` is an error at its place in the
/// file; a path that names no value fails the fit and names it.
#[test]
fn issue_23_a_scale_fit_is_checked_where_it_is_written() {
    let t = tmp();
    let base = with_scale(10.0);
    let first = "\"sellers.CN.order_value.electronics.median_usd\",\n";
    for (name, text, at, says) in [
        (
            "both",
            base.replacen(
                "scale = true\n",
                "scale = true\npath = \"market.RU.growth\"\n",
                1,
            ),
            "fit[0]",
            "give either `path` (one value) or `paths`",
        ),
        (
            "neither",
            replace_paths(&base, ""),
            "fit[0]",
            "give either `path` (one value) or `paths`",
        ),
        (
            "empty",
            replace_paths(&base, "paths = []"),
            "fit[0].paths",
            "expected at least one override path",
        ),
        (
            "twice",
            base.replacen(first, &format!("{first}  {first}"), 1),
            "fit[0].paths[1]",
            "is named twice",
        ),
        (
            "blank",
            base.replacen(first, &format!("{first}  \" \",\n"), 1),
            "fit[0].paths[1]",
            "expected an override path",
        ),
        (
            "zero",
            base.replacen("min = 0.2", "min = 0.0", 1),
            "fit[0].min",
            "its bounds must be positive",
        ),
        (
            "balance",
            base.replacen(
                "scale = true\n",
                "scale = true\nbalance = \"market.RU.growth\"\n",
                1,
            ),
            "fit[0].balance",
            "not with `paths` or `scale`",
        ),
    ] {
        let file = t.path().join(format!("{name}.toml"));
        std::fs::write(&file, text).unwrap();
        let err = fails(2, &["validate", &file.display().to_string()]);
        assert!(err.contains(at) && err.contains(says), "{name}: {err}");
        assert!(
            err.contains(&format!("{name}.toml:")),
            "{name}, located: {err}"
        );
    }
    let file = t.path().join("unknown.toml");
    std::fs::write(
        &file,
        base.replacen(
            "MY.order_value.apparel.value_usd",
            "MY.order_value.shoes.value_usd",
            1,
        ),
    )
    .unwrap();
    let err = fails(
        2,
        &["calibrate", &file.display().to_string(), "--fit", "--quiet"],
    );
    assert!(err.contains("shoes"), "{err}");
}
