//! Writing the event log as the run goes: rows formatted in parallel chunks, hashed in
//! order, written by a thread of its own.

use std::io::Write;
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
use crate::log::meta::LogMeta;
use crate::model::date::{DAY_S, Date, UtcOffset};

use super::schema::*;

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
    context: Context,
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
    bytes: u64,
    /// `None` once the log is finished or abandoned.
    rows: Option<SyncSender<Msg>>,
}

impl Hasher {
    /// Hashes the next buffer and passes it to the writing thread.
    fn pass_on(&self, state: &mut HashState, buf: Chunk) {
        state.sha.update(buf.text());
        state.bytes += buf.len as u64;
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
    /// The sidecar that describes it.
    pub meta: LogMeta,
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
            context: context.clone(),
            next_seq: 1,
            name,
            hasher: Arc::new(Hasher {
                rows: InOrder::new(HashState {
                    sha: Sha256::new(),
                    bytes: 0,
                    rows: Some(rows),
                }),
                stopped: AtomicBool::new(false),
            }),
            spare,
            made: 0,
            round: Vec::with_capacity(ROUND),
            writer: Some(writer),
        };
        let mut header = log.buffer()?;
        header.set_text(&format!("{}\n", COLUMNS.join(",")));
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

    /// Waits for the writing thread, and returns the sink with the log's SHA-256 and
    /// sidecar.
    pub fn finish(mut self) -> Result<Finished<W>, Error> {
        self.hasher.drain();
        if self.hasher.stopped.load(Ordering::Relaxed) {
            return Err(self.stopped());
        }
        let (sha, bytes, rows) = {
            let mut state = self.hasher.rows.state();
            (
                std::mem::take(&mut state.sha),
                state.bytes,
                state.rows.take(),
            )
        };
        if rows.is_none_or(|rows| rows.send(Msg::End).is_err()) {
            return Err(self.stopped());
        }
        let sha256 = crate::model::digest::hex(&sha.finalize());
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(written)) => Ok(Finished {
                out: written?,
                meta: LogMeta::new(&self.context, self.next_seq - 1, bytes, sha256.clone()),
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
pub(super) const PIECE: usize = 16;

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
    /// Per day of the horizon, `YYYY-MM-DDT` (on the scenario's clock), padded.
    dates: Vec<[u8; PIECE]>,
    /// `+HH:MM`.
    offset: [u8; 6],
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
            hubs: labels(&mut ctx.hubs().iter().map(|h| &h.id)),
            categories: labels(&mut ctx.categories.iter()),
            dates: dates(ctx),
            offset: UtcOffset::parse(&ctx.utc_offset)
                .expect("a checked context")
                .to_string()
                .as_bytes()
                .try_into()
                .expect("+HH:MM"),
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
        // Each column a comma and at most 20 digits or the longest padded label, and the
        // time copied whole.
        let max_row = COLUMNS.len() * longest.max(1 + DIGITS_MAX) + TIME_TEXT + 1;
        Labels { max_row, ..labels }
    }
}

/// `YYYY-MM-DDT` for each day of the context's horizon.
fn dates(ctx: &Context) -> Vec<[u8; PIECE]> {
    let start = Date::parse(&ctx.start_date).expect("a checked context");
    (0..ctx.span_days())
        .map(|d| {
            let mut text = [0; PIECE];
            text[..11].copy_from_slice(format!("{}T", start.add_days(d.into())).as_bytes());
            text
        })
        .collect()
}

/// Bytes copied at a time for `,time_s,time`: `,` and 10 digits, `,` and 25 of ISO 8601.
const TIME_TEXT: usize = 48;

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
pub(super) fn put_digits(line: &mut [u8], at: usize, mut v: u64) -> usize {
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
    /// The last row's time, and `,time_s,time` for it, padded.
    time: Option<u32>,
    time_text: [u8; TIME_TEXT],
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
            time_text: [0; TIME_TEXT],
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

    /// `,time_s,YYYY-MM-DDTHH:MM:SS+HH:MM` for the rows at `time_s`.
    fn set_time(&mut self, time_s: u32) {
        let t = &mut self.time_text;
        t[0] = b',';
        let mut at = put_digits(t, 1, time_s.into());
        t[at] = b',';
        at += 1;
        t[at..at + PIECE].copy_from_slice(&self.labels.dates[(time_s / DAY_S) as usize]);
        at += 11;
        let second = time_s % DAY_S;
        for (i, part) in [second / 3600, second / 60 % 60, second % 60]
            .into_iter()
            .enumerate()
        {
            let pair = part as usize * 2;
            t[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
            t[at + 2] = if i < 2 { b':' } else { 0 };
            at += 3;
        }
        at -= 1;
        t[at..at + 6].copy_from_slice(&self.labels.offset);
        self.time = Some(time_s);
        self.time_len = at + 6;
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
            self.set_time(e.time_s);
        }
        self.line[self.at..self.at + TIME_TEXT].copy_from_slice(&self.time_text);
        self.at += self.time_len;
        self.label(&labels.kinds[e.kind.index()]);
        self.num(e.order_id);
        self.label(&labels.markets[e.market.ix()]);
        self.label(&labels.routes[e.route.ix()]);
        let methods = &labels.methods[e.market.ix()];
        // Then the columns from `hub` on (`schema::COLUMNS`), each after a comma.
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
                self.put(b",,,,,,,,,,,,\n");
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
                self.put(b",,,,,,,,,,,,,\n");
            }
            EventKind::OrderCancelled {
                seller,
                method,
                value_cents,
                attempts,
            } => {
                self.put(b",");
                self.num(seller);
                self.put(b",");
                self.label(&methods[method.ix()]);
                self.num(attempts);
                self.put(b",");
                self.num(value_cents);
                self.put(b",,,,,,,,,,,,\n");
            }
            EventKind::Dispatched {
                seller,
                value_cents,
                freight_cents,
            } => {
                self.put(b",");
                self.num(seller);
                self.put(b",,,,");
                self.num(value_cents);
                self.put(b",,,,,,");
                self.num(freight_cents);
                self.put(b",,,,,\n");
            }
            EventKind::HubArrived { hub } => {
                self.label(&labels.hubs[hub.ix()]);
                self.put(b",,,,,,,,,,,,,,,,,,\n");
            }
            EventKind::HubDeparted {
                hub,
                wait_s,
                service_s,
                seller,
                fee_cents,
                finance_cents,
            } => {
                self.label(&labels.hubs[hub.ix()]);
                self.num(seller);
                self.put(b",,,,,,,,");
                self.num(wait_s);
                self.num(service_s);
                self.put(b",,");
                self.num(fee_cents);
                self.put(b",");
                self.num(finance_cents);
                self.put(b",,\n");
            }
            EventKind::LinehaulDeparted { wait_s } => {
                self.put(b",,,,,,,,,,");
                self.num(wait_s);
                self.put(b",,,,,,,,\n");
            }
            EventKind::CustomsCleared {
                duty_cents,
                vat_cents,
                inspected,
                wait_s,
                service_s,
            } => {
                self.put(b",,,,,,,");
                self.num(duty_cents);
                self.num(vat_cents);
                self.num(inspected);
                self.num(wait_s);
                self.num(service_s);
                self.put(b",,,,,,,\n");
            }
            EventKind::Delivered {
                lead_s,
                collected_cents,
            } => {
                self.put(b",,,,,,,,,,,,");
                self.num(lead_s);
                self.put(b",,,,");
                self.num(collected_cents);
                self.put(b",\n");
            }
            EventKind::Returned {
                seller,
                value_cents,
                freight_cents,
            } => {
                self.put(b",");
                self.num(seller);
                self.put(b",,,,");
                self.num(value_cents);
                self.put(b",,,,,,");
                self.num(freight_cents);
                self.put(b",,,,,\n");
            }
            EventKind::Refused {
                seller,
                method,
                value_cents,
                freight_cents,
            } => {
                self.put(b",");
                self.num(seller);
                self.put(b",");
                self.label(&methods[method.ix()]);
                self.put(b",,");
                self.num(value_cents);
                self.put(b",,,,,,");
                self.num(freight_cents);
                self.put(b",,,,,\n");
            }
            EventKind::SellerPaid {
                seller,
                method,
                value_cents,
                commission_cents,
                fee_cents,
                to_cash_s,
            } => {
                self.put(b",");
                self.num(seller);
                self.put(b",");
                self.label(&methods[method.ix()]);
                self.put(b",,");
                self.num(value_cents);
                self.put(b",,,,,,,");
                self.num(fee_cents);
                self.num(commission_cents);
                self.put(b",,");
                self.num(to_cash_s);
                self.put(b"\n");
            }
        }
        self.make_room();
    }
}
