//! The headline metrics of a run (`summary.csv`), typed: counts, money in cents and
//! decimals, each shown as the table writes it.

use std::fmt;

use super::*;

/// One headline metric's value.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A whole count (orders, parcels, events).
    Count(i64),
    /// Money in US cents, shown as dollars with two decimals.
    Usd(i64),
    /// A measured quantity shown with four decimals (days, hours, a share); `None` where
    /// there was nothing to measure (shown empty).
    Decimal(Option<f64>),
}

impl Value {
    /// The number as the table shows it (four decimals for a `Decimal`), so that what
    /// `compare` averages is what the files hold; `None` for an empty cell.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Count(n) => Some(*n as f64),
            Value::Usd(cents) => Some(*cents as f64 / 100.0),
            Value::Decimal(v) => v.map(|v| format!("{v:.4}").parse().expect("a number")),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Count(n) => write!(f, "{n}"),
            Value::Usd(cents) => f.write_str(&usd(*cents)),
            Value::Decimal(Some(v)) => write!(f, "{v:.4}"),
            Value::Decimal(None) => Ok(()),
        }
    }
}

/// The headline metrics, in the order of `summary.csv`: per market (`RU.orders`, ...),
/// over all markets (`all.orders`, ...), per seller pool (`MY-SME.net_usd`, ...), per hub
/// (`MY-DFTZ.arrived`, ...), `all.events`.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary(Vec<(String, Value)>);

impl Summary {
    /// The metric called `name`.
    pub fn get(&self, name: &str) -> Option<Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// Every metric, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Value)> {
        self.0.iter().map(|(n, v)| (n.as_str(), *v))
    }
}

impl Tables {
    /// Headline metrics, the rows of `summary.csv` and what `compare` works on.
    pub fn summary(&self) -> Summary {
        let nm = self.ctx.markets.len();
        let days = self.ctx.span_days() as usize;
        let mut rows = Vec::new();
        let mut all = MarketDay::default();
        for (m, market) in self.ctx.markets.iter().enumerate() {
            let mut x = MarketDay::default();
            for d in 0..days {
                let y = &self.market_days[d * nm + m];
                add_market_day(&mut x, y);
            }
            add_market_day(&mut all, &x);
            push_market(&mut rows, &market.id, &x);
        }
        push_market(&mut rows, "all", &all);
        for (p, pool) in self.ctx.pools.iter().enumerate() {
            let mut x = sellers::TierBooks::default();
            for m in 0..nm {
                x.add(&self.books.all_tiers(p, m));
            }
            let id = &pool.id;
            rows.push((format!("{id}.orders"), Value::Count(x.orders as i64)));
            rows.push((format!("{id}.revenue_usd"), Value::Usd(x.revenue_cents)));
            rows.push((format!("{id}.net_usd"), Value::Usd(x.net_cents())));
            rows.push((
                format!("{id}.mean_days_to_cash"),
                Value::Decimal(x.to_cash_days()),
            ));
        }
        self.facilities.summary(&self.ctx, &mut rows);
        rows.push(("all.events".to_string(), Value::Count(self.events as i64)));
        Summary(rows)
    }
}

fn add_market_day(x: &mut MarketDay, y: &MarketDay) {
    x.orders += y.orders;
    x.cancelled += y.cancelled;
    x.gmv_cents += y.gmv_cents;
    x.attempts += y.attempts;
    x.failures += y.failures;
    x.dispatched += y.dispatched;
    x.duty_cents += y.duty_cents;
    x.vat_cents += y.vat_cents;
    x.inspected += y.inspected;
    x.cleared += y.cleared;
    x.delivered += y.delivered;
    x.returned += y.returned;
    merge(&mut x.lead, &y.lead);
    x.refused += y.refused;
    x.refunds_cents += y.refunds_cents;
}

fn push_market(rows: &mut Vec<(String, Value)>, id: &str, x: &MarketDay) {
    // Signed: a log not written by a run (replayed from anywhere) may end orders it
    // never placed.
    let in_flight = x.orders as i64 - x.cancelled as i64 - x.delivered as i64 - x.refused as i64;
    let r = |name: &str, v: Value| (format!("{id}.{name}"), v);
    rows.extend([
        r("orders", Value::Count(x.orders as i64)),
        r("cancelled", Value::Count(x.cancelled as i64)),
        r("gmv_usd", Value::Usd(x.gmv_cents)),
        r("payment_attempts", Value::Count(x.attempts as i64)),
        r("payment_failures", Value::Count(x.failures as i64)),
        r("duty_usd", Value::Usd(x.duty_cents as i64)),
        r("vat_usd", Value::Usd(x.vat_cents as i64)),
        r("inspected", Value::Count(x.inspected as i64)),
        r("delivered", Value::Count(x.delivered as i64)),
        r("returned", Value::Count(x.returned as i64)),
        r("refused", Value::Count(x.refused as i64)),
        r("refunds_usd", Value::Usd(x.refunds_cents)),
        r("in_flight", Value::Count(in_flight)),
        r(
            "mean_lead_time_days",
            Value::Decimal(x.lead.mean().map(days)),
        ),
        r(
            "p95_lead_time_days",
            Value::Decimal(x.lead.percentile(0.95).map(days)),
        ),
    ]);
}
