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

mod alias;
mod hub;
mod parcel;
pub mod streams;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, Zipf};
use rayon::prelude::*;

pub use alias::AliasTable;
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
    Alias(AliasTable),
    /// Rejection-inversion for larger pools.
    Zipf(Zipf<f64>, u32),
}

/// Largest pool sampled through an alias table (8 MiB of table at most).
const ALIAS_MAX: u32 = 1 << 20;

impl PoolPlan {
    fn new(count: u32, exponent: f64) -> PoolPlan {
        if exponent == 0.0 || count == 1 {
            PoolPlan::Uniform(count)
        } else if count <= ALIAS_MAX {
            let weights: Vec<f64> = (1..=count).map(|k| f64::from(k).powf(-exponent)).collect();
            PoolPlan::Alias(AliasTable::new(&weights))
        } else {
            PoolPlan::Zipf(
                Zipf::new(f64::from(count), exponent).expect("validated zipf"),
                count,
            )
        }
    }

    /// Draws a seller's popularity rank (0 = most popular), to be read with
    /// `finish_rank` once other work has hidden any wait for memory.
    #[inline]
    fn start_rank<R: Rng + ?Sized>(&self, rng: &mut R) -> RankDraw {
        match self {
            PoolPlan::Uniform(count) => RankDraw::Ready(rand::RngExt::random_range(rng, 0..*count)),
            PoolPlan::Alias(table) => RankDraw::Alias(table.start(rng)),
            PoolPlan::Zipf(z, count) => {
                RankDraw::Ready((z.sample(rng) as u32).clamp(1, *count) - 1)
            }
        }
    }

    #[inline]
    fn finish_rank(&self, draw: RankDraw) -> u32 {
        match (self, draw) {
            (_, RankDraw::Ready(rank)) => rank,
            (PoolPlan::Alias(table), RankDraw::Alias(draw)) => table.finish(draw),
            _ => unreachable!("a draw is finished by the pool that started it"),
        }
    }
}

/// A seller rank being drawn.
#[derive(Clone, Copy)]
enum RankDraw {
    Ready(u32),
    Alias(alias::AliasDraw),
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

/// Runs tasks in parallel into reused output buffers, in task order; parcels that go
/// on in a later window are filed in `schedule`.
fn run_tasks(
    plan: &Plan,
    schedule: &Schedule,
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
            schedule.file(&out.later);
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

    fn is_empty(&self) -> bool {
        self.windows.iter().all(Vec::is_empty)
    }
}

/// One shelf of the schedule: filled by whichever task holds it.
struct Shelf {
    unpaid: Buckets<Parcel>,
    /// Paid parcels, kept compact.
    paid: Buckets<Stored>,
    /// Parcels whose next event falls past the horizon, per market.
    in_flight: Vec<u64>,
}

/// Most shelves a schedule has, whatever the thread count: each holds up to one partly
/// filled block per window, memory that grows with the shelves, not the parcels.
const MAX_SHELVES: usize = 4;

/// Where every parcel waits for the window of its next event. Tasks file their parcels
/// in parallel, each into a shelf it locks; a parcel's shelf and its place in a window
/// change nothing, since each window's events are sorted and its hub arrivals ordered.
struct Schedule {
    shelves: Vec<Mutex<Shelf>>,
    windows: usize,
}

impl Schedule {
    fn new(windows: usize, markets: usize, shelves: usize) -> Schedule {
        Schedule {
            shelves: (0..shelves.max(1))
                .map(|_| {
                    Mutex::new(Shelf {
                        unpaid: Buckets::new(windows),
                        paid: Buckets::new(windows),
                        in_flight: vec![0; markets],
                    })
                })
                .collect(),
            windows,
        }
    }

    /// A shelf no other task holds (the current thread's own when it is free).
    fn shelf(&self) -> MutexGuard<'_, Shelf> {
        let n = self.shelves.len();
        let first = rayon::current_thread_index().unwrap_or(0) % n;
        (0..n)
            .find_map(|k| self.shelves[(first + k) % n].try_lock().ok())
            .unwrap_or_else(|| self.shelves[first].lock().expect("no task panics"))
    }

    /// Files parcels that continue in a later window.
    fn file(&self, parcels: &[Parcel]) {
        if parcels.is_empty() {
            return;
        }
        let mut shelf = self.shelf();
        for p in parcels {
            let slot = (p.next / WINDOW_S) as usize;
            if slot < self.windows {
                if p.is_paid() {
                    shelf.paid.file(slot, p.store());
                } else {
                    shelf.unpaid.file(slot, *p);
                }
            } else if p.stage != parcel::Stage::Return {
                // Delivered parcels that may still come back are not in flight.
                shelf.in_flight[p.market.ix()] += 1;
            }
        }
    }

