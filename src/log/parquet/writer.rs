//! Writing the Parquet log as the run goes: the events of each day gathered into row
//! groups of at most `ROW_GROUP` rows; each row group encoded by a rayon job of its own
//! while the run goes on (its columns built and encoded slice by slice, in parallel), and
//! appended to the day's file, in order, by a thread of its own that also hashes and
//! writes the files.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use arrow_array::{ArrayRef, StringArray};
use arrow_schema::Schema;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, ArrowWriterOptions,
    compute_leaves,
};
use parquet::basic::{Compression, Encoding};
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::Error;
use crate::event::context::Context;
use crate::event::{Event, KIND_NAMES};
use crate::log::SCHEMA_VERSION;
use crate::log::direct::DirectFile;
use crate::model::date::DAY_S;

use super::rows::Rows;
use super::{
    COLUMNS, CONTEXT_KEY, SCHEMA_KEY, clock, day_file, epoch_s, filled_by, method_names, schema,
};

/// Most rows in a row group: a day with more is cut into row groups of this many (and
/// one with the rest), counted from the day's first event, so the files are the same
/// however the run hands its events over.
pub(super) const ROW_GROUP: usize = 1 << 20;
/// Events whose columns are built and encoded at a time: 650 kB of events, which stay in
/// a core's cache while the 26 columns are built from them (65,536 events did not, and
/// building the columns cost twice the CPU, read from memory once a column).
const SLICE: usize = 1 << 13;
/// Row groups handed to encoding jobs and not yet encoded: each holds its rows (90 MB at
/// `ROW_GROUP`) until then. The run waits (or does the encoding itself) beyond that. One
/// keeps both threads busy: two or three were no faster and took 110 MB more each.
const IN_FLIGHT: usize = 1;

/// Writes the Parquet log into a directory, day by day. `write` takes the next events
/// of the log (in the log's order, as `LogWriter::write` does); `finish` closes the last
/// day, writes the days after it that have no events, and reports each file's SHA-256.
/// A writer dropped before `finish` (an error elsewhere, an interrupt) leaves the log
/// incomplete: its queued encoding jobs do nothing and its thread stops.
pub struct ParquetLogWriter {
    dir: PathBuf,
    context: Context,
    props: WriterProperties,
    /// The day being written (meaningful once `factory` is set).
    day: u32,
    /// The column writers' factory of the day's open file (`None` before the first day).
    factory: Option<ArrowRowGroupWriterFactory>,
    /// Row groups of the open day so far.
    row_groups: usize,
    /// Events of `day` not yet in a row group (fewer than `row_group`).
    pending: Rows,
    /// `ROW_GROUP`, or fewer in tests.
    pub(super) row_group: usize,
    next_seq: u64,
    /// Messages to the appending thread so far: the next one's place in its order.
    messages: u64,
    jobs: Arc<Jobs>,
    to_appender: Sender<(u64, Msg)>,
    appender: Option<JoinHandle<Result<BTreeMap<String, String>, Error>>>,
}

/// What encoding jobs and the writer share.
struct Jobs {
    /// Encoding jobs not yet done.
    in_flight: Mutex<usize>,
    done: Condvar,
    /// Set when the writer is dropped unfinished: queued jobs skip their work.
    abandoned: AtomicBool,
    /// Encoded rows' vectors, to be filled again.
    spare: Mutex<Vec<Rows>>,
    names: Arc<Names>,
    schema: Arc<Schema>,
}

/// What the appending thread receives, each with its place in the order: a row group
/// comes from whichever job encoded it, so messages may arrive out of order.
enum Msg {
    /// A day's file, created (its header in the buffer).
    Open(Box<DayFile>),
    /// The open file's next row group, encoded.
    RowGroup(Result<Vec<ArrowColumnChunk>, ParquetError>),
    /// The open file is complete: write its footer.
    Close,
}

/// One day's file being written, hashed as it goes.
struct DayFile {
    name: String,
    shown: String,
    writer: SerializedFileWriter<Hashed<DirectFile>>,
}

/// A writer that hashes every byte written through it.
struct Hashed<W> {
    inner: W,
    sha: Sha256,
}

impl<W: Write> Write for Hashed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The dictionaries' values and the ids' keys into them.
pub(super) struct Names {
    pub(super) kinds: ArrayRef,
    pub(super) markets: ArrayRef,
    pub(super) routes: ArrayRef,
    pub(super) hubs: ArrayRef,
    pub(super) categories: ArrayRef,
    pub(super) methods: ArrayRef,
    /// Per market, each method's key in `methods`.
    pub(super) method_keys: Vec<Vec<u16>>,
    pub(super) epoch_s: i64,
    /// `time`'s time zone: the run's UTC offset.
    pub(super) tz: Arc<str>,
    /// Per column, a bit per kind (`EventKind::index`) that fills it.
    pub(super) filled_by: [u16; COLUMNS.len()],
}

