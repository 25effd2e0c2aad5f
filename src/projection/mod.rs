//! Tables as pure folds over the event stream. The same `Tables` folds the live stream
//! during a run and a log file during `replay`, so both write the same bytes.
//!
//! Percentiles come from a log-linear histogram: exact below 256 s, and within 1/256
//! (0.4 %) of the true value above (the bucket's midpoint is reported).

mod facilities;
mod orders;
mod sellers;
mod summary;

pub use orders::{ORDERS_CSV, ORDERS_HEADER, Orders};
pub use summary::{EntityKind, Key, Summary, Value};

use std::fmt::Write as _;

use crate::event::context::{Context, tier_in};
use crate::event::{Event, EventKind};
use crate::model::date::DAY_S;
use crate::model::date::Date;

/// The CSV tables a run writes, in this order, each with its header.
pub const TABLES: [(&str, &str); 7] = [
    (
        "daily_markets.csv",
        "date,market,orders,cancelled,gmv_usd,payment_attempts,payment_failures,dispatched,duty_usd,vat_usd,inspected,delivered,returned,mean_lead_time_days,p95_lead_time_days,refused,refunds_usd,cleared",
    ),
    (
        "daily_facilities.csv",
        "date,facility,kind,lines,simulated_lines,capacity_parcels,arrived,departed,backlog,utilisation,mean_wait_hours,p95_wait_hours",
    ),
    (
        "payments.csv",
        "market,method,orders,attempts,failures,success_rate,cancelled,cancel_rate,abandoned,abandon_rate,refused,refusal_rate,fees_usd",
    ),
    (
        "sellers.csv",
        "sellers,market,tier,orders,cancelled,revenue_usd,order_share,revenue_share,gross_usd,commission_usd,payment_fees_usd,finance_fees_usd,freight_usd,hub_fees_usd,refunds_usd,net_usd,mean_days_to_cash,p95_days_to_cash,sellers_active,sellers_profitable",
    ),
    (
        "lead_times.csv",
        "market,route,delivered,mean_days,p50_days,p90_days,p95_days,p99_days,max_days",
    ),
    (
        "cashflow.csv",
        "date,sellers,market,dispatched,dispatched_usd,payouts_usd,freight_usd,hub_fees_usd,finance_fees_usd,refunds_usd,net_cash_usd,receivables_usd,cod_collected_usd,refused",
    ),
    ("summary.csv", SUMMARY_HEADER),
];

/// `summary.csv`'s header.
pub const SUMMARY_HEADER: &str = "entity,entity_kind,metric,value";

const SUB_BITS: u32 = 8;
const SUB: u64 = 1 << SUB_BITS;

/// Counts of non-negative integers in log-linear buckets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    counts: Vec<u64>,
    n: u64,
    sum: u64,
    max: u64,
}

impl Histogram {
    #[inline]
    fn bucket(v: u64) -> usize {
        if v < SUB {
            return v as usize;
        }
        let bits = 63 - v.leading_zeros();
        let shift = bits + 1 - SUB_BITS;
        (SUB + u64::from(shift - 1) * (SUB / 2) + ((v >> shift) - SUB / 2)) as usize
    }

    /// The midpoint of a bucket, as the value it reports.
    fn value_of(bucket: usize) -> f64 {
        let b = bucket as u64;
        if b < SUB {
            return b as f64;
        }
        let shift = (b - SUB) / (SUB / 2) + 1;
        let mantissa = (b - SUB) % (SUB / 2) + SUB / 2;
        let low = mantissa << shift;
        low as f64 + ((1u64 << shift) as f64 - 1.0) / 2.0
    }

    #[inline]
    pub fn add(&mut self, v: u64) {
        let b = Self::bucket(v);
        if b >= self.counts.len() {
            self.counts.resize(b + 1, 0);
        }
        self.counts[b] += 1;
        self.n += 1;
        self.sum += v;
        self.max = self.max.max(v);
    }

    pub fn count(&self) -> u64 {
        self.n
    }

    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum as f64 / self.n as f64)
    }

    pub fn max(&self) -> Option<u64> {
        (self.n > 0).then_some(self.max)
    }

    /// Nearest-rank percentile `p` in (0, 1], never above the exact maximum.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        let rank = ((p * self.n as f64).ceil() as u64).clamp(1, self.n);
        let mut seen = 0;
        for (b, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Self::value_of(b).min(self.max as f64));
            }
        }
        Some(self.max as f64)
    }
}

