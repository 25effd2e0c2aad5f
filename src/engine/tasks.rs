//! The parallel work of a step: order chunks and parcel blocks as tasks, their outputs,
//! and handing a step's events to the sink.

use super::*;

/// One task of order drawing: orders `first..last` of a market's hour.
pub(super) struct OrderChunk {
    pub(super) market: MarketId,
    /// Orders in the market's hour.
    pub(super) count: u64,
    pub(super) first: u64,
    pub(super) last: u64,
    pub(super) first_id: u64,
}

/// A unit of parallel work within a step.
pub(super) enum Task<'p> {
    /// Draw new orders and advance them.
    Draw(OrderChunk),
    /// Draw shadow orders (`Parcel::shadow`) and send them to their hubs.
    Shadow(OrderChunk),
    /// Advance parcels already in flight.
    Advance(Vec<&'p [Parcel]>),
    /// Advance paid parcels kept in their compact form.
    AdvanceStored(Vec<&'p [Stored]>),
}

/// The stretch of time one step covers, inside one hour.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    /// The day of the run, and the day as the random streams number it
    /// (`Plan::stream_day`).
    pub(super) day: u32,
    pub(super) stream_day: u32,
    pub(super) hour: u32,
    pub(super) start: u32,
    pub(super) end: u32,
    pub(super) hour_end: u32,
    /// How far a parcel is advanced: `end`, or the horizon when the sink takes events in
    /// any order. Its events up to the next facility depend on nothing but its own
    /// draws, so they can all be emitted at once; it then waits in a bucket only for
    /// its arrival at a facility (and not at all with none ahead).
    pub(super) own_end: u32,
}

/// What one task produced; kept between steps so its buffers are reused.
#[derive(Default)]
pub(super) struct TaskOut {
    pub(super) events: Vec<Event>,
    /// Parcels that arrived at a facility (`Plan::facilities`), for its queue.
    pub(super) at_facility: Vec<(u16, Parcel)>,
    /// Parcels that go on in a later hour, filed in batches of `LATER_BATCH`.
    pub(super) later: Vec<Parcel>,
    /// Parcels that go on in a later step of this hour.
    pub(super) carry: Vec<Parcel>,
}

impl TaskOut {
    pub(super) fn clear(&mut self) {
        self.events.clear();
        self.at_facility.clear();
        self.later.clear();
        self.carry.clear();
    }

    /// Advances a parcel through the step and keeps it where its next event wants it.
    /// `make` writes the parcel straight into the end of `later`, where most parcels go,
    /// and it is advanced there: a parcel copied right after its fields were written
    /// would wait for those writes (a wide load over narrower recent stores does not
    /// forward).
    #[inline]
    pub(super) fn take(
        &mut self,
        plan: &Plan,
        schedule: &Schedule,
        span: &Span,
        make: impl FnOnce() -> Parcel,
    ) {
        self.later.push(make());
        let p = self.later.last_mut().expect("just pushed");
        match p.advance(plan, span.own_end, span.end, &mut self.events) {
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
            Step::AtFacility(f) => {
                let p = self.later.pop().expect("just pushed");
                self.at_facility.push((f, p));
            }
            Step::Done => {
                self.later.pop();
            }
        }
    }
}

/// Runs tasks in parallel into reused output buffers (`outs.0` from index `outs.1`),
/// in task order; parcels that go on in a later hour are filed in `schedule`.
pub(super) fn run_tasks(
    plan: &Plan,
    schedule: &Schedule,
    base: &ChaCha8Rng,
    tasks: &[Task],
    (outs, from): (&mut Vec<TaskOut>, usize),
    span: &Span,
) {
    if outs.len() < from + tasks.len() {
        outs.resize_with(from + tasks.len(), TaskOut::default);
    }
    tasks
        .par_iter()
        .zip(outs[from..].par_iter_mut())
        .for_each(|(task, out)| {
            out.clear();
            match task {
                Task::Draw(c) => {
                    let mut rng = OrderRng::new(base, c.market.0, span.stream_day, span.hour);
                    each_order(c, span, &mut rng, |rng, order_id, placed| {
                        out.take(plan, schedule, span, || {
                            Parcel::draw(plan, rng, c.market, order_id, placed)
                        });
                    });
                }
                Task::Shadow(c) => {
                    let mut rng = OrderRng::shadow(base, c.market.0, span.stream_day, span.hour);
                    each_order(c, span, &mut rng, |rng, order_id, placed| {
                        if let Some(p) = Parcel::shadow(plan, rng, c.market, order_id, placed) {
                            out.take(plan, schedule, span, || p);
                        }
                    });
                }
                Task::Advance(runs) => {
                    each_prefetched(runs, |p| out.take(plan, schedule, span, || *p));
                }
                Task::AdvanceStored(runs) => {
                    each_prefetched(runs, |p| {
                        out.take(plan, schedule, span, || Parcel::restore(plan, p))
                    });
                }
            }
            schedule.file(&out.later);
            out.later.clear();
        });
}

/// Calls `order` with each order of a chunk, its id and its placement time, `rng`
/// begun at the order's draws.
#[inline]
fn each_order(
    c: &OrderChunk,
    span: &Span,
    rng: &mut OrderRng,
    mut order: impl FnMut(&mut OrderRng, u64, u32),
) {
    let hour_start = span.hour_end - HOUR_S;
    let slice_s = f64::from(HOUR_S) / c.count as f64;
    for i in c.first..c.last {
        rng.begin(i);
        // Stratified arrival: order i of N falls uniformly in the i-th of N equal slices
        // of the hour, so times come out sorted without a sort.
        let u = streams::unit_from_word(rng);
        let offset = ((i as f64 + u) * slice_s) as u32;
        let placed = hour_start + offset.min(HOUR_S - 1);
        order(rng, c.first_id + (i - c.first), placed);
    }
}

/// Asks for the cache lines of `item` without waiting for them.
#[inline]
pub(crate) fn prefetch<T>(item: &T) {
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
pub(super) const PREFETCH_AHEAD: usize = 8;

/// Calls `take` on every item of `runs`, asking for items' memory ahead of time.
#[inline]
pub(super) fn each_prefetched<T>(runs: &[&[T]], mut take: impl FnMut(&T)) {
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
pub(super) struct StepEvents {
    pub(super) parts: Vec<Vec<Event>>,
    pub(super) parts_len: usize,
    /// The first of `parts` that holds new orders' events.
    pub(super) new_from: usize,
    /// The step's first second, and its length in seconds.
    pub(super) start: u32,
    pub(super) seconds: usize,
    pub(super) sorted: Vec<Event>,
    /// The day the step completed, if it did.
    pub(super) finished_day: Option<u32>,
}

/// Gives a step's events to the sink, sorted if it needs the log's order, and tells it
/// when a day is complete.
pub(super) fn hand_over<S: Sink>(
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
