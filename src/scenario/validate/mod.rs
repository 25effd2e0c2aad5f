//! Raw scenario -> `model::Scenario`, collecting every problem with its entity path.

mod calendar;
mod entities;
mod uncertain;

use calendar::Dated;
use std::collections::BTreeSet;

use toml::Value;

use super::Problems;
use super::dist;
use super::raw::*;
use crate::model::cost::number;
use crate::model::date::DAY_S;
use crate::model::date::{Date, UtcOffset};
use crate::model::dist::{Dist, Quantity};
use crate::model::rules::{self, MAX_DAYS, MAX_ENTITIES, MAX_FEE_USD, MAX_LIST, MAX_WARMUP_DAYS};
use crate::model::*;

const MAX_PAYMENT_ATTEMPTS: i64 = 20;

/// Validates the scenario file as written: every dated entry must lie inside its horizon.
pub fn validate(raw: &RawScenario) -> Result<Scenario, Problems> {
    validate_within(raw, None)
}

/// Validates an overridden scenario. `as_written` is the horizon of the file before the
/// overrides (its first and last dates): a dated entry of the file that falls outside a
/// horizon an override moved is left out, not refused (so a shorter run of a file works),
/// while a date outside both horizons is still an error (a typo, most likely).
pub fn validate_within(
    raw: &RawScenario,
    as_written: Option<(Date, Date)>,
) -> Result<Scenario, Problems> {
    let mut v = Validator {
        as_written,
        ..Validator::default()
    };
    let scenario = v.scenario(raw);
    match scenario {
        Some(s) if v.problems.is_empty() => Ok(s),
        _ => Err(v.problems),
    }
}

#[derive(Default)]
struct Validator {
    problems: Problems,
    start: Option<Date>,
    days: u32,
    /// The horizon of the file as written, when validating overrides of it.
    as_written: Option<(Date, Date)>,
}

impl Validator {
    fn err(&mut self, path: &str, message: impl Into<String>) {
        self.problems.add(path, message);
    }

    fn positive(&mut self, path: &str, value: f64) -> f64 {
        if !(value.is_finite() && value > 0.0) {
            self.err(path, format!("must be a positive number, found {value}"));
        }
        value
    }

    fn non_negative(&mut self, path: &str, value: f64) -> f64 {
        if !(value.is_finite() && value >= 0.0) {
            self.err(path, format!("must not be negative, found {value}"));
        }
        value
    }

    /// A fee or price in US dollars: not negative, and at most `MAX_FEE_USD` so that
    /// every amount fits the log's cents.
    fn money(&mut self, path: &str, value: f64) -> f64 {
        if !(value.is_finite() && (0.0..=MAX_FEE_USD).contains(&value)) {
            self.err(
                path,
                format!("expected an amount from 0 to {MAX_FEE_USD} USD, found {value}"),
            );
        }
        value
    }

    fn probability(&mut self, path: &str, value: f64) -> f64 {
        if !(0.0..=1.0).contains(&value) {
            self.err(
                path,
                format!("{value} is not a probability (expected a number in [0, 1])"),
            );
        }
        value
    }

    fn count(&mut self, path: &str, value: i64, min: i64, max: i64) -> u32 {
        if value < min || value > max {
            self.err(
                path,
                format!("must be a whole number from {min} to {max}, found {value}"),
            );
            return min.max(0) as u32;
        }
        value as u32
    }

    fn dist(&mut self, path: &str, value: &Value, quantity: Quantity) -> Dist {
        dist::parse(value, path, quantity, &mut self.problems)
            .unwrap_or_else(|| Dist::constant(0.0))
    }

    fn optional_dist(
        &mut self,
        path: &str,
        value: Option<&Value>,
        quantity: Quantity,
        needed: Option<&str>,
    ) -> Dist {
        match (value, needed) {
            (Some(v), _) => self.dist(path, v, quantity),
            (None, Some(why)) => {
                self.err(path, format!("missing: required because {why}"));
                Dist::constant(0.0)
            }
            (None, None) => Dist::constant(0.0),
        }
    }

    /// A date inside the horizon, as a day index from the start.
    fn shares_sum_to_one(&mut self, path: &str, shares: impl Iterator<Item = f64>) {
        if let Err(e) = rules::sum_to_one(shares) {
            self.err(path, e);
        }
    }

