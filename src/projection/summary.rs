//! The headline metrics of a run (`summary.csv`), typed: counts, money in cents and
//! decimals, each shown as the table writes it.

use std::fmt::{self, Write as _};

use super::*;
use crate::event::context::FacilityKind;
use crate::model::rules::ALL;

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

/// What kind of entity a headline metric is about: with the entity's id it names the
/// entity, so that the exchange office of `RU` and the market `RU` are told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EntityKind {
    Market,
    /// Over all markets (entity `all`).
    All,
    /// A seller pool over all markets.
    Sellers,
    Hub,
    /// A route's line-hauls (entity `SELLERS:MARKET`).
    Linehaul,
    /// A market's exchange office (entity the market's id).
    Exchange,
}

impl EntityKind {
    /// As `summary.csv` writes it in `entity_kind`.
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Market => "market",
            EntityKind::All => "all",
            EntityKind::Sellers => "sellers",
            EntityKind::Hub => "hub",
            EntityKind::Linehaul => "linehaul",
            EntityKind::Exchange => "exchange",
        }
    }

    /// The kind `name` writes.
    pub fn parse(name: &str) -> Option<EntityKind> {
        [
            EntityKind::Market,
            EntityKind::All,
            EntityKind::Sellers,
            EntityKind::Hub,
            EntityKind::Linehaul,
            EntityKind::Exchange,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }

    /// An entity of this kind as people read it on the terminal: its id (`RU`,
    /// `MY-DFTZ`, `all`), a line-haul's and an exchange office's behind their kind
    /// (`linehaul.CN:RU`, `exchange.RU`) so that they are not taken for a market.
    pub fn label(self, entity: &str) -> String {
        match self {
            EntityKind::Linehaul | EntityKind::Exchange => format!("{}.{entity}", self.name()),
            _ => entity.to_string(),
        }
    }
}

impl From<FacilityKind> for EntityKind {
    fn from(kind: FacilityKind) -> Self {
        match kind {
            FacilityKind::Hub => EntityKind::Hub,
            FacilityKind::Linehaul => EntityKind::Linehaul,
            FacilityKind::Exchange => EntityKind::Exchange,
        }
    }
}

/// Which headline metric: the entity it is about and what is measured (`orders`,
/// `arrived`, ...). Unique within a summary.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub kind: EntityKind,
    /// The entity's id (`RU`, `MY-SME`, `CN:RU`), or `all`.
    pub entity: String,
    pub metric: &'static str,
}

impl Key {
    /// The entity as people read it on the terminal (see `EntityKind::label`).
    pub fn label(&self) -> String {
        self.kind.label(&self.entity)
    }

    /// The metric's dotted name on the terminal: `RU.orders`, `all.events`,
    /// `linehaul.CN:RU.arrived`.
    pub fn name(&self) -> String {
        format!("{}.{}", self.label(), self.metric)
    }
}

/// The headline metrics, in the order of `summary.csv`: per market, over all markets,
/// per seller pool, per facility (hubs, line-hauls, exchange offices), then the events.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary(Vec<(Key, Value)>);

impl Summary {
    /// The `metric` of the entity of `kind` called `entity`.
    pub fn get(&self, kind: EntityKind, entity: &str, metric: &str) -> Option<Value> {
        self.0
            .iter()
            .find(|(k, _)| k.kind == kind && k.entity == entity && k.metric == metric)
            .map(|(_, v)| *v)
    }

    /// Every metric, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, Value)> {
        self.0.iter().map(|(k, v)| (k, *v))
    }

    /// The summary `text` (`summary.csv`, header first) holds, read with the keys and the
    /// kinds of value of `template` (a summary of the same scenario): exactly what the
    /// file shows, so a comparison folded from files is the one folded from the runs.
    pub fn read_like(template: &Summary, text: &str) -> Result<Summary, String> {
        let mut lines = text.lines();
        if lines.next() != Some(super::SUMMARY_HEADER) {
            return Err("not a summary.csv (its header differs)".to_string());
        }
        let mut rows = Vec::with_capacity(template.0.len());
        for (i, (key, kind)) in template.0.iter().enumerate() {
            let line = lines.next().ok_or(format!("ends before row {}", i + 2))?;
            let want = format!("{},{},{},", key.entity, key.kind.name(), key.metric);
            let text = line
                .strip_prefix(&want)
                .ok_or(format!("row {}: expected {want}..., found {line}", i + 2))?;
            let bad = || format!("row {}: `{text}` is not a value of {}", i + 2, key.name());
            let value = match kind {
                Value::Count(_) => Value::Count(text.parse().map_err(|_| bad())?),
                Value::Usd(_) => {
                    let (sign, digits) = match text.strip_prefix('-') {
                        Some(rest) => (-1, rest),
                        None => (1, text),
                    };
                    let (whole, cents) = digits.split_once('.').ok_or_else(bad)?;
                    let whole: i64 = whole.parse().map_err(|_| bad())?;
                    if cents.len() != 2 {
                        return Err(bad());
                    }
                    let cents: i64 = cents.parse().map_err(|_| bad())?;
                    Value::Usd(sign * (whole * 100 + cents))
                }
                Value::Decimal(_) if text.is_empty() => Value::Decimal(None),
                Value::Decimal(_) => Value::Decimal(Some(text.parse().map_err(|_| bad())?)),
            };
            rows.push((key.clone(), value));
        }
        if let Some(extra) = lines.next() {
            return Err(format!("a row more than the scenario has: {extra}"));
        }
        Ok(Summary(rows))
    }

    /// `summary.csv`'s rows (`entity,entity_kind,metric,value`), each with a line break;
    /// the ids are names, which hold no comma or quote (`rules::name`).
    pub fn write_rows(&self, out: &mut String) {
        for (k, value) in &self.0 {
            let _ = writeln!(out, "{},{},{},{value}", k.entity, k.kind.name(), k.metric);
        }
    }
}

