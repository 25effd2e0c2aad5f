//! Expected loads before a run: the parcels that reach a hub, a line-haul or an exchange
//! office on a day at full scale, from mean times and without queueing on the way (what
//! `validate` reports; the run has the real figures).

use super::{MarketId, Scenario, Target};
use crate::model::date::DAY_S;

impl Scenario {
    /// Expected parcels arriving at `hub` on `day`, at full scale.
    pub fn expected_hub_arrivals(&self, hub: usize, day: u32) -> f64 {
        self.routes
            .iter()
            .enumerate()
            .filter(|(_, r)| r.hub.is_some_and(|h| h.ix() == hub))
            .map(|(ri, r)| {
                let lag_s = r.to_hub.as_ref().map_or(0.0, |d| d.mean());
                self.expected_route_parcels(ri, day, lag_s)
            })
            .sum()
    }

    /// Expected parcels of route `route` that reach a point `lag_s` after their
    /// dispatch on `day`, at full scale (whole days of lag, from the mean handling time
    /// on). Orders placed in a warm-up count with the warm-up's demand (the first day's
    /// scenario on the warm-up date, without peaks), as the run places them.
    pub fn expected_route_parcels(&self, route: usize, day: u32, lag_s: f64) -> f64 {
        let r = &self.routes[route];
        let lag_s = self.pools[r.pool.ix()].handling_time.mean() + lag_s;
        let placed = i64::from(day) - (lag_s / f64::from(DAY_S)).round() as i64;
        self.placed_parcels(route, placed)
    }

    /// Expected parcels of route `route` from the orders placed on day `placed` (negative
    /// in the warm-up) and paid, at full scale. Orders placed in a warm-up count with the
    /// warm-up's demand (the first day's scenario on the warm-up date, without peaks), as
    /// the run places them.
    fn placed_parcels(&self, route: usize, placed: i64) -> f64 {
        let r = &self.routes[route];
        if placed < -i64::from(self.warmup_days) || placed >= i64::from(self.days) {
            return 0.0;
        }
        let (on, orders) = if placed < 0 {
            (
                self,
                self.base_orders(r.market, self.start.add_days(placed)),
            )
        } else {
            let on = self.on_day(placed as u32);
            (on, self.expected_orders(r.market, placed as u32))
        };
        orders * on.demand[r.market.ix()].shares[r.pool.ix()] * on.paid_share(r.market)
    }

    /// Expected parcels of `market` cleared (or, with `delivered`, delivered) on the days
    /// `days`, at full scale, and the sum of their delays from the order in seconds: each
    /// day's orders spread over the later days by their routes' delays (`route_lags`,
    /// under the scenario in force on the day of the order).
    fn expected_arrivals(
        &self,
        market: super::MarketId,
        days: &std::ops::RangeInclusive<u32>,
        delivered: bool,
    ) -> (f64, f64) {
        let (first, last) = (i64::from(*days.start()), i64::from(*days.end()));
        let (mut count, mut delay) = (0.0, 0.0);
        for ri in (0..self.routes.len()).filter(|&ri| self.routes[ri].market == market) {
            let lags = |placed: i64| {
                let on = if placed < 0 {
                    self
                } else {
                    self.on_day(placed as u32)
                };
                let l = on.route_lags(ri);
                if delivered { &l.delivered } else { &l.cleared }
            };
            // The longest delay of any scenario in force bounds the days to look back.
            let longest = std::iter::once(self)
                .chain(self.epochs.iter().map(|(_, s)| &**s))
                .map(|s| {
                    let l = s.route_lags(ri);
                    if delivered { &l.delivered } else { &l.cleared }
                        .share
                        .len()
                })
                .max()
                .unwrap_or(0) as i64;
            for placed in (first - longest).max(-i64::from(self.warmup_days))..=last {
                let parcels = self.placed_parcels(ri, placed);
                if parcels == 0.0 {
                    continue;
                }
                let lag = lags(placed);
                let from = (first - placed).max(0) as usize;
                let to = ((last - placed) as usize).min(lag.share.len().saturating_sub(1));
                for j in from..=to {
                    count += parcels * lag.share[j];
                    delay += parcels * lag.delay_s[j];
                }
            }
        }
        (count, delay)
    }

    /// The mean time from dispatch to the moment route `route`'s parcels are ready for
    /// its line-haul (through its hub, at the hub's service time, without queueing).
    pub fn to_linehaul_s(&self, route: usize) -> f64 {
        let r = &self.routes[route];
        r.to_hub.as_ref().map_or(0.0, |d| d.mean())
            + r.hub.map_or(0.0, |h| self.hubs[h.ix()].service_time.mean())
    }

