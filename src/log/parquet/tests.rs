use std::path::Path;
use std::sync::atomic::AtomicBool;

use super::writer::ROW_GROUP;
use super::*;
use crate::Error;
use crate::engine::{Plan, RunParams, Sink};
use crate::event::Event;

/// Keeps every event, in the log's order.
struct Collect(Vec<Event>);

impl Sink for Collect {
    fn events(&mut self, events: &[Event]) -> Result<(), Error> {
        self.0.extend_from_slice(events);
        Ok(())
    }
}

/// The context and events of a run of tests/data/tiny.toml.
fn tiny() -> (Context, Vec<Event>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.toml");
    let scenario = crate::scenario::load(&path, None, &[]).unwrap().scenario;
    let params = RunParams {
        seed: scenario.seed,
        replication: 0,
        sample: 1.0,
    };
    let mut sink = Collect(Vec::new());
    crate::engine::simulate(&scenario, params, &mut sink, &AtomicBool::new(false)).unwrap();
    (Plan::new(&scenario, params).context(), sink.0)
}

/// Writes `events` into `dir/events` in windows of `window` events, with row groups of
/// `row_group` rows; returns the files' hashes.
fn write(
    dir: &Path,
    context: &Context,
    events: &[Event],
    window: usize,
    row_group: usize,
) -> std::collections::BTreeMap<String, String> {
    let mut log = ParquetLogWriter::create(&dir.join("events"), context).unwrap();
    log.row_group = row_group;
    for w in events.chunks(window.max(1)) {
        log.write(w).unwrap();
        log.write(&[]).unwrap();
    }
    log.finish().unwrap()
}

fn read(dir: &Path) -> Result<(Context, Vec<Event>), Error> {
    let mut reader = ParquetLogReader::open(&dir.join("events"))?;
    let mut events = Vec::new();
    while let Some(e) = reader.next_event()? {
        events.push(e);
    }
    assert_eq!(reader.events_read(), events.len() as u64);
    Ok((reader.context, events))
}

#[test]
fn the_columns_are_the_csv_logs_and_time() {
    let csv: Vec<&str> = crate::log::COLUMNS
        .iter()
        .copied()
        .filter(|c| *c != "time")
        .collect();
    let parquet: Vec<&str> = COLUMNS.iter().copied().filter(|c| *c != "time").collect();
    assert_eq!(parquet, csv);
    assert_eq!(COLUMNS[2], "time");
}

/// Every event comes back as it was, whatever the windows it was handed over in and
/// however the days are cut into row groups; the bytes do not depend on the windows.
#[test]
fn events_written_are_read_back_as_they_were_and_windows_change_no_byte() {
    let (context, events) = tiny();
    let kinds: std::collections::BTreeSet<usize> = events.iter().map(|e| e.kind.index()).collect();
    assert!(
        kinds.len() >= 10,
        "the tiny log shows most kinds: {kinds:?}"
    );
    let mut hashes = Vec::new();
    for (window, row_group) in [(events.len(), ROW_GROUP), (1, 100), (777, 100), (333, 7)] {
        let dir = tempfile::tempdir().unwrap();
        let files = write(dir.path(), &context, &events, window, row_group);
        assert_eq!(files.len(), context.span_days() as usize, "a file per day");
        let (read_context, read_events) = read(dir.path()).unwrap();
        assert_eq!(read_context, context);
        assert!(read_events == events, "events differ at window {window}");
        hashes.push((row_group, files));
    }
    assert_eq!(hashes[1], hashes[2], "windows changed the bytes");
    assert_ne!(
        hashes[0].1, hashes[1].1,
        "row groups are cut at ROW_GROUP rows"
    );
}

/// Days without events still have their file (without rows), and a log without
/// events has one for every day of the span.
#[test]
fn every_day_has_a_file_even_without_events() {
    let (context, events) = tiny();
    let dir = tempfile::tempdir().unwrap();
    let last_day: Vec<Event> = events
        .iter()
        .filter(|e| e.time_s / DAY_S == context.span_days() - 1)
        .copied()
        .collect();
    assert!(!last_day.is_empty());
    let files = write(dir.path(), &context, &[], 1, ROW_GROUP);
    assert_eq!(files.len(), context.span_days() as usize);
    assert_eq!(read(dir.path()).unwrap().1, vec![]);
    let dir = tempfile::tempdir().unwrap();
    let files = write(dir.path(), &context, &last_day[..1], 1, ROW_GROUP);
    assert_eq!(files.len(), context.span_days() as usize);
    assert!(files.contains_key(&day_file(&context, 0)));
}

/// A damaged log is refused with the file (and row) named: a file cut short, a day
/// missing, a stray file, and a row out of its day.
#[test]
fn damaged_logs_are_refused_naming_the_file() {
    let (context, events) = tiny();
    let message = |f: &dyn Fn(&Path)| {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &context, &events, events.len(), ROW_GROUP);
        f(&dir.path().join("events"));
        match read(dir.path()) {
            Err(Error::BadInput(m)) => m,
            other => panic!("expected a refusal, got {:?}", other.map(|r| r.1.len())),
        }
    };
    let day1 = day_file(&context, 1);
    let cut = message(&|log| {
        let path = log.join(&day1);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    });
    assert!(
        cut.contains(&day1) && cut.contains("damaged or truncated"),
        "{cut}"
    );
    let missing =
        message(&|log| std::fs::remove_dir_all(log.join(&day1).parent().unwrap()).unwrap());
    assert!(
        missing.contains(&day1) && missing.contains("missing"),
        "{missing}"
    );
    let stray = message(&|log| std::fs::write(log.join("notes.txt"), "x").unwrap());
    assert!(stray.contains("unexpected `notes.txt`"), "{stray}");
    // Day 1's file in day 2's place: its rows fall on another day.
    let swapped = message(&|log| {
        let day2 = log.join(day_file(&context, 2));
        std::fs::copy(log.join(&day1), &day2).unwrap();
    });
    assert!(
        swapped.contains(&day_file(&context, 2)) && swapped.contains("row 1:"),
        "{swapped}"
    );
}

/// Row groups are encoded by jobs of their own while writing goes on: on a pool of one
/// thread (where the writer must run the jobs it waits for) and of two, with row groups
/// small enough that the writer waits on them again and again, the files are the same
/// bytes; a writer dropped halfway returns at once and leaves its jobs nothing to do.
#[test]
fn encoding_jobs_neither_hang_one_thread_nor_change_a_byte() {
    let (context, events) = tiny();
    let hashes: Vec<_> = [1, 2]
        .into_iter()
        .map(|threads| {
            let dir = tempfile::tempdir().unwrap();
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| write(dir.path(), &context, &events, 500, 64))
        })
        .collect();
    assert!(hashes[0].len() > 1, "{:?}", hashes[0]);
    assert_eq!(hashes[0], hashes[1], "one thread and two wrote other bytes");

    let dir = tempfile::tempdir().unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| {
        let mut log = ParquetLogWriter::create(&dir.path().join("events"), &context).unwrap();
        log.row_group = 64;
        log.write(&events[..events.len() / 2]).unwrap();
        drop(log);
    });
}
