//! The simulation: hour-long windows over the horizon, parallel within each window,
//! merged into one total order.
//!
//! For each window: (1) draw the hour's orders per market (the count from the unit's
//! stream, each order from its own block), in parallel chunks; (2) advance every parcel
//! whose next event falls in the window, in parallel, emitting its events; (3) offer the
//! hub arrivals of the window to each hub's FIFO queue in (time, order id) order and
//! advance those parcels again; (4) sort the window's events by (time, order id,
//! lifecycle stage) and hand them to the sink. Work depends only on the data, never on
//! the thread count or scheduling, so the output is the same for any `--threads`.
//!
//! The engine does no I/O: it hands sorted events to a `Sink`.

mod hub;
mod parcel;
pub mod streams;

use std::sync::atomic::{AtomicBool, Ordering};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, Zipf};
use rayon::prelude::*;

pub use hub::{HubQueue, Regime, Service, sampled_lines};
use parcel::{Parcel, Step};
use streams::Purpose;

use crate::Error;
use crate::event::Event;
use crate::model::{MarketId, PoolId, Scenario};

pub const WINDOW_S: u32 = 3600;
pub const DAY_S: u32 = 86_400;
/// Orders drawn per parallel task.
const ORDER_CHUNK: usize = 4096;
/// Parcels advanced per parallel task.
const PARCEL_CHUNK: usize = 8192;

/// Receives the events of each window, already in the log's total order.
pub trait Sink {
    fn events(&mut self, events: &[Event]) -> Result<(), Error>;
    /// Called after each simulated day; `events` counts all events so far.
    fn day_finished(&mut self, _day: u32, _events: u64) {}
}

/// What identifies one simulation run apart from the scenario.
#[derive(Debug, Clone, Copy)]
pub struct RunParams {
    pub seed: u64,
    pub replication: u32,
    /// Fraction of buyers simulated, in (0, 1].
    pub sample: f64,
}

/// Figures the engine knows without folding the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    pub events: u64,
    pub orders: u64,
    /// Orders neither cancelled nor delivered when the horizon ended, per market.
    pub in_flight: Vec<u64>,
}

/// Per-run lookup tables derived from the scenario.
pub struct Plan<'a> {
    pub scenario: &'a Scenario,
    pub params: RunParams,
    pub horizon_s: u32,
    markets: Vec<MarketPlan>,
    pools: Vec<PoolPlan>,
    /// Per hub, the regimes of lines and service scale (after sampling).
    pub hub_regimes: Vec<Vec<Regime>>,
}

struct MarketPlan {
    pools: Vec<PoolId>,
    pool_cdf: Vec<f64>,
    categories: Vec<u8>,
    category_cdf: Vec<f64>,
    method_cdf: Vec<f64>,
}

struct PoolPlan {
    zipf: Option<Zipf<f64>>,
    count: u32,
}

impl PoolPlan {
    /// A seller's popularity rank (0 = most popular).
    #[inline]
    fn rank<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        match &self.zipf {
            Some(z) => (z.sample(rng) as u32).clamp(1, self.count) - 1,
            None => {
                use rand::RngExt;
                rng.random_range(0..self.count)
            }
        }
    }
}

fn cdf(weights: &[f64]) -> Vec<f64> {
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    let mut out: Vec<f64> = weights
        .iter()
        .map(|w| {
            acc += w / total;
            acc
        })
        .collect();
    if let Some(last) = out.last_mut() {
        *last = f64::INFINITY;
    }
    out
}

