//! The validated scenario: typed ids, canonical units (seconds, US dollars), and the
//! demand model that turns policy into order rates and source shares.
//!
//! Only `scenario` builds these values; everything else reads them.

pub mod charges;
pub mod cost;
pub mod date;
pub mod digest;
pub mod dist;
mod exp;
pub mod lag;
mod load;
pub mod money;
pub mod rules;
mod target;
pub mod uncertain;

use crate::model::date::{DAY_S, Date, UtcOffset};
use crate::model::dist::Dist;
pub use target::{Fit, TARGET_METRICS, Target};

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u8);
        impl $name {
            #[inline]
            pub fn ix(self) -> usize { self.0 as usize }
        }
    )*};
}

id_type!(
    /// Index into `Scenario::markets`.
    MarketId,
    /// Index into `Scenario::pools`.
    PoolId,
    /// Index into `Scenario::hubs`.
    HubId,
    /// Index into `Scenario::routes`.
    RouteId,
    /// Index into `Scenario::categories`.
    CategoryId,
    /// Index into a market's `payment` methods.
    MethodId
);

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub start: Date,
    /// The clock of every time in the run: time 0 is midnight of `start` on it.
    pub utc_offset: UtcOffset,
    /// Days on which orders are placed.
    pub days: u32,
    /// Days simulated after `days` with no new orders, so that the orders placed finish.
    pub drain_days: u32,
    /// Days simulated before `start`, at its demand, and left out of every output, so
    /// that the run starts with the parcels and queues of a running system.
    pub warmup_days: u32,
    /// Every category any market buys, sorted by name.
    pub categories: Vec<String>,
    pub hubs: Vec<Hub>,
    pub markets: Vec<Market>,
    pub pools: Vec<SellerPool>,
    pub routes: Vec<Route>,
    pub peaks: Vec<Peak>,
    /// Per day and market (`day * markets + market`), the product of that day's peaks.
    pub peak_factors: Vec<f64>,
    /// Shared: every variant's scenario carries the file's list.
    pub variants: std::sync::Arc<[VariantInfo]>,
    pub targets: Vec<Target>,
    /// Parameters `calibrate --fit` solves for.
    pub fits: Vec<Fit>,
    /// Parameters drawn per replication (`--uncertain`) or placed by `sweep`.
    pub uncertain: Vec<uncertain::Uncertain>,
    /// Dated changes, in the order they take effect.
    pub changes: Vec<Change>,
    /// From each change's day on, the scenario in force (the changes up to it applied),
    /// in day order; empty without changes. Built by `scenario`, which alone knows how to
    /// apply a change's overrides.
    pub epochs: Vec<(u32, std::sync::Arc<Scenario>)>,
    /// `route_of[market][pool]`: the route serving that pair, if any.
    pub route_of: Vec<Vec<Option<RouteId>>>,
    /// Demand after policy, per market; see `Demand`.
    pub demand: Vec<Demand>,
    /// Each route's delays from the order as distributions over days (`route_lags`),
    /// computed on first use: a scenario is not changed after it is built.
    pub lags: std::sync::OnceLock<Vec<lag::RouteLags>>,
}

#[derive(Debug, Clone)]
pub struct Hub {
    pub id: String,
    pub name: String,
    pub lines: u32,
    pub service_time: Dist,
    /// (day index from the start, lines from that day on), sorted by day.
    pub capacity_changes: Vec<(u32, u32)>,
    /// Paid by the seller for each parcel the hub processes.
    pub fee_usd: f64,
    /// E-finance at the hub: when set, the seller of a prepaid order is paid at hub
    /// departure instead of at settlement, for this share of the order's value.
    pub efinance_rate: Option<f64>,
}

impl Hub {
    /// Lines in service on day `day` (0-based from the scenario start).
    pub fn lines_on(&self, day: u32) -> u32 {
        self.capacity_changes
            .iter()
            .rev()
            .find(|(d, _)| *d <= day)
            .map_or(self.lines, |(_, l)| *l)
    }
}

