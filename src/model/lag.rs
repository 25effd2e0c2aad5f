//! The time from an order to its parcel's arrival in the market (customs cleared) and to
//! its delivery, as distributions over whole days after the day of the order: what the
//! expected `cleared` and `mean_lead_time_days` of a period are made of.
//!
//! A mean delay alone puts a day's parcels all on one later day. That is close enough for
//! a quiet day, but not for Singles' Day: a wave of 20 million orders spreads over weeks
//! of arrivals, and whether it lands in November or December decides those months'
//! counts. So each stage of a route (handling, the way to the hub and its service, the
//! line-haul's mean wait, transit, clearance, inspection; and for deliveries the last
//! mile) is discretised on a grid of `STEP_S` from its distribution function, the stages
//! are convolved, and the sum is added to the time of day the order was placed (the
//! market's intraday profile, by blocks of `STEP_S`). Queues are not modelled here, as in
//! the other expectations: a line-haul's or a hub's capacity only adds to what the run
//! measures.

use super::Scenario;
use super::date::DAY_S;
use super::dist::Dist;

/// The grid of delays: three hours, a divisor of a day, so that an order's time of day
/// and its delay add up to a block that lies within one day.
pub const STEP_S: u32 = 3 * 3600;
const BLOCKS: usize = (DAY_S / STEP_S) as usize;
/// Probability left out at each distribution's far tail (added to its last point).
const TAIL: f64 = 1e-9;

/// An event's distribution over the days after the day of the order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayLag {
    /// `share[j]`: the probability that it falls `j` days after the order's day.
    pub share: Vec<f64>,
    /// `delay_s[j]`: the expectation of the delay in seconds (order to event) over the
    /// events on day `j`, i.e. E[delay 1{day j}].
    pub delay_s: Vec<f64>,
}

/// A route's delays from the order: to customs clearance (arrival in the market) and to
/// delivery.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteLags {
    pub cleared: DayLag,
    pub delivered: DayLag,
}

/// A delay on the grid: `p[k]` the probability of a delay in
/// [(k - 1/2) STEP_S, (k + 1/2) STEP_S), the last point holding the far tail.
fn on_grid(d: &Dist) -> Vec<f64> {
    let step = f64::from(STEP_S);
    let mut p = Vec::new();
    let mut below = 0.0;
    let mut k = 0.0;
    loop {
        let upto = d.cdf((k + 0.5) * step);
        p.push(upto - below);
        below = upto;
        k += 1.0;
        if 1.0 - upto <= TAIL {
            break;
        }
    }
    *p.last_mut().expect("at least one point") += 1.0 - below;
    p
}

/// A fixed delay of `s` seconds on the grid.
fn fixed(s: f64) -> Vec<f64> {
    let k = (s / f64::from(STEP_S)).round().max(0.0) as usize;
    let mut p = vec![0.0; k + 1];
    p[k] = 1.0;
    p
}

/// The distribution of the sum of two independent delays.
fn convolve(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut c = vec![0.0; a.len() + b.len() - 1];
    for (i, x) in a.iter().enumerate().filter(|(_, x)| **x > 0.0) {
        for (j, y) in b.iter().enumerate() {
            c[i + j] += x * y;
        }
    }
    // Drop the far tail the convolution made longer than it matters.
    let mut tail = 0.0;
    while c.len() > 1 && tail + c[c.len() - 1] <= TAIL {
        tail += c.pop().expect("non-empty");
    }
    *c.last_mut().expect("non-empty") += tail;
    c
}

/// Delay 0 with probability `1 - rate`, else `d`.
fn sometimes(rate: f64, d: &Dist) -> Vec<f64> {
    if rate <= 0.0 {
        return vec![1.0];
    }
    let mut p: Vec<f64> = on_grid(d).iter().map(|x| x * rate).collect();
    p[0] += 1.0 - rate;
    p
}