    /// The mean time from dispatch to the exchange office on route `route`, without
    /// queueing.
    pub fn to_exchange_s(&self, route: usize) -> f64 {
        let r = &self.routes[route];
        self.to_linehaul_s(route)
            + r.linehaul.as_ref().map_or(0.0, |l| l.expected_wait_s())
            + r.transit.mean()
            + r.clearance.mean_s()
    }

    /// The days of the horizon a target covers, if it lies wholly inside it.
    pub fn target_days(&self, t: &Target) -> Option<std::ops::RangeInclusive<u32>> {
        if let Some((from, to)) = t.versus {
            self.day_of(from)?;
            self.day_of(to)?;
        }
        Some(self.day_of(t.from)?..=self.day_of(t.to)?)
    }

    /// The mean order value in `market` under the scenario in force on `day`, in USD.
    pub fn mean_order_value(&self, market: MarketId, day: u32) -> f64 {
        let s = self.on_day(day);
        let m = &s.markets[market.ix()];
        let shares = &s.demand[market.ix()].shares;
        (0..s.pools.len())
            .map(|p| {
                let value: f64 = m
                    .category_weights
                    .iter()
                    .zip(&s.pools[p].order_value)
                    .map(|(w, v)| v.as_ref().map_or(0.0, |v| w * v.mean()))
                    .sum();
                shares[p] * value
            })
            .sum()
    }

    /// A target's metric over its period at full scale as the model expects it from its
    /// mean rates, with no randomness: what `validate` prints and `calibrate --fit`
    /// fits. `None` outside the horizon, or for a metric only a run measures.
    /// `dispatched` counts an order's parcel on the day it was placed (whole periods
    /// hardly differ), `cleared` and `mean_lead_time_days` spread each day's parcels over
    /// the later days by the distributions of their delays (`route_lags`; queues aside),
    /// and the GMVs count the value of the orders paid.
    pub fn expected_metric(&self, t: &Target) -> Option<f64> {
        if let (Some(later), Some(earlier)) = (t.later(), t.earlier()) {
            let base = self.expected_metric(&earlier)?;
            return (base > 0.0).then(|| self.expected_metric(&later).map(|v| v / base - 1.0))?;
        }
        let days = self.target_days(t)?;
        let m = t.market;
        let per_day = |f: &dyn Fn(u32, &Scenario) -> f64| -> f64 {
            days.clone()
                .map(|d| self.expected_orders(m, d) * f(d, self.on_day(d)))
                .sum()
        };
        let paid = |_: u32, s: &Scenario| s.paid_share(m);
        Some(match t.metric.as_str() {
            "cleared" => self.expected_arrivals(m, &days, false).0,
            "mean_lead_time_days" => {
                let (delivered, delay_s) = self.expected_arrivals(m, &days, true);
                (delivered > 0.0).then(|| delay_s / delivered / f64::from(DAY_S))?
            }
            "orders" => per_day(&|_, _| 1.0),
            "dispatched" => per_day(&paid),
            "gmv_usd" => per_day(&|d, s| paid(d, s) * self.mean_order_value(m, d)),
            "gmv_local" => per_day(&|d, s| {
                paid(d, s) * self.mean_order_value(m, d) * s.markets[m.ix()].usd_rate
            }),
            "aov_usd" | "aov_local" => {
                let local = t.metric == "aov_local";
                let rate = |s: &Scenario| {
                    if local {
                        s.markets[m.ix()].usd_rate
                    } else {
                        1.0
                    }
                };
                let paid_orders = per_day(&paid);
                let value = per_day(&|d, s| paid(d, s) * self.mean_order_value(m, d) * rate(s));
                (paid_orders > 0.0).then(|| value / paid_orders)?
            }
            metric if metric.starts_with("pool_share:") => {
                let pool = &metric["pool_share:".len()..];
                let p = self.pools.iter().position(|p| p.id == pool)?;
                let orders = per_day(&|_, _| 1.0);
                (orders > 0.0).then(|| per_day(&|_, s| s.demand[m.ix()].shares[p]) / orders)?
            }
            metric => {
                let (method, count) = match metric.strip_prefix("method_orders:") {
                    Some(method) => (method, true),
                    None => (metric.strip_prefix("share:")?, false),
                };
                let share = |_: u32, s: &Scenario| {
                    s.markets[m.ix()]
                        .payment
                        .iter()
                        .find(|p| p.method == method)
                        .map_or(0.0, |p| p.share)
                };
                let orders = per_day(&|_, _| 1.0);
                if count {
                    per_day(&share)
                } else {
                    (orders > 0.0).then(|| per_day(&share) / orders)?
                }
            }
        })
    }
}
