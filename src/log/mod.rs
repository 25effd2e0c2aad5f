//! The event log `events.csv`: writing it as the run goes, and reading it back.
//!
//! Layout: a first line `#tradesim-events schema=1`, a second line `#context {json}`
//! (the run's dimensions, see `Context`), the CSV header, one row per event, and a last
//! line `#end events=N` so that a truncated log is caught. Rows are formatted in
//! parallel chunks and hashed, in order, by rayon jobs that run whenever a thread has
//! nothing else to do; a thread of its own writes them, in order, so neither the
//! formatting, the hash nor the disk serialises the run.

pub mod direct;
mod in_order;

use std::io::{BufRead, Read as _, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::Error;
use crate::event::context::Context;
use crate::event::{Event, EventKind, KIND_NAMES};
use crate::log::direct::DirectFile;
use crate::log::in_order::InOrder;
use crate::model::date::DAY_S;
use crate::model::date::Date;
use crate::model::rules;
use crate::model::{CategoryId, HubId, MarketId, MethodId, RouteId};

pub const SCHEMA_VERSION: u32 = 1;
/// Schema versions this build reads.
pub const READABLE_SCHEMAS: &[u32] = &[1];
const MAGIC: &str = "#tradesim-events schema=";
const CONTEXT_PREFIX: &str = "#context ";
const END_PREFIX: &str = "#end events=";

pub const COLUMNS: [&str; 19] = [
    "seq",
    "time_s",
    "kind",
    "order_id",
    "market",
    "route",
    "hub",
    "seller",
    "category",
    "method",
    "attempt",
    "success",
    "value_cents",
    "duty_cents",
    "vat_cents",
    "inspected",
    "wait_s",
    "service_s",
    "lead_s",
];

/// Events formatted per parallel task, each chunk into its own buffer (about 1.2 MB).
const FORMAT_CHUNK: usize = 16_384;
/// Buffers formatted at a time, in parallel.
const ROUND: usize = 8;
/// Buffers of formatted rows in existence: a round being formatted, and the rounds
/// before it waiting to be hashed, queued for the writing thread or being written. They
/// bound the memory the log takes, however large a step, and how far the hash may lag.
const BUFFERS: usize = 6 * ROUND;

/// A buffer of log text. Rows are formatted straight into `bytes` with fixed-size
/// copies that may reach past a row's end, so `bytes` is kept at its full length, zeroed
/// once, and reused: the first `len` bytes are the log's.
#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    len: usize,
}

impl Chunk {
    fn text(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Makes `text` the whole of the chunk.
    fn set_text(&mut self, text: &str) {
        if self.bytes.len() < text.len() {
            self.bytes.resize(text.len(), 0);
        }
        self.bytes[..text.len()].copy_from_slice(text.as_bytes());
        self.len = text.len();
    }
}

/// What the writing thread receives, in order.
enum Msg {
    Rows(Chunk),
    /// The log is complete: flush and report.
    End,
}

/// Writes the event log. `write` formats each step's rows in parallel chunks on the
/// rayon threads and queues them to be hashed, in order, by a rayon job that any thread
/// with nothing else to do takes up (so the hash, a chain that cannot be split, holds
/// up neither the step nor the formatting, and `--threads` counts every thread that
/// computes); a thread of its own writes them, in order, and hands the buffers back. A
/// `LogWriter` dropped before `finish` (an error elsewhere, an interrupt) stops that
/// thread and leaves the log incomplete.
pub struct LogWriter<W: Write + Send + 'static = DirectFile> {
    labels: Labels,
    next_seq: u64,
    /// Names the log in messages.
    name: String,
    hasher: Arc<Hasher>,
    /// Buffers the writing thread hands back once written, emptied.
    spare: Receiver<Chunk>,
    /// Buffers made so far, at most `BUFFERS`.
    made: usize,
    round: Vec<Chunk>,
    writer: Option<JoinHandle<Result<W, Error>>>,
}

/// Formatted rows on their way to the writing thread: queued, then hashed in order.
struct Hasher {
    rows: InOrder<Chunk, HashState>,
    /// The writing thread has hung up (on an error, which `LogWriter::stopped` reports).
    stopped: AtomicBool,
}

struct HashState {
    sha: Sha256,
    /// `None` once the log is finished or abandoned.
    rows: Option<SyncSender<Msg>>,
}

impl Hasher {
    /// Hashes the next buffer and passes it to the writing thread.
    fn pass_on(&self, state: &mut HashState, buf: Chunk) {
        state.sha.update(buf.text());
        let sent = state
            .rows
            .as_ref()
            .is_some_and(|rows| rows.send(Msg::Rows(buf)).is_ok());
        if !sent {
            self.stopped.store(true, Ordering::Relaxed);
        }
    }

    /// A rayon job: hashes one queued buffer (a millisecond or so) and leaves the next
    /// to a job of its own, so that the hash comes in pieces the threads can fit between
    /// other work, not in one stretch as long as the backlog.
    fn hash_job(self: Arc<Hasher>) {
        if self.rows.work_next(|state, buf| self.pass_on(state, buf)) {
            rayon::spawn(move || self.hash_job());
        }
    }

    /// Hashes and passes on every queued buffer, after any other thread at it.
    fn drain(&self) {
        self.rows.drain(|state, buf| self.pass_on(state, buf));
    }
}

/// A completed log.
pub struct Finished<W> {
    pub out: W,
    /// SHA-256 of every byte written, in lowercase hex.
    pub sha256: String,
}

impl LogWriter<DirectFile> {
    /// Creates the log file at `path` (written past the page cache where possible, see
    /// `DirectFile`).
    pub fn create(path: &Path, context: &Context) -> Result<LogWriter<DirectFile>, Error> {
        let name = path.display().to_string();
        let file = DirectFile::create(path).map_err(Error::io(format!("creating {name}")))?;
        LogWriter::named(file, context, name)
    }
}

