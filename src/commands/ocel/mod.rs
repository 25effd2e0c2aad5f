//! `tradesim export-ocel`: a run's event log as an OCEL 2.0 JSON file, the object-centric
//! event log that process-mining tools (PM4Py, ocpa, OCEL viewers) read.
//!
//! Each event of the log becomes an OCEL event of the same kind, with the log's fields as
//! typed attributes, related to the objects it concerns: its order, from dispatch on its
//! parcel, the seller it names, the hub, line-haul or exchange office it passes, and the
//! market where it is placed or imported. The log is streamed and each event written as it
//! is read; only what the objects need is kept, a few bytes per order, and the objects
//! are written after the events (OCEL's JSON object has no key order).

mod events;
mod json;
mod objects;

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use self::events::{EVENT_ATTRIBUTES, event_out};
use self::json::{TypeOut, type_out};
use self::objects::{OBJECT_TYPES, Objects};
use crate::Error;
use crate::commands::replay::{locate_log, open_log};
use crate::event::KIND_NAMES;
use crate::model::date::{Date, UtcOffset};
use crate::output::staging::StagedFile;

/// The default file name, beside the log.
pub const OCEL_FILE: &str = "ocel.json";
/// How every file this command writes begins: `--force` replaces only such a file.
const PREFIX: &[u8] = b"{\"objectTypes\":[";
/// Events between two looks at the Ctrl-C flag.
const STOP_EVERY: u64 = 1 << 16;
const WRITE_BUFFER: usize = 1 << 20;

/// What `export-ocel` was asked to do.
#[derive(Debug, Clone)]
pub struct Config {
    /// A run directory (with events.csv), or an events.csv file.
    pub input: PathBuf,
    /// Default: `ocel.json` beside the log.
    pub out: Option<PathBuf>,
    pub force: bool,
}

/// Writes the OCEL file of the log `args.input` names, and says what it wrote.
pub fn command(args: Config, stop: &AtomicBool, out: &mut dyn Write) -> Result<(), Error> {
    let loc = locate_log(&args.input)?;
    let dest = args.out.unwrap_or_else(|| loc.dir.join(OCEL_FILE));
    let mut reader = open_log(&loc.log)?;
    let (staged, file) = StagedFile::new(&dest, args.force, &[&loc.log], is_ocel_export)?;
    let written = |e: std::io::Error| Error::io(format!("writing {}", staged.tmp.display()))(e);
    let mut w = BufWriter::with_capacity(WRITE_BUFFER, file);
    let ctx = reader.context.clone();
    let start = Date::parse(&ctx.start_date).expect("the log reader checks the start date");
    let offset = UtcOffset::parse(&ctx.utc_offset).expect("the log reader checks the offset");

    w.write_all(PREFIX).map_err(written)?;
    let object_types = OBJECT_TYPES.map(|(name, attrs)| type_out(name, attrs));
    write_list(&mut w, &object_types).map_err(written)?;
    w.write_all(b"],\"eventTypes\":[").map_err(written)?;
    let event_types: Vec<TypeOut> = (KIND_NAMES.iter().zip(EVENT_ATTRIBUTES))
        .map(|(name, attrs)| type_out(name, attrs))
        .collect();
    write_list(&mut w, &event_types).map_err(written)?;

    w.write_all(b"],\"events\":[").map_err(written)?;
    let mut objects = Objects::default();
    while let Some(e) = reader.next_event()? {
        let seq = reader.events_read();
        if seq > 1 {
            w.write_all(b",").map_err(written)?;
        }
        w.write_all(b"\n").map_err(written)?;
        let event = event_out(&ctx, (start, offset), seq, &e);
        serde_json::to_writer(&mut w, &event).map_err(|e| written(e.into()))?;
        objects.note(&ctx, &e);
        if seq % STOP_EVERY == 0 && stop.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
    }
    let events = reader.events_read();

    w.write_all(b"\n],\"objects\":[").map_err(written)?;
    let objects = objects.write(&ctx, &mut w).map_err(written)?;
    w.write_all(b"\n]}\n").map_err(written)?;
    let file = w.into_inner().map_err(|e| written(e.into_error()))?;
    file.sync_all().map_err(written)?;
    drop(file);
    staged.commit()?;
    writeln!(
        out,
        "exported {events} events and {objects} objects from {} -> {}",
        loc.log.display(),
        dest.display()
    )
    .map_err(Error::stdout)
}

/// Whether `path` is a file this command wrote, by its first bytes.
fn is_ocel_export(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; PREFIX.len()];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head == PREFIX)
}

fn write_list<T: Serialize>(w: &mut impl Write, items: &[T]) -> std::io::Result<()> {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        serde_json::to_writer(&mut *w, item)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prefix that `--force` looks for is how every export begins.
    #[test]
    fn only_a_file_beginning_as_an_export_counts_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let export = dir.path().join("a.json");
        fs::write(&export, [PREFIX, b"]}"].concat()).unwrap();
        assert!(is_ocel_export(&export));
        let other = dir.path().join("b.json");
        fs::write(&other, "{\"objects\":[]}").unwrap();
        assert!(!is_ocel_export(&other));
        assert!(!is_ocel_export(&dir.path().join("missing.json")));
    }
}