    /// Names that appear in override paths and CSV cells (see `rules::name`).
    fn usable_name(&mut self, path: &str, name: &str) -> bool {
        match rules::name(name) {
            Ok(()) => true,
            Err(e) => {
                self.err(path, e);
                false
            }
        }
    }

    /// Names that also name output directories (see `rules::file_name`).
    fn file_name(&mut self, path: &str, name: &str) -> bool {
        match rules::file_name(name) {
            Ok(()) => true,
            Err(e) => {
                self.err(path, e);
                false
            }
        }
    }

    fn not_reserved(&mut self, path: &str, name: &str) {
        if let Err(e) = rules::not_reserved(name) {
            self.err(path, e);
        }
    }

    /// Checks every list's length before anything is done per entry, so a file with a
    /// million markets is refused at once. False if any list is too long.
    fn list_lengths(&mut self, raw: &RawScenario) -> bool {
        // Checked again here: an override may replace a whole list.
        let lengths = [
            raw.hub.len(),
            raw.market.len(),
            raw.sellers.len(),
            raw.route.len(),
            raw.peak.len(),
            raw.variant.len(),
            raw.target.len(),
            raw.change.len(),
        ];
        let mut fine = true;
        for ((kind, max), len) in rules::TOP_LEVEL_LIMITS.into_iter().zip(lengths) {
            if len > max {
                self.err(
                    kind,
                    format!("at most {max} [[{kind}]] entries are supported, found {len}"),
                );
                fine = false;
            }
        }
        let nested = raw
            .hub
            .iter()
            .map(|h| {
                (
                    format!("hub.{}.capacity_changes", h.id),
                    h.capacity_changes.len(),
                    MAX_LIST,
                )
            })
            .chain(raw.market.iter().flat_map(|m| {
                [
                    (
                        format!("market.{}.payment", m.id),
                        m.payment.len(),
                        MAX_ENTITIES,
                    ),
                    (
                        format!("market.{}.categories", m.id),
                        m.categories.len(),
                        MAX_ENTITIES,
                    ),
                    (
                        format!("market.{}.sources", m.id),
                        m.sources.len(),
                        MAX_ENTITIES,
                    ),
                ]
            }))
            .chain(raw.sellers.iter().flat_map(|s| {
                [
                    (
                        format!("sellers.{}.size_tiers", s.id),
                        s.size_tiers.len(),
                        MAX_ENTITIES,
                    ),
                    (
                        format!("sellers.{}.order_value", s.id),
                        s.order_value.len(),
                        MAX_ENTITIES,
                    ),
                ]
            }))
            .chain(
                raw.variant
                    .iter()
                    .map(|v| (format!("variant.{}.set", v.name), v.set.len(), MAX_LIST)),
            );
        for (path, len, max) in nested {
            if len > max {
                self.err(
                    &path,
                    format!("at most {max} entries are supported, found {len}"),
                );
                fine = false;
            }
        }
        fine
    }

