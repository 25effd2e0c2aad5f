//! Reading the event log back, one event at a time, every row checked.

use std::io::{BufRead, Read as _};

use crate::Error;
use crate::event::context::{Context, FacilityKind};
use crate::event::{Event, EventKind, KIND_NAMES};
use crate::model::date::DAY_S;
use crate::model::date::{Date, UtcOffset};
use crate::model::rules;
use crate::model::{CategoryId, HubId, MarketId, MethodId, RouteId};

use super::schema::*;

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
                "; it was written by an older tradesim: run its scenario again with this one"
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
            horizon_s: context.span_days() * DAY_S,
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
        let hub = HubId(lookup(&f, 6, ctx.hubs().iter().map(|h| h.id.as_str()))?);
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
            attempts: match int(10)? {
                a @ 0..=255 => a as u8,
                a => return Err(format!("column `attempt`: expected 0 to 255, found {a}")),
            },
        },
        3 => EventKind::Dispatched {
            seller: seller()?,
            value_cents: u32_at(12)?,
            freight_cents: u32_at(19)?,
        },
        4 => EventKind::HubArrived { hub: route_hub()? },
        5 => EventKind::HubDeparted {
            hub: route_hub()?,
            wait_s: u32_at(16)?,
            service_s: u32_at(17)?,
            seller: seller()?,
            fee_cents: u32_at(20)?,
            finance_cents: u32_at(22)?,
        },
        6 => {
            if route_dim.linehaul.is_none() {
                return Err(format!(
                    "kind `linehaul_departed`: route `{}` has no line-haul schedule",
                    f[5]
                ));
            }
            EventKind::LinehaulDeparted {
                wait_s: u32_at(16)?,
            }
        }
        7 => EventKind::CustomsCleared {
            duty_cents: u32_at(13)?,
            vat_cents: u32_at(14)?,
            inspected: flag(15)?,
            wait_s: u32_at(16)?,
            service_s: u32_at(17)?,
        },
        8 => EventKind::Delivered {
            lead_s: u32_at(18)?,
            collected_cents: u32_at(23)?,
        },
        9 => EventKind::Returned {
            seller: seller()?,
            value_cents: u32_at(12)?,
            freight_cents: u32_at(19)?,
        },
        10 => EventKind::Refused {
            seller: seller()?,
            method: method()?,
            value_cents: u32_at(12)?,
            freight_cents: u32_at(19)?,
        },
        _ => EventKind::SellerPaid {
            seller: seller()?,
            method: method()?,
            value_cents: u32_at(12)?,
            commission_cents: u32_at(21)?,
            fee_cents: u32_at(20)?,
            to_cash_s: u32_at(24)?,
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