#[derive(Debug, Clone)]
pub struct Market {
    pub id: String,
    pub name: String,
    pub currency: String,
    /// Local currency units per US dollar.
    pub usd_rate: f64,
    pub active_buyers: f64,
    pub orders_per_buyer_day: f64,
    /// Rate multipliers, Monday first.
    pub weekly: [f64; 7],
    /// Rate multipliers, January first (not normalised: all 1 by default).
    pub monthly: [f64; 12],
    /// Growth of the base rate a year, compounded day by day from the scenario's start
    /// (0.25: +25 % a year).
    pub growth: f64,
    /// Share of a day's orders placed in each hour; sums to 1.
    pub intraday: [f64; 24],
    /// Weight of each of `Scenario::categories` (0 where the market does not buy it); sums to 1.
    pub category_weights: Vec<f64>,
    pub payment: Vec<PaymentMethod>,
    pub max_payment_attempts: u8,
    /// The platform's commission, a share of the item value, deducted from the payout.
    pub commission_rate: f64,
    /// Currency conversion spread, a share of the item value, deducted from the payout.
    pub fx_spread: f64,
    pub settlement: Settlement,
    /// Time between two payment attempts.
    pub payment_retry: Dist,
    pub customs: Customs,
    pub last_mile: Dist,
    pub return_rate: f64,
    /// Time from delivery to return.
    pub return_time: Dist,
    /// Inbound exchange office (customs and sorting), if its capacity is modelled.
    pub exchange_office: Option<ExchangeOffice>,
    pub elasticities: Elasticities,
    /// Base share of each pool (index by `PoolId`), before policy shifts it; sums to 1.
    pub sources: Vec<f64>,
}

#[derive(Debug, Clone)]
pub struct PaymentMethod {
    pub method: String,
    pub share: f64,
    /// Probability that one attempt succeeds.
    pub success: f64,
    /// Share of the orders placed with this method that the buyer never pays for (or,
    /// cash on delivery, never confirms): cancelled at placement, before any attempt.
    pub abandon: f64,
    /// Paid by the seller on each settled order: a share of the value plus a fixed fee.
    pub fee_rate: f64,
    pub fee_usd: f64,
    /// Cash on delivery: the attempts confirm the order, the cash is collected at the door.
    pub at_delivery: bool,
    /// Cash on delivery: share of parcels the buyer refuses at the door.
    pub refusal: f64,
}