impl Names {
    fn new(ctx: &Context) -> Names {
        let strings = |names: Vec<&str>| -> ArrayRef { Arc::new(StringArray::from(names)) };
        let (methods, method_keys) = method_names(ctx);
        Names {
            kinds: strings(KIND_NAMES.to_vec()),
            markets: strings(ctx.markets.iter().map(|m| m.id.as_str()).collect()),
            routes: strings(ctx.routes.iter().map(|r| r.id.as_str()).collect()),
            hubs: strings(ctx.hubs().iter().map(|h| h.id.as_str()).collect()),
            categories: strings(ctx.categories.iter().map(String::as_str).collect()),
            methods: strings(methods),
            method_keys,
            epoch_s: epoch_s(ctx),
            tz: clock(ctx).1.to_string().into(),
            filled_by: filled_by(),
        }
    }
}

fn parquet_error(what: &str) -> impl FnOnce(ParquetError) -> Error {
    let context = format!("writing {what}");
    move |e| Error::io(context)(std::io::Error::other(e))
}

impl ParquetLogWriter {
    /// Creates the log's directory `dir` (which must not exist yet).
    pub fn create(dir: &Path, context: &Context) -> Result<ParquetLogWriter, Error> {
        fs::create_dir(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        let json = serde_json::to_string(context).expect("context serialises");
        let mut props = WriterProperties::builder()
            // Fixed, so that the bytes depend on nothing but the events.
            .set_created_by(format!("tradesim {}", env!("CARGO_PKG_VERSION")))
            .set_compression(Compression::LZ4_RAW)
            .set_dictionary_enabled(false)
            // Minimum and maximum per column chunk of the times and `seq` let readers
            // skip row groups; elsewhere they cost more than they give.
            .set_statistics_enabled(EnabledStatistics::None)
            .set_column_statistics_enabled(ColumnPath::from("seq"), EnabledStatistics::Chunk)
            .set_column_statistics_enabled(ColumnPath::from("time_s"), EnabledStatistics::Chunk)
            .set_column_statistics_enabled(ColumnPath::from("time"), EnabledStatistics::Chunk)
            // Fewer, longer batches through the column writers' per-batch work.
            .set_write_batch_size(SLICE)
            // Counts that mostly grow: their differences take a few bits each, and leave
            // the compressor a tenth of the bytes.
            .set_column_encoding(ColumnPath::from("seq"), Encoding::DELTA_BINARY_PACKED)
            .set_column_encoding(ColumnPath::from("time_s"), Encoding::DELTA_BINARY_PACKED)
            .set_column_encoding(ColumnPath::from("time"), Encoding::DELTA_BINARY_PACKED)
            .set_column_encoding(ColumnPath::from("order_id"), Encoding::DELTA_BINARY_PACKED)
            .set_column_encoding(ColumnPath::from("attempt"), Encoding::DELTA_BINARY_PACKED)
            .set_key_value_metadata(Some(vec![
                KeyValue::new(SCHEMA_KEY.to_string(), SCHEMA_VERSION.to_string()),
                KeyValue::new(CONTEXT_KEY.to_string(), json),
            ]));
        for name in ["kind", "market", "route", "hub", "category", "method"] {
            props = props.set_column_dictionary_enabled(ColumnPath::from(name), true);
        }
        let names = Arc::new(Names::new(context));
        let schema = schema(context);
        let (to_appender, received) = mpsc::channel();
        let appender = std::thread::Builder::new()
            .name("parquet-log".to_string())
            .spawn(move || Appender::new(received).run())
            .map_err(Error::io("starting the Parquet log's thread".to_string()))?;
        Ok(ParquetLogWriter {
            dir: dir.to_path_buf(),
            jobs: Arc::new(Jobs {
                in_flight: Mutex::new(0),
                done: Condvar::new(),
                abandoned: AtomicBool::new(false),
                spare: Mutex::new(Vec::new()),
                names,
                schema,
            }),
            props: props.build(),
            context: context.clone(),
            day: 0,
            factory: None,
            row_groups: 0,
            pending: Rows::default(),
            row_group: ROW_GROUP,
            next_seq: 1,
            messages: 0,
            to_appender,
            appender: Some(appender),
        })
    }

    /// Writes `events`, the next events of the log.
    pub fn write(&mut self, mut events: &[Event]) -> Result<(), Error> {
        while let Some(first) = events.first() {
            let day = first.time_s / DAY_S;
            if self.factory.is_none() || day > self.day {
                self.finish_days_before(day)?;
            }
            // The events of this day: the log is in time order.
            let end = events.partition_point(|e| e.time_s / DAY_S <= day);
            let (mut today, rest) = events.split_at(end);
            events = rest;
            while !today.is_empty() {
                let take = (self.row_group - self.pending.len()).min(today.len());
                self.pending
                    .push(&today[..take], &self.jobs.names.method_keys);
                today = &today[take..];
                if self.pending.len() == self.row_group {
                    self.encode_pending()?;
                }
            }
        }
        Ok(())
    }

    /// Closes the day being written and every day before `day`, and opens `day`'s file.
    fn finish_days_before(&mut self, day: u32) -> Result<(), Error> {
        if self.factory.is_some() {
            self.close_day()?;
            self.day += 1;
        }
        while self.day < day {
            self.open_day()?;
            self.close_day()?;
            self.day += 1;
        }
        self.open_day()
    }

    /// Hands `msg` to the appending thread, next in its order.
    fn send(&mut self, msg: Msg) -> Result<(), Error> {
        let place = self.messages;
        self.messages += 1;
        if self.to_appender.send((place, msg)).is_err() {
            return Err(self.appender_error());
        }
        Ok(())
    }

    /// The error that stopped the appending thread.
    fn appender_error(&mut self) -> Error {
        match self.appender.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            _ => Error::io(format!("writing {}", self.dir.display()))(std::io::Error::other(
                "the Parquet log's thread stopped",
            )),
        }
    }

