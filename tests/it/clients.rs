//! What our users' tools make of the outputs: pandas, DuckDB, Polars and pyarrow read
//! every table with no options, PM4Py reads `export-ocel`'s OCEL 2.0 file and mines it. The
//! Python side runs in the venv `.ci/run` builds from tests/python/requirements.txt
//! (`TRADESIM_PYTHON`); the export's own guarantees are checked here without it.

use std::path::Path;

use serde_json::Value;

use crate::support::{data, fails, ok, python, read, run_script, tmp};

/// Runs tests/data/NAME into `out`.
fn run(name: &str, out: &Path) {
    ok(&[
        "run".as_ref(),
        data(name).as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--quiet".as_ref(),
    ]);
}

/// The manifest's count of `field` (`events`, `orders`).
fn manifest_count(dir: &Path, field: &str) -> u64 {
    let manifest: Value = serde_json::from_str(&read(&dir.join("manifest.json"))).unwrap();
    manifest[field].as_u64().expect("a count")
}

#[test]
fn every_table_loads_alike_in_pandas_duckdb_polars_and_pyarrow() {
    let Some(python) = python() else { return };
    let dir = tmp();
    let out = dir.path().join("small");
    run("small.toml", &out);
    let said = run_script(&python, "load_tables.py", &[out.as_os_str()]);
    assert!(said.contains("read alike"), "{said}");
}

#[test]
fn the_event_log_loads_in_pandas_duckdb_polars_and_pyarrow() {
    let Some(python) = python() else { return };
    let dir = tmp();
    let out = dir.path().join("small");
    run("small.toml", &out);
    let said = run_script(&python, "load_events.py", &[out.as_os_str()]);
    assert!(said.contains("read alike"), "{said}");
}

#[test]
fn pm4py_reads_the_ocel_export_and_discovers_the_orders_process() {
    let Some(python) = python() else { return };
    let dir = tmp();
    let out = dir.path().join("tiny");
    // On a clock off UTC by a fraction of an hour, so that PM4Py parses the offsets too.
    ok(&[
        "run".as_ref(),
        data("tiny.toml").as_os_str(),
        "--set".as_ref(),
        "scenario.utc_offset=\"+05:30\"".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
        "--quiet".as_ref(),
    ]);
    ok(&["export-ocel".as_ref(), out.as_os_str()]);
    let events = manifest_count(&out, "events").to_string();
    let orders = manifest_count(&out, "orders").to_string();
    let file = out.join("ocel.json");
    run_script(
        &python,
        "ocel_pm4py.py",
        &[file.as_os_str(), events.as_ref(), orders.as_ref()],
    );
}

/// Every event is there once, in the log's order and time, and every object an event or
/// another object names is among the objects, with a declared type.
#[test]
fn the_ocel_export_relates_every_event_to_declared_objects() {
    let dir = tmp();
    let out = dir.path().join("tiny");
    run("tiny.toml", &out);
    let said = ok(&["export-ocel".as_ref(), out.as_os_str()]);
    assert!(said.contains("ocel.json"), "{said}");
    let ocel: Value = serde_json::from_str(&read(&out.join("ocel.json"))).unwrap();

    let names = |key: &str| -> Vec<String> {
        let types = ocel[key].as_array().expect(key);
        types
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    let object_types = names("objectTypes");
    let event_types = names("eventTypes");
    let objects = ocel["objects"].as_array().unwrap();
    let ids: std::collections::BTreeSet<&str> =
        objects.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), objects.len(), "object ids are unique");
    for o in objects {
        let kind = o["type"].as_str().unwrap();
        assert!(object_types.iter().any(|t| t == kind), "{o}");
        for r in o["relationships"].as_array().unwrap() {
            assert!(ids.contains(r["objectId"].as_str().unwrap()), "{o}");
        }
    }

    let events = ocel["events"].as_array().unwrap();
    assert_eq!(events.len() as u64, manifest_count(&out, "events"));
    // The log read through the library, whatever its file format.
    let mut log = tradesim::commands::replay::open_log(&out.join("events.csv")).unwrap();
    let offset = log.context.utc_offset.clone();
    let mut previous = String::new();
    for e in events {
        let logged = log
            .next_event()
            .unwrap()
            .expect("as many events in the log");
        let kind = logged.kind.name();
        assert_eq!(e["type"], kind, "{e}");
        assert!(event_types.iter().any(|t| t == kind), "{e}");
        assert_eq!(e["id"], log.events_read().to_string(), "{e}");
        let time = e["time"].as_str().unwrap().to_string();
        assert!(time.ends_with(&offset) && time >= previous, "{e}");
        previous = time;
        let rels = e["relationships"].as_array().unwrap();
        assert_eq!(
            rels[0]["objectId"],
            format!("order-{}", logged.order_id),
            "{e}"
        );
        for r in rels {
            assert!(ids.contains(r["objectId"].as_str().unwrap()), "{e}");
        }
    }
    let placed = events
        .iter()
        .filter(|e| e["type"] == "order_placed")
        .count();
    assert_eq!(placed as u64, manifest_count(&out, "orders"));
}

