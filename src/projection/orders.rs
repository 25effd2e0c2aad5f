//! `orders.csv`: one row per order that appears in the log, with the time of each stage
//! of its lifecycle and its money (`run --orders`, `replay --orders`).
//!
//! Unlike the other tables it holds every order until the end (a compact `Row` each),
//! and writes the rows sorted by order id. Each event only sets its own fields and adds
//! its own amounts, so the fold is the same whatever the order the events come in: a
//! run without the log (which gets them unsorted) writes the very same file.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::io::{self, Write};

use super::*;
use crate::Error;
use crate::model::date::{UtcOffset, iso_time};

/// The file's name and header.
pub const ORDERS_CSV: &str = "orders.csv";
pub const ORDERS_HEADER: &str = "order_id,market,route,sellers,seller,category,method,value_usd,placed_time,placed_s,paid_s,cancelled_s,dispatched_s,hub,hub_arrived_s,hub_departed_s,linehaul_departed_s,customs_cleared_s,delivered_s,returned_s,refused_s,seller_paid_s,attempts,duty_usd,vat_usd,freight_usd,hub_fee_usd,payment_fees_usd,commission_usd,finance_fee_usd,cod_usd,lead_time_days,status";

/// Orders a page of rows holds: rows are kept in pages by order id, allocated as the
/// ids appear (a run's ids are dense; a warm-up's first ids may never appear).
const PAGE: u64 = 256;

/// Which of a row's fields hold something: the stages seen, and the order's dimensions
/// the log has given so far (an order placed during a warm-up has no `order_placed`).
mod seen {
    pub const PLACED: u16 = 1;
    pub const PAID: u16 = 1 << 1;
    pub const CANCELLED: u16 = 1 << 2;
    pub const DISPATCHED: u16 = 1 << 3;
    pub const HUB_ARRIVED: u16 = 1 << 4;
    pub const HUB_DEPARTED: u16 = 1 << 5;
    pub const LINEHAUL_DEPARTED: u16 = 1 << 6;
    pub const CUSTOMS_CLEARED: u16 = 1 << 7;
    pub const DELIVERED: u16 = 1 << 8;
    pub const RETURNED: u16 = 1 << 9;
    pub const REFUSED: u16 = 1 << 10;
    pub const SELLER_PAID: u16 = 1 << 11;
    pub const METHOD: u16 = 1 << 12;
    pub const SELLER: u16 = 1 << 13;
    pub const VALUE: u16 = 1 << 14;
    /// Stages on the way: an order with one of them and no end is in flight (`status`).
    pub const IN_FLIGHT_STAGES: u16 = PLACED
        | PAID
        | DISPATCHED
        | HUB_ARRIVED
        | HUB_DEPARTED
        | LINEHAUL_DEPARTED
        | CUSTOMS_CLEARED;
}

/// One order: times in seconds since the start, money in cents. Stages that never
/// happen to the same order share a field (a cancelled order is never dispatched, a
/// refused one never delivered), told apart by `seen`.
#[derive(Debug, Clone, Copy, Default)]
struct Row {
    /// Placement: from `order_placed`, else (an order of the warm-up) from its delivery
    /// less its lead time, so negative; known when delivered or `seen::PLACED`.
    placed: i32,
    paid: u32,
    dispatched_or_cancelled: u32,
    hub_arrived: u32,
    hub_departed: u32,
    linehaul_departed: u32,
    customs_cleared: u32,
    delivered_or_refused: u32,
    returned: u32,
    seller_paid: u32,
    seller: u32,
    value: u32,
    duty: u32,
    vat: u32,
    /// Out at dispatch, and back on a refusal or a return.
    freight: u32,
    hub_fee: u32,
    finance_fee: u32,
    payment_fees: u32,
    commission: u32,
    cod: u32,
    seen: u16,
    route: u8,
    category: u8,
    method: u8,
    /// The highest payment attempt seen.
    attempts: u8,
}

/// Bytes held per order, as the cost estimate counts them.
const _: () = assert!(
    std::mem::size_of::<Row>() as f64 <= crate::model::cost::BYTES_PER_ORDER_ROW
        && std::mem::size_of::<Row>() == 88
);

