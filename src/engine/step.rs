//! The hour and step loop: an hour's order counts, its cut into steps, and each step's
//! orders drawn and parcels advanced.

use super::*;

/// Steps an hour may be cut into: the divisors of 3600 up to 60 (steps of a minute or
/// more).
pub(super) const STEPS_PER_HOUR: [usize; 23] = [
    1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 15, 16, 18, 20, 24, 25, 30, 36, 40, 45, 48, 50, 60,
];

/// About how many events a step should hold at most. It bounds the memory of a step's
/// events (task buffers, the sorted step, the one the sink holds) up to 60 steps an
/// hour (31 million events, six times the Singles' Day peak); smaller steps measured
/// slower (more steps, the same work).
pub(super) const STEP_EVENTS: usize = 1 << 19;

/// The step of the hour starting at `hour_start` that holds time `t`.
pub(super) fn step_of(t: u32, hour_start: u32, step_s: u32) -> usize {
    ((t - hour_start) / step_s) as usize
}

/// The first of `count` orders whose slice of the hour starts in step `k` of `steps`.
pub(super) fn first_order_of_step(k: usize, count: u64, steps: usize) -> u64 {
    (k as u64 * count).div_ceil(steps as u64)
}

/// Reorders each block so that its items come grouped by step, in step order, and
/// records where each step's run starts: step k of block b is
/// `bounds[b * (steps + 1) + k]..bounds[b * (steps + 1) + k + 1]`. A counting sort of
/// one block at a time, in cache, instead of a copy of the whole hour.
pub(super) fn group_by_step<T: Copy + Send + Sync>(
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
pub(super) fn step_tasks<'p, T>(
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

/// The first id of shadow orders: they never meet real orders' ids.
const SHADOW_IDS: u64 = 1 << 63;

/// A Poisson count of mean `lambda` from its unit's stream.
fn poisson(
    base: &ChaCha8Rng,
    purpose: Purpose,
    market: MarketId,
    stream_day: u32,
    hour: u32,
    lambda: f64,
) -> u64 {
    if lambda <= 0.0 {
        return 0;
    }
    let mut rng = base.clone();
    streams::seek_unit(
        &mut rng,
        streams::stream_id(purpose, market.0, stream_day, hour),
    );
    Poisson::new(lambda)
        .expect("finite positive rate")
        .sample(&mut rng) as u64
}

/// Tasks for step `k`'s share of each market's hour of orders (`counts`: per market,
/// count and first id), in chunks of `ORDER_CHUNK`.
fn order_chunks<'p>(
    counts: &[(u64, u64)],
    k: usize,
    steps: usize,
    task: impl Fn(OrderChunk) -> Task<'p>,
    tasks: &mut Vec<Task<'p>>,
) {
    for (mi, &(count, first_id)) in counts.iter().enumerate() {
        let last = first_order_of_step(k + 1, count, steps);
        let mut first = first_order_of_step(k, count, steps);
        while first < last {
            let end = (first + ORDER_CHUNK as u64).min(last);
            tasks.push(task(OrderChunk {
                market: MarketId(mi as u8),
                count,
                first,
                last: end,
                first_id: first_id + first,
            }));
            first = end;
        }
    }
}

/// The simulation's state between steps.
pub(super) struct Stepper<'a> {
    pub(super) plan: Plan<'a>,
    pub(super) base: ChaCha8Rng,
    pub(super) schedule: Schedule,
    /// Every facility's queue (`Plan::facilities`), as the run has left it.
    pub(super) facilities: Vec<Facility>,
    pub(super) stats: RunStats,
    pub(super) next_order_id: u64,
    pub(super) hours: usize,
    pub(super) events_per_step: usize,
    /// The hour in progress (or next), its steps and the step next to run.
    pub(super) hour: usize,
    pub(super) steps: usize,
    pub(super) step: usize,
    /// The hour's parcels from the schedule, grouped by step (`group_by_step`).
    pub(super) due: Vec<Vec<Parcel>>,
    pub(super) due_bounds: Vec<u32>,
    pub(super) due_paid: Vec<Vec<Stored>>,
    pub(super) due_paid_bounds: Vec<u32>,
    /// Per market, the hour's order count and first order id; the same for its shadows
    /// (`Parcel::shadow`), whose ids have the top bit set.
    pub(super) new_orders: Vec<(u64, u64)>,
    pub(super) new_shadows: Vec<(u64, u64)>,
    pub(super) next_shadow_id: u64,
    /// Per step of the hour, parcels that an earlier step passed on to it.
    pub(super) carry: Vec<Vec<Parcel>>,
    // Buffers reused from step to step.
    pub(super) outs: Vec<TaskOut>,
    pub(super) facility_outs: Vec<TaskOut>,
    pub(super) at_facility: Vec<(u16, Parcel)>,
    pub(super) round: Vec<(u16, Parcel)>,
    /// The round's order: (time, order id, index into `round`) packed to sort as one
    /// integer, a quarter of the bytes of the entries themselves.
    pub(super) round_order: Vec<u128>,
    pub(super) served: Vec<Parcel>,
    /// Whether parcels with no queue ahead run to the horizon at once (`Span::own_end`).
    pub(super) run_ahead: bool,
}

