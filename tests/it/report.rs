//! `tradesim report` (issue 21): one self-contained HTML file whose figures are the
//! tables' numbers, that refuses what it cannot report on and never overwrites a file by
//! surprise, and that a browser draws.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{csv, data, fails, ok, read, tmp};

type Attributes = BTreeMap<String, String>;

/// Every start tag of the page that has `data-` attributes, in order: (tag, attributes).
/// The report escapes `<`, `>` and `"` inside values, so a tag ends at the first `>`.
fn tagged(html: &str) -> Vec<(String, Attributes)> {
    let unescape = |v: &str| {
        v.replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let mut out = Vec::new();
    for piece in html.split('<').skip(1) {
        let Some(tag) = piece.split('>').next() else {
            continue;
        };
        if !tag.contains(" data-") {
            continue;
        }
        let name = tag.split_whitespace().next().unwrap_or("").to_string();
        let mut attributes = Attributes::new();
        let mut rest = tag;
        while let Some(eq) = rest.find("=\"") {
            let key = rest[..eq].rsplit(' ').next().unwrap().to_string();
            let after = &rest[eq + 2..];
            let end = after.find('"').expect("a closed attribute value");
            attributes.insert(key, unescape(&after[..end]));
            rest = &after[end + 1..];
        }
        out.push((name, attributes));
    }
    out
}

/// A table cell or attribute as a number (`None` when empty).
fn number(text: &str) -> Option<f64> {
    (!text.is_empty()).then(|| {
        text.parse()
            .unwrap_or_else(|_| panic!("`{text}` is not a number"))
    })
}

/// A CSV table as rows of column -> text.
fn records(path: &Path) -> Vec<Attributes> {
    let (header, rows) = csv(path);
    rows.into_iter()
        .map(|r| header.iter().cloned().zip(r).collect())
        .collect()
}

/// Each table row of the page (`tr` with `data-` attributes) with its cells' numbers
/// (`data-column` -> `data-value`).
fn table_rows(tags: &[(String, Attributes)]) -> Vec<(Attributes, BTreeMap<String, Option<f64>>)> {
    let mut rows: Vec<(Attributes, BTreeMap<String, Option<f64>>)> = Vec::new();
    for (tag, a) in tags {
        match tag.as_str() {
            "tr" => rows.push((a.clone(), BTreeMap::new())),
            "td" => {
                let row = rows.last_mut().expect("a cell inside a row");
                row.1
                    .insert(a["data-column"].clone(), number(&a["data-value"]));
            }
            _ => {}
        }
    }
    rows
}

/// A row's metric as `KIND:ENTITY.METRIC`, from the long form's columns (in a CSV row or
/// in an element's `data-` attributes).
fn metric_name(row: &Attributes) -> String {
    let get = |name: &str| {
        row.get(name)
            .or_else(|| row.get(&format!("data-{name}")))
            .unwrap_or_else(|| panic!("no {name} in {row:?}"))
    };
    format!("{}:{}.{}", get("entity_kind"), get("entity"), get("metric"))
}

fn run_tiny(out: &Path) {
    ok(&[
        "run",
        &data("tiny.toml").display().to_string(),
        "--out",
        &out.display().to_string(),
        "--quiet",
    ]);
}

fn report(dir: &Path) -> String {
    ok(&["report", &dir.display().to_string()]);
    read(&dir.join("report.html"))
}

/// The page loads nothing: no address, no script, no external reference of any kind.
fn assert_self_contained(html: &str) {
    for needle in [
        "http://", "https://", "<script", "src=", "href=", "url(", "@import",
    ] {
        assert!(!html.contains(needle), "the report holds `{needle}`");
    }
    assert!(html.contains("<svg"), "no inline SVG");
}

#[test]
fn issue_21_a_run_report_shows_the_tables_numbers() {
    let dir = tmp();
    let run = dir.path().join("run");
    run_tiny(&run);
    let html = report(&run);
    assert_self_contained(&html);
    let tags = tagged(&html);
    let rows = table_rows(&tags);
    let mut checked = 0;

    // Headline figures: the cards and the market table, against summary.csv.
    // The cards and the market table show markets and all markets.
    let summary: BTreeMap<String, Option<f64>> = records(&run.join("summary.csv"))
        .into_iter()
        .filter(|r| matches!(r["entity_kind"].as_str(), "market" | "all"))
        .map(|r| {
            (
                format!("{}.{}", r["entity"], r["metric"]),
                number(&r["value"]),
            )
        })
        .collect();
    for (tag, a) in &tags {
        if tag == "div" && a.contains_key("data-entity") {
            let name = format!("{}.{}", a["data-entity"], a["data-metric"]);
            assert_eq!(number(&a["data-value"]), summary[&name], "card {name}");
            checked += 1;
        }
    }
    assert!(checked >= 6, "{checked} cards");
    for (row, cells) in rows.iter().filter(|(r, _)| r.contains_key("data-entity")) {
        for (metric, value) in cells {
            let name = format!("{}.{metric}", row["data-entity"]);
            assert_eq!(*value, summary[&name], "{name}");
            checked += 1;
        }
    }
    for name in ["RU.orders", "IN.gmv_usd", "all.p95_lead_time_days"] {
        let (entity, metric) = name.split_once('.').unwrap();
        assert!(
            rows.iter().any(
                |(r, c)| r.get("data-entity").map(String::as_str) == Some(entity)
                    && c.contains_key(metric)
            ),
            "{name} is not in the market table"
        );
    }

    // The daily lines: orders per market, backlog per facility.
    let lines: BTreeMap<String, Vec<Option<f64>>> = tags
        .iter()
        .filter(|(_, a)| a.contains_key("data-series"))
        .map(|(_, a)| {
            let values = a["data-values"].split(';').map(number).collect();
            (a["data-series"].clone(), values)
        })
        .collect();
    let mut expected: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    for r in records(&run.join("daily_markets.csv")) {
        expected
            .entry(r["market"].clone())
            .or_default()
            .push(number(&r["orders"]));
    }
    for r in records(&run.join("daily_facilities.csv")) {
        let name = format!("{} {}", r["kind"], r["facility"]);
        expected
            .entry(name)
            .or_default()
            .push(number(&r["backlog"]));
    }
    assert_eq!(lines, expected);

    // Lead times: the chart's rows and the table's, against lead_times.csv.
    let lead_times = records(&run.join("lead_times.csv"));
    let figures: Vec<&Attributes> = tags
        .iter()
        .filter(|(t, a)| t == "g" && a.contains_key("data-route"))
        .map(|(_, a)| a)
        .collect();
    assert_eq!(figures.len(), lead_times.len());
    for (r, a) in lead_times.iter().zip(&figures) {
        assert_eq!(
            (&a["data-market"], &a["data-route"]),
            (&r["market"], &r["route"])
        );
        for column in [
            "delivered",
            "mean_days",
            "p50_days",
            "p90_days",
            "p95_days",
            "p99_days",
            "max_days",
        ] {
            let attribute = format!("data-{}", column.replace('_', "-"));
            assert_eq!(number(&a[&attribute]), number(&r[column]), "{column}");
            checked += 1;
        }
    }

    // Payments and seller pools: the rows of their tables and the payment bars.
    let tables = [
        ("payments.csv", ["market", "method"]),
        ("sellers.csv", ["sellers", "market"]),
        ("lead_times.csv", ["market", "route"]),
    ];
    for (file, keys) in tables {
        let expected: Vec<Attributes> = records(&run.join(file))
            .into_iter()
            .filter(|r| r.get("tier").is_none_or(|t| t == "all"))
            .collect();
        let shown: Vec<_> = rows
            .iter()
            .filter(|(r, _)| keys.iter().all(|k| r.contains_key(&format!("data-{k}"))))
            .collect();
        assert_eq!(shown.len(), expected.len(), "{file}");
        for ((row, cells), r) in shown.iter().zip(&expected) {
            for k in keys {
                assert_eq!(row[&format!("data-{k}")], r[k], "{file}");
            }
            assert!(cells.len() >= 6, "{file}: {cells:?}");
            for (column, value) in cells.iter() {
                assert_eq!(*value, number(&r[column]), "{file} {column}");
                checked += 1;
            }
        }
    }
    let payments = records(&run.join("payments.csv"));
    let bars: Vec<&Attributes> = tags
        .iter()
        .filter(|(t, a)| t == "g" && a.contains_key("data-method"))
        .map(|(_, a)| a)
        .collect();
    assert_eq!(bars.len(), payments.len());
    for (a, r) in bars.iter().zip(&payments) {
        for column in ["success_rate", "cancel_rate", "refusal_rate"] {
            let attribute = format!("data-{}", column.replace('_', "-"));
            assert_eq!(number(&a[&attribute]), number(&r[column]), "{column}");
        }
    }
    assert!(checked > 100, "only {checked} numbers checked");

    // The title names what was run.
    for text in [
        "<h1>tiny</h1>",
        "2016-11-09 to 2016-11-14 (6 days)",
        "<dd>7</dd>",
    ] {
        assert!(html.contains(text), "{text} is missing");
    }
}

#[test]
fn issue_21_a_comparison_report_shows_every_paired_difference() {
    let dir = tmp();
    let cmp = dir.path().join("cmp");
    ok(&[
        "compare",
        &data("small.toml").display().to_string(),
        "--variant",
        "low-threshold",
        "--variant",
        "noop",
        "--replications",
        "2",
        "--out",
        &cmp.display().to_string(),
        "--quiet",
    ]);
    let html = report(&cmp);
    assert_self_contained(&html);
    let tags = tagged(&html);
    let compare = records(&cmp.join("compare.csv"));
    let by_name: BTreeMap<(String, String), &Attributes> = compare
        .iter()
        .map(|r| ((metric_name(r), r["variant"].clone()), r))
        .collect();

    // The table under each forest plot: every metric the variant changed, as in compare.csv.
    let rows = table_rows(&tags);
    let shown: Vec<_> = rows
        .iter()
        .filter(|(r, _)| r.contains_key("data-variant"))
        .collect();
    let changed = compare
        .iter()
        .filter(|r| !(r["diff"] == "0.0000" && r["sd_diff"] == "0.0000"))
        .count();
    assert!(changed > 10, "low-threshold changes {changed} metrics");
    assert_eq!(shown.len(), changed);
    for (row, cells) in &shown {
        let name = metric_name(row);
        let r = by_name[&(name.clone(), row["data-variant"].clone())];
        for (column, value) in cells.iter() {
            assert_eq!(*value, number(&r[column]), "{name} {column}");
        }
        assert_eq!(cells.len(), 6);
    }
    assert!(
        shown
            .iter()
            .all(|(r, _)| r["data-variant"] == "low-threshold")
    );

    // The forest plot: the relative difference and its interval over the baseline mean.
    let points: Vec<&Attributes> = tags
        .iter()
        .filter(|(t, a)| t == "g" && a.contains_key("data-rel-diff"))
        .map(|(_, a)| a)
        .collect();
    assert_eq!(points.len(), changed);
    // The plot labels a metric with its terminal name: `RU.orders`, `exchange.RU.arrived`.
    let terminal_name = |r: &Attributes| match r["entity_kind"].as_str() {
        "linehaul" | "exchange" => format!("{}.{}.{}", r["entity_kind"], r["entity"], r["metric"]),
        _ => format!("{}.{}", r["entity"], r["metric"]),
    };
    let by_terminal_name: BTreeMap<(String, String), &Attributes> = compare
        .iter()
        .map(|r| ((terminal_name(r), r["variant"].clone()), r))
        .collect();
    for a in &points {
        let r = by_terminal_name[&(a["data-metric"].clone(), a["data-variant"].clone())];
        assert_eq!(
            number(&a["data-rel-diff"]),
            number(&r["rel_diff"]),
            "{}",
            a["data-metric"]
        );
        if let (Some(low), Some(base)) = (number(&a["data-rel-low"]), number(&r["baseline_mean"])) {
            let from_csv = (number(&r["ci95_low"]).unwrap() / base)
                .min(number(&r["ci95_high"]).unwrap() / base);
            assert!((low - from_csv).abs() < 1e-12, "{}", a["data-metric"]);
        }
    }
    // The variant that changes nothing is said to, metric by metric.
    let metrics = compare.iter().filter(|r| r["variant"] == "noop").count();
    assert!(
        html.contains(&format!(
            "Identical to the baseline in every replication ({metrics})"
        )),
        "the noop variant's identical metrics are not listed"
    );

    // The daily series: each column of compare_daily.csv, each arm in it.
    let daily = records(&cmp.join("compare_daily.csv"));
    let mut expected = Vec::new();
    for column in ["orders", "mean_lead_time_days", "duty_usd"] {
        for arm in ["baseline", "low-threshold", "noop"] {
            let values: Vec<Option<f64>> = daily
                .iter()
                .filter(|r| r["variant"] == arm)
                .map(|r| number(&r[column]))
                .collect();
            expected.push((arm.to_string(), values));
        }
    }
    let lines: Vec<(String, Vec<Option<f64>>)> = tags
        .iter()
        .filter(|(_, a)| a.contains_key("data-series"))
        .map(|(_, a)| {
            let values = a["data-values"].split(';').map(number).collect();
            (a["data-series"].clone(), values)
        })
        .collect();
    assert_eq!(lines, expected);
}

#[test]
fn issue_21_what_is_not_a_run_or_a_comparison_is_refused_by_name() {
    let dir = tmp();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = fails(2, &["report", &empty.display().to_string()]);
    assert!(err.contains("neither a run directory"), "{err}");
    assert!(
        err.contains("summary.csv") && err.contains("compare.csv"),
        "{err}"
    );

    let missing = dir.path().join("nowhere");
    let err = fails(2, &["report", &missing.display().to_string()]);
    assert!(err.contains("no such directory"), "{err}");

    // A run that lost a table is named as a run, with what it lacks.
    let run = dir.path().join("run");
    run_tiny(&run);
    std::fs::remove_file(run.join("lead_times.csv")).unwrap();
    let err = fails(2, &["report", &run.display().to_string()]);
    assert!(
        err.contains("a run directory, but it lacks lead_times.csv"),
        "{err}"
    );

    // A run of several replications points at them.
    let reps = dir.path().join("reps");
    ok(&[
        "run",
        &data("tiny.toml").display().to_string(),
        "--replications",
        "2",
        "--no-event-log",
        "--out",
        &reps.display().to_string(),
        "--quiet",
    ]);
    let err = fails(2, &["report", &reps.display().to_string()]);
    assert!(
        err.contains("holds replications") && err.contains("rep-001"),
        "{err}"
    );
    for d in [&empty, &run, &reps] {
        assert!(!d.join("report.html").exists(), "{}", d.display());
    }
}

#[test]
fn issue_21_a_report_is_replaced_only_with_force_and_only_if_tradesim_wrote_it() {
    let dir = tmp();
    let run = dir.path().join("run");
    run_tiny(&run);
    let path = run.join("report.html");
    let first = report(&run);

    // Marked so that a replacement shows.
    std::fs::write(&path, first.replace("<h1>tiny</h1>", "<h1>kept</h1>")).unwrap();
    let err = fails(2, &["report", &run.display().to_string()]);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert!(read(&path).contains("<h1>kept</h1>"));
    ok(&["report", &run.display().to_string(), "--force"]);
    assert_eq!(read(&path), first);

    // A file tradesim did not write stays, even with --force.
    let foreign = dir.path().join("notes.html");
    std::fs::write(&foreign, "my own notes\n").unwrap();
    let args = |force: bool| {
        let mut a = vec![
            "report".to_string(),
            run.display().to_string(),
            "--out".to_string(),
            foreign.display().to_string(),
        ];
        if force {
            a.push("--force".to_string());
        }
        a
    };
    let err = fails(2, &args(true));
    assert!(err.contains("was not written by tradesim"), "{err}");
    assert_eq!(read(&foreign), "my own notes\n");
    let err = fails(
        2,
        &[
            "report",
            &run.display().to_string(),
            "--out",
            &run.display().to_string(),
            "--force",
        ],
    );
    assert!(err.contains("is a directory"), "{err}");

    // Nothing temporary is left behind.
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .chain(std::fs::read_dir(&run).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn issue_21_a_report_beside_a_run_leaves_it_replayable_and_reproducible() {
    let dir = tmp();
    let run = dir.path().join("run");
    run_tiny(&run);
    report(&run);
    let replayed = ok(&["replay", &run.display().to_string(), "--check"]);
    assert!(!replayed.contains("differs"), "{replayed}");
    let reproduced = ok(&["reproduce", &run.display().to_string()]);
    assert!(reproduced.contains("reproduced: all"), "{reproduced}");
    assert!(!reproduced.contains("report.html"), "{reproduced}");
}

/// Chromium's screenshot of `page`, or `None` (with the reason printed) when there is no
/// Chromium outside CI.
fn screenshot(page: &Path, png: &Path, profile: &Path) -> Option<Vec<u8>> {
    let found = Command::new("chromium").arg("--version").output();
    if found.as_ref().map_or(true, |o| !o.status.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing: CI must install it (.ci/run does)"
        );
        eprintln!("note: chromium is missing; the report's screenshot is not checked");
        return None;
    }
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--screenshot={}", png.display()),
            "--window-size=1200,2000",
            &format!("file://{}", page.display()),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromium starts");
    // A browser that hangs fails the test rather than the whole run.
    let started = Instant::now();
    while child.try_wait().expect("chromium runs").is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium took more than two minutes for {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(std::fs::read(png).expect("chromium wrote the screenshot"))
}

#[test]
fn issue_21_chromium_draws_the_report() {
    let dir = tmp();
    let run = dir.path().join("run");
    run_tiny(&run);
    report(&run);
    let page = run.join("report.html").canonicalize().unwrap();
    let Some(bytes) = screenshot(
        &page,
        &dir.path().join("shot.png"),
        &dir.path().join("profile"),
    ) else {
        return;
    };
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buffer = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buffer).expect("a frame");
    assert_eq!((info.width, info.height), (1200, 2000));
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let pixels: Vec<[u8; 3]> = buffer[..info.buffer_size()]
        .chunks(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();

    let not_white = pixels.iter().filter(|p| p.iter().any(|&c| c < 235)).count();
    let share = not_white as f64 / pixels.len() as f64;
    assert!(
        share > 0.05,
        "only {:.1} % of the page is not white",
        share * 100.0
    );
    // Colours in steps of 32: the header's dark blue, text, and the charts' lines.
    let mut colours: Vec<[u8; 3]> = pixels.iter().map(|p| p.map(|c| c / 32)).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() >= 12,
        "only {} distinct colours",
        colours.len()
    );
    // The first two markets' lines and bars are drawn in orange (#E69F00) and blue (#0072B2).
    for (name, rgb) in [("orange", [0xE6, 0x9F, 0x00]), ("blue", [0x00, 0x72, 0xB2])] {
        let near = pixels
            .iter()
            .filter(|p| p.iter().zip(rgb).all(|(&a, b)| a.abs_diff(b) < 24))
            .count();
        assert!(near > 500, "{near} {name} pixels: the charts are not drawn");
    }
}