impl Row {
    #[inline]
    fn observe(&mut self, e: &Event) {
        let t = e.time_s;
        self.route = e.route.0;
        match e.kind {
            EventKind::OrderPlaced {
                seller,
                category,
                method,
                value_cents,
            } => {
                self.placed = t as i32;
                self.category = category.0;
                self.dimensions(seller, method.0, value_cents);
                self.seen |= seen::PLACED;
            }
            EventKind::PaymentAttempted {
                method,
                attempt,
                success,
            } => {
                self.method = method.0;
                self.attempts = self.attempts.max(attempt);
                self.seen |= seen::METHOD;
                if success {
                    self.paid = t;
                    self.seen |= seen::PAID;
                }
            }
            EventKind::OrderCancelled {
                seller,
                method,
                value_cents,
                attempts,
            } => {
                self.dimensions(seller, method.0, value_cents);
                self.attempts = self.attempts.max(attempts);
                self.dispatched_or_cancelled = t;
                self.seen |= seen::CANCELLED;
            }
            EventKind::Dispatched {
                seller,
                value_cents,
                freight_cents,
            } => {
                self.seller = seller;
                self.value = value_cents;
                self.freight = self.freight.saturating_add(freight_cents);
                self.dispatched_or_cancelled = t;
                self.seen |= seen::DISPATCHED | seen::SELLER | seen::VALUE;
            }
            EventKind::HubArrived { .. } => {
                self.hub_arrived = t;
                self.seen |= seen::HUB_ARRIVED;
            }
            EventKind::HubDeparted {
                seller,
                fee_cents,
                finance_cents,
                ..
            } => {
                self.seller = seller;
                self.hub_fee = self.hub_fee.saturating_add(fee_cents);
                self.finance_fee = self.finance_fee.saturating_add(finance_cents);
                self.hub_departed = t;
                self.seen |= seen::HUB_DEPARTED | seen::SELLER;
            }
            EventKind::LinehaulDeparted { .. } => {
                self.linehaul_departed = t;
                self.seen |= seen::LINEHAUL_DEPARTED;
            }
            EventKind::CustomsCleared {
                duty_cents,
                vat_cents,
                ..
            } => {
                self.duty = self.duty.saturating_add(duty_cents);
                self.vat = self.vat.saturating_add(vat_cents);
                self.customs_cleared = t;
                self.seen |= seen::CUSTOMS_CLEARED;
            }
            EventKind::Delivered {
                lead_s,
                collected_cents,
            } => {
                // `order_placed` gives the same time where the log has it, whichever
                // comes first.
                if self.seen & seen::PLACED == 0 {
                    self.placed = (i64::from(t) - i64::from(lead_s))
                        .clamp(i32::MIN.into(), i32::MAX.into())
                        as i32;
                }
                self.cod = self.cod.saturating_add(collected_cents);
                self.delivered_or_refused = t;
                self.seen |= seen::DELIVERED;
            }
            EventKind::Refused {
                seller,
                method,
                value_cents,
                freight_cents,
            } => {
                self.dimensions(seller, method.0, value_cents);
                self.freight = self.freight.saturating_add(freight_cents);
                self.delivered_or_refused = t;
                self.seen |= seen::REFUSED;
            }
            EventKind::Returned {
                seller,
                value_cents,
                freight_cents,
            } => {
                self.seller = seller;
                self.value = value_cents;
                self.freight = self.freight.saturating_add(freight_cents);
                self.returned = t;
                self.seen |= seen::RETURNED | seen::SELLER | seen::VALUE;
            }
            EventKind::SellerPaid {
                seller,
                method,
                value_cents,
                commission_cents,
                fee_cents,
                ..
            } => {
                self.dimensions(seller, method.0, value_cents);
                self.commission = self.commission.saturating_add(commission_cents);
                self.payment_fees = self.payment_fees.saturating_add(fee_cents);
                self.seller_paid = t;
                self.seen |= seen::SELLER_PAID;
            }
        }
    }

    #[inline]
    fn dimensions(&mut self, seller: u32, method: u8, value_cents: u32) {
        self.seller = seller;
        self.method = method;
        self.value = value_cents;
        self.seen |= seen::SELLER | seen::METHOD | seen::VALUE;
    }