impl<'a> Stepper<'a> {
    pub(super) fn new(
        scenario: &'a Scenario,
        params: RunParams,
        events_per_step: usize,
        run_ahead: bool,
    ) -> Stepper<'a> {
        let plan = Plan::new(scenario, params);
        let hours = (plan.horizon_s / HOUR_S) as usize;
        let facilities = plan.facilities.clone();
        Stepper {
            base: streams::base_rng(params.seed, params.replication),
            schedule: Schedule::new(
                hours,
                scenario.markets.len(),
                rayon::current_num_threads().min(MAX_SHELVES),
            ),
            plan,
            facilities,
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
            new_shadows: Vec::new(),
            next_shadow_id: SHADOW_IDS,
            carry: Vec::new(),
            outs: Vec::new(),
            facility_outs: Vec::new(),
            at_facility: Vec::new(),
            round: Vec::new(),
            round_order: Vec::new(),
            served: Vec::new(),
            run_ahead,
        }
    }

    pub(super) fn done(&self) -> bool {
        self.hour == self.hours
    }

    /// Takes the hour's parcels, draws its order counts, and cuts it into steps.
    pub(super) fn begin_hour(&mut self) {
        let scenario = self.plan.scenario;
        let hour_start = self.hour as u32 * HOUR_S;
        let (day, hour) = (hour_start / DAY_S, hour_start % DAY_S / HOUR_S);
        (self.due, self.due_paid) = self.schedule.take(self.hour);
        self.new_orders.clear();
        self.new_shadows.clear();
        let stream_day = self.plan.stream_day(day);
        let counted = day >= self.plan.warmup_s / DAY_S;
        for mi in 0..scenario.markets.len() {
            let market = MarketId(mi as u8);
            let lambda = self.plan.hourly_rate(market, day, hour);
            let count = poisson(
                &self.base,
                Purpose::OrderCount,
                market,
                stream_day,
                hour,
                lambda,
            );
            self.new_orders.push((count, self.next_order_id));
            self.next_order_id += count;
            if counted {
                self.stats.orders += count;
            }
            if self.plan.shadows {
                let lambda = self.plan.shadow_rate(market, day, lambda);
                let count = poisson(
                    &self.base,
                    Purpose::ShadowCount,
                    market,
                    stream_day,
                    hour,
                    lambda,
                );
                self.new_shadows.push((count, self.next_shadow_id));
                self.next_shadow_id += count;
            }
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
    pub(super) fn step(&mut self, out: &mut StepEvents) {
        if self.step == 0 {
            self.begin_hour();
        }
        let hour_start = self.hour as u32 * HOUR_S;
        let step_s = HOUR_S / self.steps as u32;
        let start = hour_start + self.step as u32 * step_s;
        let span = Span {
            day: hour_start / DAY_S,
            stream_day: self.plan.stream_day(hour_start / DAY_S),
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
        order_chunks(&self.new_orders, k, self.steps, Task::Draw, &mut tasks);
        let drawn = tasks.len();
        order_chunks(&self.new_shadows, k, self.steps, Task::Shadow, &mut tasks);
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
            (&mut self.outs, 0),
            &span,
        );
        let used = tasks.len();
        drop(tasks);
        self.carry[k].clear();

        // The facilities' queues, kind by kind in the order a route passes them (so
        // that a parcel served at a hub reaches its line-haul in the same step before
        // that queue runs), each offered its arrivals in (time, order id) order; then
        // the parcels go on.
        self.at_facility.clear();
        for out in &self.outs[..used] {
            self.at_facility.extend_from_slice(&out.at_facility);
        }
        let mut facilities_used = 0;
        for kind in [
            FacilityKind::Hub,
            FacilityKind::Linehaul,
            FacilityKind::Exchange,
        ] {
            self.round.clear();
            let at = &mut self.at_facility;
            let round = &mut self.round;
            at.retain(|entry| {
                let now = plan.facility_kind(entry.0) == kind;
                if now {
                    round.push(*entry);
                }
                !now
            });
            if self.round.is_empty() {
                continue;
            }
            self.round_order.clear();
            self.round_order
                .extend(self.round.iter().enumerate().map(|(i, (_, p))| {
                    u128::from(p.next) << 96 | u128::from(p.order_id) << 32 | i as u128
                }));
            self.round_order.sort_unstable();
            self.served.clear();
            for key in &self.round_order {
                let (f, mut p) = self.round[*key as u32 as usize];
                let (arrival, need) = p.facility_request();
                match self.facilities[usize::from(f)].serve(arrival, need) {
                    Some(s) => p.served(s.start_s, s.service_s),
                    None => p.stranded(),
                }
                // A shadow has taken its place in the queue: nothing more of it is needed.
                if !p.is_shadow() {
                    self.served.push(p);
                }
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
                (&mut self.facility_outs, facilities_used),
                &span,
            );
            for out in &self.facility_outs[facilities_used..facilities_used + tasks.len()] {
                debug_assert!(
                    out.at_facility
                        .iter()
                        .all(|(f, _)| plan.facility_kind(*f) > kind),
                    "a route passes each kind of facility once, in order"
                );
                self.at_facility.extend_from_slice(&out.at_facility);
            }
            facilities_used += tasks.len();
        }
        assert!(self.at_facility.is_empty(), "every arrival queued");
        for out in self.outs[..used]
            .iter()
            .chain(&self.facility_outs[..facilities_used])
        {
            for p in &out.carry {
                self.carry[step_of(p.next, hour_start, step_s)].push(*p);
            }
        }

        // The task buffers change places with those of the step before, which the sink
        // has consumed; the new orders' events last, since they usually follow all
        // others that share their second (see `sort_second`).
        out.parts_len = 0;
        out.new_from = used - drawn + facilities_used;
        // During the warm-up no event is emitted at all.
        out.start = span.start.saturating_sub(self.plan.warmup_s);
        out.seconds = step_s as usize;
        let (drawing, advancing) = self.outs[..used].split_at_mut(drawn);
        let tasks = advancing
            .iter_mut()
            .chain(&mut self.facility_outs[..facilities_used])
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
            let warmup = self.plan.warmup_s / DAY_S;
            out.finished_day = (span.hour == 23 && span.day >= warmup).then(|| span.day - warmup);
        }
    }
}