#[derive(Debug, Clone, Default)]
struct MarketDay {
    orders: u64,
    cancelled: u64,
    gmv_cents: i64,
    attempts: u64,
    failures: u64,
    dispatched: u64,
    duty_cents: u64,
    vat_cents: u64,
    inspected: u64,
    /// Parcels customs cleared (arrived in the market).
    cleared: u64,
    delivered: u64,
    returned: u64,
    lead: Histogram,
    refused: u64,
    refunds_cents: i64,
}

#[derive(Debug, Clone, Default)]
struct MethodStats {
    orders: u64,
    attempts: u64,
    failures: u64,
    cancelled: u64,
    abandoned: u64,
    refused: u64,
    fees_cents: i64,
}

/// Every table's running state.
pub struct Tables {
    ctx: Context,
    market_days: Vec<MarketDay>,
    facilities: facilities::Facilities,
    methods: Vec<Vec<MethodStats>>,
    /// Orders placed per day, market and method: index `day x method_count +
    /// method_offset[market] + method` (for targets on a payment mix over a period).
    method_days: Vec<u64>,
    method_offset: Vec<usize>,
    method_count: usize,
    /// Orders placed per day, market and seller pool: index `(day x markets + market) x
    /// pools + pool` (for targets on a pool's share).
    pool_days: Vec<u64>,
    books: sellers::Books,
    /// Per route, its seller pool.
    route_pools: Vec<u8>,
    route_leads: Vec<Histogram>,
    events: u64,
}

