//! The event log `events.csv`: writing it as the run goes, and reading it back.
//!
//! Layout: a first line `#tradesim-events schema=1`, a second line `#context {json}`
//! (the run's dimensions, see `Context`), the CSV header, one row per event, and a last
//! line `#end events=N` so that a truncated log is caught. Rows are formatted in
//! parallel chunks and written in order, so the writer does not serialise the run.

use std::io::{BufRead, Read as _, Write};

use rayon::prelude::*;

use crate::Error;
use crate::context::Context;
use crate::date::Date;
use crate::engine::DAY_S;
use crate::event::{Event, EventKind, KIND_NAMES};
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

/// Events formatted per parallel task.
const FORMAT_CHUNK: usize = 16_384;

pub struct LogWriter<W: Write> {
    out: W,
    context: Context,
    next_seq: u64,
    chunks: Vec<Vec<u8>>,
}

impl<W: Write> LogWriter<W> {
    pub fn new(mut out: W, context: &Context) -> Result<LogWriter<W>, Error> {
        let json = serde_json::to_string(context).expect("context serialises");
        writeln!(
            out,
            "{MAGIC}{SCHEMA_VERSION}\n{CONTEXT_PREFIX}{json}\n{}",
            COLUMNS.join(",")
        )
        .map_err(Error::io("writing the event log"))?;
        Ok(LogWriter {
            out,
            context: context.clone(),
            next_seq: 1,
            chunks: Vec::new(),
        })
    }

    pub fn write(&mut self, events: &[Event]) -> Result<(), Error> {
        let n = events.len().div_ceil(FORMAT_CHUNK);
        self.chunks.resize_with(n, Vec::new);
        let ctx = &self.context;
        let first_seq = self.next_seq;
        self.chunks
            .par_iter_mut()
            .zip(events.par_chunks(FORMAT_CHUNK))
            .enumerate()
            .for_each(|(i, (buf, chunk))| {
                buf.clear();
                let first = first_seq + (i * FORMAT_CHUNK) as u64;
                for (seq, e) in (first..).zip(chunk) {
                    format_row(buf, ctx, seq, e);
                }
            });
        for buf in &self.chunks {
            self.out
                .write_all(buf)
                .map_err(Error::io("writing the event log"))?;
        }
        self.next_seq += events.len() as u64;
        Ok(())
    }

    /// Writes the end marker and returns the sink.
    pub fn finish(mut self) -> Result<W, Error> {
        writeln!(self.out, "{END_PREFIX}{}", self.next_seq - 1)
            .map_err(Error::io("writing the event log"))?;
        self.out
            .flush()
            .map_err(Error::io("writing the event log"))?;
        Ok(self.out)
    }
}

