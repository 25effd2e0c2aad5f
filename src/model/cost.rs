//! What a run will cost, estimated from the scenario before anything runs: orders,
//! events, parcels in flight and memory. A run that overflows or cannot fit this machine
//! is refused with the estimate in the message, never started to abort halfway.
//!
//! The estimate is deliberately on the high side (every order's events at the most
//! payment attempts; parcels held for their whole mean lead time, as with the event log,
//! where a run without it holds far fewer), so a refused run would truly not fit.

use crate::model::date::DAY_S;
use crate::model::{MarketId, Scenario};

/// Most events a run may hold: about a day of simulation at the measured rate and some
/// 100 TB of log. Beyond it the sums of the tables could also lose whole units.
pub const MAX_EVENTS: f64 = 1e12;
/// Most orders expected in one market in one hour: the engine cuts an hour into at most
/// 60 steps, each held in memory whole.
pub const MAX_HOUR_ORDERS: f64 = 1e9;
/// Bytes held per parcel in flight (the engine's 64-byte parcel, its schedule slot and
/// the blocks it is filed in).
const BYTES_PER_PARCEL: f64 = 128.0;
/// Bytes held per event of a step: the tasks' buffers, the sorted step, the sink's copy
/// and the log's formatted rows in flight.
const BYTES_PER_STEP_EVENT: f64 = 800.0;
/// Events a step holds at least (the engine's step size).
const STEP_EVENTS: f64 = (1u64 << 19) as f64;
/// Bytes held per order for `orders.csv` (`--orders`): its 88-byte row (the projection
/// asserts it fits) and a page's share of the index, with room for ids the log skips.
pub const BYTES_PER_ORDER_ROW: f64 = 96.0;
/// Memory a run takes whatever its size: thread stacks, popularity tables, tables.
const BASE_BYTES: f64 = 256.0 * 1024.0 * 1024.0;
/// Share of the machine's memory a run may plan to take.
const MEMORY_SHARE: f64 = 0.8;

/// Why a run cannot be done: what it would take, against the limit it passes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct TooCostly(String);

/// A run's expected size at one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub sample: f64,
    pub orders: f64,
    /// An upper estimate of the events (every order at its market's most attempts).
    pub events: f64,
    /// The most orders expected in one market in one hour.
    pub peak_hour_orders: f64,
    /// The most parcels expected in flight (and queued at hubs) at once.
    pub parcels_in_flight: f64,
    /// Orders held for `orders.csv` (0 unless asked for): every order of the horizon and
    /// as many of the warm-up as are in flight.
    pub order_rows: f64,
    pub memory_bytes: f64,
}

impl Estimate {
    /// The same run holding every order for `orders.csv` (`--orders`).
    pub fn with_order_rows(self) -> Estimate {
        let order_rows = self.orders + self.parcels_in_flight;
        Estimate {
            order_rows,
            memory_bytes: self.memory_bytes + order_rows * BYTES_PER_ORDER_ROW,
            ..self
        }
    }
}

/// Estimates a run of `scenario` at `sample`.
pub fn estimate(s: &Scenario, sample: f64) -> Estimate {
    let days = s.days as usize;
    let mut orders = 0.0;
    let mut events = 0.0;
    let mut peak_hour_orders: f64 = 0.0;
    let mut in_flight_by_day = vec![0.0; days];
    for (mi, m) in s.markets.iter().enumerate() {
        let market = MarketId(mi as u8);
        let per_day: Vec<f64> = (0..s.days)
            .map(|d| s.expected_orders(market, d) * sample)
            .collect();
        let busiest_hour = m.intraday.iter().copied().fold(0.0, f64::max);
        let market_orders: f64 = per_day.iter().sum();
        orders += market_orders;
        // Placed, each attempt, dispatched, at and off a hub, cleared, delivered, returned,
        // the seller paid.
        events += market_orders * (7.0 + f64::from(m.max_payment_attempts));
        // Under a sample, the orders beyond it bound for a hub are drawn too, as shadows
        // that keep the hub's full-scale queue: they count towards an hour's draws.
        let shares = &s.demand[mi].shares;
        let via_hub: f64 = (0..shares.len())
            .filter(|&p| s.route_of[mi][p].is_some_and(|r| s.routes[r.ix()].hub.is_some()))
            .map(|p| shares[p])
            .sum::<f64>()
            / shares.iter().sum::<f64>().max(f64::MIN_POSITIVE);
        let drawn = 1.0 + (1.0 - sample) / sample * via_hub;
        peak_hour_orders = peak_hour_orders
            .max(per_day.iter().copied().fold(0.0, f64::max) * busiest_hour * drawn);
        // Little's law over a window of the slowest source's mean lead time, and the
        // longer of the return and the seller's payment after it.
        let settle = &m.settlement;
        let confirm_s = settle
            .auto_confirm_s
            .map_or(f64::INFINITY, f64::from)
            .min(settle.confirmation.mean());
        let lead_s = s.demand[mi].lead_s.iter().copied().fold(0.0, f64::max)
            + m.return_time
                .mean()
                .max(confirm_s)
                .max(settle.cod_remittance.mean());
        let window = ((lead_s / f64::from(DAY_S)).ceil() as usize).clamp(1, days.max(1));
        let mut held = 0.0;
        for d in 0..days {
            held += per_day[d];
            if d >= window {
                held -= per_day[d - window];
            }
            in_flight_by_day[d] += held.max(0.0);
        }
    }
    // A hub's backlog grows on every day it gets more than it can serve.
    for (hi, h) in s.hubs.iter().enumerate() {
        let mut backlog: f64 = 0.0;
        for (d, held) in in_flight_by_day.iter_mut().enumerate() {
            let day = d as u32;
            let capacity =
                f64::from(h.lines_on(day)) * f64::from(DAY_S) / h.service_time.mean().max(1.0);
            backlog = (backlog + (s.expected_hub_arrivals(hi, day) - capacity) * sample).max(0.0);
            *held += backlog;
        }
    }
    let parcels_in_flight = in_flight_by_day.iter().copied().fold(0.0, f64::max);
    let step_events = STEP_EVENTS.max(peak_hour_orders * 2.5 / 60.0);
    let memory_bytes =
        BASE_BYTES + parcels_in_flight * BYTES_PER_PARCEL + step_events * BYTES_PER_STEP_EVENT;
    Estimate {
        sample,
        orders,
        events,
        peak_hour_orders,
        parcels_in_flight,
        order_rows: 0.0,
        memory_bytes,
    }
}