/// A delay on the grid, added to the order's time of day (`blocks[b]`: the share of
/// orders placed in the block `b` of `STEP_S` from midnight), by days after the order's.
fn by_day(delay: &[f64], blocks: &[f64; BLOCKS]) -> DayLag {
    let days = delay.len().div_ceil(BLOCKS) + 1;
    let mut lag = DayLag {
        share: vec![0.0; days],
        delay_s: vec![0.0; days],
    };
    for (b, w) in blocks.iter().enumerate() {
        for (k, p) in delay.iter().enumerate() {
            let j = (b + k) / BLOCKS;
            lag.share[j] += w * p;
            lag.delay_s[j] += w * p * (k as f64 * f64::from(STEP_S));
        }
    }
    lag
}

impl Scenario {
    /// Route `route`'s delays from the order, under this scenario (the one in force on
    /// the day of the order: `on_day`), computed once and kept.
    pub fn route_lags(&self, route: usize) -> &RouteLags {
        &self.lags.get_or_init(|| {
            (0..self.routes.len())
                .map(|ri| self.compute_route_lags(ri))
                .collect()
        })[route]
    }

    fn compute_route_lags(&self, route: usize) -> RouteLags {
        let r = &self.routes[route];
        let m = &self.markets[r.market.ix()];
        let mut blocks = [0.0; BLOCKS];
        for (h, w) in m.intraday.iter().enumerate() {
            blocks[h * BLOCKS / 24] += w;
        }
        let mut delay = on_grid(&self.pools[r.pool.ix()].handling_time);
        if let Some(to_hub) = &r.to_hub {
            delay = convolve(&delay, &on_grid(to_hub));
        }
        if let Some(h) = r.hub {
            delay = convolve(&delay, &on_grid(&self.hubs[h.ix()].service_time));
        }
        if let Some(l) = &r.linehaul {
            delay = convolve(&delay, &fixed(l.expected_wait_s()));
        }
        delay = convolve(&delay, &on_grid(&r.transit));
        let c = &r.clearance;
        delay = convolve(&delay, &on_grid(&c.clearance_time));
        delay = convolve(&delay, &sometimes(c.inspection_rate, &c.inspection_delay));
        let delivered = convolve(&delay, &on_grid(&m.last_mile));
        RouteLags {
            cleared: by_day(&delay, &blocks),
            delivered: by_day(&delivered, &blocks),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::dist::Sampler;

    fn lognormal(median_s: f64, sigma: f64) -> Dist {
        let mean = median_s * (sigma * sigma / 2.0).exp();
        Dist::new(
            Sampler::LogNormal {
                mu: median_s.ln(),
                sigma,
            },
            mean,
        )
    }

    fn mean(p: &[f64]) -> f64 {
        p.iter()
            .enumerate()
            .map(|(k, x)| k as f64 * f64::from(STEP_S) * x)
            .sum()
    }

    #[test]
    fn a_delay_on_the_grid_keeps_its_mass_and_mean() {
        let d = lognormal(8.0 * f64::from(DAY_S), 0.45);
        let p = on_grid(&d);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // Rounding to the grid moves the mean by far less than a step.
        assert!((mean(&p) - d.mean()).abs() < 0.01 * f64::from(STEP_S));
    }

    #[test]
    fn convolution_adds_means_and_keeps_mass() {
        let a = lognormal(2.0 * f64::from(DAY_S), 0.5);
        let b = lognormal(20.0 * 3600.0, 0.7);
        let c = convolve(&on_grid(&a), &on_grid(&b));
        assert!((c.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((mean(&c) - a.mean() - b.mean()).abs() < 0.02 * f64::from(STEP_S));
        let shifted = convolve(&c, &fixed(6.0 * 3600.0));
        assert!((mean(&shifted) - mean(&c) - 6.0 * 3600.0).abs() < 1e-6);
    }

    #[test]
    fn days_split_by_the_time_of_day() {
        // A fixed delay of 12 hours: orders placed before noon arrive the same day.
        let mut blocks = [0.0; BLOCKS];
        blocks[0] = 0.25; // 00-03 h
        blocks[5] = 0.75; // 15-18 h
        let lag = by_day(&fixed(12.0 * 3600.0), &blocks);
        assert_eq!(lag.share[0], 0.25);
        assert_eq!(lag.share[1], 0.75);
        assert_eq!(lag.delay_s[1], 0.75 * 12.0 * 3600.0);
        let p = sometimes(0.1, &Dist::constant(2.0 * f64::from(DAY_S)));
        assert_eq!((p[0], p[16]), (0.9, 0.1));
    }
}