/// When the seller is paid.
#[derive(Debug, Clone)]
pub struct Settlement {
    /// Prepaid orders: the marketplace holds the payment until the buyer confirms receipt,
    /// this long after delivery ...
    pub confirmation: Dist,
    /// ... or until it confirms automatically, this long after delivery (seconds).
    pub auto_confirm_s: Option<u32>,
    /// Cash on delivery: the carrier remits the cash to the seller this long after delivery.
    pub cod_remittance: Dist,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DutyBase {
    /// Duty and VAT on the whole value once it exceeds the threshold.
    Full,
    /// Duty and VAT only on the part of the value above the threshold (Russia's 2016 rule).
    Excess,
}

#[derive(Debug, Clone)]
pub struct Customs {
    pub de_minimis_usd: f64,
    pub duty_rate: f64,
    pub vat_rate: f64,
    pub duty_base: DutyBase,
    /// The market's clearance; a route may set its own (`Route::clearance`).
    pub clearance: Clearance,
}

impl Customs {
    /// Duty and VAT in cents on a parcel whose customs value is `value_cents`.
    /// VAT is levied on value plus duty; both are zero at or below the threshold.
    #[inline]
    pub fn charges_cents(&self, value_cents: u32) -> (u32, u32) {
        let value = f64::from(value_cents);
        let threshold = self.de_minimis_usd * 100.0;
        if value <= threshold {
            return (0, 0);
        }
        let base = match self.duty_base {
            DutyBase::Full => value,
            DutyBase::Excess => value - threshold,
        };
        let duty = (base * self.duty_rate).round();
        let vat = ((base + duty) * self.vat_rate).round();
        (duty as u32, vat as u32)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Elasticities {
    /// Elasticity of orders with respect to the landed cost (negative: dearer sells less).
    pub landed_cost: f64,
    /// Elasticity of orders with respect to the expected delivery time.
    pub delivery_time: f64,
    /// The logit's outside option (not buying cross-border) at the file's own figures, in
    /// (0, 1]: 1 makes each pool's demand independent of the others', smaller values
    /// move more of a pool's lost buyers to the other pools.
    pub outside_share: f64,
}

#[derive(Debug, Clone)]
pub struct SellerPool {
    pub id: String,
    pub country: String,
    pub count: u32,
    pub popularity_zipf: f64,
    /// Order value per category (index by `CategoryId`); `None` where the pool sells none.
    pub order_value: Vec<Option<Dist>>,
    pub handling_time: Dist,
    /// Tiers from the most popular sellers down: (name, share of sellers).
    pub size_tiers: Vec<(String, f64)>,
}

#[derive(Debug, Clone)]
pub struct Route {
    /// `SELLERS:MARKET`, the name override paths use.
    pub id: String,
    pub pool: PoolId,
    pub market: MarketId,
    pub hub: Option<HubId>,
    /// Dispatch to hub arrival; present exactly when `hub` is.
    pub to_hub: Option<Dist>,
    /// Hub departure (or dispatch, when direct) to arrival at the market's customs.
    pub transit: Dist,
    /// Scheduled departures after the hub (or dispatch, when direct); `None`: a parcel
    /// leaves as soon as it is ready.
    pub linehaul: Option<Linehaul>,
    /// Clearance and inspection of this route's parcels: the market's, unless the route
    /// sets its own.
    pub clearance: Clearance,
    /// Pre-advised parcels pass the market's exchange office without queueing.
    pub green_lane: bool,
    /// Freight per parcel, paid by the seller at dispatch.
    pub cost_usd: f64,
    /// Freight of a parcel coming back (a refusal or a return), paid by the seller.
    pub return_cost_usd: f64,
}

/// A route's scheduled line-haul: departures at set times of day, each taking the
/// parcels ready by its cut-off, first come first served, up to its capacity.
#[derive(Debug, Clone, PartialEq)]
pub struct Linehaul {
    /// Departure times, seconds after midnight, increasing.
    pub departures_s: Vec<u32>,
    /// A parcel boards a departure only if it is ready this long before it.
    pub cutoff_s: u32,
    /// Parcels per departure; `None`: no limit.
    pub capacity: Option<u32>,
}

impl Linehaul {
    /// Mean wait for the next departure of a parcel ready at a uniformly random time,
    /// when no departure is full: the cut-off plus half the mean square headway over
    /// the mean headway.
    pub fn expected_wait_s(&self) -> f64 {
        let n = self.departures_s.len();
        let headways = (0..n).map(|i| {
            let next = if i + 1 < n {
                self.departures_s[i + 1]
            } else {
                self.departures_s[0] + DAY_S
            };
            f64::from(next - self.departures_s[i])
        });
        f64::from(self.cutoff_s) + headways.map(|h| h * h).sum::<f64>() / (2.0 * f64::from(DAY_S))
    }

    /// Parcels a day at full scale; `None` without a limit.
    pub fn daily_capacity(&self) -> Option<u64> {
        self.capacity
            .map(|c| u64::from(c) * self.departures_s.len() as u64)
    }
}

/// A market's inbound exchange office: lines that release cleared parcels to the last
/// mile, each taking `service_s` per parcel, first come first served.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExchangeOffice {
    pub lines: u32,
    /// Seconds a line takes per parcel (3600 / parcels a line-hour, not rounded: the
    /// queue carries the fractions of seconds from parcel to parcel).
    pub service_s: f64,
}

/// The time customs takes with a parcel before the exchange office can release it.
#[derive(Debug, Clone)]
pub struct Clearance {
    pub inspection_rate: f64,
    pub inspection_delay: Dist,
    pub clearance_time: Dist,
}

impl Clearance {
    pub fn mean_s(&self) -> f64 {
        self.clearance_time.mean() + self.inspection_rate * self.inspection_delay.mean()
    }
}

#[derive(Debug, Clone)]
pub struct Peak {
    pub name: String,
    pub day: u32,
    pub markets: Vec<MarketId>,
    pub multiplier: f64,
}

/// A `[[change]]`: overrides that take effect on a date.
#[derive(Debug, Clone)]
pub struct Change {
    /// Day index (from the start) it takes effect: 0 for a change dated before a moved
    /// horizon.
    pub day: u32,
    /// Its place in the file's `[[change]]` list.
    pub index: usize,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct VariantInfo {
    pub name: String,
    pub description: String,
}

/// How policy shapes one market's demand: a rate multiplier and effective source shares.
///
/// Buyers choose among the seller pools and an outside option (not buying cross-border)
/// by a multinomial logit whose utilities are logarithmic in landed cost and delivery
/// time. With `o` the outside option's probability at the file's own figures, pool j's
/// base share `s_j` and `r_j = (landed_j / landed_ref)^(e_cost / o) * (lead_j /
/// lead_ref)^(e_time / o)`, pool j's orders are the base orders times
/// `s_j r_j / (o + (1 - o) sum_k s_k r_k)`. The references are the same figures in the
/// file without overrides, so the file itself has multiplier 1 and its shares as
/// written; a variant moves demand only through what it changes. Dividing by `o` keeps
/// `e_cost` and `e_time` the elasticities of the whole market's orders (every pool dearer
/// alike); a pool alone loses more, and at the margin pool k wins `(1 - o) s_k / (1 -
/// (1 - o) s_j)` of what pool j loses (about `1 - o` when j is small), the outside
/// option the rest. At `o = 1` the pools are independent.
#[derive(Debug, Clone)]
pub struct Demand {
    pub multiplier: f64,
    /// Effective share of each pool (index by `PoolId`); sums to 1.
    pub shares: Vec<f64>,
    /// Expected landed cost per order, USD, per pool (0 where no route).
    pub landed_usd: Vec<f64>,
    /// Expected delivery time, seconds, per pool (0 where no route).
    pub lead_s: Vec<f64>,
}

impl Scenario {
    pub fn market_index(&self, id: &str) -> Option<MarketId> {
        self.markets
            .iter()
            .position(|m| m.id == id)
            .map(|i| MarketId(i as u8))
    }

