//! Reading the event log back, one event at a time, every row checked.

use std::fs::File;
use std::io::{BufRead, BufReader, Read as _};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::Error;
use crate::event::context::{Context, FacilityKind};
use crate::event::{Event, EventKind, KIND_NAMES};
use crate::model::date::DAY_S;
use crate::model::date::{Date, UtcOffset, iso_time};
use crate::model::rules;
use crate::model::{CategoryId, HubId, MarketId, MethodId, RouteId};

use super::meta::{LogMeta, meta_path, readable};
use super::schema::*;

/// A log opened for reading: its context, then its events one at a time.
///
/// Every row is checked as it is read: its fields, its `seq` (1, 2, 3, ...), its `time`
/// against its `time_s`, the log's total order (time_s, order_id, lifecycle stage), times
/// inside the horizon; at the end, the count of rows and the digest of the whole file
/// against the sidecar's. So a garbled, reordered, edited or truncated log is an error
/// naming its line rather than a wrong table.
pub struct LogReader<R: BufRead> {
    pub context: Context,
    pub meta: LogMeta,
    input: R,
    line_no: u64,
    line: String,
    last_seq: u64,
    last: Option<Event>,
    horizon_s: u32,
    start: Date,
    offset: UtcOffset,
    /// `time` of the rows at `last`'s `time_s`.
    time_text: String,
    sha: Sha256,
    bytes: u64,
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

impl LogReader<BufReader<File>> {
    /// Opens the log at `path` with its sidecar beside it (`events.meta.json` for
    /// `events.csv`), reading through a buffer of `buffer` bytes.
    pub fn open_file(path: &Path, buffer: usize) -> Result<LogReader<BufReader<File>>, Error> {
        let source = path.display().to_string();
        let file = File::open(path).map_err(Error::io(format!("reading {source}")))?;
        let mut input = BufReader::with_capacity(buffer, file);
        let meta_file = meta_path(path);
        let meta_source = meta_file.display().to_string();
        let meta = match File::open(&meta_file) {
            Ok(f) => {
                let mut text = Vec::new();
                f.take(MAX_META + 1)
                    .read_to_end(&mut text)
                    .map_err(Error::io(format!("reading {meta_source}")))?;
                if text.len() as u64 > MAX_META {
                    return Err(Error::BadInput(format!(
                        "{meta_source}: longer than {MAX_META} bytes: not a tradesim log's sidecar"
                    )));
                }
                LogMeta::parse(&text, &meta_source)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A log of schema 1 to 3 carried its version inside: name it.
                let mut first = String::new();
                let _ = read_line(&mut input, &mut first, 256);
                if let Some(v) = first.trim_end().strip_prefix(OLD_MAGIC) {
                    return Err(bad(
                        &source,
                        1,
                        format!(
                            "event log schema {v} is not supported: tradesim {} reads schema {}; \
                             it was written by an older tradesim: run its scenario again with this one",
                            env!("CARGO_PKG_VERSION"),
                            readable()
                        ),
                    ));
                }
                return Err(Error::BadInput(format!(
                    "{source}: no sidecar {meta_source} beside it: a tradesim event log is read \
                     with the sidecar its run wrote (schema, context, row count and digest)"
                )));
            }
            Err(e) => return Err(Error::io(format!("reading {meta_source}"))(e)),
        };
        LogReader::open(meta, input, &source)
    }
}

impl<R: BufRead> LogReader<R> {
    /// Checks the sidecar's context and reads the header line; `source` names the log in
    /// messages.
    pub fn open(meta: LogMeta, mut input: R, source: &str) -> Result<LogReader<R>, Error> {
        let context = meta.context.clone();
        check_context(&context).map_err(|m| {
            Error::BadInput(format!(
                "{source}: the sidecar's context is inconsistent: {m}"
            ))
        })?;
        let header = COLUMNS.join(",");
        let mut line = String::new();
        let expected_header = format!("expected the header `{header}`");
        let got = read_line(&mut input, &mut line, MAX_ROW)
            .map_err(|m| bad(source, 1, format!("{expected_header}: {m}")))?;
        if matches!(got, Got::End) {
            return Err(bad(
                source,
                1,
                format!("{expected_header}, found an empty file"),
            ));
        }
        if line.trim_end_matches(['\n', '\r']) != header || !matches!(got, Got::Line) {
            return Err(bad(
                source,
                1,
                format!("{expected_header}, found `{}`", preview(&line)),
            ));
        }
        let mut sha = Sha256::new();
        sha.update(line.as_bytes());
        Ok(LogReader {
            horizon_s: context.span_days() * DAY_S,
            start: Date::parse(&context.start_date).expect("a checked context"),
            offset: UtcOffset::parse(&context.utc_offset).expect("a checked context"),
            context,
            input,
            line_no: 1,
            bytes: line.len() as u64,
            line,
            last_seq: 0,
            last: None,
            time_text: String::new(),
            sha,
            meta,
            ended: false,
            source: source.to_string(),
        })
    }