    fn has(&self, flag: u16) -> bool {
        self.seen & flag != 0
    }

    /// The time of a stage, if it happened in the log.
    fn at(&self, flag: u16, time_s: u32) -> Option<u32> {
        self.has(flag).then_some(time_s)
    }

    /// Where the order stood at the end of the run; `None` for an order of the
    /// warm-up whose only stage in the log is the seller's payment (its journey ended
    /// before the start, and the log does not say how).
    fn status(&self) -> Option<&'static str> {
        Some(if self.has(seen::CANCELLED) {
            "cancelled"
        } else if self.has(seen::REFUSED) {
            "refused"
        } else if self.has(seen::RETURNED) {
            "returned"
        } else if self.has(seen::DELIVERED) {
            "delivered"
        } else if self.has(seen::IN_FLIGHT_STAGES) || self.attempts > 0 {
            "in_flight"
        } else {
            return None;
        })
    }
}

/// Every order's row, by order id.
pub struct Orders {
    ctx: Context,
    pages: BTreeMap<u64, Box<[Row]>>,
    /// Most pages this machine may hold (a log's order ids are not bounded).
    max_pages: usize,
    /// The first order left out because `max_pages` were taken.
    left_out: Option<u64>,
}

impl Orders {
    pub fn new(ctx: &Context) -> Orders {
        let page_bytes = PAGE as f64 * std::mem::size_of::<Row>() as f64;
        Orders {
            ctx: ctx.clone(),
            pages: BTreeMap::new(),
            max_pages: (crate::model::cost::memory_budget() / page_bytes) as usize,
            left_out: None,
        }
    }

    #[inline]
    pub fn observe(&mut self, e: &Event) {
        let full = self.pages.len() >= self.max_pages;
        let page = match self.pages.entry(e.order_id / PAGE) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) if !full => v.insert(vec![Row::default(); PAGE as usize].into()),
            Entry::Vacant(_) => {
                self.left_out.get_or_insert(e.order_id);
                return;
            }
        };
        page[(e.order_id % PAGE) as usize].observe(e);
    }

    pub fn fold(&mut self, events: &[Event]) {
        for e in events {
            self.observe(e);
        }
    }

    /// Fails if orders were left out for want of memory.
    pub fn check(&self) -> Result<(), Error> {
        match self.left_out {
            None => Ok(()),
            Some(id) => Err(Error::BadInput(format!(
                "{ORDERS_CSV} cannot be made: the orders' ids spread over more than {} pages \
                 of {PAGE} ids (order {id} was the first left out), more than {:.1} GiB, the \
                 share of this machine's memory a run may take",
                self.max_pages,
                crate::model::cost::memory_budget() / f64::from(1 << 30)
            ))),
        }
    }

    /// Writes `orders.csv`: its header and a row per order, by order id. Pages of rows
    /// are formatted in parallel, a bounded batch at a time, and written in order.
    pub fn write_csv(&self, out: &mut dyn Write) -> io::Result<()> {
        use rayon::prelude::*;
        let clock = Clock {
            start: Date::parse(&self.ctx.start_date).expect("context start date"),
            offset: UtcOffset::parse(&self.ctx.utc_offset).expect("context UTC offset"),
        };
        writeln!(out, "{ORDERS_HEADER}")?;
        let pages: Vec<(&u64, &Box<[Row]>)> = self.pages.iter().collect();
        for batch in pages.chunks(PAGES_PER_TASK * rayon::current_num_threads() * 2) {
            let texts: Vec<String> = batch
                .par_chunks(PAGES_PER_TASK)
                .map(|pages| {
                    let mut text = String::new();
                    for (page, rows) in pages {
                        for (i, r) in rows.iter().enumerate().filter(|(_, r)| r.seen != 0) {
                            self.write_row(&mut text, *page * PAGE + i as u64, r, clock);
                        }
                    }
                    text
                })
                .collect();
            for text in texts {
                out.write_all(text.as_bytes())?;
            }
        }
        Ok(())
    }

    fn write_row(&self, l: &mut String, id: u64, r: &Row, clock: Clock) {
        let ctx = &self.ctx;
        let route = &ctx.routes[usize::from(r.route)];
        let market = &ctx.markets[usize::from(route.market)];
        let placed = r.has(seen::PLACED);
        let delivered = r.at(seen::DELIVERED, r.delivered_or_refused);
        let time = |l: &mut String, flag: u16, t: u32| number(l, r.has(flag).then_some(t.into()));
        number(l, Some(id));
        text(l, Some(&market.id));
        text(l, Some(&route.id));
        text(l, Some(&ctx.pools[usize::from(route.pool)].id));
        number(l, r.has(seen::SELLER).then_some(r.seller.into()));
        text(
            l,
            placed.then(|| ctx.categories[usize::from(r.category)].as_str()),
        );
        text(
            l,
            r.has(seen::METHOD)
                .then(|| market.methods[usize::from(r.method)].as_str()),
        );
        if r.has(seen::VALUE) {
            cents(l, r.value);
        } else {
            l.push(',');
        }
        let placed_time = || iso_time(clock.start, clock.offset, r.placed as u32);
        text(l, placed.then(placed_time).as_deref());
        time(l, seen::PLACED, r.placed as u32);
        time(l, seen::PAID, r.paid);
        time(l, seen::CANCELLED, r.dispatched_or_cancelled);
        time(l, seen::DISPATCHED, r.dispatched_or_cancelled);
        text(
            l,
            route
                .hub
                .map(|h| ctx.facilities[usize::from(h)].id.as_str()),
        );
        time(l, seen::HUB_ARRIVED, r.hub_arrived);
        time(l, seen::HUB_DEPARTED, r.hub_departed);
        time(l, seen::LINEHAUL_DEPARTED, r.linehaul_departed);
        time(l, seen::CUSTOMS_CLEARED, r.customs_cleared);
        time(l, seen::DELIVERED, r.delivered_or_refused);
        time(l, seen::RETURNED, r.returned);
        time(l, seen::REFUSED, r.delivered_or_refused);
        time(l, seen::SELLER_PAID, r.seller_paid);
        // An order of the warm-up may have made its attempts before the start.
        number(l, (placed || r.attempts > 0).then_some(r.attempts.into()));
        for c in [
            r.duty,
            r.vat,
            r.freight,
            r.hub_fee,
            r.payment_fees,
            r.commission,
            r.finance_fee,
            r.cod,
        ] {
            cents(l, c);
        }
        if let Some(d) = delivered {
            four_decimal_days(l, i64::from(d) - i64::from(r.placed));
        }
        l.push(',');
        l.push_str(r.status().unwrap_or_default());
        l.push('\n');
    }
}