fn format_row(buf: &mut Vec<u8>, ctx: &Context, seq: u64, e: &Event) {
    let mut int = itoa::Buffer::new();
    let mut num = |buf: &mut Vec<u8>, v: u64| buf.extend_from_slice(int.format(v).as_bytes());
    num(buf, seq);
    buf.push(b',');
    num(buf, u64::from(e.time_s));
    buf.push(b',');
    buf.extend_from_slice(e.kind.name().as_bytes());
    buf.push(b',');
    num(buf, e.order_id);
    buf.push(b',');
    buf.extend_from_slice(ctx.markets[e.market.ix()].id.as_bytes());
    buf.push(b',');
    buf.extend_from_slice(ctx.routes[e.route.ix()].id.as_bytes());
    // hub,seller,category,method,attempt,success,value_cents,duty_cents,vat_cents,inspected,wait_s,service_s,lead_s
    let mut fields: [Option<u64>; 13] = [None; 13];
    let mut hub = None;
    let mut category = None;
    let mut method = None;
    match e.kind {
        EventKind::OrderPlaced {
            seller,
            category: c,
            method: m,
            value_cents,
        } => {
            fields[1] = Some(u64::from(seller));
            category = Some(c);
            method = Some(m);
            fields[6] = Some(u64::from(value_cents));
        }
        EventKind::PaymentAttempted {
            method: m,
            attempt,
            success,
        } => {
            method = Some(m);
            fields[4] = Some(u64::from(attempt));
            fields[5] = Some(u64::from(success));
        }
        EventKind::OrderCancelled {
            seller,
            method: m,
            value_cents,
        } => {
            fields[1] = Some(u64::from(seller));
            method = Some(m);
            fields[6] = Some(u64::from(value_cents));
        }
        EventKind::Dispatched => {}
        EventKind::HubArrived { hub: h } => hub = Some(h),
        EventKind::HubDeparted {
            hub: h,
            wait_s,
            service_s,
        } => {
            hub = Some(h);
            fields[10] = Some(u64::from(wait_s));
            fields[11] = Some(u64::from(service_s));
        }
        EventKind::CustomsCleared {
            duty_cents,
            vat_cents,
            inspected,
        } => {
            fields[7] = Some(u64::from(duty_cents));
            fields[8] = Some(u64::from(vat_cents));
            fields[9] = Some(u64::from(inspected));
        }
        EventKind::Delivered { lead_s } => fields[12] = Some(u64::from(lead_s)),
        EventKind::Returned { value_cents } => fields[6] = Some(u64::from(value_cents)),
    }
    for (i, f) in fields.iter().enumerate() {
        buf.push(b',');
        match i {
            0 => {
                if let Some(h) = hub {
                    buf.extend_from_slice(ctx.hubs[h.ix()].id.as_bytes());
                }
            }
            2 => {
                if let Some(c) = category {
                    buf.extend_from_slice(ctx.categories[c.ix()].as_bytes());
                }
            }
            3 => {
                if let Some(m) = method {
                    buf.extend_from_slice(ctx.markets[e.market.ix()].methods[m.ix()].as_bytes());
                }
            }
            _ => {
                if let Some(v) = f {
                    num(buf, *v);
                }
            }
        }
    }
    buf.push(b'\n');
}

/// The longest row a log may hold: anything longer is not a row of a log (and is not
/// read whole, so a foreign file without line breaks is not loaded into memory).
const MAX_ROW: u64 = 4096;
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

/// What `Tables` and `parse_row` rely on: every id in range, a row per day for each hub.
fn check_context(ctx: &Context) -> Result<(), String> {
    if Date::parse(&ctx.start_date).is_none() {
        return Err(format!(
            "start_date `{}` is not a YYYY-MM-DD date",
            ctx.start_date
        ));
    }
    if ctx.days == 0 || ctx.days > u32::MAX / DAY_S {
        return Err(format!("days = {} is out of range", ctx.days));
    }
    let too_many = |what: &str, n: usize| {
        (n == 0 || n > 256).then(|| format!("{n} {what} (1 to 256 expected)"))
    };
    if let Some(m) = too_many("markets", ctx.markets.len())
        .or_else(|| too_many("categories", ctx.categories.len()))
        .or_else(|| too_many("seller pools", ctx.pools.len()))
        .or_else(|| too_many("routes", ctx.routes.len()))
        .or_else(|| {
            (ctx.hubs.len() > 256)
                .then(|| format!("{} hubs (at most 256 expected)", ctx.hubs.len()))
        })
    {
        return Err(m);
    }
    for m in &ctx.markets {
        if let Some(e) = too_many("payment methods", m.methods.len()) {
            return Err(format!("market `{}`: {e}", m.id));
        }
    }
    for p in &ctx.pools {
        if p.tiers.is_empty() {
            return Err(format!("seller pool `{}` has no size tier", p.id));
        }
    }
    for r in &ctx.routes {
        if usize::from(r.market) >= ctx.markets.len()
            || usize::from(r.pool) >= ctx.pools.len()
            || r.hub.is_some_and(|h| usize::from(h) >= ctx.hubs.len())
        {
            return Err(format!(
                "route `{}` refers to a market, pool or hub that is not listed",
                r.id
            ));
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