/// The same run gives the same file, byte for byte; and the export beside the log
/// leaves `replay --check` and `reproduce` as they were.
#[test]
fn the_ocel_export_is_deterministic_and_disturbs_no_check() {
    let dir = tmp();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run("tiny.toml", &a);
    run("tiny.toml", &b);
    ok(&["export-ocel".as_ref(), a.as_os_str()]);
    ok(&["export-ocel".as_ref(), b.join("events.csv").as_os_str()]);
    let bytes = |d: &Path| std::fs::read(d.join("ocel.json")).unwrap();
    assert!(bytes(&a) == bytes(&b), "two exports of one run differ");
    ok(&["replay".as_ref(), a.as_os_str(), "--check".as_ref()]);
    ok(&[
        "reproduce".as_ref(),
        a.join("manifest.json").as_os_str(),
        "--quiet".as_ref(),
    ]);
}

#[test]
fn export_ocel_refuses_a_directory_without_a_log() {
    let dir = tmp();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = fails(2, &["export-ocel".as_ref(), empty.as_os_str()]);
    assert!(err.contains("has no events.csv"), "{err}");
    let no_log = dir.path().join("no-log");
    ok(&[
        "run".as_ref(),
        data("tiny.toml").as_os_str(),
        "--out".as_ref(),
        no_log.as_os_str(),
        "--quiet".as_ref(),
        "--no-event-log".as_ref(),
    ]);
    let err = fails(2, &["export-ocel".as_ref(), no_log.as_os_str()]);
    assert!(err.contains("--no-event-log"), "{err}");
    assert!(!empty.join("ocel.json").exists() && !no_log.join("ocel.json").exists());
}

#[test]
fn export_ocel_replaces_only_its_own_file_and_only_with_force() {
    let dir = tmp();
    let out = dir.path().join("tiny");
    run("tiny.toml", &out);
    let file = out.join("ocel.json");
    ok(&["export-ocel".as_ref(), out.as_os_str()]);
    let first = std::fs::read(&file).unwrap();

    let err = fails(2, &["export-ocel".as_ref(), out.as_os_str()]);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    std::fs::write(&file, [&first[..first.len() / 2], b"cut"].concat()).unwrap();
    ok(&["export-ocel".as_ref(), out.as_os_str(), "--force".as_ref()]);
    assert!(
        std::fs::read(&file).unwrap() == first,
        "--force wrote the export anew"
    );

    // Neither a file of another kind nor the log itself, --force or not.
    for (target, why) in [
        (out.join("summary.csv"), "was not written by tradesim"),
        (out.join("events.csv"), "an input of this command"),
        (out.clone(), "is a directory"),
    ] {
        let before = std::fs::metadata(&target).unwrap().len();
        let err = fails(
            2,
            &[
                "export-ocel".as_ref(),
                out.as_os_str(),
                "--out".as_ref(),
                target.as_os_str(),
                "--force".as_ref(),
            ],
        );
        assert!(err.contains(why), "{}: {err}", target.display());
        assert_eq!(std::fs::metadata(&target).unwrap().len(), before);
    }
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}