    fn open_day(&mut self) -> Result<(), Error> {
        if self.appender.as_ref().is_some_and(JoinHandle::is_finished) {
            return Err(self.appender_error());
        }
        let name = day_file(&self.context, self.day);
        let path = self.dir.join(&name);
        let shown = path.display().to_string();
        if let Some(parent) = path.parent() {
            fs::create_dir(parent).map_err(Error::io(format!("creating {}", parent.display())))?;
        }
        // Past the page cache, as `events.csv` is written.
        let file = DirectFile::create(&path).map_err(Error::io(format!("creating {shown}")))?;
        let out = Hashed {
            inner: file,
            sha: Sha256::new(),
        };
        let options = ArrowWriterOptions::new().with_properties(self.props.clone());
        let (writer, factory) =
            ArrowWriter::try_new_with_options(out, self.jobs.schema.clone(), options)
                .and_then(ArrowWriter::into_serialized_writer)
                .map_err(parquet_error(&shown))?;
        self.factory = Some(factory);
        self.row_groups = 0;
        self.send(Msg::Open(Box::new(DayFile {
            name,
            shown,
            writer,
        })))
    }

    /// Hands the day's last row group to an encoding job, then its footer to the
    /// appending thread.
    fn close_day(&mut self) -> Result<(), Error> {
        if !self.pending.is_empty() {
            self.encode_pending()?;
        }
        self.send(Msg::Close)
    }

    /// Hands the pending events, the open day's next row group, to an encoding job.
    fn encode_pending(&mut self) -> Result<(), Error> {
        let factory = self.factory.as_ref().expect("a day's file is open");
        let writers = factory
            .create_column_writers(self.row_groups)
            .map_err(parquet_error(
                &self
                    .dir
                    .join(day_file(&self.context, self.day))
                    .display()
                    .to_string(),
            ))?;
        self.row_groups += 1;
        self.jobs.wait_below(IN_FLIGHT);
        let spare = self
            .jobs
            .spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let rows = std::mem::replace(&mut self.pending, spare.unwrap_or_default());
        let first_seq = self.next_seq;
        self.next_seq += rows.len() as u64;
        let place = self.messages;
        self.messages += 1;
        *self
            .jobs
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
        let (jobs, to_appender) = (self.jobs.clone(), self.to_appender.clone());
        rayon::spawn(move || {
            if !jobs.abandoned.load(Ordering::Relaxed) {
                let arrays = rows.into_arrays(first_seq, &jobs.names);
                let encoded = encode(writers, arrays, &jobs.schema);
                let chunks = encoded.map(|(chunks, arrays)| {
                    let rows = Rows::recycle(arrays);
                    jobs.spare
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(rows);
                    chunks
                });
                // Refused only once the appending thread has stopped on an error, which
                // `finish` reports.
                let _ = to_appender.send((place, Msg::RowGroup(chunks)));
            }
            jobs.finished_one();
        });
        Ok(())
    }