/// Pages of rows one task formats (some 200 kB of text).
const PAGES_PER_TASK: usize = 4;

/// The scenario's clock, for `placed_time`.
#[derive(Clone, Copy)]
struct Clock {
    start: Date,
    offset: UtcOffset,
}

// Cells are written in place: formatting is most of the cost of writing the file.

/// A text cell and its comma; empty for `None`.
fn text(l: &mut String, value: Option<&str>) {
    l.push_str(value.unwrap_or_default());
    l.push(',');
}

/// A whole number and its comma; empty for `None`.
fn number(l: &mut String, value: Option<u64>) {
    if let Some(mut v) = value {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        l.push_str(std::str::from_utf8(&digits[at..]).expect("ASCII digits"));
    }
    l.push(',');
}

/// Cents as dollars with two decimals (as `usd`), and a comma.
fn cents(l: &mut String, cents: u32) {
    number(l, Some(u64::from(cents / 100)));
    l.pop();
    let c = (cents % 100) as u8;
    l.push('.');
    l.push(char::from(b'0' + c / 10));
    l.push(char::from(b'0' + c % 10));
    l.push(',');
}

/// Seconds as days with four decimals, as the tables write days (`{:.4}` of the `f64`),
/// in integers: the `f64` is within far less than the distance from any rounding tie
/// that is not one exactly, and an exact tie is left to the `f64` (no comma).
fn four_decimal_days(l: &mut String, seconds: i64) {
    let tenths_of_millis = seconds * 10_000;
    let (whole, rest) = (
        tenths_of_millis.div_euclid(i64::from(DAY_S)),
        tenths_of_millis.rem_euclid(i64::from(DAY_S)),
    );
    if seconds < 0 || 2 * rest == i64::from(DAY_S) {
        let _ = write!(l, "{:.4}", days(seconds as f64));
        return;
    }
    let rounded = whole + i64::from(2 * rest > i64::from(DAY_S));
    number(l, Some((rounded / 10_000) as u64));
    l.pop();
    let _ = write!(l, ".{:04}", rounded % 10_000);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Plan, RunParams, Sink};

    /// Every event of a run, in the log's order.
    #[derive(Default)]
    struct Collect(Vec<Event>);

    impl Sink for Collect {
        fn events(&mut self, events: &[Event]) -> Result<(), Error> {
            self.0.extend_from_slice(events);
            Ok(())
        }
    }

    /// The tiny test scenario's context and events (a warm-up, every kind of event).
    fn tiny() -> (Context, Vec<Event>) {
        let text = include_str!("../../tests/data/tiny.toml");
        let scenario = crate::scenario::load_str(text, "tiny.toml", None, &[]).unwrap();
        let params = RunParams {
            seed: scenario.seed,
            replication: 0,
            sample: 1.0,
        };
        let mut events = Collect::default();
        let stop = std::sync::atomic::AtomicBool::new(false);
        crate::engine::simulate(&scenario, params, &mut events, &stop).unwrap();
        (Plan::new(&scenario, params).context(), events.0)
    }

    fn csv_of(ctx: &Context, events: impl Iterator<Item = Event>) -> String {
        let mut orders = Orders::new(ctx);
        for e in events {
            orders.observe(&e);
        }
        orders.check().unwrap();
        let mut out = Vec::new();
        orders.write_csv(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_rows_are_the_same_whatever_the_order_the_events_come_in() {
        let (ctx, events) = tiny();
        let sorted = csv_of(&ctx, events.iter().copied());
        assert_eq!(sorted, csv_of(&ctx, events.iter().rev().copied()));
        // Interleaved as a run without the log may hand them over: in pieces, unsorted.
        let (even, odd): (Vec<_>, Vec<_>) =
            events.iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let interleaved = odd.into_iter().rev().chain(even).map(|(_, e)| *e);
        assert_eq!(sorted, csv_of(&ctx, interleaved));
    }

    #[test]
    fn a_row_per_order_of_the_log_by_order_id_each_with_every_column() {
        let (ctx, events) = tiny();
        let text = csv_of(&ctx, events.iter().copied());
        let mut lines = text.lines();
        let columns = ORDERS_HEADER.split(',').count();
        assert_eq!(lines.next(), Some(ORDERS_HEADER));
        let ids: Vec<u64> = lines
            .map(|l| {
                assert_eq!(l.split(',').count(), columns, "{l}");
                l.split(',').next().unwrap().parse().unwrap()
            })
            .collect();
        let mut in_log: Vec<u64> = events.iter().map(|e| e.order_id).collect();
        in_log.sort_unstable();
        in_log.dedup();
        assert_eq!(ids, in_log);
    }

    #[test]
    fn days_are_written_as_the_tables_write_them() {
        for seconds in (0..200_000i64).chain([-1, -86_399, 86_400 * 3_660 + 7]) {
            let mut l = String::new();
            four_decimal_days(&mut l, seconds);
            assert_eq!(l, format!("{:.4}", days(seconds as f64)), "{seconds} s");
        }
        let mut l = String::new();
        cents(&mut l, 123_405);
        number(&mut l, Some(0));
        number(&mut l, None);
        assert_eq!(l, "1234.05,0,,");
    }

    #[test]
    fn orders_past_the_memory_budget_are_an_error_naming_the_first_left_out() {
        let (ctx, events) = tiny();
        let mut orders = Orders::new(&ctx);
        orders.max_pages = 1;
        for e in &events {
            orders.observe(e);
        }
        let first_past = events
            .iter()
            .map(|e| e.order_id)
            .find(|&id| id / PAGE != events[0].order_id / PAGE)
            .expect("the tiny run spans two pages");
        let err = orders.check().unwrap_err().to_string();
        assert!(
            err.contains(&format!("order {first_past} was the first left out")),
            "{err}"
        );
    }
}