    /// Checks ids are usable in override paths and unique; returns them in order.
    fn ids<'a>(&mut self, kind: &str, ids: impl Iterator<Item = &'a str>) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (i, id) in ids.enumerate() {
            let path = format!("{kind}[{i}].id");
            if !self.usable_name(&path, id) {
            } else if !seen.insert(id) {
                self.err(&path, format!("duplicate id \"{id}\""));
            }
            out.push(id.to_string());
        }
        out
    }

    fn scenario(&mut self, raw: &RawScenario) -> Option<Scenario> {
        if !self.list_lengths(raw) {
            return None;
        }
        let header = &raw.scenario;
        self.file_name("scenario.name", &header.name);
        self.start = Date::parse(&header.start_date);
        if self.start.is_none() {
            self.err(
                "scenario.start_date",
                format!(
                    "expected a date YYYY-MM-DD, found \"{}\"",
                    header.start_date
                ),
            );
        }
        let utc_offset = self.utc_offset(header.utc_offset.as_deref());
        self.days = self.count("scenario.days", header.days, 1, i64::from(MAX_DAYS));
        let drain_days = self.count(
            "scenario.drain_days",
            header.drain_days,
            0,
            i64::from(MAX_DAYS),
        );
        let warmup_days = self.count(
            "scenario.warmup_days",
            header.warmup_days,
            0,
            i64::from(MAX_WARMUP_DAYS),
        );
        if let Some(start) = self.start
            && let Err(e) = rules::horizon(
                start.add_days(-i64::from(warmup_days)),
                self.days
                    .saturating_add(drain_days)
                    .saturating_add(warmup_days),
            )
        {
            let e = match (warmup_days, drain_days) {
                (0, 0) => e,
                (0, d) => format!("{e} (with drain_days {d})"),
                (w, d) => format!("{e} (with warmup_days {w} and drain_days {d})"),
            };
            self.err("scenario.start_date", e);
            self.start = None;
        }

        let hub_ids = self.ids("hub", raw.hub.iter().map(|h| h.id.as_str()));
        let market_ids = self.ids("market", raw.market.iter().map(|m| m.id.as_str()));
        for (i, id) in market_ids.iter().enumerate() {
            self.not_reserved(&format!("market[{i}].id"), id);
        }
        let pool_ids = self.ids("sellers", raw.sellers.iter().map(|s| s.id.as_str()));
        if raw.market.is_empty() {
            self.err("market", "the scenario needs at least one [[market]]");
        }
        if raw.sellers.is_empty() {
            self.err(
                "sellers",
                "the scenario needs at least one [[sellers]] pool",
            );
        }
        let categories: Vec<String> = raw
            .market
            .iter()
            .flat_map(|m| m.categories.keys().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if categories.len() > MAX_ENTITIES {
            self.err(
                "market",
                format!("at most {MAX_ENTITIES} categories are supported"),
            );
            return None;
        }

        let hubs: Vec<Hub> = raw.hub.iter().map(|h| self.hub(h)).collect();
        let pools: Vec<SellerPool> = raw
            .sellers
            .iter()
            .map(|s| self.pool(s, &categories))
            .collect();
        let markets: Vec<Market> = raw
            .market
            .iter()
            .map(|m| self.market(m, &categories, &pool_ids))
            .collect();

        let mut routes = Vec::new();
        let mut route_of = vec![vec![None; pools.len()]; markets.len()];
        for (i, r) in raw.route.iter().enumerate() {
            let id = format!("{}:{}", r.sellers, r.market);
            let path = format!("route.{id}");
            let pool = find(&pool_ids, &r.sellers);
            if pool.is_none() {
                self.err(
                    &format!("{path}.sellers"),
                    format!(
                        "unknown seller pool \"{}\"; known: {}",
                        r.sellers,
                        pool_ids.join(", ")
                    ),
                );
            }
            let market = find(&market_ids, &r.market);
            if market.is_none() {
                self.err(
                    &format!("{path}.market"),
                    format!(
                        "unknown market \"{}\"; known: {}",
                        r.market,
                        market_ids.join(", ")
                    ),
                );
            }
            let hub = match r.via.as_deref() {
                None | Some("") => None,
                Some(via) => {
                    let h = find(&hub_ids, via);
                    if h.is_none() {
                        self.err(
                            &format!("{path}.via"),
                            format!("unknown hub \"{via}\"; known: {}", list(&hub_ids)),
                        );
                    }
                    h
                }
            };
            let via_hub = r.via.as_deref().is_some_and(|v| !v.is_empty());
            let to_hub = if via_hub {
                Some(self.optional_dist(
                    &format!("{path}.to_hub"),
                    r.to_hub.as_ref(),
                    Quantity::Duration,
                    Some("the route goes via a hub"),
                ))
            } else {
                None
            };
            let transit = self.dist(&format!("{path}.transit"), &r.transit, Quantity::Duration);
            let linehaul = r
                .linehaul
                .as_ref()
                .map(|l| self.linehaul(&format!("{path}.linehaul"), l));
            let (clearance, green_lane) =
                self.route_customs(&path, r.customs.as_ref(), market.map(|m| &markets[m]));
            let cost_usd = self.money(&format!("{path}.cost_usd"), r.cost_usd);
            let return_cost_usd = r.return_cost_usd.map_or(cost_usd, |c| {
                self.money(&format!("{path}.return_cost_usd"), c)
            });
            if let (Some(p), Some(m)) = (pool, market) {
                if route_of[m][p].is_some() {
                    self.err(&path, format!("a second route for {id} (route[{i}]); one route per seller pool and market"));
                }
                route_of[m][p] = Some(RouteId(routes.len() as u8));
                routes.push(Route {
                    id,
                    pool: PoolId(p as u8),
                    market: MarketId(m as u8),
                    hub: hub.map(|h| HubId(h as u8)),
                    to_hub,
                    transit,
                    linehaul,
                    clearance,
                    green_lane,
                    cost_usd,
                    return_cost_usd,
                });
            }
        }
        for (m, market) in markets.iter().enumerate() {
            for (p, share) in market.sources.iter().enumerate() {
                if *share > 0.0 && route_of[m][p].is_none() {
                    self.err(
                        &format!("market.{}.sources.{}", market.id, pool_ids[p]),
                        format!(
                            "the market buys from \"{}\" but no [[route]] connects them",
                            pool_ids[p]
                        ),
                    );
                }
                if *share > 0.0 {
                    for (c, weight) in market.category_weights.iter().enumerate() {
                        if *weight > 0.0 && pools[p].order_value[c].is_none() {
                            self.err(
                                &format!("sellers.{}.order_value", pool_ids[p]),
                                format!("no value distribution for category \"{}\", which market {} buys from this pool", categories[c], market.id),
                            );
                        }
                    }
                }
            }
        }

        let peaks = self.peaks(raw, &market_ids);

        let mut variant_names = BTreeSet::new();
        let variants: Vec<VariantInfo> = raw
            .variant
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let path = format!("variant[{i}].name");
                if self.file_name(&path, &v.name) && !variant_names.insert(v.name.as_str()) {
                    self.err(&path, format!("duplicate variant name \"{}\"", v.name));
                }
                if v.set.is_empty() {
                    self.err(
                        &format!("variant.{}.set", v.name),
                        "a variant must set at least one path",
                    );
                }
                VariantInfo {
                    name: v.name.clone(),
                    description: v.description.clone(),
                }
            })
            .collect();

        let targets = self.targets(raw, &market_ids);
        let fits = self.fits(raw);
        let changes = self.changes(raw);
        let uncertain = self.uncertain(raw);
        let peak_factors = Scenario::peak_table(&peaks, self.days, markets.len());
        Some(Scenario {
            name: header.name.clone(),
            description: header.description.clone(),
            seed: header.seed,
            start: self.start?,
            utc_offset,
            days: self.days,
            drain_days,
            warmup_days,
            categories,
            hubs,
            markets,
            pools,
            routes,
            peaks,
            peak_factors,
            variants: variants.into(),
            targets,
            fits,
            uncertain,
            changes,
            epochs: Vec::new(),
            route_of,
            demand: Vec::new(),
            lags: std::sync::OnceLock::new(),
        })
    }
}