/// Collects the rows of one entity.
pub(super) struct EntityRows<'a> {
    rows: &'a mut Vec<(Key, Value)>,
    kind: EntityKind,
    entity: &'a str,
}

impl<'a> EntityRows<'a> {
    pub(super) fn of(rows: &'a mut Vec<(Key, Value)>, kind: EntityKind, entity: &'a str) -> Self {
        EntityRows { rows, kind, entity }
    }

    pub(super) fn push(&mut self, metric: &'static str, value: Value) {
        let key = Key {
            kind: self.kind,
            entity: self.entity.to_string(),
            metric,
        };
        self.rows.push((key, value));
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
            push_market(
                EntityRows::of(&mut rows, EntityKind::Market, &market.id),
                &x,
            );
        }
        push_market(EntityRows::of(&mut rows, EntityKind::All, ALL), &all);
        for (p, pool) in self.ctx.pools.iter().enumerate() {
            let mut x = sellers::TierBooks::default();
            for m in 0..nm {
                x.add(&self.books.all_tiers(p, m));
            }
            let mut r = EntityRows::of(&mut rows, EntityKind::Sellers, &pool.id);
            r.push("orders", Value::Count(x.orders as i64));
            r.push("revenue_usd", Value::Usd(x.revenue_cents));
            r.push("net_usd", Value::Usd(x.net_cents()));
            r.push("mean_days_to_cash", Value::Decimal(x.to_cash_days()));
        }
        self.facilities.summary(&self.ctx, &mut rows);
        EntityRows::of(&mut rows, EntityKind::All, ALL)
            .push("events", Value::Count(self.events as i64));
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

fn push_market(mut r: EntityRows, x: &MarketDay) {
    // Signed: a log not written by a run (replayed from anywhere) may end orders it
    // never placed.
    let in_flight = x.orders as i64 - x.cancelled as i64 - x.delivered as i64 - x.refused as i64;
    r.push("orders", Value::Count(x.orders as i64));
    r.push("cancelled", Value::Count(x.cancelled as i64));
    r.push("gmv_usd", Value::Usd(x.gmv_cents));
    r.push("payment_attempts", Value::Count(x.attempts as i64));
    r.push("payment_failures", Value::Count(x.failures as i64));
    r.push("duty_usd", Value::Usd(x.duty_cents as i64));
    r.push("vat_usd", Value::Usd(x.vat_cents as i64));
    r.push("inspected", Value::Count(x.inspected as i64));
    r.push("delivered", Value::Count(x.delivered as i64));
    r.push("returned", Value::Count(x.returned as i64));
    r.push("refused", Value::Count(x.refused as i64));
    r.push("refunds_usd", Value::Usd(x.refunds_cents));
    r.push("in_flight", Value::Count(in_flight));
    r.push(
        "mean_lead_time_days",
        Value::Decimal(x.lead.mean().map(days)),
    );
    r.push(
        "p95_lead_time_days",
        Value::Decimal(x.lead.percentile(0.95).map(days)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The terminal's names keep a line-haul and an exchange office apart from a market
    /// or hub of the same id, as the columns do.
    #[test]
    fn a_summary_reads_back_as_written() {
        let key = |kind, entity: &str, metric| Key {
            kind,
            entity: entity.to_string(),
            metric,
        };
        let summary = Summary(vec![
            (key(EntityKind::Market, "RU", "orders"), Value::Count(12)),
            (key(EntityKind::Sellers, "MY", "net_usd"), Value::Usd(-5)),
            (
                key(EntityKind::Sellers, "MY", "revenue_usd"),
                Value::Usd(123_456),
            ),
            (
                key(EntityKind::Hub, "H", "mean_wait_hours"),
                Value::Decimal(Some(0.25)),
            ),
            (
                key(EntityKind::Hub, "H", "p95_wait_hours"),
                Value::Decimal(None),
            ),
        ]);
        let mut text = format!("{}\n", super::super::SUMMARY_HEADER);
        summary.write_rows(&mut text);
        assert_eq!(Summary::read_like(&summary, &text), Ok(summary.clone()));
        let wrong = text.replace("RU,market,orders,12", "RU,market,orders,x");
        assert!(
            Summary::read_like(&summary, &wrong)
                .unwrap_err()
                .contains("RU.orders")
        );
        let short = text.replace("H,hub,p95_wait_hours,\n", "");
        assert!(Summary::read_like(&summary, &short).is_err());
    }

    #[test]
    fn dotted_names_put_line_hauls_and_exchange_offices_behind_their_kind() {
        let key = |kind, entity: &str, metric| Key {
            kind,
            entity: entity.to_string(),
            metric,
        };
        let names = [
            key(EntityKind::Market, "RU", "orders"),
            key(EntityKind::Exchange, "RU", "arrived"),
            key(EntityKind::Hub, "RU", "arrived"),
            key(EntityKind::Linehaul, "CN:RU", "arrived"),
            key(EntityKind::All, ALL, "events"),
        ]
        .map(|k| k.name());
        assert_eq!(
            names,
            [
                "RU.orders",
                "exchange.RU.arrived",
                "RU.arrived",
                "linehaul.CN:RU.arrived",
                "all.events"
            ]
        );
    }
}