    /// Closes the last day and writes the days after it up to the end of the span;
    /// returns each file's SHA-256 by its path relative to the log's directory.
    pub fn finish(mut self) -> Result<BTreeMap<String, String>, Error> {
        if self.factory.is_some() {
            self.close_day()?;
            self.day += 1;
        }
        while self.day < self.context.span_days() {
            self.open_day()?;
            self.close_day()?;
            self.day += 1;
        }
        self.jobs.wait_below(1);
        // The appending thread ends once every sender is gone.
        drop(std::mem::replace(&mut self.to_appender, mpsc::channel().0));
        match self.appender.take().map(JoinHandle::join) {
            Some(Ok(done)) => done,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => unreachable!("the appending thread is joined once"),
        }
    }
}

impl Drop for ParquetLogWriter {
    fn drop(&mut self) {
        // Not joined: its last messages may be a queued job's, and this thread may be
        // the one that would run it.
        self.jobs.abandoned.store(true, Ordering::Relaxed);
    }
}

impl Jobs {
    /// Waits until fewer than `n` encoding jobs are in flight, running rayon work
    /// meanwhile: on a pool of one thread the jobs wait for this one.
    fn wait_below(&self, n: usize) {
        loop {
            if *self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                < n
            {
                return;
            }
            if rayon::yield_now() != Some(rayon::Yield::Executed) {
                let count = self
                    .in_flight
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if *count >= n {
                    // A job done between the look and the wait notifies under the lock;
                    // the timeout is for work queued on this thread's pool meanwhile.
                    let _ = self.done.wait_timeout(count, Duration::from_millis(1));
                }
            }
        }
    }

    fn finished_one(&self) {
        *self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner) -= 1;
        self.done.notify_all();
    }
}

/// Encodes a row group's columns, in parallel, each slice by slice (the levels and
/// pages of a slice stay in the caches); hands the arrays back.
fn encode(
    writers: Vec<ArrowColumnWriter>,
    arrays: Vec<ArrayRef>,
    schema: &Schema,
) -> Result<(Vec<ArrowColumnChunk>, Vec<ArrayRef>), ParquetError> {
    writers
        .into_par_iter()
        .zip(arrays)
        .enumerate()
        .map(|(i, (mut writer, array))| {
            for start in (0..array.len()).step_by(SLICE) {
                let slice = array.slice(start, SLICE.min(array.len() - start));
                for leaf in compute_leaves(schema.field(i), &slice)? {
                    writer.write(&leaf)?;
                }
            }
            Ok((writer.close()?, array))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|done| done.into_iter().unzip())
}

/// Appends the encoded row groups to the days' files, in order, and closes them.
struct Appender {
    received: Receiver<(u64, Msg)>,
    /// Messages that came before their turn.
    early: BTreeMap<u64, Msg>,
    next: u64,
    file: Option<DayFile>,
    hashes: BTreeMap<String, String>,
}

impl Appender {
    fn new(received: Receiver<(u64, Msg)>) -> Appender {
        Appender {
            received,
            early: BTreeMap::new(),
            next: 0,
            file: None,
            hashes: BTreeMap::new(),
        }
    }

    /// Works through the messages until every sender is gone; returns the files' hashes.
    fn run(mut self) -> Result<BTreeMap<String, String>, Error> {
        while let Ok((place, msg)) = self.received.recv() {
            self.early.insert(place, msg);
            while let Some(msg) = self.early.remove(&self.next) {
                self.next += 1;
                self.handle(msg)?;
            }
        }
        if !self.early.is_empty() || self.file.is_some() {
            return Err(Error::io("writing the Parquet log".to_string())(
                std::io::Error::other("the log was left incomplete"),
            ));
        }
        Ok(self.hashes)
    }

    fn handle(&mut self, msg: Msg) -> Result<(), Error> {
        match msg {
            Msg::Open(file) => self.file = Some(*file),
            Msg::RowGroup(chunks) => {
                let file = self.file.as_mut().expect("a day's file is open");
                let append = |chunks: Vec<ArrowColumnChunk>| {
                    let mut group = file.writer.next_row_group()?;
                    for chunk in chunks {
                        chunk.append_to_row_group(&mut group)?;
                    }
                    group.close().map(drop)
                };
                chunks
                    .and_then(append)
                    .map_err(parquet_error(&file.shown))?;
            }
            Msg::Close => {
                let day = self.file.take().expect("a day's file is open");
                let out = day.writer.into_inner().map_err(parquet_error(&day.shown))?;
                let sha = crate::model::digest::hex(&out.sha.finalize());
                let mut file = out.inner;
                file.flush()
                    .map_err(Error::io(format!("writing {}", day.shown)))?;
                self.hashes.insert(day.name, sha);
            }
        }
        Ok(())
    }
}