/// The position of `id` among `ids`.
fn find(ids: &[String], id: &str) -> Option<usize> {
    ids.iter().position(|x| x == id)
}

fn list(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".to_string()
    } else {
        ids.join(", ")
    }
}

/// Every product of parameters a run computes per day must be a finite number: expected
/// orders (buyers x orders per buyer x weekly factor x peaks x demand response), and the
/// landed costs and lead times behind the demand response.
pub fn check_volumes(s: &Scenario) -> Result<(), Problems> {
    let mut problems = Problems::default();
    for (mi, m) in s.markets.iter().enumerate() {
        let path = format!("market.{}", m.id);
        let d = &s.demand[mi];
        if let Some(p) =
            (0..s.pools.len()).find(|&p| !(d.landed_usd[p].is_finite() && d.lead_s[p].is_finite()))
        {
            problems.add(
                &path,
                format!(
                    "the expected landed cost or delivery time from \"{}\" is not a finite \
                     number (a value or duration too large)",
                    s.pools[p].id
                ),
            );
            continue;
        }
        let market = MarketId(mi as u8);
        if let Some(day) = (0..s.days).find(|&day| !s.expected_orders(market, day).is_finite()) {
            let weekday = s.date_of(day).weekday();
            problems.add(
                &path,
                format!(
                    "expected orders on {} overflow: active_buyers {} x orders_per_buyer_day {} \
                     x weekly {} x peaks {} x demand response {} is not a finite number",
                    s.date_of(day),
                    number(m.active_buyers),
                    number(m.orders_per_buyer_day),
                    number(m.weekly[weekday]),
                    number(s.peak_multiplier(market, day)),
                    number(d.multiplier)
                ),
            );
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