/// Refuses a run that overflows or cannot fit this machine's memory.
pub fn check(s: &Scenario, sample: f64) -> Result<Estimate, TooCostly> {
    check_estimate(s, estimate(s, sample))
}

/// `check` for a run that also holds every order for `orders.csv` (`--orders`).
pub fn check_with_order_rows(s: &Scenario, sample: f64) -> Result<Estimate, TooCostly> {
    check_estimate(s, estimate(s, sample).with_order_rows())
}

fn check_estimate(s: &Scenario, e: Estimate) -> Result<Estimate, TooCostly> {
    let sample = e.sample;
    let at = if sample == 1.0 {
        String::new()
    } else {
        format!(" at --sample {sample}")
    };
    let smaller = |ratio: f64| {
        let fits = sample / ratio;
        if fits >= 1e-9 {
            format!(
                "; a --sample of at most {} would fit",
                number(round_down(fits))
            )
        } else {
            String::new()
        }
    };
    let refuse = |what: String| {
        Err(TooCostly(format!(
            "{}: {what}{at}; this run cannot be done",
            s.name
        )))
    };
    if !(e.events.is_finite() && e.memory_bytes.is_finite()) {
        return refuse(format!(
            "the expected volume overflows ({} orders, {} events)",
            number(e.orders),
            number(e.events)
        ));
    }
    if e.events > MAX_EVENTS {
        return refuse(format!(
            "about {} events expected, more than the {} a run may hold{}",
            number(e.events),
            number(MAX_EVENTS),
            smaller(e.events / MAX_EVENTS)
        ));
    }
    if e.peak_hour_orders > MAX_HOUR_ORDERS {
        return refuse(format!(
            "about {} orders expected in one hour in one market, more than the \
             {} an hour may hold{}",
            number(e.peak_hour_orders),
            number(MAX_HOUR_ORDERS),
            smaller(e.peak_hour_orders / MAX_HOUR_ORDERS)
        ));
    }
    let memory = machine_memory();
    if e.memory_bytes > memory * MEMORY_SHARE {
        let rows = if e.order_rows > 0.0 {
            format!(" and {} orders held for orders.csv", number(e.order_rows))
        } else {
            String::new()
        };
        return refuse(format!(
            "about {:.1} GiB of memory needed ({} parcels in flight{rows}), more than {:.0} % \
             of this machine's {:.1} GiB{}",
            e.memory_bytes / GIB,
            number(e.parcels_in_flight),
            MEMORY_SHARE * 100.0,
            memory / GIB,
            smaller(e.memory_bytes / (memory * MEMORY_SHARE))
        ));
    }
    Ok(e)
}

/// A count or share as people read it: `1.3e18`, `2500`, `7.7e-7`.
pub fn number(x: f64) -> String {
    if x == 0.0 || (1e-3..1e9).contains(&x.abs()) {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{x:.2e}")
    }
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// `x` rounded down to two significant digits, so the suggestion surely fits.
fn round_down(x: f64) -> f64 {
    let scale = 10f64.powi(x.log10().floor() as i32 - 1);
    (x / scale).floor() * scale
}

/// The memory a run may take: its share of the machine's.
pub fn memory_budget() -> f64 {
    machine_memory() * MEMORY_SHARE
}

/// The machine's memory in bytes (`MemTotal`); 16 GiB where it cannot be read.
fn machine_memory() -> f64 {
    let kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        });
    kib.map_or(16.0 * GIB, |k| k * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::round_down;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(super::number(2500.0), "2500");
        assert_eq!(super::number(0.25), "0.25");
        assert_eq!(super::number(1.296e18), "1.30e18");
        assert_eq!(super::number(7.7e-7), "7.70e-7");
        assert_eq!(super::number(f64::INFINITY), "inf");
    }

    #[test]
    fn suggestions_round_down() {
        assert!((round_down(0.0123) - 0.012).abs() < 1e-12);
        assert!(round_down(0.5) <= 0.5);
        assert!(round_down(3.7e-5) <= 3.7e-5);
    }
}
