//! What `tradesim validate` computes from a loaded scenario, without its file I/O.

use tradesim::model::{MarketId, Scenario};
use tradesim::commands::format::thousands;

/// Exercises the expectations `report::validate` prints: horizon, expected orders per
/// day and market, hub load per day, and each target's expected value.
pub fn expectations(s: &Scenario) {
    let _ = s.date_of(s.days - 1).weekday();
    for mi in 0..s.markets.len() {
        let mid = MarketId(mi as u8);
        let _ = s.paid_share(mid);
        for day in 0..s.days {
            let _ = thousands(s.expected_orders(mid, day));
        }
    }
    for hub in 0..s.hubs.len() {
        for day in 0..s.days {
            let _ = thousands(s.expected_hub_arrivals(hub, day));
            let _ = s.hubs[hub].lines_on(day);
        }
    }
    for ri in 0..s.routes.len() {
        for day in 0..s.days {
            let _ = thousands(s.expected_route_parcels(ri, day, s.to_linehaul_s(ri)));
            let _ = thousands(s.expected_route_parcels(ri, day, s.to_exchange_s(ri)));
        }
    }
    for t in &s.targets {
        let _ = s.expected_metric(t).map(thousands);
        let _ = thousands(t.goal());
    }
}

/// Simulates `s` at a sample small enough that it expects at most a few thousand orders,
/// so any run-time panic in the engine is reached quickly. Horizons over 60 days are
/// skipped: each hour costs the engine some work however few its orders (3,650 days take
/// about 10 s), which would read as a timeout.
pub fn simulate_briefly(s: &Scenario) {
    if s.days > 60 {
        return;
    }
    struct Count(u64);
    impl tradesim::engine::Sink for Count {
        fn events(&mut self, events: &[tradesim::event::Event]) -> Result<(), tradesim::Error> {
            self.0 += events.len() as u64;
            Ok(())
        }
    }
    let orders = tradesim::model::cost::estimate(s, 1.0).orders;
    let sample = if orders > 5_000.0 { 5_000.0 / orders } else { 1.0 };
    if !(sample > 0.0 && sample <= 1.0) {
        return;
    }
    let params = tradesim::engine::RunParams {
        seed: s.seed,
        replication: 0,
        sample,
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let _ = tradesim::engine::simulate(s, params, &mut Count(0), &stop);
}
