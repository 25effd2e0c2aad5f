//! The log's two formats, and one reader for either: `events.csv` (always built) and the
//! Parquet directory `events/` (with the `parquet` cargo feature). Callers read
//! `.context` and `next_event()` and never care which.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::event::Event;
use crate::event::context::Context;

use super::{LogReader, LogWriter, meta_path};
use crate::model::digest::sha256_hex;

/// Which form a run writes its event log in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `events.csv`.
    #[default]
    Csv,
    /// `events/date=YYYY-MM-DD/part-0.parquet`, one file per simulated day.
    Parquet,
}

impl LogFormat {
    pub fn is_csv(&self) -> bool {
        *self == LogFormat::Csv
    }

    /// Refuses Parquet in a build without the `parquet` feature, saying how to get it.
    pub fn check_built(self) -> Result<(), Error> {
        if self == LogFormat::Parquet && !cfg!(feature = "parquet") {
            return Err(Error::Usage(
                "this tradesim was built without Parquet support: rebuild it with \
                 `cargo build --release --features parquet` to write or read a Parquet log"
                    .to_string(),
            ));
        }
        Ok(())
    }
}

/// Read buffer for `events.csv`.
const READ_BUFFER: usize = 1 << 20;

/// An event log opened for reading, in either format: its context, then its events one
/// at a time, every row checked.
pub struct AnyLogReader {
    pub context: Context,
    source: Source,
}

enum Source {
    Csv(Box<LogReader<BufReader<File>>>),
    #[cfg(feature = "parquet")]
    Parquet(Box<super::parquet::ParquetLogReader>),
}

impl AnyLogReader {
    /// Opens `path`: a directory is a Parquet log (`events/`), a file is `events.csv`
    /// (with its sidecar).
    pub fn open(path: &Path) -> Result<AnyLogReader, Error> {
        if path.is_dir() {
            LogFormat::Parquet.check_built()?;
            #[cfg(feature = "parquet")]
            {
                let reader = super::parquet::ParquetLogReader::open(path)?;
                return Ok(AnyLogReader {
                    context: reader.context.clone(),
                    source: Source::Parquet(Box::new(reader)),
                });
            }
        }
        let reader = LogReader::open_file(path, READ_BUFFER)?;
        Ok(AnyLogReader {
            context: reader.context.clone(),
            source: Source::Csv(Box::new(reader)),
        })
    }

    /// The next event, `None` at the end of the log.
    pub fn next_event(&mut self) -> Result<Option<Event>, Error> {
        match &mut self.source {
            Source::Csv(r) => r.next_event(),
            #[cfg(feature = "parquet")]
            Source::Parquet(r) => r.next_event(),
        }
    }

    /// Events read so far.
    pub fn events_read(&self) -> u64 {
        match &self.source {
            Source::Csv(r) => r.events_read(),
            #[cfg(feature = "parquet")]
            Source::Parquet(r) => r.events_read(),
        }
    }
}

/// The event log being written, in either format.
pub struct AnyLogWriter {
    /// The run directory, and the log's name in it.
    dir: PathBuf,
    name: String,
    writer: Writer,
}

enum Writer {
    Csv(Box<LogWriter>),
    #[cfg(feature = "parquet")]
    Parquet(Box<super::parquet::ParquetLogWriter>),
}

impl AnyLogWriter {
    /// Creates the log `name` in `dir`: the file `events.csv` or the directory `events/`.
    pub fn create(
        format: LogFormat,
        dir: &Path,
        name: &str,
        context: &Context,
    ) -> Result<AnyLogWriter, Error> {
        format.check_built()?;
        let path = dir.join(name);
        let writer = match format {
            LogFormat::Csv => Writer::Csv(Box::new(LogWriter::create(&path, context)?)),
            #[cfg(feature = "parquet")]
            LogFormat::Parquet => Writer::Parquet(Box::new(
                super::parquet::ParquetLogWriter::create(&path, context)?,
            )),
            #[cfg(not(feature = "parquet"))]
            LogFormat::Parquet => unreachable!("refused by check_built"),
        };
        Ok(AnyLogWriter {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            writer,
        })
    }

    /// Writes `events`, the next events of the log.
    pub fn write(&mut self, events: &[Event]) -> Result<(), Error> {
        match &mut self.writer {
            Writer::Csv(w) => w.write(events),
            #[cfg(feature = "parquet")]
            Writer::Parquet(w) => w.write(events),
        }
    }

    /// Completes the log (for `events.csv`, writes its sidecar); returns the SHA-256 of
    /// each file written, by its path from the run directory (`events.csv` and
    /// `events.meta.json`, or `events/date=.../part-0.parquet` for each day).
    pub fn finish(self) -> Result<BTreeMap<String, String>, Error> {
        let name = self.name;
        Ok(match self.writer {
            Writer::Csv(w) => {
                let done = w.finish()?;
                let meta = done.meta.to_json();
                let meta_file = meta_path(Path::new(&name));
                let path = self.dir.join(&meta_file);
                fs::write(&path, &meta)
                    .map_err(Error::io(format!("writing {}", path.display())))?;
                BTreeMap::from([
                    (name, done.sha256),
                    (meta_file.display().to_string(), sha256_hex(meta.as_bytes())),
                ])
            }
            #[cfg(feature = "parquet")]
            Writer::Parquet(w) => w
                .finish()?
                .into_iter()
                .map(|(file, sha)| (format!("{name}/{file}"), sha))
                .collect(),
        })
    }
}