    /// Takes window `w`'s parcels out of every shelf.
    fn take(&mut self, w: usize) -> (Vec<Vec<Parcel>>, Vec<Vec<Stored>>) {
        let mut unpaid = Vec::new();
        let mut paid = Vec::new();
        for shelf in &mut self.shelves {
            let shelf = shelf.get_mut().expect("no task panics");
            unpaid.append(&mut shelf.unpaid.windows[w]);
            paid.append(&mut shelf.paid.windows[w]);
        }
        (unpaid, paid)
    }

    /// Returns emptied blocks to the shelves, spread evenly.
    fn recycle(&mut self, unpaid: Vec<Vec<Parcel>>, paid: Vec<Vec<Stored>>) {
        let n = self.shelves.len();
        for (i, mut block) in unpaid.into_iter().enumerate() {
            block.clear();
            let shelf = self.shelves[i % n].get_mut().expect("no task panics");
            shelf.unpaid.spare.push(block);
        }
        for (i, mut block) in paid.into_iter().enumerate() {
            block.clear();
            let shelf = self.shelves[i % n].get_mut().expect("no task panics");
            shelf.paid.spare.push(block);
        }
    }

    /// Parcels in flight at the horizon, per market.
    fn in_flight(&mut self) -> Vec<u64> {
        let mut total: Vec<u64> = Vec::new();
        for shelf in &mut self.shelves {
            let shelf = shelf.get_mut().expect("no task panics");
            total.resize(shelf.in_flight.len(), 0);
            for (t, n) in total.iter_mut().zip(&shelf.in_flight) {
                *t += n;
            }
        }
        total
    }

    fn is_empty(&mut self) -> bool {
        self.shelves.iter_mut().all(|s| {
            let s = s.get_mut().expect("no task panics");
            s.unpaid.is_empty() && s.paid.is_empty()
        })
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
    let mut schedule = Schedule::new(
        windows,
        scenario.markets.len(),
        rayon::current_num_threads().min(MAX_SHELVES),
    );
    let mut hubs: Vec<HubQueue> = plan
        .hub_regimes
        .iter()
        .map(|r| HubQueue::new(r.clone()))
        .collect();
    let mut stats = RunStats::default();
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

        let (due, due_paid) = schedule.take(w);
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
            // Sort keys hold an order id in 56 bits (`sort_second`).
            assert!(next_order_id < 1 << 56, "order ids fit in 56 bits");
            stats.orders += count;
        }
        let drawn = tasks.len();
        tasks.extend(due.iter().map(|block| Task::Advance(block)));
        tasks.extend(due_paid.iter().map(|block| Task::AdvanceStored(block)));
        run_tasks(&plan, &schedule, &base, &tasks, &mut outs, day, hour);
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
            run_tasks(&plan, &schedule, &base, &tasks, &mut hub_outs, day, hour);
            hub_used = tasks.len();
            debug_assert!(
                hub_outs[..hub_used].iter().all(|o| o.at_hub.is_empty()),
                "one hub per route"
            );
        }

        schedule.recycle(due, due_paid);

        // The new orders' events last: they are in order already and follow all others
        // that share their second (see `sort_second`).
        let parts: Vec<&[Event]> = outs[drawn..used]
            .iter()
            .chain(&hub_outs[..hub_used])
            .chain(&outs[..drawn])
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
    debug_assert!(schedule.is_empty());
    stats.in_flight = schedule.in_flight();
    Ok(stats)
}

/// Groups of task outputs the sort scatters in parallel; fixed, so that the work does
/// not depend on the thread count (the output never does: sort keys are unique).
const SORT_GROUPS: usize = 4;