impl<W: Write + Send + 'static> LogWriter<W> {
    /// A log written into `out`.
    pub fn new(out: W, context: &Context) -> Result<LogWriter<W>, Error> {
        LogWriter::named(out, context, "the event log".to_string())
    }

    fn named(out: W, context: &Context, name: String) -> Result<LogWriter<W>, Error> {
        // Neither channel is ever full: each holds at most the `BUFFERS` buffers there are.
        let (rows, rows_rx) = mpsc::sync_channel(BUFFERS + 1);
        let (spare_tx, spare) = mpsc::sync_channel(BUFFERS);
        let thread_name = name.clone();
        let writer = std::thread::Builder::new()
            .name("event-log-write".to_string())
            .spawn(move || write_rows(out, &rows_rx, &spare_tx, &thread_name))
            .map_err(Error::io("starting the event log's writing thread"))?;
        let mut log = LogWriter {
            labels: Labels::new(context),
            next_seq: 1,
            name,
            hasher: Arc::new(Hasher {
                rows: InOrder::new(HashState {
                    sha: Sha256::new(),
                    rows: Some(rows),
                }),
                stopped: AtomicBool::new(false),
            }),
            spare,
            made: 0,
            round: Vec::with_capacity(ROUND),
            writer: Some(writer),
        };
        let json = serde_json::to_string(context).expect("context serialises");
        let mut header = log.buffer()?;
        header.set_text(&format!(
            "{MAGIC}{SCHEMA_VERSION}\n{CONTEXT_PREFIX}{json}\n{}\n",
            COLUMNS.join(",")
        ));
        log.hasher.rows.push([header]);
        Ok(log)
    }

    /// Formats `events` (the next rows of the log) and queues them to be hashed and
    /// written; waits only when every buffer is in use.
    pub fn write(&mut self, events: &[Event]) -> Result<(), Error> {
        for batch in events.chunks(ROUND * FORMAT_CHUNK) {
            let n = batch.len().div_ceil(FORMAT_CHUNK);
            while self.round.len() < n {
                let buf = self.buffer()?;
                self.round.push(buf);
            }
            let labels = &self.labels;
            let first_seq = self.next_seq;
            self.round
                .par_iter_mut()
                .zip(batch.par_chunks(FORMAT_CHUNK))
                .enumerate()
                .for_each(|(i, (buf, chunk))| {
                    let seq = first_seq + (i * FORMAT_CHUNK) as u64;
                    let mut rows = Rows::new(labels, seq, std::mem::take(buf));
                    for e in chunk {
                        rows.format(e);
                    }
                    *buf = rows.finish();
                });
            self.next_seq += batch.len() as u64;
            self.hasher.rows.push(self.round.drain(..));
            let hasher = Arc::clone(&self.hasher);
            rayon::spawn(move || hasher.hash_job());
            if self.hasher.stopped.load(Ordering::Relaxed) {
                return Err(self.stopped());
            }
        }
        Ok(())
    }

    /// Writes the end marker, waits for the writing thread, and returns the sink with
    /// the log's SHA-256.
    pub fn finish(mut self) -> Result<Finished<W>, Error> {
        let mut end = self.buffer()?;
        end.set_text(&format!("{END_PREFIX}{}\n", self.next_seq - 1));
        self.hasher.rows.push([end]);
        self.hasher.drain();
        if self.hasher.stopped.load(Ordering::Relaxed) {
            return Err(self.stopped());
        }
        let (sha, rows) = {
            let mut state = self.hasher.rows.state();
            (std::mem::take(&mut state.sha), state.rows.take())
        };
        if rows.is_none_or(|rows| rows.send(Msg::End).is_err()) {
            return Err(self.stopped());
        }
        let sha256 = sha.finalize().iter().map(|b| format!("{b:02x}")).collect();
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(written)) => Ok(Finished {
                out: written?,
                sha256,
            }),
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Err(self.stopped()),
        }
    }

    /// An empty buffer: a spare one, a new one while there are fewer than `BUFFERS`, or
    /// the next one the writing thread hands back.
    fn buffer(&mut self) -> Result<Chunk, Error> {
        if let Ok(buf) = self.spare.try_recv() {
            return Ok(buf);
        }
        if self.made < BUFFERS {
            self.made += 1;
            return Ok(Chunk::default());
        }
        // Every buffer is queued, hashed or being written: pass the queued ones on
        // rather than wait for a thread to take up their hash.
        self.hasher.drain();
        // Fails only when the writing thread has stopped, which it does early on an error.
        self.spare.recv().map_err(|_| self.stopped())
    }

    /// The writing thread hung up early: its error.
    fn stopped(&mut self) -> Error {
        self.hasher.rows.state().rows = None;
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            Some(Ok(Ok(_))) | None => Error::Io {
                context: format!("writing {}", self.name),
                source: std::io::Error::other("the writing thread stopped after an earlier error"),
            },
        }
    }
}