    /// The line last read (1-based; the header is line 1).
    pub fn line_no(&self) -> u64 {
        self.line_no
    }

    /// Events read so far.
    pub fn events_read(&self) -> u64 {
        self.last_seq
    }

    /// The next event, `None` at the end of a whole log.
    pub fn next_event(&mut self) -> Result<Option<Event>, Error> {
        if self.ended {
            return Ok(None);
        }
        self.line_no += 1;
        let read = read_line(&mut self.input, &mut self.line, MAX_ROW).map_err(|m| self.bad(m))?;
        match read {
            Got::Line => {}
            Got::End => return self.end().map(|()| None),
            Got::Cut => {
                return Err(self.bad(format!(
                    "the last line is cut short (`{}` without a line break): the log is truncated",
                    preview(&self.line)
                )));
            }
            Got::TooLong => {
                return Err(self.bad(format!(
                    "expected the row with seq {}, found a line longer than {MAX_ROW} bytes",
                    self.last_seq + 1
                )));
            }
        }
        self.sha.update(self.line.as_bytes());
        self.bytes += self.line.len() as u64;
        let text = self.line.trim_end_matches(['\n', '\r']);
        let (seq, event, time) =
            parse_row(text, &self.context, self.horizon_s).map_err(|m| self.bad(m))?;
        if seq != self.last_seq + 1 {
            return Err(self.bad(format!(
                "expected seq {}, found {seq}: rows are missing, repeated or out of order",
                self.last_seq + 1
            )));
        }
        if self.last.is_none_or(|last| last.time_s != event.time_s) {
            self.time_text = iso_time(self.start, self.offset, event.time_s);
        }
        if time != self.time_text {
            let message = format!(
                "column `time`: expected `{}` for time_s {}, found `{time}`",
                self.time_text, event.time_s
            );
            return Err(self.bad(message));
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

    /// The end of the file: the log is whole if it holds the rows and bytes its sidecar
    /// counts, with the same digest.
    fn end(&mut self) -> Result<(), Error> {
        if self.last_seq != self.meta.events {
            return Err(self.bad(format!(
                "the file ends after {} events but its sidecar counts {}: the log is {}",
                self.last_seq,
                self.meta.events,
                if self.last_seq < self.meta.events {
                    "truncated"
                } else {
                    "not the one the sidecar describes"
                }
            )));
        }
        let sha256 = crate::model::digest::hex(&std::mem::take(&mut self.sha).finalize());
        if self.bytes != self.meta.bytes || sha256 != self.meta.sha256 {
            return Err(self.bad(format!(
                "the file does not match its sidecar: {} bytes with SHA-256 {sha256}, where the \
                 sidecar has {} bytes with SHA-256 {}; the log was changed after its run",
                self.bytes, self.meta.bytes, self.meta.sha256
            )));
        }
        self.ended = true;
        Ok(())
    }

    fn bad(&self, message: impl std::fmt::Display) -> Error {
        bad(&self.source, self.line_no, message)
    }
}

/// What `Tables` and `parse_row` rely on (every id in range, a row per day for each
/// hub), and what the scenario language demands of the same names, shares and horizon:
/// a log's context passes only if a scenario could have made it.
pub(super) fn check_context(ctx: &Context) -> Result<(), String> {
    let Some(start) = Date::parse(&ctx.start_date) else {
        return Err(format!(
            "start_date `{}` is not a YYYY-MM-DD date",
            ctx.start_date
        ));
    };
    if UtcOffset::parse(&ctx.utc_offset).is_none() {
        return Err(format!(
            "utc_offset `{}` is not +HH:MM or -HH:MM",
            ctx.utc_offset
        ));
    }
    rules::horizon(start, ctx.days)?;
    rules::horizon(start, ctx.span_days())?;
    if ctx.warmup_days > rules::MAX_WARMUP_DAYS {
        return Err(format!(
            "warmup_days {} (at most {} expected)",
            ctx.warmup_days,
            rules::MAX_WARMUP_DAYS
        ));
    }
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
    if ctx.facilities.len() > 3 * rules::MAX_ENTITIES {
        return Err(format!(
            "{} facilities (at most {} expected)",
            ctx.facilities.len(),
            3 * rules::MAX_ENTITIES
        ));
    }
    let hubs = ctx.hubs().len();
    if ctx.facilities[hubs..]
        .iter()
        .any(|f| f.kind == FacilityKind::Hub)
    {
        return Err("facilities: the hubs must come first".to_string());
    }
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
        if m.at_delivery.len() != m.methods.len() {
            return Err(format!(
                "market `{}`: {} payment methods but {} `at_delivery` flags",
                m.id,
                m.methods.len(),
                m.at_delivery.len()
            ));
        }
    }
    ids(
        "categories",
        ctx.categories.iter().map(String::as_str).collect(),
    )?;
    ids(
        "seller pools",
        ctx.pools.iter().map(|p| p.id.as_str()).collect(),
    )?;
    for kind in [
        FacilityKind::Hub,
        FacilityKind::Linehaul,
        FacilityKind::Exchange,
    ] {
        ids(
            &format!("{} facilities", kind.name()),
            ctx.facilities
                .iter()
                .filter(|f| f.kind == kind)
                .map(|f| f.id.as_str())
                .collect(),
        )?;
    }
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
        if r.hub.is_some_and(|h| usize::from(h) >= hubs) {
            return Err(format!(
                "route `{}` refers to a hub that is not listed",
                r.id
            ));
        }
        for (what, facility, kind) in [
            ("line-haul", r.linehaul, FacilityKind::Linehaul),
            ("exchange office", r.exchange, FacilityKind::Exchange),
        ] {
            if facility.is_some_and(|f| {
                ctx.facilities
                    .get(usize::from(f))
                    .is_none_or(|f| f.kind != kind)
            }) {
                return Err(format!(
                    "route `{}` refers to a {what} that is not listed",
                    r.id
                ));
            }
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
    for f in &ctx.facilities {
        let days = ctx.span_days() as usize;
        if f.lines_by_day.len() != days
            || f.simulated_lines_by_day.len() != days
            || f.capacity_by_day.len() != days
        {
            return Err(format!(
                "{} `{}` lists lines or capacity for other than {days} days",
                f.kind.name(),
                f.id
            ));
        }
    }
    Ok(())
}

/// What a row's route admits, checked alike for the CSV and the Parquet log: the market
/// it serves, the hub it goes via, its pool's seller ranks, its line-haul.
pub(super) struct RouteCheck<'c> {
    ctx: &'c Context,
    route: &'c crate::event::context::RouteDim,
}

impl<'c> RouteCheck<'c> {
    /// The route of a row of market `market`.
    pub(super) fn new(ctx: &'c Context, market: MarketId, route: RouteId) -> Result<Self, String> {
        let dim = &ctx.routes[route.ix()];
        if dim.market != market.0 {
            return Err(format!(
                "column `route`: route `{}` does not serve market `{}`",
                dim.id,
                ctx.markets[market.ix()].id
            ));
        }
        Ok(RouteCheck { ctx, route: dim })
    }

