//! Expected loads before a run: the parcels that reach a hub, a line-haul or an exchange
//! office on a day at full scale, from mean times and without queueing on the way (what
//! `validate` reports; the run has the real figures).

use super::Scenario;
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
    /// on).
    pub fn expected_route_parcels(&self, route: usize, day: u32, lag_s: f64) -> f64 {
        let r = &self.routes[route];
        let lag_s = self.pools[r.pool.ix()].handling_time.mean() + lag_s;
        let placed = i64::from(day) - (lag_s / f64::from(DAY_S)).round() as i64;
        if placed < 0 || placed >= i64::from(self.days) {
            return 0.0;
        }
        let on = self.on_day(placed as u32);
        self.expected_orders(r.market, placed as u32)
            * on.demand[r.market.ix()].shares[r.pool.ix()]
            * on.paid_share(r.market)
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
}