impl Tables {
    pub fn new(ctx: &Context) -> Tables {
        let days = ctx.span_days() as usize;
        Tables {
            market_days: vec![MarketDay::default(); days * ctx.markets.len()],
            facilities: facilities::Facilities::new(ctx),
            methods: ctx
                .markets
                .iter()
                .map(|m| vec![MethodStats::default(); m.methods.len()])
                .collect(),
            method_days: vec![0; days * ctx.markets.iter().map(|m| m.methods.len()).sum::<usize>()],
            method_offset: ctx
                .markets
                .iter()
                .scan(0, |acc, m| {
                    let at = *acc;
                    *acc += m.methods.len();
                    Some(at)
                })
                .collect(),
            method_count: ctx.markets.iter().map(|m| m.methods.len()).sum(),
            pool_days: vec![0; days * ctx.markets.len() * ctx.pools.len()],
            books: sellers::Books::new(ctx),
            route_pools: ctx.routes.iter().map(|r| r.pool).collect(),
            route_leads: vec![Histogram::default(); ctx.routes.len()],
            events: 0,
            ctx: ctx.clone(),
        }
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    #[inline]
    pub fn observe(&mut self, e: &Event) {
        self.events += 1;
        let day = (e.time_s / DAY_S) as usize;
        let m = e.market.ix();
        let pool = usize::from(self.route_pools[e.route.ix()]);
        self.books.observe(e, day, pool);
        let md = &mut self.market_days[day * self.ctx.markets.len() + m];
        match e.kind {
            EventKind::OrderPlaced {
                method,
                value_cents,
                ..
            } => {
                md.orders += 1;
                md.gmv_cents += i64::from(value_cents);
                self.methods[m][method.ix()].orders += 1;
                self.method_days[day * self.method_count + self.method_offset[m] + method.ix()] +=
                    1;
                self.pool_days[(day * self.ctx.markets.len() + m) * self.ctx.pools.len() + pool] +=
                    1;
            }
            EventKind::PaymentAttempted {
                method, success, ..
            } => {
                md.attempts += 1;
                let ms = &mut self.methods[m][method.ix()];
                ms.attempts += 1;
                if !success {
                    md.failures += 1;
                    ms.failures += 1;
                }
            }
            EventKind::OrderCancelled {
                method,
                value_cents,
                attempts,
                ..
            } => {
                md.cancelled += 1;
                md.gmv_cents -= i64::from(value_cents);
                let ms = &mut self.methods[m][method.ix()];
                ms.cancelled += 1;
                ms.abandoned += u64::from(attempts == 0);
            }
            EventKind::Dispatched { .. } => {
                md.dispatched += 1;
                self.facilities.observe(&self.ctx, e);
            }
            EventKind::HubArrived { .. }
            | EventKind::HubDeparted { .. }
            | EventKind::LinehaulDeparted { .. } => self.facilities.observe(&self.ctx, e),
            EventKind::CustomsCleared {
                duty_cents,
                vat_cents,
                inspected,
                ..
            } => {
                self.facilities.observe(&self.ctx, e);
                md.duty_cents += u64::from(duty_cents);
                md.vat_cents += u64::from(vat_cents);
                md.inspected += u64::from(inspected);
                md.cleared += 1;
            }
            EventKind::Delivered { lead_s, .. } => {
                md.delivered += 1;
                md.lead.add(u64::from(lead_s));
                self.route_leads[e.route.ix()].add(u64::from(lead_s));
            }
            EventKind::Returned { value_cents, .. } => {
                md.returned += 1;
                md.refunds_cents += i64::from(value_cents);
            }
            EventKind::Refused { method, .. } => {
                md.refused += 1;
                self.methods[m][method.ix()].refused += 1;
            }
            EventKind::SellerPaid {
                method, fee_cents, ..
            } => self.methods[m][method.ix()].fees_cents += i64::from(fee_cents),
        }
    }

    /// Folds a run of events, asking for each seller's account ahead of its event.
    pub fn fold(&mut self, events: &[Event]) {
        for (i, e) in events.iter().enumerate() {
            if let Some(ahead) = events.get(i + ACCOUNTS_AHEAD) {
                self.books
                    .prefetch(ahead, usize::from(self.route_pools[ahead.route.ix()]));
            }
            self.observe(e);
        }
    }

    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// One day's value of a `daily_markets.csv` column for a market, as a number
    /// (money in USD); `None` for an unknown column or an empty mean.
    pub fn daily_metric(&self, day: usize, market: usize, metric: &str) -> Option<f64> {
        let x = &self.market_days[day * self.ctx.markets.len() + market];
        Some(match metric {
            "orders" => x.orders as f64,
            "cancelled" => x.cancelled as f64,
            "gmv_usd" => x.gmv_cents as f64 / 100.0,
            "payment_attempts" => x.attempts as f64,
            "payment_failures" => x.failures as f64,
            "dispatched" => x.dispatched as f64,
            "duty_usd" => x.duty_cents as f64 / 100.0,
            "vat_usd" => x.vat_cents as f64 / 100.0,
            "inspected" => x.inspected as f64,
            "cleared" => x.cleared as f64,
            "delivered" => x.delivered as f64,
            "returned" => x.returned as f64,
            "refused" => x.refused as f64,
            "refunds_usd" => x.refunds_cents as f64 / 100.0,
            "mean_lead_time_days" => days(x.lead.mean()?),
            "p95_lead_time_days" => days(x.lead.percentile(0.95)?),
            _ => return None,
        })
    }

    /// Orders placed on `day` in `market` with payment method `method`.
    pub fn method_orders(&self, day: usize, market: usize, method: usize) -> u64 {
        self.method_days[day * self.method_count + self.method_offset[market] + method]
    }

    /// Orders placed on `day` in `market` with sellers of pool `pool`.
    pub fn pool_orders(&self, day: usize, market: usize, pool: usize) -> u64 {
        self.pool_days[(day * self.ctx.markets.len() + market) * self.ctx.pools.len() + pool]
    }

    /// Renders every table as CSV text, in `TABLES` order.
    pub fn render(&self) -> Vec<(&'static str, String)> {
        let start = Date::parse(&self.ctx.start_date).expect("context start date");
        let date = |d: usize| start.add_days(d as i64).to_string();
        let nm = self.ctx.markets.len();
        let mut out = Vec::new();

        let mut t = header(0);
        for d in 0..self.ctx.span_days() as usize {
            for (m, market) in self.ctx.markets.iter().enumerate() {
                let x = &self.market_days[d * nm + m];
                let _ = writeln!(
                    t,
                    "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    date(d),
                    market.id,
                    x.orders,
                    x.cancelled,
                    usd(x.gmv_cents),
                    x.attempts,
                    x.failures,
                    x.dispatched,
                    usd(x.duty_cents as i64),
                    usd(x.vat_cents as i64),
                    x.inspected,
                    x.delivered,
                    x.returned,
                    opt(x.lead.mean().map(days)),
                    opt(x.lead.percentile(0.95).map(days)),
                    x.refused,
                    usd(x.refunds_cents),
                    x.cleared,
                );
            }
        }
        out.push((TABLES[0].0, t));

        let mut t = header(1);
        self.facilities.render(&self.ctx, date, &mut t);
        out.push((TABLES[1].0, t));

        let mut t = header(2);
        for (m, market) in self.ctx.markets.iter().enumerate() {
            for (k, method) in market.methods.iter().enumerate() {
                let x = &self.methods[m][k];
                let _ = writeln!(
                    t,
                    "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    market.id,
                    method,
                    x.orders,
                    x.attempts,
                    x.failures,
                    opt(ratio(x.attempts - x.failures, x.attempts)),
                    x.cancelled,
                    opt(ratio(x.cancelled, x.orders)),
                    x.abandoned,
                    opt(ratio(x.abandoned, x.orders)),
                    x.refused,
                    opt(ratio(x.refused, x.orders)),
                    usd(x.fees_cents),
                );
            }
        }
        out.push((TABLES[2].0, t));

        let mut t = header(3);
        self.books.render_sellers(&self.ctx, &mut t);
        out.push((TABLES[3].0, t));

        let mut t = header(4);
        for (r, route) in self.ctx.routes.iter().enumerate() {
            let h = &self.route_leads[r];
            let _ = writeln!(
                t,
                "{},{},{},{},{},{},{},{},{}",
                self.ctx.markets[route.market as usize].id,
                route.id,
                h.count(),
                opt(h.mean().map(days)),
                opt(h.percentile(0.5).map(days)),
                opt(h.percentile(0.9).map(days)),
                opt(h.percentile(0.95).map(days)),
                opt(h.percentile(0.99).map(days)),
                opt(h.max().map(|v| days(v as f64))),
            );
        }
        out.push((TABLES[4].0, t));

        let mut t = header(5);
        self.books.render_cashflow(&self.ctx, date, &mut t);
        out.push((TABLES[5].0, t));

        let mut t = header(6);
        self.summary().write_rows(&mut t);
        out.push((TABLES[6].0, t));
        out
    }
}

/// Events ahead of the one being folded whose seller's account is asked for: the
/// accounts are too many for the caches, and each money event touches one at random.
const ACCOUNTS_AHEAD: usize = 16;

/// The tables are a sink of their own: a fold of counts and sums, so they need no order.
impl crate::engine::Sink for Tables {
    fn events(&mut self, events: &[Event]) -> Result<(), crate::Error> {
        self.fold(events);
        Ok(())
    }