impl<W: Write + Send + 'static> Drop for LogWriter<W> {
    /// Unfinished (an error elsewhere, an interrupt): hangs up, so that the writing
    /// thread stops without completing the log, and waits for it.
    fn drop(&mut self) {
        self.hasher.rows.state().rows = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The writing thread: writes each buffer of rows into `out` and hands it back,
/// emptied; flushes at the end. Stops at the first error, or when the `LogWriter`
/// hangs up early. Only this thread holds `spare`: when it stops, the `LogWriter`'s
/// wait for a buffer back ends at once.
fn write_rows<W: Write>(
    mut out: W,
    rows: &Receiver<Msg>,
    spare: &SyncSender<Chunk>,
    name: &str,
) -> Result<W, Error> {
    let failed = |source| Error::Io {
        context: format!("writing {name}"),
        source,
    };
    while let Ok(msg) = rows.recv() {
        match msg {
            Msg::Rows(mut buf) => {
                out.write_all(buf.text()).map_err(failed)?;
                buf.len = 0;
                // Refused only when the `LogWriter` is gone.
                let _ = spare.send(buf);
            }
            Msg::End => {
                out.flush().map_err(failed)?;
                return Ok(out);
            }
        }
    }
    Err(Error::Interrupted)
}

/// Bytes copied at a time into a row: every label is zero-padded to a whole number of
/// pieces, so each copy has a fixed size (a few vector moves, no `memcpy` call).
const PIECE: usize = 16;

/// A text column as written: a leading comma and the text, zero-padded to whole pieces.
struct Label {
    padded: Box<[u8]>,
    len: usize,
}

impl Label {
    fn new(text: &str) -> Label {
        let len = 1 + text.len();
        let mut padded = vec![0; len.div_ceil(PIECE) * PIECE];
        padded[0] = b',';
        padded[1..len].copy_from_slice(text.as_bytes());
        Label {
            padded: padded.into_boxed_slice(),
            len,
        }
    }
}

/// Every name a row can hold, as labels, made once per log.
struct Labels {
    kinds: Vec<Label>,
    markets: Vec<Label>,
    /// Payment methods, by market.
    methods: Vec<Vec<Label>>,
    routes: Vec<Label>,
    hubs: Vec<Label>,
    categories: Vec<Label>,
    /// Bytes of the longest row these names allow, padding overshoot included.
    max_row: usize,
}

impl Labels {
    fn new(ctx: &Context) -> Labels {
        let labels = |names: &mut dyn Iterator<Item = &String>| -> Vec<Label> {
            names.map(|n| Label::new(n)).collect()
        };
        let labels = Labels {
            kinds: KIND_NAMES.iter().map(|n| Label::new(n)).collect(),
            markets: labels(&mut ctx.markets.iter().map(|m| &m.id)),
            methods: ctx
                .markets
                .iter()
                .map(|m| labels(&mut m.methods.iter()))
                .collect(),
            routes: labels(&mut ctx.routes.iter().map(|r| &r.id)),
            hubs: labels(&mut ctx.hubs.iter().map(|h| &h.id)),
            categories: labels(&mut ctx.categories.iter()),
            max_row: 0,
        };
        let longest = [
            &labels.kinds,
            &labels.markets,
            &labels.routes,
            &labels.hubs,
            &labels.categories,
        ]
        .into_iter()
        .chain(&labels.methods)
        .flatten()
        .map(|l| l.padded.len())
        .max()
        .unwrap_or(0);
        // 19 columns, each a comma and at most 20 digits or the longest padded label.
        let max_row = COLUMNS.len() * longest.max(1 + DIGITS_MAX) + 1;
        Labels { max_row, ..labels }
    }
}

/// Decimal digits of the largest `u64`.
const DIGITS_MAX: usize = 20;
/// The smallest a chunk's buffer grows to.
const MIN_CHUNK_BYTES: usize = 64 << 10;

/// "00" to "99": numbers are written two digits at a time.
const PAIRS: [u8; 200] = {
    let mut pairs = [0; 200];
    let mut i = 0;
    while i < 100 {
        pairs[2 * i] = b'0' + (i / 10) as u8;
        pairs[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    pairs
};

/// Writes the decimal digits of `v` into `line` from `at`; returns where they end.
/// (In place: `itoa` formats into a buffer of its own, which costs a copy per number.)
#[inline]
fn put_digits(line: &mut [u8], at: usize, mut v: u64) -> usize {
    let end = at + v.checked_ilog10().map_or(1, |d| d as usize + 1);
    let mut i = end;
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        line[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        line[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        line[at] = b'0' + v as u8;
    }
    end
}

/// Formats consecutive rows of the log into a chunk. The hottest part of writing it,
/// so: rows are written with fixed-size copies (padded labels, digits written in place)
/// straight into the chunk's buffer, which keeps room for the longest row past its
/// end; the sequence number counts up in its own decimal digits, a time shared by a run
/// of rows is formatted once, and each event kind writes its empty columns as one
/// constant.
struct Rows<'a> {
    labels: &'a Labels,
    /// The chunk's buffer, at its full length.
    line: Vec<u8>,
    /// Bytes of `line` written.
    at: usize,
    /// The next row's `seq`, right-aligned in ASCII digits ending at `DIGITS_MAX`, then
    /// padding, so that it is copied at a fixed size.
    seq: [u8; 2 * DIGITS_MAX],
    seq_from: usize,
    /// The last row's time, and `,` with its digits, padded.
    time: Option<u32>,
    time_text: [u8; PIECE],
    time_len: usize,
}

impl<'a> Rows<'a> {
    /// Rows numbered from `first_seq`, written into `chunk` (whatever it held).
    fn new(labels: &'a Labels, first_seq: u64, chunk: Chunk) -> Rows<'a> {
        let mut seq = [0; 2 * DIGITS_MAX];
        let mut digits = [0; DIGITS_MAX];
        let len = put_digits(&mut digits, 0, first_seq);
        let seq_from = DIGITS_MAX - len;
        seq[seq_from..DIGITS_MAX].copy_from_slice(&digits[..len]);
        let mut rows = Rows {
            labels,
            line: chunk.bytes,
            at: 0,
            seq,
            seq_from,
            time: None,
            time_text: [0; PIECE],
            time_len: 0,
        };
        rows.make_room();
        rows
    }

    /// The chunk of the rows formatted.
    fn finish(self) -> Chunk {
        Chunk {
            bytes: self.line,
            len: self.at,
        }
    }

    /// Keeps room for the longest row past `at`: a buffer grows (and is zeroed) only
    /// while it is new, since it is reused at its full length.
    #[inline]
    fn make_room(&mut self) {
        let room = self.at + self.labels.max_row;
        if room > self.line.len() {
            let len = (2 * self.line.len()).max(MIN_CHUNK_BYTES).max(2 * room);
            self.line.resize(len, 0);
        }
    }

    fn next_seq(&mut self) {
        for d in self.seq[self.seq_from..DIGITS_MAX].iter_mut().rev() {
            if *d == b'9' {
                *d = b'0';
            } else {
                *d += 1;
                return;
            }
        }
        // All nines: one digit more.
        self.seq_from -= 1;
        self.seq[self.seq_from] = b'1';
    }

    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.line[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }

    #[inline]
    fn label(&mut self, label: &Label) {
        for (i, piece) in label.padded.chunks_exact(PIECE).enumerate() {
            let at = self.at + i * PIECE;
            self.line[at..at + PIECE].copy_from_slice(piece);
        }
        self.at += label.len;
    }

    #[inline]
    fn num(&mut self, v: impl Into<u64>) {
        self.line[self.at] = b',';
        self.at = put_digits(&mut self.line, self.at + 1, v.into());
    }

    /// Formats `e` as the next row.
    #[inline(always)]
    fn format(&mut self, e: &Event) {
        let labels = self.labels;
        let seq = &self.seq[self.seq_from..self.seq_from + DIGITS_MAX];
        self.line[self.at..self.at + DIGITS_MAX].copy_from_slice(seq);
        self.at += DIGITS_MAX - self.seq_from;
        self.next_seq();
        if self.time != Some(e.time_s) {
            self.time = Some(e.time_s);
            self.time_text[0] = b',';
            self.time_len = put_digits(&mut self.time_text, 1, e.time_s.into());
        }
        self.line[self.at..self.at + PIECE].copy_from_slice(&self.time_text);
        self.at += self.time_len;
        self.label(&labels.kinds[e.kind.index()]);
        self.num(e.order_id);
        self.label(&labels.markets[e.market.ix()]);
        self.label(&labels.routes[e.route.ix()]);
        let methods = &labels.methods[e.market.ix()];
        // Then hub,seller,category,method,attempt,success,value_cents,duty_cents,
        // vat_cents,inspected,wait_s,service_s,lead_s: each column after a comma.
        match e.kind {
            EventKind::OrderPlaced {
                seller,
                category,
                method,
                value_cents,
            } => {
                self.put(b",");
                self.num(seller);
                self.label(&labels.categories[category.ix()]);
                self.label(&methods[method.ix()]);
                self.put(b",,");
                self.num(value_cents);
                self.put(b",,,,,,\n");
            }
            EventKind::PaymentAttempted {
                method,
                attempt,
                success,
            } => {
                self.put(b",,,");
                self.label(&methods[method.ix()]);
                self.num(attempt);
                self.num(success);
                self.put(b",,,,,,,\n");
            }
            EventKind::OrderCancelled {
                seller,
                method,
                value_cents,
            } => {
                self.put(b",");
                self.num(seller);
                self.put(b",");
                self.label(&methods[method.ix()]);
                self.put(b",,");
                self.num(value_cents);
                self.put(b",,,,,,\n");
            }
            EventKind::Dispatched => self.put(b",,,,,,,,,,,,,\n"),
            EventKind::HubArrived { hub } => {
                self.label(&labels.hubs[hub.ix()]);
                self.put(b",,,,,,,,,,,,\n");
            }
            EventKind::HubDeparted {
                hub,
                wait_s,
                service_s,
            } => {
                self.label(&labels.hubs[hub.ix()]);
                self.put(b",,,,,,,,,");
                self.num(wait_s);
                self.num(service_s);
                self.put(b",\n");
            }
            EventKind::CustomsCleared {
                duty_cents,
                vat_cents,
                inspected,
            } => {
                self.put(b",,,,,,,");
                self.num(duty_cents);
                self.num(vat_cents);
                self.num(inspected);
                self.put(b",,,\n");
            }
            EventKind::Delivered { lead_s } => {
                self.put(b",,,,,,,,,,,,");
                self.num(lead_s);
                self.put(b"\n");
            }
            EventKind::Returned { value_cents } => {
                self.put(b",,,,,,");
                self.num(value_cents);
                self.put(b",,,,,,\n");
            }
        }
        self.make_room();
    }
}

/// The longest row a log may hold: anything longer is not a row of a log (and is not
/// read whole, so a foreign file without line breaks is not loaded into memory).
const MAX_ROW: u64 = 4096;
// The longest row valid names allow: six names (a route's id counts for two), each
// after a comma, and the other 13 columns at most 20 digits each after a comma.
const _: () =
    assert!(6 * (1 + crate::model::rules::MAX_NAME_BYTES) + 1 + 13 * 21 < MAX_ROW as usize);
/// The longest `#context` line.
const MAX_CONTEXT: u64 = 64 << 20;

/// Columns 6.. (`hub` to `lead_s`) that each event kind fills, by `EventKind::index`;
/// the others must be empty.
const FILLED: [&[usize]; 9] = [
    &[7, 8, 9, 12],
    &[9, 10, 11],
    &[7, 9, 12],
    &[],
    &[6],
    &[6, 16, 17],
    &[13, 14, 15],
    &[18],
    &[12],
];

/// A log opened for reading: its context, then its events one at a time.
///
/// Every row is checked as it is read: its fields, its `seq` (1, 2, 3, ...), the
/// log's total order (time_s, order_id, lifecycle stage), times inside the horizon,
/// and the end marker with its count, so a garbled, reordered or truncated log is an
/// error naming its line rather than a wrong table.
pub struct LogReader<R: BufRead> {
    pub context: Context,
    pub schema: u32,
    input: R,
    line_no: u64,
    line: String,
    last_seq: u64,
    last: Option<Event>,
    horizon_s: u32,
    ended: bool,
    source: String,
}

fn bad(source: &str, line: u64, message: impl std::fmt::Display) -> Error {
    Error::BadInput(format!("{source}: line {line}: {message}"))
}

/// What one bounded `read_line` found.
enum Got {
    /// A whole line, with its line break.
    Line,
    /// Text up to the end of the file without a line break.
    Cut,
    /// `limit` bytes without a line break.
    TooLong,
    End,
}

fn read_line<R: BufRead>(input: &mut R, buf: &mut String, limit: u64) -> Result<Got, String> {
    buf.clear();
    let n = input.take(limit).read_line(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidData {
            "not UTF-8 text".to_string()
        } else {
            format!("cannot read: {e}")
        }
    })?;
    Ok(if n == 0 {
        Got::End
    } else if buf.ends_with('\n') {
        Got::Line
    } else if n as u64 == limit {
        Got::TooLong
    } else {
        Got::Cut
    })
}

impl<R: BufRead> LogReader<R> {
    /// Reads and checks the three header lines; `source` names the log in messages.
    pub fn open(mut input: R, source: &str) -> Result<LogReader<R>, Error> {
        let mut line = String::new();
        let expected_magic = format!("`{MAGIC}{SCHEMA_VERSION}`");
        let not_a_log = |found: &str| {
            bad(
                source,
                1,
                format!("not a tradesim event log: expected {expected_magic}, found {found}"),
            )
        };
        match read_line(&mut input, &mut line, 256).map_err(|m| not_a_log(&m))? {
            Got::End => return Err(not_a_log("an empty file")),
            Got::TooLong => return Err(not_a_log(&format!("`{}`", preview(&line)))),
            Got::Line | Got::Cut => {}
        }
        let Some(version) = line.trim_end().strip_prefix(MAGIC) else {
            return Err(not_a_log(&format!("`{}`", preview(&line))));
        };
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(
                source,
                1,
                format!("bad schema version `{version}`: expected a whole number"),
            ));
        }
        let schema: u32 = version
            .parse()
            .map_err(|_| bad(source, 1, format!("bad schema version `{version}`")))?;
        if !READABLE_SCHEMAS.contains(&schema) {
            let newer = if READABLE_SCHEMAS.iter().all(|&s| s < schema) {
                "; it was written by a newer tradesim"
            } else {
                ""
            };
            return Err(bad(
                source,
                1,
                format!(
                    "event log schema {schema} is not supported: tradesim {} reads schema {}{newer}",
                    env!("CARGO_PKG_VERSION"),
                    READABLE_SCHEMAS
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }

        let expected_context = format!("expected `{CONTEXT_PREFIX}{{...}}`");
        match read_line(&mut input, &mut line, MAX_CONTEXT)
            .map_err(|m| bad(source, 2, format!("{expected_context}: {m}")))?
        {
            Got::End | Got::Cut => {
                return Err(bad(
                    source,
                    2,
                    format!("{expected_context}: the log is truncated in its header"),
                ));
            }
            Got::TooLong => {
                return Err(bad(
                    source,
                    2,
                    format!("{expected_context}: the line is longer than {MAX_CONTEXT} bytes"),
                ));
            }
            Got::Line => {}
        }
        let Some(json) = line.trim_end().strip_prefix(CONTEXT_PREFIX) else {
            return Err(bad(
                source,
                2,
                format!("{expected_context}, found `{}`", preview(&line)),
            ));
        };
        let context: Context = serde_json::from_str(json)
            .map_err(|e| bad(source, 2, format!("unreadable context: {e}")))?;
        check_context(&context)
            .map_err(|m| bad(source, 2, format!("inconsistent context: {m}")))?;

        let header = COLUMNS.join(",");
        let expected_header = format!("expected the header `{header}`");
        match read_line(&mut input, &mut line, MAX_ROW)
            .map_err(|m| bad(source, 3, format!("{expected_header}: {m}")))?
        {
            Got::End | Got::Cut => {
                return Err(bad(
                    source,
                    3,
                    format!("{expected_header}: the log is truncated in its header"),
                ));
            }
            Got::Line | Got::TooLong => {}
        }
        if line.trim_end_matches(['\n', '\r']) != header {
            return Err(bad(
                source,
                3,
                format!("{expected_header}, found `{}`", preview(&line)),
            ));
        }
        Ok(LogReader {
            horizon_s: context.days * DAY_S,
            context,
            schema,
            input,
            line_no: 3,
            line: String::new(),
            last_seq: 0,
            last: None,
            ended: false,
            source: source.to_string(),
        })
    }

    /// The line last read (1-based; the header is lines 1 to 3).
    pub fn line_no(&self) -> u64 {
        self.line_no
    }

    /// Events read so far.
    pub fn events_read(&self) -> u64 {
        self.last_seq
    }

    /// The next event, `None` after the end marker.
    pub fn next_event(&mut self) -> Result<Option<Event>, Error> {
        if self.ended {
            return Ok(None);
        }
        self.line_no += 1;
        let expected = |seq: u64| {
            format!(
                "expected the row with seq {seq} or the end marker `{END_PREFIX}{}`",
                seq - 1
            )
        };
        let read = read_line(&mut self.input, &mut self.line, MAX_ROW).map_err(|m| self.bad(m))?;
        match read {
            Got::Line => {}
            Got::End => {
                return Err(self.bad(format!(
                    "{}, found the end of the file: the log is truncated after {} events",
                    expected(self.last_seq + 1),
                    self.last_seq
                )));
            }
            Got::Cut => {
                return Err(self.bad(format!(
                    "the last line is cut short (`{}` without a line break): the log is truncated",
                    preview(&self.line)
                )));
            }
            Got::TooLong => {
                return Err(self.bad(format!(
                    "{}, found a line longer than {MAX_ROW} bytes",
                    expected(self.last_seq + 1)
                )));
            }
        }
        let text = self.line.trim_end_matches(['\n', '\r']);
        if let Some(count) = text.strip_prefix(END_PREFIX) {
            let count: u64 = count.parse().map_err(|_| {
                self.bad(format!(
                    "bad end marker `{text}`: expected `{END_PREFIX}{}`",
                    self.last_seq
                ))
            })?;
            if count != self.last_seq {
                return Err(self.bad(format!(
                    "the end marker counts {count} events but the log holds {}: rows are missing",
                    self.last_seq
                )));
            }
            self.ended = true;
            let mut rest = String::new();
            if !matches!(read_line(&mut self.input, &mut rest, MAX_ROW), Ok(Got::End)) {
                self.line_no += 1;
                return Err(self.bad(format!("text after the end marker `{text}`")));
            }
            return Ok(None);
        }
        if text.starts_with('#') {
            return Err(self.bad(format!(
                "{}, found `{}`",
                expected(self.last_seq + 1),
                preview(text)
            )));
        }
        let (seq, event) =
            parse_row(text, &self.context, self.horizon_s).map_err(|m| self.bad(m))?;
        if seq != self.last_seq + 1 {
            return Err(self.bad(format!(
                "expected seq {}, found {seq}: rows are missing, repeated or out of order",
                self.last_seq + 1
            )));
        }
        if let Some(last) = &self.last {
            let (key, last_key) = (event.order_key(), last.order_key());
            if key.0 < last_key.0 {
                return Err(self.bad(format!(
                    "time_s {} is earlier than the previous row's {}: rows out of order",
                    key.0, last_key.0
                )));
            }
            if key <= last_key {
                return Err(self.bad(format!(
                    "`{}` of order {} cannot follow `{}` of order {} at the same time_s {}: \
                     rows out of the log's order (time_s, order_id, lifecycle stage)",
                    event.kind.name(),
                    event.order_id,
                    last.kind.name(),
                    last.order_id,
                    key.0
                )));
            }
        }
        self.last_seq = seq;
        self.last = Some(event);
        Ok(Some(event))
    }

    fn bad(&self, message: impl std::fmt::Display) -> Error {
        bad(&self.source, self.line_no, message)
    }
}

/// What `Tables` and `parse_row` rely on (every id in range, a row per day for each
/// hub), and what the scenario language demands of the same names, shares and horizon:
/// a log's context passes only if a scenario could have made it.
fn check_context(ctx: &Context) -> Result<(), String> {
    let Some(start) = Date::parse(&ctx.start_date) else {
        return Err(format!(
            "start_date `{}` is not a YYYY-MM-DD date",
            ctx.start_date
        ));
    };
    rules::horizon(start, ctx.days)?;
    rules::file_name(&ctx.scenario).map_err(|e| format!("scenario name: {e}"))?;
    if !(ctx.sample > 0.0 && ctx.sample <= 1.0) {
        return Err(format!("sample = {} is not in (0, 1]", ctx.sample));
    }
    let count = |what: &str, n: usize, min: usize| {
        if n < min || n > rules::MAX_ENTITIES {
            Err(format!(
                "{n} {what} ({min} to {} expected)",
                rules::MAX_ENTITIES
            ))
        } else {
            Ok(())
        }
    };
    count("markets", ctx.markets.len(), 1)?;
    count("categories", ctx.categories.len(), 1)?;
    count("seller pools", ctx.pools.len(), 1)?;
    count("routes", ctx.routes.len(), 1)?;
    count("hubs", ctx.hubs.len(), 0)?;
    let ids = |what: &str, names: Vec<&str>| -> Result<(), String> {
        for n in &names {
            rules::name(n).map_err(|e| format!("{what}: {e}"))?;
        }
        match rules::first_duplicate(names) {
            Some(d) => Err(format!("{what}: \"{d}\" is listed twice")),
            None => Ok(()),
        }
    };
    ids(
        "markets",
        ctx.markets.iter().map(|m| m.id.as_str()).collect(),
    )?;
    for m in &ctx.markets {
        rules::not_reserved(&m.id).map_err(|e| format!("market `{}`: {e}", m.id))?;
        count("payment methods", m.methods.len(), 1)
            .map_err(|e| format!("market `{}`: {e}", m.id))?;
        ids(
            &format!("market `{}` payment methods", m.id),
            m.methods.iter().map(String::as_str).collect(),
        )?;
    }
    ids(
        "categories",
        ctx.categories.iter().map(String::as_str).collect(),
    )?;
    ids(
        "seller pools",
        ctx.pools.iter().map(|p| p.id.as_str()).collect(),
    )?;
    ids("hubs", ctx.hubs.iter().map(|h| h.id.as_str()).collect())?;
    for p in &ctx.pools {
        let what = format!("seller pool `{}`", p.id);
        if p.count == 0 {
            return Err(format!("{what} has no sellers"));
        }
        count("size tiers", p.tiers.len(), 1).map_err(|e| format!("{what}: {e}"))?;
        let names: Vec<&str> = p.tiers.iter().map(|(n, _)| n.as_str()).collect();
        ids(&format!("{what} size tiers"), names)?;
        // A pool without tiers has the one implicit tier the tables call `all`.
        if p.tiers.len() > 1 {
            for (n, _) in &p.tiers {
                rules::not_reserved(n).map_err(|e| format!("{what}: {e}"))?;
            }
        }
        rules::shares(p.tiers.iter().map(|(_, share)| *share))
            .map_err(|e| format!("{what} size tiers: {e}"))?;
    }
    let mut pairs = std::collections::BTreeSet::new();
    for r in &ctx.routes {
        let (Some(market), Some(pool)) = (
            ctx.markets.get(usize::from(r.market)),
            ctx.pools.get(usize::from(r.pool)),
        ) else {
            return Err(format!(
                "route `{}` refers to a market or pool that is not listed",
                r.id
            ));
        };
        if r.hub.is_some_and(|h| usize::from(h) >= ctx.hubs.len()) {
            return Err(format!(
                "route `{}` refers to a hub that is not listed",
                r.id
            ));
        }
        if r.id != format!("{}:{}", pool.id, market.id) {
            return Err(format!(
                "route `{}` joins seller pool `{}` and market `{}`, so its id must be `{}:{}`",
                r.id, pool.id, market.id, pool.id, market.id
            ));
        }
        if !pairs.insert((r.market, r.pool)) {
            return Err(format!("route `{}` is listed twice", r.id));
        }
    }
    for h in &ctx.hubs {
        let days = ctx.days as usize;
        if h.lines_by_day.len() != days || h.simulated_lines_by_day.len() != days {
            return Err(format!(
                "hub `{}` lists lines for other than {days} days",
                h.id
            ));
        }
    }
    Ok(())
}

fn preview(line: &str) -> String {
    let t = line.trim_end();
    if t.chars().count() > 60 {
        format!("{}...", t.chars().take(60).collect::<String>())
    } else {
        t.to_string()
    }
}

fn parse_row(text: &str, ctx: &Context, horizon_s: u32) -> Result<(u64, Event), String> {
    // A byte loop: fields are a few bytes long, too short for `split`'s memchr to pay.
    let mut f = [""; COLUMNS.len()];
    let mut n = 0;
    let mut start = 0;
    for (i, &c) in text.as_bytes().iter().enumerate() {
        if c == b',' {
            if n < f.len() {
                f[n] = &text[start..i];
            }
            n += 1;
            start = i + 1;
        }
    }
    if n < f.len() {
        f[n] = &text[start..];
    }
    n += 1;
    if n != COLUMNS.len() {
        return Err(format!(
            "expected {} comma-separated fields, found {n}",
            COLUMNS.len()
        ));
    }
    let int = |i: usize| -> Result<u64, String> {
        let s = f[i];
        let mut v: u64 = 0;
        let mut overflow = false;
        for &b in s.as_bytes() {
            if !b.is_ascii_digit() {
                return Err(format!(
                    "column `{}`: expected a whole number, found `{s}`",
                    COLUMNS[i]
                ));
            }
            match v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
            {
                Some(x) => v = x,
                None => overflow = true,
            }
        }
        if s.is_empty() {
            return Err(format!(
                "column `{}`: expected a whole number, found nothing",
                COLUMNS[i]
            ));
        }
        if overflow {
            return Err(format!("column `{}`: {s} is too large", COLUMNS[i]));
        }
        Ok(v)
    };
    let u32_at = |i: usize| -> Result<u32, String> {
        u32::try_from(int(i)?)
            .map_err(|_| format!("column `{}`: {} is too large", COLUMNS[i], f[i]))
    };
    let flag = |i: usize| -> Result<bool, String> {
        match f[i] {
            "0" => Ok(false),
            "1" => Ok(true),
            other => Err(format!(
                "column `{}`: expected 0 or 1, found `{other}`",
                COLUMNS[i]
            )),
        }
    };
    fn lookup<'a>(
        f: &[&str],
        i: usize,
        names: impl Iterator<Item = &'a str> + Clone,
    ) -> Result<u8, String> {
        match names.clone().position(|n| n == f[i]) {
            Some(p) => Ok(p as u8),
            None => Err(format!(
                "column `{}`: unknown `{}` (the context lists: {})",
                COLUMNS[i],
                f[i],
                names.collect::<Vec<_>>().join(", ")
            )),
        }
    }
    let seq = int(0)?;
    let time_s = u32_at(1)?;
    if time_s >= horizon_s {
        return Err(format!(
            "column `time_s`: {time_s} is not inside the horizon of {} days (0 to {})",
            horizon_s / DAY_S,
            horizon_s - 1
        ));
    }
    let kind = KIND_NAMES.iter().position(|k| *k == f[2]).ok_or_else(|| {
        format!(
            "column `kind`: unknown event kind `{}` (known: {})",
            f[2],
            KIND_NAMES.join(", ")
        )
    })?;
    for i in 6..COLUMNS.len() {
        if !f[i].is_empty() && !FILLED[kind].contains(&i) {
            return Err(format!(
                "column `{}`: expected nothing for a `{}` event, found `{}`",
                COLUMNS[i], KIND_NAMES[kind], f[i]
            ));
        }
    }
    let order_id = int(3)?;
    let market = MarketId(lookup(&f, 4, ctx.markets.iter().map(|m| m.id.as_str()))?);
    let route = RouteId(lookup(&f, 5, ctx.routes.iter().map(|r| r.id.as_str()))?);
    let route_dim = &ctx.routes[route.ix()];
    if route_dim.market != market.0 {
        return Err(format!(
            "column `route`: route `{}` does not serve market `{}`",
            f[5], f[4]
        ));
    }
    let methods = &ctx.markets[market.ix()].methods;
    let method = || lookup(&f, 9, methods.iter().map(String::as_str)).map(MethodId);
    let route_hub = || {
        let hub = HubId(lookup(&f, 6, ctx.hubs.iter().map(|h| h.id.as_str()))?);
        if route_dim.hub != Some(hub.0) {
            return Err(format!(
                "column `hub`: route `{}` does not go via hub `{}`",
                f[5], f[6]
            ));
        }
        Ok(hub)
    };
    let seller = || {
        let rank = u32_at(7)?;
        let pool = &ctx.pools[usize::from(route_dim.pool)];
        if rank >= pool.count {
            return Err(format!(
                "column `seller`: rank {rank} is outside seller pool `{}` of {} sellers",
                pool.id, pool.count
            ));
        }
        Ok(rank)
    };
    let kind = match kind {
        0 => EventKind::OrderPlaced {
            seller: seller()?,
            category: CategoryId(lookup(&f, 8, ctx.categories.iter().map(String::as_str))?),
            method: method()?,
            value_cents: u32_at(12)?,
        },
        1 => EventKind::PaymentAttempted {
            method: method()?,
            attempt: match int(10)? {
                a @ 1..=255 => a as u8,
                a => return Err(format!("column `attempt`: expected 1 to 255, found {a}")),
            },
            success: flag(11)?,
        },
        2 => EventKind::OrderCancelled {
            seller: seller()?,
            method: method()?,
            value_cents: u32_at(12)?,
        },
        3 => EventKind::Dispatched,
        4 => EventKind::HubArrived { hub: route_hub()? },
        5 => EventKind::HubDeparted {
            hub: route_hub()?,
            wait_s: u32_at(16)?,
            service_s: u32_at(17)?,
        },
        6 => EventKind::CustomsCleared {
            duty_cents: u32_at(13)?,
            vat_cents: u32_at(14)?,
            inspected: flag(15)?,
        },
        7 => EventKind::Delivered {
            lead_s: u32_at(18)?,
        },
        _ => EventKind::Returned {
            value_cents: u32_at(12)?,
        },
    };
    Ok((
        seq,
        Event {
            time_s,
            order_id,
            market,
            route,
            kind,
        },
    ))
}

#[cfg(test)]
mod tests {
    use std::io::BufReader;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::scenario::sha256_hex;

    /// The checked-in log (written before the writer thread existed): its context, its
    /// events and its bytes.
    fn tiny() -> (Context, Vec<Event>, Vec<u8>) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny_run/events.csv");
        let text = std::fs::read(&path).unwrap();
        let mut reader = LogReader::open(BufReader::new(&text[..]), "tiny").unwrap();
        let mut events = Vec::new();
        while let Some(e) = reader.next_event().unwrap() {
            events.push(e);
        }
        (reader.context.clone(), events, text)
    }

    #[test]
    fn the_writer_reproduces_the_checked_in_log_byte_for_byte() {
        let (context, events, text) = tiny();
        let mut log = LogWriter::new(Vec::new(), &context).unwrap();
        // Windows of uneven sizes, an empty one among them.
        let (a, rest) = events.split_at(1000);
        let (b, c) = rest.split_at(1);
        for window in [a, &[], b, c] {
            log.write(window).unwrap();
        }
        let done = log.finish().unwrap();
        assert!(done.out == text, "the log's bytes changed");
        assert_eq!(done.sha256, sha256_hex(&text));
    }

    /// An arbitrary event that the tiny log's context admits: its route serves its
    /// market, hub events only on routes via a hub, ids and ranks in range.
    fn any_event(ctx: &Context) -> impl proptest::strategy::Strategy<Value = Event> {
        use proptest::prelude::*;
        let horizon_s = ctx.days * DAY_S;
        let routes: Vec<(u8, u8, Option<u8>, u32, usize)> = ctx
            .routes
            .iter()
            .map(|r| {
                let market = usize::from(r.market);
                (
                    r.market,
                    r.pool,
                    r.hub,
                    ctx.pools[usize::from(r.pool)].count,
                    ctx.markets[market].methods.len(),
                )
            })
            .collect();
        let categories = ctx.categories.len() as u8;
        (
            0..horizon_s,
            any::<u64>(),
            0..routes.len(),
            0usize..9,
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            (0u8..255, any::<bool>(), any::<bool>()),
        )
            .prop_map(
                move |(time_s, order_id, r, kind, a, b, c, (attempt, flag, flag2))| {
                    let (market, _, hub, sellers, methods) = routes[r];
                    let method = MethodId((a % methods as u32) as u8);
                    let seller = b % sellers;
                    let kind = match (kind, hub) {
                        (0, _) => EventKind::OrderPlaced {
                            seller,
                            category: CategoryId((c % u32::from(categories)) as u8),
                            method,
                            value_cents: c,
                        },
                        (1, _) => EventKind::PaymentAttempted {
                            method,
                            attempt: attempt + 1,
                            success: flag,
                        },
                        (2, _) => EventKind::OrderCancelled {
                            seller,
                            method,
                            value_cents: c,
                        },
                        (4, Some(h)) => EventKind::HubArrived { hub: HubId(h) },
                        (5, Some(h)) => EventKind::HubDeparted {
                            hub: HubId(h),
                            wait_s: a,
                            service_s: b,
                        },
                        (6, _) => EventKind::CustomsCleared {
                            duty_cents: a,
                            vat_cents: b,
                            inspected: flag2,
                        },
                        (7, _) => EventKind::Delivered { lead_s: a },
                        (8, _) => EventKind::Returned { value_cents: c },
                        _ => EventKind::Dispatched,
                    };
                    Event {
                        time_s,
                        order_id,
                        market: MarketId(market),
                        route: RouteId(r as u8),
                        kind,
                    }
                },
            )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever events a run hands the writer, in the log's order and in windows of
        /// any size, the reader gives back exactly those events.
        #[test]
        fn any_events_written_are_read_back_as_they_were(
            mut events in proptest::collection::vec(any_event(&tiny().0), 0..400),
            cut in 0usize..400,
        ) {
            let (context, _, _) = tiny();
            events.sort_by_key(Event::order_key);
            let mut log = LogWriter::new(Vec::new(), &context).unwrap();
            let (a, b) = events.split_at(cut.min(events.len()));
            log.write(a).unwrap();
            log.write(b).unwrap();
            let text = log.finish().unwrap().out;
            let mut reader = LogReader::open(BufReader::new(&text[..]), "prop").unwrap();
            let mut read = Vec::new();
            while let Some(e) = reader.next_event().unwrap() {
                read.push(e);
            }
            proptest::prop_assert_eq!(read, events);
        }
    }

    proptest::proptest! {
        #[test]
        fn digits_are_the_decimal_text(v in proptest::prelude::any::<u64>()) {
            let mut line = [0u8; 24];
            for v in [v, v % 1000, 0, 9, 10, 99, 100, u64::MAX] {
                let end = put_digits(&mut line, 3, v);
                let text = v.to_string();
                proptest::prop_assert_eq!(&line[3..end], text.as_bytes());
            }
        }
    }

    /// Names longer than a padded piece (and one exactly a piece long) are written whole
    /// and read back as the same events.
    #[test]
    fn long_names_are_written_whole() {
        let (mut context, events, _) = tiny();
        context.markets[1].id = "india-via-paytm-mobile-wallets".to_string();
        context.markets[1].methods[1] = "c".repeat(PIECE - 1);
        let pool = usize::from(context.routes[3].pool);
        context.pools[pool].id = "malaysia-digital-free-trade-zone".to_string();
        // A route's id names its pool and market, as the scenario language makes it.
        for r in &mut context.routes {
            r.id = format!(
                "{}:{}",
                context.pools[usize::from(r.pool)].id,
                context.markets[usize::from(r.market)].id
            );
        }
        context.hubs[0].id = "h".repeat(3 * PIECE);
        context.categories[1] = "e".repeat(2 * PIECE + 5);
        let mut log = LogWriter::new(Vec::new(), &context).unwrap();
        log.write(&events).unwrap();
        let text = log.finish().unwrap().out;
        let rows = String::from_utf8(text.clone()).unwrap();
        for name in [
            &context.routes[3].id,
            &context.hubs[0].id,
            &context.categories[1],
        ] {
            assert!(rows.contains(&format!(",{name},")), "{name} written whole");
        }
        let mut reader = LogReader::open(BufReader::new(&text[..]), "long").unwrap();
        let mut read = Vec::new();
        while let Some(e) = reader.next_event().unwrap() {
            read.push(e);
        }
        assert_eq!(read, events);
    }

    /// The same events written into memory, into a file with direct I/O and into a file
    /// through the page cache: the same bytes, and the digest streamed is the file's.
    #[test]
    fn direct_and_buffered_logs_agree_and_the_streamed_digest_is_the_files() {
        let (context, events, _) = tiny();
        // 80 copies make about 11.5 MB of rows: more buffers than there are (so they are
        // recycled), two rounds in one call, and more than one staging buffer.
        let many: Vec<Event> = (0..60).flat_map(|_| events.iter().copied()).collect();
        let dir = tempfile::tempdir().unwrap();
        for copies in [0, 1, 80] {
            let write = |log: &mut dyn FnMut(&[Event])| {
                if copies == 80 {
                    log(&many);
                    (0..20).for_each(|_| log(&events));
                } else {
                    (0..copies).for_each(|_| log(&events));
                }
            };
            let mut memory = LogWriter::new(Vec::new(), &context).unwrap();
            write(&mut |e| memory.write(e).unwrap());
            let expected = memory.finish().unwrap().out;
            if copies == 0 {
                assert!(expected.len() < 4096, "a log smaller than a page");
            } else {
                assert!(expected.len() % 4096 != 0, "a log with a partial last page");
            }

            let direct_path = dir.path().join(format!("direct-{copies}.csv"));
            let mut direct = LogWriter::create(&direct_path, &context).unwrap();
            write(&mut |e| direct.write(e).unwrap());
            let direct = direct.finish().unwrap();

            let buffered_path = dir.path().join(format!("buffered-{copies}.csv"));
            let file = DirectFile::buffered(&buffered_path).unwrap();
            let mut buffered = LogWriter::new(file, &context).unwrap();
            write(&mut |e| buffered.write(e).unwrap());
            let buffered = buffered.finish().unwrap();

            for (path, digest) in [
                (&direct_path, &direct.sha256),
                (&buffered_path, &buffered.sha256),
            ] {
                let on_disk = std::fs::read(path).unwrap();
                assert!(on_disk == expected, "{}: other bytes", path.display());
                assert_eq!(*digest, sha256_hex(&on_disk), "{}", path.display());
            }
        }
    }

    /// Accepts `room` bytes, then fails as a full disk does; tells when it is dropped.
    struct Full {
        room: usize,
        dropped: Arc<AtomicBool>,
        flushed: Arc<AtomicBool>,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            self.flushed.store(true, Ordering::Relaxed);
            Ok(())
        }
    }

    impl Drop for Full {
        fn drop(&mut self) {
            self.dropped.store(true, Ordering::Relaxed);
        }
    }

    fn full(room: usize) -> (Full, Arc<AtomicBool>, Arc<AtomicBool>) {
        let (dropped, flushed) = (Arc::default(), Arc::default());
        let out = Full {
            room,
            dropped: Arc::clone(&dropped),
            flushed: Arc::clone(&flushed),
        };
        (out, dropped, flushed)
    }

    #[test]
    fn a_write_error_surfaces_and_stops_the_writer_thread() {
        let (context, events, _) = tiny();
        let (out, dropped, _) = full(100_000);
        let mut log = LogWriter::new(out, &context).unwrap();
        // The writer thread fails on the second write or so; the formatting side sees it
        // once its sends or its wait for a buffer fail, at the latest at `finish`.
        let mut result = Ok(());
        for _ in 0..100 {
            result = log.write(&events);
            if result.is_err() {
                break;
            }
        }
        let err = match result {
            Err(e) => e,
            Ok(()) => match log.finish() {
                Err(e) => e,
                Ok(_) => panic!("a full disk went unnoticed"),
            },
        };
        let message = err.to_string();
        assert!(
            message.starts_with("writing the event log: ") && matches!(err, Error::Io { .. }),
            "{message}"
        );
        assert!(dropped.load(Ordering::Relaxed), "the writer thread ended");
    }

    /// A disk that fails only after it has been passed every buffer: the formatting
    /// side, waiting for a buffer back, must still hear of the failure (it once waited
    /// forever, with a hashing thread in between waiting for rows).
    #[test]
    fn a_slow_failing_disk_does_not_hang_the_writer() {
        struct SlowFailure;
        impl Write for SlowFailure {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                std::thread::sleep(std::time::Duration::from_millis(500));
                Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (context, events, _) = tiny();
        // More rows than every buffer holds, so the formatting side waits for one back.
        let many: Vec<Event> = (0..400).flat_map(|_| events.iter().copied()).collect();
        let (done, result) = mpsc::channel();
        std::thread::spawn(move || {
            let mut log = LogWriter::new(SlowFailure, &context).unwrap();
            let err = log.write(&many).err().or_else(|| log.finish().err());
            let _ = done.send(err.map(|e| e.to_string()));
        });
        let message = result
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the writer gave up within a minute")
            .expect("an error");
        assert!(message.starts_with("writing the event log: "), "{message}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_is_named_with_the_file() {
        let (context, events, _) = tiny();
        let path = Path::new("/dev/full");
        // Only where it is the full device (a sandbox may lack it or map it elsewhere).
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| f.write_all(b"x"));
        if !full.is_err_and(|e| e.kind() == std::io::ErrorKind::StorageFull) {
            assert!(
                std::env::var_os("CI").is_none(),
                "/dev/full is not the full device here, and CI must run this test"
            );
            return;
        }
        let mut log = LogWriter::create(path, &context).unwrap();
        let err = (0..1000)
            .find_map(|_| log.write(&events).err())
            .or_else(|| log.finish().err())
            .expect("an error");
        let message = err.to_string();
        assert!(message.contains("writing /dev/full: "), "{message}");
    }

    #[test]
    fn an_unfinished_writer_stops_its_thread_without_ending_the_log() {
        let (context, events, _) = tiny();
        let (out, dropped, flushed) = full(usize::MAX);
        let mut log = LogWriter::new(out, &context).unwrap();
        log.write(&events).unwrap();
        drop(log);
        assert!(
            dropped.load(Ordering::Relaxed),
            "the writer thread was joined"
        );
        assert!(
            !flushed.load(Ordering::Relaxed),
            "no end for an abandoned log"
        );
    }
}