    pub(super) fn hub(&self, hub: HubId) -> Result<HubId, String> {
        if self.route.hub != Some(hub.0) {
            return Err(format!(
                "column `hub`: route `{}` does not go via hub `{}`",
                self.route.id,
                self.ctx.hubs()[hub.ix()].id
            ));
        }
        Ok(hub)
    }

    pub(super) fn seller(&self, rank: u32) -> Result<u32, String> {
        let pool = &self.ctx.pools[usize::from(self.route.pool)];
        if rank >= pool.count {
            return Err(format!(
                "column `seller`: rank {rank} is outside seller pool `{}` of {} sellers",
                pool.id, pool.count
            ));
        }
        Ok(rank)
    }

    pub(super) fn linehaul(&self) -> Result<(), String> {
        if self.route.linehaul.is_none() {
            return Err(format!(
                "kind `linehaul_departed`: route `{}` has no line-haul schedule",
                self.route.id
            ));
        }
        Ok(())
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

fn parse_row<'t>(
    text: &'t str,
    ctx: &Context,
    horizon_s: u32,
) -> Result<(u64, Event, &'t str), String> {
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
    let kind = KIND_NAMES.iter().position(|k| *k == f[3]).ok_or_else(|| {
        format!(
            "column `kind`: unknown event kind `{}` (known: {})",
            f[3],
            KIND_NAMES.join(", ")
        )
    })?;
    for i in COMMON..COLUMNS.len() {
        if !f[i].is_empty() && !FILLED[kind].contains(&i) {
            return Err(format!(
                "column `{}`: expected nothing for a `{}` event, found `{}`",
                COLUMNS[i], KIND_NAMES[kind], f[i]
            ));
        }
    }
    let order_id = int(4)?;
    let market = MarketId(lookup(&f, 5, ctx.markets.iter().map(|m| m.id.as_str()))?);
    let route = RouteId(lookup(&f, 6, ctx.routes.iter().map(|r| r.id.as_str()))?);
    let check = RouteCheck::new(ctx, market, route)?;
    let methods = &ctx.markets[market.ix()].methods;
    let method = || lookup(&f, 10, methods.iter().map(String::as_str)).map(MethodId);
    let route_hub = || {
        check.hub(HubId(lookup(
            &f,
            7,
            ctx.hubs().iter().map(|h| h.id.as_str()),
        )?))
    };
    let seller = || check.seller(u32_at(8)?);
    let kind = match kind {
        0 => EventKind::OrderPlaced {
            seller: seller()?,
            category: CategoryId(lookup(&f, 9, ctx.categories.iter().map(String::as_str))?),
            method: method()?,
            value_cents: u32_at(13)?,
        },
        1 => EventKind::PaymentAttempted {
            method: method()?,
            attempt: match int(11)? {
                a @ 1..=255 => a as u8,
                a => return Err(format!("column `attempt`: expected 1 to 255, found {a}")),
            },
            success: flag(12)?,
        },
        2 => EventKind::OrderCancelled {
            seller: seller()?,
            method: method()?,
            value_cents: u32_at(13)?,
            attempts: match int(11)? {
                a @ 0..=255 => a as u8,
                a => return Err(format!("column `attempt`: expected 0 to 255, found {a}")),
            },
        },
        3 => EventKind::Dispatched {
            seller: seller()?,
            value_cents: u32_at(13)?,
            freight_cents: u32_at(20)?,
        },
        4 => EventKind::HubArrived { hub: route_hub()? },
        5 => EventKind::HubDeparted {
            hub: route_hub()?,
            wait_s: u32_at(17)?,
            service_s: u32_at(18)?,
            seller: seller()?,
            fee_cents: u32_at(21)?,
            finance_cents: u32_at(23)?,
        },
        6 => {
            check.linehaul()?;
            EventKind::LinehaulDeparted {
                wait_s: u32_at(17)?,
            }
        }
        7 => EventKind::CustomsCleared {
            duty_cents: u32_at(14)?,
            vat_cents: u32_at(15)?,
            inspected: flag(16)?,
            wait_s: u32_at(17)?,
            service_s: u32_at(18)?,
        },
        8 => EventKind::Delivered {
            lead_s: u32_at(19)?,
            collected_cents: u32_at(24)?,
        },
        9 => EventKind::Returned {
            seller: seller()?,
            value_cents: u32_at(13)?,
            freight_cents: u32_at(20)?,
        },
        10 => EventKind::Refused {
            seller: seller()?,
            method: method()?,
            value_cents: u32_at(13)?,
            freight_cents: u32_at(20)?,
        },
        _ => EventKind::SellerPaid {
            seller: seller()?,
            method: method()?,
            value_cents: u32_at(13)?,
            commission_cents: u32_at(22)?,
            fee_cents: u32_at(21)?,
            to_cash_s: u32_at(25)?,
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
        f[2],
    ))
}
