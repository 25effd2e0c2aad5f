//! The event log `events.csv`: writing it as the run goes, and reading it back.
//!
//! Layout: a first line `#tradesim-events schema=1`, a second line `#context {json}`
//! (the run's dimensions, see `Context`), the CSV header, one row per event, and a last
//! line `#end events=N` so that a truncated log is caught. Rows are formatted in
//! parallel chunks and written in order, so the writer does not serialise the run.

use std::io::{BufRead, Write};

use rayon::prelude::*;

use crate::Error;
use crate::context::Context;
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
        writeln!(out, "{MAGIC}{SCHEMA_VERSION}\n{CONTEXT_PREFIX}{json}\n{}", COLUMNS.join(","))
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
                let mut seq = first_seq + (i * FORMAT_CHUNK) as u64;
                for e in chunk {
                    format_row(buf, ctx, seq, e);
                    seq += 1;
                }
            });
        for buf in &self.chunks {
            self.out.write_all(buf).map_err(Error::io("writing the event log"))?;
        }
        self.next_seq += events.len() as u64;
        Ok(())
    }

    /// Writes the end marker and returns the sink.
    pub fn finish(mut self) -> Result<W, Error> {
        writeln!(self.out, "{END_PREFIX}{}", self.next_seq - 1).map_err(Error::io("writing the event log"))?;
        self.out.flush().map_err(Error::io("writing the event log"))?;
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

/// A log opened for reading: its context, then its events one at a time.
pub struct LogReader<R: BufRead> {
    pub context: Context,
    pub schema: u32,
    lines: R,
    line_no: u64,
    line: String,
    last_seq: u64,
    last_key: Option<(u32, u64, u8)>,
    ended: bool,
    source: String,
}

fn bad(source: &str, line: u64, message: impl std::fmt::Display) -> Error {
    Error::BadInput(format!("{source}: line {line}: {message}"))
}

impl<R: BufRead> LogReader<R> {
    /// Reads the header; `source` names the log in messages.
    pub fn open(mut input: R, source: &str) -> Result<LogReader<R>, Error> {
        let mut line = String::new();
        let mut read_line = |line: &mut String, no: u64| -> Result<(), Error> {
            line.clear();
            input
                .read_line(line)
                .map_err(|e| bad(source, no, format!("cannot read: {e}")))?;
            Ok(())
        };
        read_line(&mut line, 1)?;
        let Some(version) = line.trim_end().strip_prefix(MAGIC) else {
            return Err(bad(
                source,
                1,
                format!("not a tradesim event log: expected `{MAGIC}N`, found `{}`", preview(&line)),
            ));
        };
        let schema: u32 = version
            .parse()
            .map_err(|_| bad(source, 1, format!("bad schema version `{version}`")))?;
        if !READABLE_SCHEMAS.contains(&schema) {
            return Err(bad(
                source,
                1,
                format!(
                    "event log schema {schema} is not supported by this tradesim (reads schema {})",
                    READABLE_SCHEMAS.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        read_line(&mut line, 2)?;
        let Some(json) = line.trim_end().strip_prefix(CONTEXT_PREFIX) else {
            return Err(bad(source, 2, format!("expected `{CONTEXT_PREFIX}{{...}}`, found `{}`", preview(&line))));
        };
        let context: Context =
            serde_json::from_str(json).map_err(|e| bad(source, 2, format!("unreadable context: {e}")))?;
        read_line(&mut line, 3)?;
        let header = COLUMNS.join(",");
        if line.trim_end() != header {
            return Err(bad(source, 3, format!("expected the header `{header}`, found `{}`", preview(&line))));
        }
        Ok(LogReader {
            context,
            schema,
            lines: input,
            line_no: 3,
            line: String::new(),
            last_seq: 0,
            last_key: None,
            ended: false,
            source: source.to_string(),
        })
    }

    /// The next event, `None` after the end marker.
    pub fn next_event(&mut self) -> Result<Option<Event>, Error> {
        if self.ended {
            return Ok(None);
        }
        self.line.clear();
        self.line_no += 1;
        let n = self
            .lines
            .read_line(&mut self.line)
            .map_err(|e| bad(&self.source, self.line_no, format!("cannot read: {e}")))?;
        if n == 0 {
            return Err(bad(
                &self.source,
                self.line_no,
                format!("the log ends without its `{END_PREFIX}N` line: it is truncated"),
            ));
        }
        if !self.line.ends_with('\n') {
            return Err(bad(&self.source, self.line_no, "the last line is cut short: the log is truncated"));
        }
        let text = self.line.trim_end_matches(['\n', '\r']);
        if let Some(count) = text.strip_prefix(END_PREFIX) {
            let count: u64 = count
                .parse()
                .map_err(|_| bad(&self.source, self.line_no, format!("bad end marker `{text}`")))?;
            if count != self.last_seq {
                return Err(bad(
                    &self.source,
                    self.line_no,
                    format!("the end marker counts {count} events but the log holds {}", self.last_seq),
                ));
            }
            self.ended = true;
            let mut rest = String::new();
            let extra = self.lines.read_line(&mut rest).unwrap_or(0);
            if extra > 0 {
                return Err(bad(&self.source, self.line_no + 1, "text after the end marker"));
            }
            return Ok(None);
        }
        let (seq, event) = parse_row(text, &self.context).map_err(|m| bad(&self.source, self.line_no, m))?;
        if seq != self.last_seq + 1 {
            return Err(bad(
                &self.source,
                self.line_no,
                format!("expected seq {}, found {seq} (rows missing or out of order)", self.last_seq + 1),
            ));
        }
        let key = event.order_key();
        if let Some(last) = self.last_key {
            if key.0 < last.0 {
                return Err(bad(
                    &self.source,
                    self.line_no,
                    format!("time_s {} is earlier than the previous row's {}", key.0, last.0),
                ));
            }
            if key <= last {
                return Err(bad(
                    &self.source,
                    self.line_no,
                    "rows out of the log's order (time_s, order_id, lifecycle stage)",
                ));
            }
        }
        self.last_seq = seq;
        self.last_key = Some(key);
        Ok(Some(event))
    }
}

fn preview(line: &str) -> String {
    let t = line.trim_end();
    if t.chars().count() > 60 {
        format!("{}...", t.chars().take(60).collect::<String>())
    } else {
        t.to_string()
    }
}

fn parse_row(text: &str, ctx: &Context) -> Result<(u64, Event), String> {
    let f: Vec<&str> = text.split(',').collect();
    if f.len() != COLUMNS.len() {
        return Err(format!("expected {} fields, found {}", COLUMNS.len(), f.len()));
    }
    let int = |i: usize| -> Result<u64, String> {
        f[i].parse::<u64>()
            .map_err(|_| format!("column `{}`: expected a whole number, found `{}`", COLUMNS[i], f[i]))
    };
    let u32_at = |i: usize| -> Result<u32, String> {
        u32::try_from(int(i)?).map_err(|_| format!("column `{}`: {} is too large", COLUMNS[i], f[i]))
    };
    let flag = |i: usize| -> Result<bool, String> {
        match f[i] {
            "0" => Ok(false),
            "1" => Ok(true),
            other => Err(format!("column `{}`: expected 0 or 1, found `{other}`", COLUMNS[i])),
        }
    };
    let lookup = |i: usize, names: &mut dyn Iterator<Item = &str>| -> Result<u8, String> {
        let known: Vec<&str> = names.collect();
        known
            .iter()
            .position(|n| *n == f[i])
            .map(|p| p as u8)
            .ok_or_else(|| format!("column `{}`: unknown `{}` (known: {})", COLUMNS[i], f[i], known.join(", ")))
    };
    let seq = int(0)?;
    let time_s = u32_at(1)?;
    let kind = KIND_NAMES
        .iter()
        .position(|k| *k == f[2])
        .ok_or_else(|| format!("column `kind`: unknown event kind `{}`", f[2]))?;
    let order_id = int(3)?;
    let market = MarketId(lookup(4, &mut ctx.markets.iter().map(|m| m.id.as_str()))?);
    let route = RouteId(lookup(5, &mut ctx.routes.iter().map(|r| r.id.as_str()))?);
    if ctx.routes[route.ix()].market != market.0 {
        return Err(format!("route `{}` does not serve market `{}`", f[5], f[4]));
    }
    let methods = &ctx.markets[market.ix()].methods;
    let method = || lookup(9, &mut methods.iter().map(String::as_str)).map(MethodId);
    let route_hub = || {
        let hub = HubId(lookup(6, &mut ctx.hubs.iter().map(|h| h.id.as_str()))?);
        if ctx.routes[route.ix()].hub != Some(hub.0) {
            return Err(format!("route `{}` does not go via hub `{}`", f[5], f[6]));
        }
        Ok(hub)
    };
    let kind = match kind {
        0 => EventKind::OrderPlaced {
            seller: u32_at(7)?,
            category: CategoryId(lookup(8, &mut ctx.categories.iter().map(String::as_str))?),
            method: method()?,
            value_cents: u32_at(12)?,
        },
        1 => EventKind::PaymentAttempted {
            method: method()?,
            attempt: u8::try_from(int(10)?).map_err(|_| "column `attempt`: too large".to_string())?,
            success: flag(11)?,
        },
        2 => EventKind::OrderCancelled {
            seller: u32_at(7)?,
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
        7 => EventKind::Delivered { lead_s: u32_at(18)? },
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