    pub fn date_of(&self, day: u32) -> Date {
        self.start.add_days(i64::from(day))
    }

    /// The scenario in force on `day`: the last dated change's by then, or this one.
    #[inline]
    pub fn on_day(&self, day: u32) -> &Scenario {
        match self.epochs.iter().rposition(|(from, _)| *from <= day) {
            Some(i) => &self.epochs[i].1,
            None => self,
        }
    }

    /// Days simulated: the horizon of orders and the drain after it.
    pub fn simulated_days(&self) -> u32 {
        self.days + self.drain_days
    }

    /// The day index of `date`, if it lies inside the horizon.
    pub fn day_of(&self, date: Date) -> Option<u32> {
        u32::try_from(date.days_since(self.start))
            .ok()
            .filter(|d| *d < self.days)
    }

    /// The horizon's first and last dates.
    pub fn horizon_text(&self) -> String {
        format!("{} to {}", self.start, self.date_of(self.days - 1))
    }

    /// Expected landed cost (USD) and delivery time (s) of an order from `pool` in `market`.
    fn landed_and_lead(&self, market: MarketId, pool: PoolId) -> Option<(f64, f64)> {
        let route = &self.routes[self.route_of[market.ix()][pool.ix()]?.ix()];
        let m = &self.markets[market.ix()];
        let p = &self.pools[pool.ix()];
        let mut cost = 0.0;
        for (c, weight) in m.category_weights.iter().enumerate() {
            if *weight == 0.0 {
                continue;
            }
            let dist = p.order_value[c].as_ref()?;
            // Exact rather than sampled: a threshold far in the value's tail is crossed
            // too rarely for any affordable number of draws (see `charges`).
            cost += weight * charges::expected(dist, &m.customs).total_usd();
        }
        let hub = route.hub.map(|h| &self.hubs[h.ix()]);
        cost += route.cost_usd + hub.map_or(0.0, |h| h.fee_usd);
        let lead = p.handling_time.mean()
            + route.to_hub.as_ref().map_or(0.0, Dist::mean)
            + hub.map_or(0.0, |h| h.service_time.mean())
            + route
                .linehaul
                .as_ref()
                .map_or(0.0, Linehaul::expected_wait_s)
            + route.transit.mean()
            + route.clearance.mean_s()
            + m.last_mile.mean();
        Some((cost, lead))
    }

