//! The simulation: the horizon in hours, each hour cut into steps, parallel within
//! each step, merged into one total order.
//!
//! At the start of an hour: take the parcels whose next event falls in it from the
//! schedule, draw the hour's order count per market (from the unit's stream), and cut
//! the hour into as many steps as keep a step near `STEP_EVENTS` events. For each
//! step: (1) draw the orders whose slice of the hour starts in the step, each from its
//! own block, in parallel chunks; (2) advance every parcel whose next event falls in
//! the step, in parallel, emitting its events; (3) offer the hub arrivals of the step to
//! each hub's FIFO queue in (time, order id) order and advance those parcels again;
//! (4) while the next step runs, sort the step's events by (time, order id, lifecycle
//! stage) and hand them to the sink. Work depends only on the data, never on the thread
//! count or scheduling, and steps only divide it, so the output is the same for any
//! `--threads`.
//!
//! The engine does no I/O: it hands events to a `Sink`. A sink that only folds counts
//! and sums says it needs no order (`Sink::needs_order`): it then gets the tasks'
//! buffers unsorted, in an order that may change with scheduling, and the sort is
//! skipped.

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
use streams::{OrderRng, Purpose};

use crate::Error;
use crate::event::Event;
use crate::event::context::{self, Context};
use crate::model::{HubId, MarketId, PoolId, Scenario};

/// The unit of order streams, order counts and the schedule.
pub use crate::model::date::{DAY_S, HOUR_S};
/// Orders drawn per parallel task.
const ORDER_CHUNK: usize = 1024;
/// Parcels a task files at a time: a small buffer stays in cache between its fills,
/// a task-sized one would not.
const LATER_BATCH: usize = 256;
/// Parcels per block of an hour's bucket, and per parallel task. Fixed-size blocks keep
/// memory close to what the parcels need (a growing `Vec` reserves up to twice that).
const BLOCK: usize = 2048;

/// Receives the events of each step, in the log's total order unless it says it does
/// not need it.
pub trait Sink {
    fn events(&mut self, events: &[Event]) -> Result<(), Error>;
    /// Whether events must come in the log's order. A sink that answers `false` (one
    /// that only folds counts and sums, whose result no order changes) gets the same
    /// events in no particular order: each step's in pieces, unsorted, and a parcel's
    /// later events as soon as nothing but its own draws decides them (`Span::own_end`).
    fn needs_order(&self) -> bool {
        true
    }
    /// Called after each simulated day; `events` counts all events handed over so far
    /// (for a sink that does not need order, some of them fall on later days).
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

