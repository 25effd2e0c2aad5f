//! Issue 21: `summary.csv` is tidy: one row per entity and metric, in columns that
//! analysts' tools read as they are.

use std::collections::BTreeSet;

use crate::support::{csv, data, ok, tmp};

/// The tiny scenario has every kind of entity, and a market and an exchange office of
/// the same id (`RU`): the kind tells them apart, and no name needs splitting.
#[test]
fn issue_21_summary_rows_name_their_entity_kind_and_metric_apart() {
    let t = tmp();
    let out = t.path().join("run");
    let tiny = data("tiny.toml").display().to_string();
    ok(&["run", &tiny, "--out", &out.display().to_string(), "--quiet"]);
    let (header, rows) = csv(&out.join("summary.csv"));
    assert_eq!(header, ["entity", "entity_kind", "metric", "value"]);
    let mut keys = BTreeSet::new();
    for row in &rows {
        assert_eq!(row.len(), 4, "{row:?}");
        let (entity, kind, metric) = (&row[0], &row[1], &row[2]);
        assert!(
            !entity.is_empty() && !kind.is_empty() && !metric.is_empty(),
            "{row:?}"
        );
        assert!(!metric.contains('.'), "{row:?}");
        assert!(keys.insert((kind, entity, metric)), "{row:?} repeats");
    }
    let kinds: BTreeSet<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["all", "exchange", "hub", "linehaul", "market", "sellers"])
    );
    let ru: BTreeSet<&str> = rows
        .iter()
        .filter(|r| r[0] == "RU")
        .map(|r| r[1].as_str())
        .collect();
    assert_eq!(ru, BTreeSet::from(["exchange", "market"]));
    assert_eq!(rows.last().unwrap()[..3], ["all", "all", "events"]);
}