    /// Computes `demand` for every market against `reference` (the un-overridden file).
    pub fn apply_demand_model(&mut self, reference: &Scenario) {
        let mut demand = Vec::with_capacity(self.markets.len());
        for (mi, market) in self.markets.iter().enumerate() {
            let mid = MarketId(mi as u8);
            let mut weights = vec![0.0; self.pools.len()];
            let mut landed_usd = vec![0.0; self.pools.len()];
            let mut lead_s = vec![0.0; self.pools.len()];
            for (pi, share) in market.sources.iter().enumerate() {
                let pid = PoolId(pi as u8);
                if *share == 0.0 {
                    continue;
                }
                let Some((landed, lead)) = self.landed_and_lead(mid, pid) else {
                    continue;
                };
                landed_usd[pi] = landed;
                lead_s[pi] = lead;
                // The reference may lack this market or pool (an override renamed nothing,
                // but be safe): then the pair is its own reference.
                let (landed_ref, lead_ref) = reference
                    .market_index(&market.id)
                    .and_then(|rm| {
                        let rp = reference
                            .pools
                            .iter()
                            .position(|p| p.id == self.pools[pi].id)?;
                        // Computed once with the reference's own demand model, if it has one.
                        match reference.demand.get(rm.ix()) {
                            Some(d) if d.lead_s[rp] > 0.0 => Some((d.landed_usd[rp], d.lead_s[rp])),
                            _ => reference.landed_and_lead(rm, PoolId(rp as u8)),
                        }
                    })
                    .unwrap_or((landed, lead));
                let e = market.elasticities;
                weights[pi] = share
                    * (landed / landed_ref).powf(e.landed_cost / e.outside_share)
                    * (lead / lead_ref).powf(e.delivery_time / e.outside_share);
            }
            let total: f64 = weights.iter().sum();
            let outside = market.elasticities.outside_share;
            let shares = weights
                .iter()
                .map(|w| if total > 0.0 { w / total } else { 0.0 })
                .collect();
            demand.push(Demand {
                multiplier: total / (outside + (1.0 - outside) * total),
                shares,
                landed_usd,
                lead_s,
            });
        }
        self.demand = demand;
    }

    /// Peak multiplier on `day` for `market` (peaks on the same date multiply).
    pub fn peak_multiplier(&self, market: MarketId, day: u32) -> f64 {
        self.peak_factors[day as usize * self.markets.len() + market.ix()]
    }

    /// The product of the peaks on each day for each market (`peak_factors`), built once
    /// so that a day's rate costs the same whatever the number of peaks.
    pub fn peak_table(peaks: &[Peak], days: u32, markets: usize) -> Vec<f64> {
        let mut factors = vec![1.0; days as usize * markets];
        for p in peaks {
            for m in &p.markets {
                factors[p.day as usize * markets + m.ix()] *= p.multiplier;
            }
        }
        factors
    }

    /// Share of a market's orders that end up paid (or, cash on delivery, confirmed):
    /// not abandoned, and not failing every attempt.
    pub fn paid_share(&self, market: MarketId) -> f64 {
        let m = &self.markets[market.ix()];
        m.payment
            .iter()
            .map(|p| {
                p.share
                    * (1.0 - p.abandon)
                    * (1.0 - (1.0 - p.success).powi(i32::from(m.max_payment_attempts)))
            })
            .sum()
    }

    /// Expected orders placed in `market` on `day` at full scale, under the scenario in
    /// force that day.
    pub fn expected_orders(&self, market: MarketId, day: u32) -> f64 {
        let s = self.on_day(day);
        s.base_orders(market, s.date_of(day)) * s.peak_multiplier(market, day)
    }

    /// Expected orders in `market` on `date` without peaks.
    pub fn base_orders(&self, market: MarketId, date: Date) -> f64 {
        let m = &self.markets[market.ix()];
        let years = date.days_since(self.start) as f64 / 365.25;
        m.active_buyers
            * m.orders_per_buyer_day
            * m.weekly[date.weekday()]
            * m.monthly[date.ymd().1 as usize - 1]
            * (1.0 + m.growth).powf(years)
            * self.demand[market.ix()].multiplier
    }
}