    fn needs_order(&self) -> bool {
        false
    }
}

fn merge(into: &mut Histogram, from: &Histogram) {
    if from.counts.len() > into.counts.len() {
        into.counts.resize(from.counts.len(), 0);
    }
    for (a, b) in into.counts.iter_mut().zip(&from.counts) {
        *a += b;
    }
    into.n += from.n;
    into.sum += from.sum;
    into.max = into.max.max(from.max);
}

fn header(i: usize) -> String {
    format!("{}\n", TABLES[i].1)
}

/// Exact dollars from cents.
pub fn usd(cents: i64) -> String {
    Usd(cents).to_string()
}

/// Cents shown as exact dollars with two decimals (for a cell written in place).
pub struct Usd(pub i64);

impl std::fmt::Display for Usd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let c = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", c / 100, c % 100)
    }
}

fn days(seconds: f64) -> f64 {
    seconds / f64::from(DAY_S)
}

fn hours(seconds: f64) -> f64 {
    seconds / 3600.0
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Four decimals, or empty when there is nothing to measure.
fn opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.4}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_percentiles_are_within_the_documented_error() {
        let mut h = Histogram::default();
        let mut values: Vec<u64> = (0..100_000u64).map(|i| (i * 7919) % 3_000_000).collect();
        for v in &values {
            h.add(*v);
        }
        values.sort_unstable();
        for p in [0.5, 0.9, 0.95, 0.99, 1.0] {
            let exact = values
                [((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1]
                as f64;
            let got = h.percentile(p).unwrap();
            assert!(
                (got - exact).abs() <= exact / 256.0 + 0.5,
                "p{p}: {got} vs {exact}"
            );
        }
        for v in [0u64, 1, 255, 256, 257, 1000, 65_535, u32::MAX as u64] {
            let b = Histogram::bucket(v);
            let mid = Histogram::value_of(b);
            assert!(
                (mid - v as f64).abs() <= v as f64 / 256.0 + 0.5,
                "{v} -> {mid}"
            );
        }
    }

    #[test]
    fn dollars_are_exact() {
        assert_eq!(usd(0), "0.00");
        assert_eq!(usd(123_456), "1234.56");
        assert_eq!(usd(-5), "-0.05");
    }
}
