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
use rand_distr::weighted::WeightedAliasIndex;
use rand_distr::{Distribution, Poisson, Zipf};
use rayon::prelude::*;

pub use hub::{HubQueue, Regime, Service, sampled_lines};
use parcel::{Parcel, Step, Stored};
use streams::Purpose;

use crate::Error;
use crate::event::Event;
use crate::model::{HubId, MarketId, PoolId, Scenario};

pub const WINDOW_S: u32 = 3600;
pub const DAY_S: u32 = 86_400;
/// Orders drawn per parallel task.
const ORDER_CHUNK: usize = 4096;
/// Parcels per block of a window's bucket, and per parallel task. Fixed-size blocks keep
/// memory close to what the parcels need (a growing `Vec` reserves up to twice that).
const BLOCK: usize = 2048;

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

/// Draws a seller's popularity rank: Zipf-like weights 1/k^s over ranks k = 1..count.
enum PoolPlan {
    Uniform(u32),
    /// An alias table: one draw per sample, no `powf` (pools up to `ALIAS_MAX` sellers).
    Alias(WeightedAliasIndex<f64>),
    /// Rejection-inversion for larger pools.
    Zipf(Zipf<f64>, u32),
}

/// Largest pool sampled through an alias table (16 MiB of table at most).
const ALIAS_MAX: u32 = 1 << 20;

impl PoolPlan {
    fn new(count: u32, exponent: f64) -> PoolPlan {
        if exponent == 0.0 || count == 1 {
            PoolPlan::Uniform(count)
        } else if count <= ALIAS_MAX {
            let weights = (1..=count).map(|k| f64::from(k).powf(-exponent)).collect();
            PoolPlan::Alias(WeightedAliasIndex::new(weights).expect("positive weights"))
        } else {
            PoolPlan::Zipf(
                Zipf::new(f64::from(count), exponent).expect("validated zipf"),
                count,
            )
        }
    }