/// Sorts a window's events by (time, order id, stage) into `sorted`: a counting sort on
/// the second within the window, the tasks' buffers scattered in parallel groups, then
/// each second's few events sorted in parallel. Much cheaper than one comparison sort
/// over the window.
fn sort_window(parts: &[&[Event]], sorted: &mut Vec<Event>, window_start: u32) {
    const SECONDS: usize = WINDOW_S as usize;
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let Some(&filler) = parts.iter().find_map(|p| p.first()) else {
        sorted.clear();
        return;
    };
    // Contiguous runs of parts with about the same number of events.
    let mut groups: Vec<&[&[Event]]> = Vec::with_capacity(SORT_GROUPS);
    let (mut from, mut seen) = (0, 0);
    for (i, part) in parts.iter().enumerate() {
        seen += part.len();
        if seen * SORT_GROUPS >= total * (groups.len() + 1) || i + 1 == parts.len() {
            groups.push(&parts[from..=i]);
            from = i + 1;
        }
    }
    let second = |e: &Event| {
        debug_assert!(e.time_s >= window_start && e.time_s < window_start + WINDOW_S);
        (e.time_s - window_start) as usize
    };
    let counts: Vec<Vec<u32>> = groups
        .par_iter()
        .map(|group| {
            let mut count = vec![0u32; SECONDS];
            for e in group.iter().flat_map(|p| p.iter()) {
                count[second(e)] += 1;
            }
            count
        })
        .collect();

    // Every position is overwritten below; only the length matters (`resize` also
    // shortens).
    sorted.resize(total, filler);
    // Cut the output into one piece per (group, second), each second's pieces in group
    // order, so that the groups can scatter at once without sharing a piece.
    let mut pieces: Vec<Vec<&mut [Event]>> = (0..groups.len())
        .map(|_| Vec::with_capacity(SECONDS))
        .collect();
    let mut seconds: Vec<&mut [Event]> = Vec::with_capacity(SECONDS);
    {
        let mut rest: &mut [Event] = sorted;
        for s in 0..SECONDS {
            for (g, count) in counts.iter().enumerate() {
                let (piece, tail) = rest.split_at_mut(count[s] as usize);
                pieces[g].push(piece);
                rest = tail;
            }
        }
    }
    pieces
        .into_par_iter()
        .zip(groups.par_iter())
        .for_each(|(mut pieces, group)| {
            for e in group.iter().flat_map(|p| p.iter()) {
                let piece = &mut pieces[second(e)];
                let (slot, rest) = std::mem::take(piece).split_first_mut().expect("counted");
                *slot = *e;
                *piece = rest;
            }
        });

    let mut rest: &mut [Event] = sorted;
    for s in 0..SECONDS {
        let len: usize = counts.iter().map(|c| c[s] as usize).sum();
        let (events, tail) = rest.split_at_mut(len);
        if len > 1 {
            seconds.push(events);
        }
        rest = tail;
    }
    seconds
        .into_par_iter()
        .with_min_len(64)
        .for_each(sort_second);
}

/// Sorts one second's events by (order id, stage). The events of orders placed in this
/// window come last and already in order (drawn in id order, each order's events in
/// lifecycle order), with ids above every older order's: only the rest needs sorting.
fn sort_second(events: &mut [Event]) {
    let key = |e: &Event| e.order_id << 8 | u64::from(e.kind.stage());
    let mut split = events.len().saturating_sub(1);
    while split > 0 && key(&events[split - 1]) < key(&events[split]) {
        split -= 1;
    }
    let (older, newer) = events.split_at_mut(split);
    older.sort_unstable_by_key(key);
    if let (Some(last), Some(first)) = (older.last(), newer.first())
        && key(last) > key(first)
    {
        // A new order already at its hub, say: not the common case.
        events.sort_unstable_by_key(key);
    }
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

    use proptest::prelude::*;

    fn event(time_s: u32, order_id: u64, attempt: u8) -> Event {
        Event {
            time_s,
            order_id,
            market: MarketId(0),
            route: crate::model::RouteId(0),
            kind: if attempt == 0 {
                crate::event::EventKind::Dispatched
            } else {
                crate::event::EventKind::PaymentAttempted {
                    method: crate::model::MethodId(0),
                    attempt,
                    success: false,
                }
            },
        }
    }

    proptest! {
        /// Whatever the parts, and whether or not their new orders come last in order,
        /// the window comes out exactly as a plain sort by the log's key would give.
        #[test]
        fn sort_window_is_a_sort_by_the_log_key(
            parts in proptest::collection::vec(
                proptest::collection::vec((0u32..40, 0u64..300, 0u8..4), 0..200),
                0..12,
            ),
            presorted_tail in proptest::collection::vec((0u32..40, 0u8..3), 0..300),
        ) {
            let start = 7 * WINDOW_S;
            // Keys are unique in a real window: keep the first of each.
            let mut seen = std::collections::HashSet::new();
            let mut parts: Vec<Vec<Event>> = parts
                .into_iter()
                .map(|p| {
                    p.into_iter()
                        .filter(|(t, o, a)| seen.insert((*t, *o, *a)))
                        .map(|(t, o, a)| event(start + t * 90, o, a))
                        .collect()
                })
                .collect();
            // Like newly drawn orders: ids above the rest, already in key order.
            let mut tail: Vec<Event> = presorted_tail
                .into_iter()
                .enumerate()
                .map(|(i, (t, a))| event(start + t * 90, 1000 + i as u64, a))
                .collect();
            tail.sort_by_key(Event::order_key);
            parts.push(tail);
            let slices: Vec<&[Event]> = parts.iter().map(Vec::as_slice).collect();
            let mut sorted = vec![event(start, 0, 0); 3];
            sort_window(&slices, &mut sorted, start);
            let mut expected: Vec<Event> = parts.concat();
            expected.sort_by_key(Event::order_key);
            prop_assert_eq!(sorted, expected);
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