    /// The run's dimensions, as its tables and its log's header need them.
    pub fn context(&self) -> Context {
        let plan = self;
        let s = plan.scenario;
        Context {
            scenario: s.name.clone(),
            start_date: s.start.to_string(),
            days: s.days,
            seed: plan.params.seed,
            replication: plan.params.replication,
            sample: plan.params.sample,
            markets: s
                .markets
                .iter()
                .map(|m| context::MarketDim {
                    id: m.id.clone(),
                    methods: m.payment.iter().map(|p| p.method.clone()).collect(),
                })
                .collect(),
            categories: s.categories.clone(),
            pools: s
                .pools
                .iter()
                .map(|p| context::PoolDim {
                    id: p.id.clone(),
                    count: p.count,
                    tiers: p.size_tiers.clone(),
                })
                .collect(),
            routes: s
                .routes
                .iter()
                .map(|r| context::RouteDim {
                    id: r.id.clone(),
                    market: r.market.0,
                    pool: r.pool.0,
                    hub: r.hub.map(|h| h.0),
                })
                .collect(),
            hubs: s
                .hubs
                .iter()
                .zip(&plan.hub_regimes)
                .map(|(h, regimes)| context::HubDim {
                    id: h.id.clone(),
                    lines_by_day: (0..s.days).map(|d| h.lines_on(d)).collect(),
                    simulated_lines_by_day: (0..s.days)
                        .map(|d| {
                            regimes
                                .iter()
                                .rev()
                                .find(|r| r.from_s <= d * DAY_S)
                                .map_or(0, |r| r.lines)
                        })
                        .collect(),
                })
                .collect(),
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
    /// Orders in the market's hour.
    count: u64,
    first: u64,
    last: u64,
    first_id: u64,
}

/// A unit of parallel work within a step.
enum Task<'p> {
    /// Draw new orders and advance them.
    Draw(OrderChunk),
    /// Advance parcels already in flight.
    Advance(Vec<&'p [Parcel]>),
    /// Advance paid parcels kept in their compact form.
    AdvanceStored(Vec<&'p [Stored]>),
}

/// The stretch of time one step covers, inside one hour.
#[derive(Debug, Clone, Copy)]
struct Span {
    day: u32,
    hour: u32,
    start: u32,
    end: u32,
    hour_end: u32,
    /// How far a parcel with no hub queue ahead is advanced: `end`, or the horizon when
    /// the sink takes events in any order. Such a parcel's later events depend on
    /// nothing but its own draws, so they can all be emitted at once, and the parcel
    /// never waits in a bucket.
    own_end: u32,
}

/// What one task produced; kept between steps so its buffers are reused.
#[derive(Default)]
struct TaskOut {
    events: Vec<Event>,
    at_hub: Vec<(HubId, Parcel)>,
    /// Parcels that go on in a later hour, filed in batches of `LATER_BATCH`.
    later: Vec<Parcel>,
    /// Parcels that go on in a later step of this hour.
    carry: Vec<Parcel>,
}

impl TaskOut {
    fn clear(&mut self) {
        self.events.clear();
        self.at_hub.clear();
        self.later.clear();
        self.carry.clear();
    }

    /// Advances a parcel through the step and keeps it where its next event wants it.
    /// `make` writes the parcel straight into the end of `later`, where most parcels go,
    /// and it is advanced there: a parcel copied right after its fields were written
    /// would wait for those writes (a wide load over narrower recent stores does not
    /// forward).
    #[inline]
    fn take(
        &mut self,
        plan: &Plan,
        schedule: &Schedule,
        span: &Span,
        make: impl FnOnce() -> Parcel,
    ) {
        self.later.push(make());
        let p = self.later.last_mut().expect("just pushed");
        let end = if p.queue_ahead(plan) {
            span.end
        } else {
            span.own_end
        };
        match p.advance(plan, end, &mut self.events) {
            Step::Later if p.next < span.hour_end => {
                let p = self.later.pop().expect("just pushed");
                self.carry.push(p);
            }
            Step::Later => {
                if self.later.len() == LATER_BATCH {
                    schedule.file(&self.later);
                    self.later.clear();
                }
            }
            Step::AtHub(h) => {
                let p = self.later.pop().expect("just pushed");
                self.at_hub.push((h, p));
            }
            Step::Done => {
                self.later.pop();
            }
        }
    }
}

/// Runs tasks in parallel into reused output buffers, in task order; parcels that go
/// on in a later hour are filed in `schedule`.
fn run_tasks(
    plan: &Plan,
    schedule: &Schedule,
    base: &ChaCha8Rng,
    tasks: &[Task],
    outs: &mut Vec<TaskOut>,
    span: &Span,
) {
    if outs.len() < tasks.len() {
        outs.resize_with(tasks.len(), TaskOut::default);
    }
    let hour_start = span.hour_end - HOUR_S;
    tasks
        .par_iter()
        .zip(outs.par_iter_mut())
        .for_each(|(task, out)| {
            out.clear();
            match task {
                Task::Draw(c) => {
                    let mut rng = OrderRng::new(base, c.market.0, span.day, span.hour);
                    let slice_s = f64::from(HOUR_S) / c.count as f64;
                    for i in c.first..c.last {
                        rng.begin(i);
                        // Stratified arrival: order i of N falls uniformly in the i-th of N
                        // equal slices of the hour, so times come out sorted without a sort.
                        let u = streams::unit_from_word(&mut rng);
                        let offset = ((i as f64 + u) * slice_s) as u32;
                        let placed = hour_start + offset.min(HOUR_S - 1);
                        let order_id = c.first_id + (i - c.first);
                        out.take(plan, schedule, span, || {
                            Parcel::draw(plan, &mut rng, c.market, order_id, placed)
                        });
                    }
                }
                Task::Advance(runs) => {
                    each_prefetched(runs, |p| out.take(plan, schedule, span, || *p));
                }
                Task::AdvanceStored(runs) => {
                    each_prefetched(runs, |p| {
                        out.take(plan, schedule, span, || Parcel::restore(p))
                    });
                }
            }
            schedule.file(&out.later);
            out.later.clear();
        });
}

/// Asks for the cache lines of `item` without waiting for them.
#[inline]
fn prefetch<T>(item: &T) {
    let first = (item as *const T).cast::<i8>();
    // Without `add`'s promise to stay in bounds, which a zero-sized `T` would break.
    let last = first.wrapping_add(std::mem::size_of::<T>().saturating_sub(1));
    // SAFETY: SSE is part of every x86_64 target, and a prefetch is only a hint: it
    // reads nothing into the program and cannot fault (the addresses are even valid:
    // the first and last byte of `item`).
    #[cfg(target_arch = "x86_64")]
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(first);
        _mm_prefetch::<_MM_HINT_T0>(last);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (first, last);
}

/// Parcels ahead of the one being advanced whose memory is asked for: parcels wait in
/// their buckets for hours, so most reads miss the caches.
const PREFETCH_AHEAD: usize = 8;

/// Calls `take` on every item of `runs`, asking for items' memory ahead of time.
#[inline]
fn each_prefetched<T>(runs: &[&[T]], mut take: impl FnMut(&T)) {
    for run in runs {
        for (i, item) in run.iter().enumerate() {
            if let Some(ahead) = run.get(i + PREFETCH_AHEAD) {
                prefetch(ahead);
            }
            take(item);
        }
    }
}

/// One step's events, in the buffers the tasks wrote them into (`parts`): those of the
/// tasks that advanced older parcels, then those of the tasks that drew new orders (in
/// order already, see `sort_second`). They are sorted into `sorted` when they are handed
/// over, beside the next step's work, for a sink that needs the log's order. Every
/// buffer only grows and is reused from step to step.
#[derive(Default)]
struct StepEvents {
    parts: Vec<Vec<Event>>,
    parts_len: usize,
    /// The first of `parts` that holds new orders' events.
    new_from: usize,
    /// The step's first second, and its length in seconds.
    start: u32,
    seconds: usize,
    sorted: Vec<Event>,
    /// The day the step completed, if it did.
    finished_day: Option<u32>,
}

/// Gives a step's events to the sink, sorted if it needs the log's order, and tells it
/// when a day is complete.
fn hand_over<S: Sink>(
    sink: &mut S,
    step: &mut StepEvents,
    sort: bool,
    handed: &mut u64,
) -> Result<(), Error> {
    let parts = step.parts[..step.parts_len]
        .iter()
        .map(Vec::as_slice)
        .filter(|events| !events.is_empty());
    if sort {
        let new_from = step.parts[..step.new_from]
            .iter()
            .filter(|events| !events.is_empty())
            .count();
        let parts: Vec<&[Event]> = parts.collect();
        let n = sort_step(&parts, new_from, &mut step.sorted, step.start, step.seconds);
        if n > 0 {
            sink.events(&step.sorted[..n])?;
        }
        *handed += n as u64;
    } else {
        for events in parts {
            sink.events(events)?;
            *handed += events.len() as u64;
        }
    }
    if let Some(day) = step.finished_day {
        sink.day_finished(day, *handed);
    }
    Ok(())
}

/// Per hour, the parcels whose next event falls in it, in blocks of at most `BLOCK`,
/// taken from the schedule's pool of emptied ones. A new block is full-size, except an
/// hour's first, which grows as parcels come (many hours only ever get a few); a reused
/// one grows as needed up to `BLOCK`.
struct Buckets<T> {
    hours: Vec<Vec<Vec<T>>>,
}

impl<T: Copy> Buckets<T> {
    fn new(hours: usize) -> Buckets<T> {
        Buckets {
            hours: (0..hours).map(|_| Vec::new()).collect(),
        }
    }

    fn file(&mut self, hour: usize, item: T, spare: &Mutex<Vec<Vec<T>>>) {
        let bucket = &mut self.hours[hour];
        if bucket.last().is_none_or(|b| b.len() == BLOCK) {
            let reused = spare.lock().expect("no task panics").pop();
            bucket.push(reused.unwrap_or_else(|| {
                // Growing doubles the capacity, up to exactly `BLOCK` (a power of two).
                if bucket.is_empty() {
                    Vec::new()
                } else {
                    Vec::with_capacity(BLOCK)
                }
            }));
        }
        bucket.last_mut().expect("a block").push(item);
    }

    fn is_empty(&self) -> bool {
        self.hours.iter().all(Vec::is_empty)
    }
}

/// Puts `blocks` into `pool` for reuse, emptied (a first block that stopped short of
/// full size too: freeing and growing one again every hour cost 8 % of a small run).
fn recycle_blocks<T>(blocks: &mut Vec<Vec<T>>, pool: &mut Mutex<Vec<Vec<T>>>) {
    let pool = pool.get_mut().expect("no task panics");
    for mut block in blocks.drain(..) {
        block.clear();
        pool.push(block);
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

/// Most shelves a schedule has, whatever the thread count: each holds up to two partly
/// filled blocks per hour (unpaid and paid), memory that grows with the shelves, not
/// the parcels.
const MAX_SHELVES: usize = 4;

/// Where every parcel waits for the hour of its next event. Tasks file their parcels
/// in parallel, each into a shelf it locks; a parcel's shelf and its place in an hour
/// change nothing, since each step's events are sorted and its hub arrivals ordered.
/// Emptied blocks go back to one pool per kind that every shelf draws from, so the
/// blocks in existence never outnumber those the busiest hours held at once (per-shelf
/// pools would pile up blocks in a shelf that files less than it gets back).
struct Schedule {
    shelves: Vec<Mutex<Shelf>>,
    spare_unpaid: Mutex<Vec<Vec<Parcel>>>,
    spare_paid: Mutex<Vec<Vec<Stored>>>,
    hours: usize,
}

impl Schedule {
    fn new(hours: usize, markets: usize, shelves: usize) -> Schedule {
        Schedule {
            shelves: (0..shelves.max(1))
                .map(|_| {
                    Mutex::new(Shelf {
                        unpaid: Buckets::new(hours),
                        paid: Buckets::new(hours),
                        in_flight: vec![0; markets],
                    })
                })
                .collect(),
            spare_unpaid: Mutex::new(Vec::new()),
            spare_paid: Mutex::new(Vec::new()),
            hours,
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

    /// Files parcels that continue in a later hour.
    fn file(&self, parcels: &[Parcel]) {
        if parcels.is_empty() {
            return;
        }
        let mut shelf = self.shelf();
        for p in parcels {
            let slot = (p.next / HOUR_S) as usize;
            if slot < self.hours {
                if p.is_paid() {
                    shelf.paid.file(slot, p.store(), &self.spare_paid);
                } else {
                    shelf.unpaid.file(slot, *p, &self.spare_unpaid);
                }
            } else if p.stage != parcel::Stage::Return {
                // Delivered parcels that may still come back are not in flight.
                shelf.in_flight[p.market.ix()] += 1;
            }
        }
    }

    /// Takes hour `w`'s parcels out of every shelf.
    fn take(&mut self, w: usize) -> (Vec<Vec<Parcel>>, Vec<Vec<Stored>>) {
        let mut unpaid = Vec::new();
        let mut paid = Vec::new();
        for shelf in &mut self.shelves {
            let shelf = shelf.get_mut().expect("no task panics");
            unpaid.append(&mut shelf.unpaid.hours[w]);
            paid.append(&mut shelf.paid.hours[w]);
        }
        (unpaid, paid)
    }

    /// Returns an hour's emptied blocks to the pools.
    fn recycle(&mut self, unpaid: &mut Vec<Vec<Parcel>>, paid: &mut Vec<Vec<Stored>>) {
        recycle_blocks(unpaid, &mut self.spare_unpaid);
        recycle_blocks(paid, &mut self.spare_paid);
    }

    /// Blocks in existence: in the hours' buckets and in the pools.
    #[cfg(test)]
    fn blocks(&mut self) -> usize {
        let filed: usize = self
            .shelves
            .iter_mut()
            .map(|s| {
                let s = s.get_mut().expect("no task panics");
                s.unpaid.hours.iter().map(Vec::len).sum::<usize>()
                    + s.paid.hours.iter().map(Vec::len).sum::<usize>()
            })
            .sum();
        filed
            + self.spare_unpaid.get_mut().expect("no task panics").len()
            + self.spare_paid.get_mut().expect("no task panics").len()
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

/// Steps an hour may be cut into: the divisors of 3600 up to 60 (steps of a minute or
/// more).
const STEPS_PER_HOUR: [usize; 23] = [
    1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 15, 16, 18, 20, 24, 25, 30, 36, 40, 45, 48, 50, 60,
];

/// About how many events a step should hold at most. It bounds the memory of a step's
/// events (task buffers, the sorted step, the one the sink holds) up to 60 steps an
/// hour (31 million events, six times the Singles' Day peak); smaller steps measured
/// slower (more steps, the same work).
const STEP_EVENTS: usize = 1 << 19;

/// The step of the hour starting at `hour_start` that holds time `t`.
fn step_of(t: u32, hour_start: u32, step_s: u32) -> usize {
    ((t - hour_start) / step_s) as usize
}

/// The first of `count` orders whose slice of the hour starts in step `k` of `steps`.
fn first_order_of_step(k: usize, count: u64, steps: usize) -> u64 {
    (k as u64 * count).div_ceil(steps as u64)
}

/// Reorders each block so that its items come grouped by step, in step order, and
/// records where each step's run starts: step k of block b is
/// `bounds[b * (steps + 1) + k]..bounds[b * (steps + 1) + k + 1]`. A counting sort of
/// one block at a time, in cache, instead of a copy of the whole hour.
fn group_by_step<T: Copy + Send + Sync>(
    blocks: &mut [Vec<T>],
    steps: usize,
    step_of: impl Fn(&T) -> usize + Sync,
    bounds: &mut Vec<u32>,
) {
    bounds.clear();
    bounds.resize(blocks.len() * (steps + 1), 0);
    if steps == 1 {
        for (block, bounds) in blocks.iter().zip(bounds.chunks_mut(2)) {
            bounds[1] = block.len() as u32;
        }
        return;
    }
    blocks
        .par_iter_mut()
        .zip(bounds.par_chunks_mut(steps + 1))
        .for_each_init(Vec::new, |scratch: &mut Vec<T>, (block, bounds)| {
            for item in block.iter() {
                bounds[step_of(item) + 1] += 1;
            }
            for k in 0..steps {
                bounds[k + 1] += bounds[k];
            }
            let mut next: Vec<u32> = bounds[..steps].to_vec();
            scratch.clear();
            scratch.extend_from_slice(block);
            for item in scratch.iter() {
                let at = &mut next[step_of(item)];
                block[*at as usize] = *item;
                *at += 1;
            }
        });
}

/// Tasks over step `k`'s run of every block, consecutive runs grouped until a task
/// holds about a block of parcels.
fn step_tasks<'p, T>(
    blocks: &'p [Vec<T>],
    bounds: &[u32],
    k: usize,
    steps: usize,
    task: impl Fn(Vec<&'p [T]>) -> Task<'p>,
    tasks: &mut Vec<Task<'p>>,
) {
    let mut runs = Vec::new();
    let mut held = 0;
    for (block, bounds) in blocks.iter().zip(bounds.chunks(steps + 1)) {
        let run = &block[bounds[k] as usize..bounds[k + 1] as usize];
        if run.is_empty() {
            continue;
        }
        held += run.len();
        runs.push(run);
        if held >= BLOCK {
            tasks.push(task(std::mem::take(&mut runs)));
            held = 0;
        }
    }
    if !runs.is_empty() {
        tasks.push(task(runs));
    }
}

/// The simulation's state between steps.
struct Stepper<'a> {
    plan: Plan<'a>,
    base: ChaCha8Rng,
    schedule: Schedule,
    hubs: Vec<HubQueue>,
    stats: RunStats,
    next_order_id: u64,
    hours: usize,
    events_per_step: usize,
    /// The hour in progress (or next), its steps and the step next to run.
    hour: usize,
    steps: usize,
    step: usize,
    /// The hour's parcels from the schedule, grouped by step (`group_by_step`).
    due: Vec<Vec<Parcel>>,
    due_bounds: Vec<u32>,
    due_paid: Vec<Vec<Stored>>,
    due_paid_bounds: Vec<u32>,
    /// Per market, the hour's order count and first order id.
    new_orders: Vec<(u64, u64)>,
    /// Per step of the hour, parcels that an earlier step passed on to it.
    carry: Vec<Vec<Parcel>>,
    // Buffers reused from step to step.
    outs: Vec<TaskOut>,
    hub_outs: Vec<TaskOut>,
    at_hub: Vec<(HubId, Parcel)>,
    served: Vec<Parcel>,
    /// Whether parcels with no queue ahead run to the horizon at once (`Span::own_end`).
    run_ahead: bool,
}

impl<'a> Stepper<'a> {
    fn new(
        scenario: &'a Scenario,
        params: RunParams,
        events_per_step: usize,
        run_ahead: bool,
    ) -> Stepper<'a> {
        let plan = Plan::new(scenario, params);
        let hours = (plan.horizon_s / HOUR_S) as usize;
        let hubs = plan
            .hub_regimes
            .iter()
            .map(|r| HubQueue::new(r.clone()))
            .collect();
        Stepper {
            base: streams::base_rng(params.seed, params.replication),
            schedule: Schedule::new(
                hours,
                scenario.markets.len(),
                rayon::current_num_threads().min(MAX_SHELVES),
            ),
            plan,
            hubs,
            stats: RunStats::default(),
            next_order_id: 0,
            hours,
            events_per_step: events_per_step.max(1),
            hour: 0,
            steps: 1,
            step: 0,
            due: Vec::new(),
            due_bounds: Vec::new(),
            due_paid: Vec::new(),
            due_paid_bounds: Vec::new(),
            new_orders: Vec::new(),
            carry: Vec::new(),
            outs: Vec::new(),
            hub_outs: Vec::new(),
            at_hub: Vec::new(),
            served: Vec::new(),
            run_ahead,
        }
    }

    fn done(&self) -> bool {
        self.hour == self.hours
    }

    /// Takes the hour's parcels, draws its order counts, and cuts it into steps.
    fn begin_hour(&mut self) {
        let scenario = self.plan.scenario;
        let hour_start = self.hour as u32 * HOUR_S;
        let (day, hour) = (hour_start / DAY_S, hour_start % DAY_S / HOUR_S);
        (self.due, self.due_paid) = self.schedule.take(self.hour);
        self.new_orders.clear();
        for mi in 0..scenario.markets.len() {
            let market = MarketId(mi as u8);
            let lambda = self.plan.hourly_rate(market, day, hour);
            let mut rng = self.base.clone();
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
            self.new_orders.push((count, self.next_order_id));
            self.next_order_id += count;
            self.stats.orders += count;
        }
        // About two and a half events per new order, one per parcel due.
        let parcels: usize = self.due.iter().map(Vec::len).sum::<usize>()
            + self.due_paid.iter().map(Vec::len).sum::<usize>();
        let orders: u64 = self.new_orders.iter().map(|(count, _)| count).sum();
        let events = parcels + (orders as usize).saturating_mul(5) / 2;
        let needed = events.div_ceil(self.events_per_step);
        self.steps = STEPS_PER_HOUR
            .into_iter()
            .find(|&s| s >= needed)
            .unwrap_or(STEPS_PER_HOUR[STEPS_PER_HOUR.len() - 1]);
        let step_s = HOUR_S / self.steps as u32;
        group_by_step(
            &mut self.due,
            self.steps,
            |p| step_of(p.next, hour_start, step_s),
            &mut self.due_bounds,
        );
        group_by_step(
            &mut self.due_paid,
            self.steps,
            |p| step_of(p.next(), hour_start, step_s),
            &mut self.due_paid_bounds,
        );
        if self.carry.len() < self.steps {
            self.carry.resize_with(self.steps, Vec::new);
        }
    }

    /// Computes the next step's events into `out`.
    fn step(&mut self, out: &mut StepEvents) {
        if self.step == 0 {
            self.begin_hour();
        }
        let hour_start = self.hour as u32 * HOUR_S;
        let step_s = HOUR_S / self.steps as u32;
        let start = hour_start + self.step as u32 * step_s;
        let span = Span {
            day: hour_start / DAY_S,
            hour: hour_start % DAY_S / HOUR_S,
            start,
            end: start + step_s,
            hour_end: hour_start + HOUR_S,
            own_end: if self.run_ahead {
                self.plan.horizon_s
            } else {
                start + step_s
            },
        };
        let k = self.step;

        let mut tasks: Vec<Task> = Vec::new();
        for (mi, &(count, first_id)) in self.new_orders.iter().enumerate() {
            let last = first_order_of_step(k + 1, count, self.steps);
            let mut first = first_order_of_step(k, count, self.steps);
            while first < last {
                let end = (first + ORDER_CHUNK as u64).min(last);
                tasks.push(Task::Draw(OrderChunk {
                    market: MarketId(mi as u8),
                    count,
                    first,
                    last: end,
                    first_id: first_id + first,
                }));
                first = end;
            }
        }
        let drawn = tasks.len();
        tasks.extend(self.carry[k].chunks(BLOCK).map(|c| Task::Advance(vec![c])));
        step_tasks(
            &self.due,
            &self.due_bounds,
            k,
            self.steps,
            Task::Advance,
            &mut tasks,
        );
        step_tasks(
            &self.due_paid,
            &self.due_paid_bounds,
            k,
            self.steps,
            Task::AdvanceStored,
            &mut tasks,
        );
        let plan = &self.plan;
        run_tasks(
            plan,
            &self.schedule,
            &self.base,
            &tasks,
            &mut self.outs,
            &span,
        );
        let used = tasks.len();
        drop(tasks);
        self.carry[k].clear();

        // Hub queues, in (arrival, order id) order, then onwards.
        self.at_hub.clear();
        for out in &self.outs[..used] {
            self.at_hub.extend_from_slice(&out.at_hub);
        }
        let mut hub_used = 0;
        if !self.at_hub.is_empty() {
            self.at_hub
                .sort_unstable_by_key(|(_, p)| (p.next, p.order_id));
            self.served.clear();
            for (hub, p) in &self.at_hub {
                let mut p = *p;
                let (arrival, need) = p.hub_request();
                match self.hubs[hub.ix()].serve(arrival, need) {
                    Some(s) => p.served(s.start_s, s.service_s),
                    None => p.stranded(),
                }
                self.served.push(p);
            }
            let tasks: Vec<Task> = self
                .served
                .chunks(BLOCK)
                .map(|c| Task::Advance(vec![c]))
                .collect();
            run_tasks(
                plan,
                &self.schedule,
                &self.base,
                &tasks,
                &mut self.hub_outs,
                &span,
            );
            hub_used = tasks.len();
            assert!(
                self.hub_outs[..hub_used]
                    .iter()
                    .all(|o| o.at_hub.is_empty()),
                "one hub per route"
            );
        }
        for out in self.outs[..used].iter().chain(&self.hub_outs[..hub_used]) {
            for p in &out.carry {
                self.carry[step_of(p.next, hour_start, step_s)].push(*p);
            }
        }

        // The task buffers change places with those of the step before, which the sink
        // has consumed; the new orders' events last, since they usually follow all
        // others that share their second (see `sort_second`).
        out.parts_len = 0;
        out.new_from = used - drawn + hub_used;
        out.start = span.start;
        out.seconds = step_s as usize;
        let (drawing, advancing) = self.outs[..used].split_at_mut(drawn);
        let tasks = advancing
            .iter_mut()
            .chain(&mut self.hub_outs[..hub_used])
            .chain(drawing);
        for (i, task) in tasks.enumerate() {
            if out.parts.len() == i {
                out.parts.push(Vec::new());
            }
            std::mem::swap(&mut out.parts[i], &mut task.events);
            self.stats.events += out.parts[i].len() as u64;
            out.parts_len = i + 1;
        }

        self.step += 1;
        out.finished_day = None;
        if self.step == self.steps {
            assert!(
                self.carry[..self.steps].iter().all(Vec::is_empty),
                "every carried parcel ran in its step"
            );
            self.schedule.recycle(&mut self.due, &mut self.due_paid);
            self.step = 0;
            self.hour += 1;
            out.finished_day = (span.hour == 23).then_some(span.day);
        }
    }
}

/// Runs the whole horizon, handing every event to `sink` in order.
pub fn simulate<S: Sink + Send>(
    scenario: &Scenario,
    params: RunParams,
    sink: &mut S,
    stop: &AtomicBool,
) -> Result<RunStats, Error> {
    // Every hour's order rate is then finite and small enough to draw and to hold.
    crate::model::cost::check(scenario, params.sample)?;
    simulate_in_steps(scenario, params, sink, stop, STEP_EVENTS)
}

/// `simulate`, with hours cut into steps of about `events_per_step` events (which
/// changes the work's granularity, never the output).
fn simulate_in_steps<S: Sink + Send>(
    scenario: &Scenario,
    params: RunParams,
    sink: &mut S,
    stop: &AtomicBool,
    events_per_step: usize,
) -> Result<RunStats, Error> {
    let sort = sink.needs_order();
    let mut stepper = Stepper::new(scenario, params, events_per_step, !sort);
    // Step s - 1 is sorted and handed to the sink (folded, logged) while step s is
    // computed, on the same threads: the sort and the fold are off the critical path,
    // and the order the sink sees is unchanged.
    let (mut events, mut pending) = (StepEvents::default(), StepEvents::default());
    let mut handed: u64 = 0;
    while !stepper.done() {
        if stop.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let (handed_over, ()) = rayon::join(
            || hand_over(sink, &mut pending, sort, &mut handed),
            || stepper.step(&mut events),
        );
        handed_over?;
        std::mem::swap(&mut pending, &mut events);
    }
    hand_over(sink, &mut pending, sort, &mut handed)?;
    // Parcels waiting in a bucket were all scheduled inside the horizon and emptied by
    // the time their hour ran, so nothing is left behind there.
    debug_assert!(stepper.schedule.is_empty());
    let mut stats = std::mem::take(&mut stepper.stats);
    stats.in_flight = stepper.schedule.in_flight();
    Ok(stats)
}

/// About how many groups of task outputs the sort scatters in parallel (the new
/// orders' outputs start a group of their own); fixed, so that the work does not depend
/// on the thread count (the output never does: sort keys are unique).
const SORT_GROUPS: usize = 4;

/// Sorts a step's events by (time, order id, stage) into the front of `sorted` and
/// returns how many there are: a counting sort on the second within the step's
/// `seconds`, the tasks' buffers scattered in parallel groups, then each second's few
/// events sorted in parallel. Much cheaper than one comparison sort over the step.
/// `parts[new_from..]` hold the new orders' events (see `sort_second`). `sorted` only
/// grows, so its front is never written twice.
fn sort_step(
    parts: &[&[Event]],
    new_from: usize,
    sorted: &mut Vec<Event>,
    start: u32,
    seconds: usize,
) -> usize {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let Some(&filler) = parts.iter().find_map(|p| p.first()) else {
        return 0;
    };
    // Contiguous runs of parts with about the same number of events, the new orders'
    // in groups of their own.
    let mut groups: Vec<&[&[Event]]> = Vec::with_capacity(SORT_GROUPS + 1);
    let mut new_groups = 0;
    let (mut from, mut seen) = (0, 0);
    for (i, part) in parts.iter().enumerate() {
        seen += part.len();
        if seen * SORT_GROUPS >= total * (groups.len() + 1)
            || i + 1 == parts.len()
            || i + 1 == new_from
        {
            groups.push(&parts[from..=i]);
            from = i + 1;
            if i + 1 == new_from {
                new_groups = groups.len();
            }
        }
    }
    let second = |e: &Event| {
        debug_assert!(e.time_s >= start && ((e.time_s - start) as usize) < seconds);
        (e.time_s - start) as usize
    };
    let counts: Vec<Vec<u32>> = groups
        .par_iter()
        .map(|group| {
            let mut count = vec![0u32; seconds];
            for e in group.iter().flat_map(|p| p.iter()) {
                count[second(e)] += 1;
            }
            count
        })
        .collect();

    if sorted.len() < total {
        sorted.resize(total, filler);
    }
    // Cut the output into one piece per (group, second), each second's pieces in group
    // order, so that the groups can scatter at once without sharing a piece.
    let mut pieces: Vec<Vec<&mut [Event]>> = (0..groups.len())
        .map(|_| Vec::with_capacity(seconds))
        .collect();
    let mut in_seconds: Vec<(&mut [Event], usize)> = Vec::with_capacity(seconds);
    {
        let mut rest: &mut [Event] = &mut sorted[..total];
        for s in 0..seconds {
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

    let mut rest: &mut [Event] = &mut sorted[..total];
    for s in 0..seconds {
        let older: usize = counts[..new_groups].iter().map(|c| c[s] as usize).sum();
        let len: usize = older
            + counts[new_groups..]
                .iter()
                .map(|c| c[s] as usize)
                .sum::<usize>();
        let (events, tail) = rest.split_at_mut(len);
        if len > 1 {
            in_seconds.push((events, older));
        }
        rest = tail;
    }
    in_seconds
        .into_par_iter()
        .with_min_len(64)
        .for_each(|(events, older)| sort_second(events, older));
    total
}

/// Sorts one second's events by (order id, stage), given that the first `older` come
/// from the tasks that advanced parcels (drawn before this step, or drawn in it and
/// served by a hub in it), in no particular order, and the rest from the tasks that
/// drew this step's orders. These come in order already (drawn in id order, each
/// order's events in lifecycle order) and usually above every older id, so only the
/// older ones are sorted. An order carried over from an earlier step of the hour may
/// have a higher id than some of this step's (those of a market before it in the hour's
/// ids), and an order of this step may leave its hub in this second: the two sorted
/// runs are then merged.
fn sort_second(events: &mut [Event], older: usize) {
    let (old, new) = events.split_at_mut(older);
    old.sort_unstable_by(in_log_order);
    if !new.is_sorted_by(|a, b| in_log_order(a, b).is_lt()) {
        new.sort_unstable_by(in_log_order);
    }
    if let (Some(last), Some(first)) = (old.last(), new.first())
        && in_log_order(last, first).is_gt()
    {
        // Two sorted runs: the standard library's stable sort finds them and merges.
        events.sort_by(in_log_order);
    }
}

/// The log's order of two events in the same second: by order id, then lifecycle
/// stage, which is only worked out for events of the same order (few of them).
#[inline]
fn in_log_order(a: &Event, b: &Event) -> std::cmp::Ordering {
    a.order_id
        .cmp(&b.order_id)
        .then_with(|| a.kind.stage().cmp(&b.kind.stage()))
}

#[cfg(test)]
mod tests {
    use super::*;
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
        /// Whatever the parts, and whether or not the new orders' events come in order
        /// and above the older ids, the step comes out exactly as a plain sort by the
        /// log's key would give.
        #[test]
        fn sort_step_is_a_sort_by_the_log_key(
            parts in proptest::collection::vec(
                proptest::collection::vec((0u32..40, 0u64..300, 0u8..4), 0..200),
                0..12,
            ),
            new in proptest::collection::vec((0u32..40, 0u8..3), 0..300),
            first_new_id in 0u64..400,
            new_parts in 1usize..4,
            new_in_order in any::<bool>(),
            stale in 0usize..3000,
        ) {
            let start = 7 * HOUR_S;
            // Keys are unique in a real step: keep the first of each.
            let mut seen = std::collections::BTreeSet::new();
            let mut parts: Vec<Vec<Event>> = parts
                .into_iter()
                .map(|p| {
                    p.into_iter()
                        .filter(|(t, o, a)| seen.insert((*t, *o, *a)))
                        .map(|(t, o, a)| event(start + t * 90, o, a))
                        .collect()
                })
                .collect();
            // Like newly drawn orders: consecutive ids, usually above the rest, two
            // events an order (sometimes in the same second), in key order, over a
            // market's tasks or several.
            let mut new: Vec<Event> = new
                .into_iter()
                .enumerate()
                .map(|(i, (t, a))| (t, first_new_id + i as u64 / 2, a))
                .filter(|(t, o, a)| seen.insert((*t, *o, *a)))
                .map(|(t, o, a)| event(start + t * 90, o, a))
                .collect();
            new.sort_by_key(Event::order_key);
            if !new_in_order {
                new.reverse();
            }
            let new_from = parts.len();
            let per_part = new.len().div_ceil(new_parts).max(1);
            parts.extend(new.chunks(per_part).map(<[Event]>::to_vec));
            let slices: Vec<&[Event]> = parts.iter().map(Vec::as_slice).collect();
            // Stale events from an earlier step, more than this one has: left behind.
            let mut sorted = vec![event(start, 0, 0); stale];
            let len = sort_step(&slices, new_from, &mut sorted, start, HOUR_S as usize);
            let mut expected: Vec<Event> = parts.concat();
            expected.sort_by_key(Event::order_key);
            prop_assert_eq!(&sorted[..len], &expected[..]);
            prop_assert_eq!(sorted.len(), stale.max(len));
        }
    }

    struct Collect(Vec<Event>);

    impl Sink for Collect {
        fn events(&mut self, events: &[Event]) -> Result<(), Error> {
            self.0.extend_from_slice(events);
            Ok(())
        }
    }

    /// Collects events without asking for the log's order.
    struct Unordered(Vec<Event>);

    impl Sink for Unordered {
        fn events(&mut self, events: &[Event]) -> Result<(), Error> {
            self.0.extend_from_slice(events);
            Ok(())
        }

        fn needs_order(&self) -> bool {
            false
        }
    }

    /// A scenario from its text, and the parameters of replication 0.
    fn scenario_and_params(text: &str, seed: u64, sample: f64) -> (Scenario, RunParams) {
        let scenario = crate::scenario::load_str(text, "test.toml", None, &[]).unwrap();
        let params = RunParams {
            seed,
            replication: 0,
            sample,
        };
        (scenario, params)
    }

    #[test]
    fn emptied_blocks_are_reused_whichever_shelf_files_next() {
        let text = include_str!("../../tests/data/small.toml");
        let (scenario, params) = scenario_and_params(text, 1, 1.0);
        let plan = Plan::new(&scenario, params);
        let mut rng = OrderRng::new(&streams::base_rng(1, 0), 0, 0, 0);
        rng.begin(0);
        let parcel = Parcel::draw(&plan, &mut rng, MarketId(0), 0, 0);
        let hours = 100;
        // Two shelves, but outside the thread pool every filing lands in the first:
        // emptied blocks must come back to it, not pile up beside the second.
        let mut schedule = Schedule::new(hours, scenario.markets.len(), 2);
        let mut most = 0;
        for hour in 0..hours - 1 {
            let next = (hour as u32 + 1) * HOUR_S;
            let mut filed = parcel;
            filed.next = next;
            let batch = vec![filed; 3 * BLOCK + 1];
            schedule.file(&batch);
            let (mut unpaid, mut paid) = schedule.take(hour);
            assert_eq!(unpaid.len() + paid.len(), if hour == 0 { 0 } else { 4 });
            schedule.recycle(&mut unpaid, &mut paid);
            most = most.max(schedule.blocks());
        }
        // Hour h + 1's four blocks, and hour h's back in the pool.
        assert!(most <= 8, "{most} blocks for at most 8 in use");
    }

    #[test]
    fn a_sink_that_needs_no_order_gets_the_same_events_unsorted() {
        let text = include_str!("../../scenarios/dftz_baseline.toml");
        let (scenario, params) = scenario_and_params(text, 5, 0.002);
        let stop = AtomicBool::new(false);
        for events_per_step in [1000, STEP_EVENTS] {
            let mut ordered = Collect(Vec::new());
            let stats =
                simulate_in_steps(&scenario, params, &mut ordered, &stop, events_per_step).unwrap();
            let mut unordered = Unordered(Vec::new());
            let unordered_stats =
                simulate_in_steps(&scenario, params, &mut unordered, &stop, events_per_step)
                    .unwrap();
            assert_eq!(stats, unordered_stats);
            assert!(ordered.0.len() > 10_000, "{} events", ordered.0.len());
            // The sort was skipped, not done anyway.
            assert!(!unordered.0.is_sorted_by_key(Event::order_key));
            // Parcels ran ahead: steps are within an hour, so only that brings later
            // days' events before earlier days'.
            assert!(!unordered.0.is_sorted_by_key(|e| e.time_s / DAY_S));
            unordered.0.sort_by_key(Event::order_key);
            assert!(unordered.0 == ordered.0, "{events_per_step}");
        }
    }

    /// Cutting hours into steps changes how the work is divided, never the events: one
    /// step an hour, the default, and sixty steps an hour give the same log, on a
    /// scenario with a hub, an outage, returns and payment retries.
    #[test]
    fn steps_per_hour_change_nothing() {
        let run = |text: &str, sample: f64, events_per_step: usize| {
            let (scenario, params) = scenario_and_params(text, 11, sample);
            let mut sink = Collect(Vec::new());
            let stats = simulate_in_steps(
                &scenario,
                params,
                &mut sink,
                &AtomicBool::new(false),
                events_per_step,
            )
            .unwrap();
            (stats, sink.0)
        };
        for (text, sample) in [
            (include_str!("../../tests/data/small.toml"), 1.0),
            (include_str!("../../scenarios/dftz_baseline.toml"), 0.002),
        ] {
            let hourly = run(text, sample, usize::MAX);
            assert!(hourly.1.len() > 10_000, "{} events", hourly.1.len());
            assert!(hourly.1.is_sorted_by_key(Event::order_key));
            for events_per_step in [1, 1000, STEP_EVENTS] {
                assert!(
                    run(text, sample, events_per_step) == hourly,
                    "{events_per_step}"
                );
            }
        }
    }

    /// The parcels the engine still holds at the horizon are exactly the orders the
    /// folded log counts as in flight.
    #[test]
    fn engine_state_and_folded_log_agree_on_parcels_in_flight() {
        let text = include_str!("../../tests/data/small.toml");
        let (scenario, params) = scenario_and_params(text, 5, 1.0);
        let ctx = Plan::new(&scenario, params).context();
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