impl<'a> Plan<'a> {
    pub fn new(scenario: &'a Scenario, params: RunParams) -> Plan<'a> {
        let markets = scenario
            .markets
            .iter()
            .enumerate()
            .map(|(mi, m)| {
                let shares = &scenario.demand[mi].shares;
                let pools: Vec<PoolId> = (0..shares.len())
                    .filter(|p| shares[*p] > 0.0)
                    .map(|p| PoolId(p as u8))
                    .collect();
                let pool_w: Vec<f64> = pools.iter().map(|p| shares[p.ix()]).collect();
                let categories: Vec<u8> = (0..m.category_weights.len())
                    .filter(|c| m.category_weights[*c] > 0.0)
                    .map(|c| c as u8)
                    .collect();
                let cat_w: Vec<f64> = categories
                    .iter()
                    .map(|c| m.category_weights[*c as usize])
                    .collect();
                let method_w: Vec<f64> = m.payment.iter().map(|p| p.share).collect();
                MarketPlan {
                    pool_cdf: cdf(&pool_w),
                    pools,
                    category_cdf: cdf(&cat_w),
                    categories,
                    method_cdf: cdf(&method_w),
                }
            })
            .collect();
        let pools = scenario
            .pools
            .iter()
            .map(|p| PoolPlan {
                zipf: (p.popularity_zipf > 0.0 && p.count > 1).then(|| {
                    Zipf::new(f64::from(p.count), p.popularity_zipf).expect("validated zipf")
                }),
                count: p.count,
            })
            .collect();
        let hub_regimes = scenario
            .hubs
            .iter()
            .map(|h| {
                std::iter::once((0, h.lines))
                    .chain(h.capacity_changes.iter().copied())
                    .map(|(day, lines)| {
                        let (lines, service_scale) = sampled_lines(lines, params.sample);
                        Regime {
                            from_s: day * DAY_S,
                            lines,
                            service_scale,
                        }
                    })
                    .collect()
            })
            .collect();
        Plan {
            scenario,
            params,
            horizon_s: scenario.days * DAY_S,
            markets,
            pools,
            hub_regimes,
        }
    }

    /// Expected orders in `market` during hour `hour` of `day`, at the run's sample.
    pub fn hourly_rate(&self, market: MarketId, day: u32, hour: u32) -> f64 {
        self.scenario.expected_orders(market, day)
            * self.params.sample
            * self.scenario.markets[market.ix()].intraday[hour as usize]
    }
}

/// One task of order drawing: orders `first..last` of a market's hour.
struct OrderChunk {
    market: MarketId,
    count: u64,
    first: u64,
    last: u64,
    first_id: u64,
}

/// Runs the whole horizon, handing every event to `sink` in order.
pub fn simulate<S: Sink>(
    scenario: &Scenario,
    params: RunParams,
    sink: &mut S,
    stop: &AtomicBool,
) -> Result<RunStats, Error> {
    let plan = Plan::new(scenario, params);
    let base = streams::base_rng(params.seed, params.replication);
    let windows = (plan.horizon_s / WINDOW_S) as usize;
    let mut buckets: Vec<Vec<Parcel>> = (0..windows).map(|_| Vec::new()).collect();
    let mut hubs: Vec<HubQueue> = plan
        .hub_regimes
        .iter()
        .map(|r| HubQueue::new(r.clone()))
        .collect();
    let mut stats = RunStats {
        in_flight: vec![0; scenario.markets.len()],
        ..RunStats::default()
    };
    let mut next_order_id: u64 = 0;
    let mut events: Vec<Event> = Vec::new();

    for w in 0..windows {
        if stop.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let day = (w as u32 * WINDOW_S) / DAY_S;
        let hour = (w as u32 * WINDOW_S % DAY_S) / WINDOW_S;
        let window_start = w as u32 * WINDOW_S;
        let window_end = window_start + WINDOW_S;

        // (1) This hour's orders.
        let mut chunks = Vec::new();
        for mi in 0..scenario.markets.len() {
            let market = MarketId(mi as u8);
            let lambda = plan.hourly_rate(market, day, hour);
            let mut rng = base.clone();
            streams::seek_unit(
                &mut rng,
                streams::stream_id(Purpose::OrderCount, market.0, day, hour),
            );
            let count = if lambda > 0.0 {
                Poisson::new(lambda)
                    .expect("finite positive rate")
                    .sample(&mut rng) as u64
            } else {
                0
            };
            let mut first = 0;
            while first < count {
                let last = (first + ORDER_CHUNK as u64).min(count);
                chunks.push(OrderChunk {
                    market,
                    count,
                    first,
                    last,
                    first_id: next_order_id + first,
                });
                first = last;
            }
            next_order_id += count;
            stats.orders += count;
        }
        let new_parcels: Vec<Vec<Parcel>> = chunks
            .par_iter()
            .map(|c| draw_orders(&plan, &base, c, day, hour, window_start))
            .collect();
        let mut due = std::mem::take(&mut buckets[w]);
        for batch in new_parcels {
            due.extend(batch);
        }

        // (2) Advance everything due in this window.
        events.clear();
        let mut at_hub = Vec::new();
        let mut later = Vec::new();
        advance_all(&plan, due, window_end, &mut events, &mut at_hub, &mut later);

        // (3) Hub queues, in (arrival, order id) order, then onwards.
        if !at_hub.is_empty() {
            at_hub.sort_unstable_by_key(|(_, p)| (p.next, p.order_id));
            let mut served = Vec::with_capacity(at_hub.len());
            for (hub, mut p) in at_hub {
                let (arrival, need) = p.hub_request();
                match hubs[hub.ix()].serve(arrival, need) {
                    Some(s) => p.served(s.start_s, s.service_s),
                    None => p.stranded(),
                }
                served.push(p);
            }
            let mut no_hub = Vec::new();
            advance_all(
                &plan,
                served,
                window_end,
                &mut events,
                &mut no_hub,
                &mut later,
            );
            debug_assert!(no_hub.is_empty(), "a route has at most one hub");
        }

        for p in later {
            let slot = (p.next / WINDOW_S) as usize;
            if slot < windows {
                buckets[slot].push(p);
            } else {
                stats.in_flight[p.market.ix()] += 1;
            }
        }

        // (4) The window's events in the log's total order.
        events.par_sort_unstable_by_key(Event::order_key);
        stats.events += events.len() as u64;
        sink.events(&events)?;
        if hour == 23 {
            sink.day_finished(day, stats.events);
        }
    }
    // Parcels waiting in a bucket were all scheduled inside the horizon and emptied by
    // the time their window ran, so nothing is left behind there.
    debug_assert!(buckets.iter().all(Vec::is_empty));
    Ok(stats)
}

fn draw_orders(
    plan: &Plan,
    base: &ChaCha8Rng,
    c: &OrderChunk,
    day: u32,
    hour: u32,
    window_start: u32,
) -> Vec<Parcel> {
    let mut rng = base.clone();
    streams::seek_unit(
        &mut rng,
        streams::stream_id(Purpose::Orders, c.market.0, day, hour),
    );
    (c.first..c.last)
        .map(|i| {
            streams::seek_order(&mut rng, i);
            // Stratified arrival: order i of N falls uniformly in the i-th of N equal
            // slices of the hour, so times come out sorted without a sort.
            let u: f64 = rand::RngExt::random(&mut rng);
            let offset = ((i as f64 + u) * f64::from(WINDOW_S) / c.count as f64) as u32;
            let placed = window_start + offset.min(WINDOW_S - 1);
            Parcel::draw(plan, &mut rng, c.market, c.first_id + (i - c.first), placed)
        })
        .collect()
}

/// Advances parcels in parallel chunks; merges results in chunk order.
fn advance_all(
    plan: &Plan,
    parcels: Vec<Parcel>,
    window_end: u32,
    events: &mut Vec<Event>,
    at_hub: &mut Vec<(crate::model::HubId, Parcel)>,
    later: &mut Vec<Parcel>,
) {
    type ChunkOut = (Vec<Event>, Vec<(crate::model::HubId, Parcel)>, Vec<Parcel>);
    let results: Vec<ChunkOut> = parcels
        .par_chunks(PARCEL_CHUNK)
        .map(|chunk| {
            let mut ev = Vec::with_capacity(chunk.len() * 3);
            let mut hub = Vec::new();
            let mut rest = Vec::new();
            for p in chunk {
                let mut p = *p;
                match p.advance(plan, window_end, &mut ev) {
                    Step::Later => rest.push(p),
                    Step::AtHub(h) => hub.push((h, p)),
                    Step::Done => {}
                }
            }
            (ev, hub, rest)
        })
        .collect();
    for (ev, hub, rest) in results {
        events.extend(ev);
        at_hub.extend(hub);
        later.extend(rest);
    }
}