    /// A seller's popularity rank (0 = most popular).
    #[inline]
    fn rank<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        match self {
            PoolPlan::Uniform(count) => rand::RngExt::random_range(rng, 0..*count),
            PoolPlan::Alias(table) => table.sample(rng) as u32,
            PoolPlan::Zipf(z, count) => (z.sample(rng) as u32).clamp(1, *count) - 1,
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
            .map(|p| PoolPlan::new(p.count, p.popularity_zipf))
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

/// A unit of parallel work within a window.
enum Task<'p> {
    /// Draw new orders and advance them.
    Draw(OrderChunk),
    /// Advance parcels already in flight.
    Advance(&'p [Parcel]),
    /// Advance paid parcels kept in their compact form.
    AdvanceStored(&'p [Stored]),
}

/// What one task produced; kept between windows so its buffers are reused.
#[derive(Default)]
struct TaskOut {
    events: Vec<Event>,
    at_hub: Vec<(HubId, Parcel)>,
    later: Vec<Parcel>,
}

impl TaskOut {
    fn clear(&mut self) {
        self.events.clear();
        self.at_hub.clear();
        self.later.clear();
    }

    fn take(&mut self, plan: &Plan, mut p: Parcel, window_end: u32) {
        match p.advance(plan, window_end, &mut self.events) {
            Step::Later => self.later.push(p),
            Step::AtHub(h) => self.at_hub.push((h, p)),
            Step::Done => {}
        }
    }
}

/// Runs tasks in parallel into reused output buffers, in task order.
fn run_tasks(
    plan: &Plan,
    base: &ChaCha8Rng,
    tasks: &[Task],
    outs: &mut Vec<TaskOut>,
    day: u32,
    hour: u32,
) {
    if outs.len() < tasks.len() {
        outs.resize_with(tasks.len(), TaskOut::default);
    }
    let window_start = day * DAY_S + hour * WINDOW_S;
    let window_end = window_start + WINDOW_S;
    tasks
        .par_iter()
        .zip(outs.par_iter_mut())
        .for_each(|(task, out)| {
            out.clear();
            match task {
                Task::Draw(c) => {
                    let mut rng = base.clone();
                    streams::seek_unit(
                        &mut rng,
                        streams::stream_id(Purpose::Orders, c.market.0, day, hour),
                    );
                    for i in c.first..c.last {
                        streams::seek_order(&mut rng, i);
                        // Stratified arrival: order i of N falls uniformly in the i-th of N
                        // equal slices of the hour, so times come out sorted without a sort.
                        let u: f64 = rand::RngExt::random(&mut rng);
                        let offset = ((i as f64 + u) * f64::from(WINDOW_S) / c.count as f64) as u32;
                        let placed = window_start + offset.min(WINDOW_S - 1);
                        let p = Parcel::draw(
                            plan,
                            &mut rng,
                            c.market,
                            c.first_id + (i - c.first),
                            placed,
                        );
                        out.take(plan, p, window_end);
                    }
                }
                Task::Advance(parcels) => {
                    for p in parcels.iter() {
                        out.take(plan, *p, window_end);
                    }
                }
                Task::AdvanceStored(parcels) => {
                    for p in parcels.iter() {
                        out.take(plan, Parcel::restore(p), window_end);
                    }
                }
            }
        });
}

/// Gives a window's sorted events to the sink, and tells it when a day is complete.
fn hand_over<S: Sink>(
    sink: &mut S,
    events: &[Event],
    finished_day: Option<u32>,
    handed: &mut u64,
) -> Result<(), Error> {
    if !events.is_empty() {
        sink.events(events)?;
        *handed += events.len() as u64;
    }
    if let Some(day) = finished_day {
        sink.day_finished(day, *handed);
    }
    Ok(())
}

/// Per window, the parcels whose next event falls in it, in fixed-size blocks that are
/// reused once emptied.
struct Buckets<T> {
    windows: Vec<Vec<Vec<T>>>,
    spare: Vec<Vec<T>>,
}

impl<T: Copy> Buckets<T> {
    fn new(windows: usize) -> Buckets<T> {
        Buckets {
            windows: (0..windows).map(|_| Vec::new()).collect(),
            spare: Vec::new(),
        }
    }

    fn take(&mut self, window: usize) -> Vec<Vec<T>> {
        std::mem::take(&mut self.windows[window])
    }

    fn file(&mut self, window: usize, item: T) {
        let bucket = &mut self.windows[window];
        if bucket.last().is_none_or(|b| b.len() == BLOCK) {
            bucket.push(
                self.spare
                    .pop()
                    .unwrap_or_else(|| Vec::with_capacity(BLOCK)),
            );
        }
        bucket.last_mut().expect("a block").push(item);
    }

    fn recycle(&mut self, blocks: Vec<Vec<T>>) {
        for mut block in blocks {
            block.clear();
            self.spare.push(block);
        }
    }

    fn is_empty(&self) -> bool {
        self.windows.iter().all(Vec::is_empty)
    }
}

/// Runs the whole horizon, handing every event to `sink` in order.
pub fn simulate<S: Sink + Send>(
    scenario: &Scenario,
    params: RunParams,
    sink: &mut S,
    stop: &AtomicBool,
) -> Result<RunStats, Error> {
    let plan = Plan::new(scenario, params);
    let base = streams::base_rng(params.seed, params.replication);
    let windows = (plan.horizon_s / WINDOW_S) as usize;
    // Per window, the parcels whose next event falls in it: paid ones compact.
    let mut unpaid: Buckets<Parcel> = Buckets::new(windows);
    let mut paid: Buckets<Stored> = Buckets::new(windows);
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
    let mut outs: Vec<TaskOut> = Vec::new();
    let mut hub_outs: Vec<TaskOut> = Vec::new();
    let mut at_hub: Vec<(HubId, Parcel)> = Vec::new();
    let mut served: Vec<Parcel> = Vec::new();
    let mut events: Vec<Event> = Vec::new();

    // Computes window `w`'s events, sorted, into `events`.
    let mut step = |w: usize, events: &mut Vec<Event>| {
        let day = (w as u32 * WINDOW_S) / DAY_S;
        let hour = (w as u32 * WINDOW_S % DAY_S) / WINDOW_S;

        // (1) This hour's new orders and (2) every parcel due in it, in parallel tasks.
        let due = unpaid.take(w);
        let due_paid = paid.take(w);
        let mut tasks: Vec<Task> = Vec::new();
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
                tasks.push(Task::Draw(OrderChunk {
                    market,
                    count,
                    first,
                    last,
                    first_id: next_order_id + first,
                }));
                first = last;
            }
            next_order_id += count;
            stats.orders += count;
        }
        tasks.extend(due.iter().map(|block| Task::Advance(block)));
        tasks.extend(due_paid.iter().map(|block| Task::AdvanceStored(block)));
        run_tasks(&plan, &base, &tasks, &mut outs, day, hour);
        let used = tasks.len();
        drop(tasks);

        // (3) Hub queues, in (arrival, order id) order, then onwards.
        at_hub.clear();
        for out in &outs[..used] {
            at_hub.extend_from_slice(&out.at_hub);
        }
        let mut hub_used = 0;
        if !at_hub.is_empty() {
            at_hub.sort_unstable_by_key(|(_, p)| (p.next, p.order_id));
            served.clear();
            for (hub, p) in &at_hub {
                let mut p = *p;
                let (arrival, need) = p.hub_request();
                match hubs[hub.ix()].serve(arrival, need) {
                    Some(s) => p.served(s.start_s, s.service_s),
                    None => p.stranded(),
                }
                served.push(p);
            }
            let tasks: Vec<Task> = served.chunks(BLOCK).map(Task::Advance).collect();
            run_tasks(&plan, &base, &tasks, &mut hub_outs, day, hour);
            hub_used = tasks.len();
            debug_assert!(
                hub_outs[..hub_used].iter().all(|o| o.at_hub.is_empty()),
                "one hub per route"
            );
        }

        // Parcels with events in later windows wait in that window's bucket.
        unpaid.recycle(due);
        paid.recycle(due_paid);
        for out in outs[..used].iter().chain(&hub_outs[..hub_used]) {
            for p in &out.later {
                let slot = (p.next / WINDOW_S) as usize;
                if slot < windows {
                    if p.is_paid() {
                        paid.file(slot, p.store());
                    } else {
                        unpaid.file(slot, *p);
                    }
                } else if p.stage != parcel::Stage::Return {
                    // Delivered parcels that may still come back are not in flight.
                    stats.in_flight[p.market.ix()] += 1;
                }
            }
        }

        // (4) The window's events in the log's total order.
        let parts: Vec<&[Event]> = outs[..used]
            .iter()
            .chain(&hub_outs[..hub_used])
            .map(|o| o.events.as_slice())
            .collect();
        sort_window(&parts, events, day * DAY_S + hour * WINDOW_S);
        stats.events += events.len() as u64;
    };

    // The sink folds (and logs) window w - 1 while window w is computed, on the same
    // threads: the fold is off the critical path, and the order it sees is unchanged.
    let mut pending: Vec<Event> = Vec::new();
    let mut pending_day: Option<u32> = None;
    let mut handed: u64 = 0;
    for w in 0..windows {
        if stop.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let (handed_over, ()) = rayon::join(
            || hand_over(sink, &pending, pending_day, &mut handed),
            || step(w, &mut events),
        );
        handed_over?;
        std::mem::swap(&mut pending, &mut events);
        let hour = (w as u32 * WINDOW_S % DAY_S) / WINDOW_S;
        pending_day = (hour == 23).then_some((w as u32 * WINDOW_S) / DAY_S);
    }
    hand_over(sink, &pending, pending_day, &mut handed)?;
    // Parcels waiting in a bucket were all scheduled inside the horizon and emptied by
    // the time their window ran, so nothing is left behind there.
    debug_assert!(unpaid.is_empty() && paid.is_empty());
    Ok(stats)
}

/// Sorts a window's events by (time, order id, stage) into `sorted`: a counting sort on
/// the second within the window straight from the tasks' buffers, then each second's few
/// events sorted in parallel. Much cheaper than one comparison sort over the window.
fn sort_window(parts: &[&[Event]], sorted: &mut Vec<Event>, window_start: u32) {
    let mut starts = vec![0usize; WINDOW_S as usize + 1];
    let mut total = 0;
    for part in parts {
        total += part.len();
        for e in part.iter() {
            debug_assert!(e.time_s >= window_start && e.time_s < window_start + WINDOW_S);
            starts[(e.time_s - window_start) as usize + 1] += 1;
        }
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    sorted.clear();
    if total == 0 {
        return;
    }
    sorted.resize(
        total,
        parts
            .iter()
            .find_map(|p| p.first())
            .copied()
            .expect("an event"),
    );
    let mut next = starts.clone();
    for part in parts {
        for e in part.iter() {
            let slot = &mut next[(e.time_s - window_start) as usize];
            sorted[*slot] = *e;
            *slot += 1;
        }
    }
    let mut groups: Vec<&mut [Event]> = Vec::with_capacity(WINDOW_S as usize);
    let mut rest: &mut [Event] = sorted;
    for w in starts.windows(2) {
        let (group, tail) = rest.split_at_mut(w[1] - w[0]);
        if group.len() > 1 {
            groups.push(group);
        }
        rest = tail;
    }
    groups
        .into_par_iter()
        .with_min_len(64)
        .for_each(|g| g.sort_unstable_by_key(|e| (e.order_id, e.kind.stage())));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Context;
    use crate::projection::Tables;

    struct Fold(Tables);

    impl Sink for Fold {
        fn events(&mut self, events: &[Event]) -> Result<(), Error> {
            events.iter().for_each(|e| self.0.observe(e));
            Ok(())
        }
    }

    /// The parcels the engine still holds at the horizon are exactly the orders the
    /// folded log counts as in flight.
    #[test]
    fn engine_state_and_folded_log_agree_on_parcels_in_flight() {
        let text = include_str!("../../tests/data/small.toml");
        let scenario = crate::scenario::load_str(text, "small.toml", None, &[]).unwrap();
        let params = RunParams {
            seed: 5,
            replication: 0,
            sample: 1.0,
        };
        let ctx = Context::from_plan(&Plan::new(&scenario, params));
        let mut sink = Fold(Tables::new(&ctx));
        let stats = simulate(&scenario, params, &mut sink, &AtomicBool::new(false)).unwrap();
        let summary = sink.0.summary();
        for (m, market) in scenario.markets.iter().enumerate() {
            let folded = summary
                .iter()
                .find(|(k, _)| *k == format!("{}.in_flight", market.id))
                .unwrap();
            assert_eq!(folded.1, stats.in_flight[m].to_string(), "{}", market.id);
            assert!(stats.in_flight[m] > 0);
        }
        assert_eq!(stats.events, sink.0.events());
    }
}
