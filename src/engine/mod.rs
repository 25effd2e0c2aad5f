//! The simulation: the horizon in hours, each hour cut into steps, parallel within
//! each step, merged into one total order.
//!
//! At the start of an hour: take the parcels whose next event falls in it from the
//! schedule, draw the hour's order count per market (from the unit's stream), and cut
//! the hour into as many steps as keep a step near `STEP_EVENTS` events. For each
//! step: (1) draw the orders whose slice of the hour starts in the step, each from its
//! own block, in parallel chunks; (2) advance every parcel whose next event falls in
//! the step, in parallel, emitting its events; (3) offer the step's arrivals at
//! facilities (hubs, then line-hauls, then exchange offices) to each one's FIFO queue in
//! (time, order id) order and advance those parcels again;
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
mod facility;
mod parcel;
mod plan;
mod schedule;
mod sort;
mod step;
pub mod streams;
mod tasks;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, Zipf};
use rayon::prelude::*;

pub use alias::AliasTable;
pub use facility::{
    Departure, Departures, Facility, LineQueue, Regime, Service, sampled_lines, sampled_seats,
};
use parcel::{Parcel, Step, Stored};
use streams::{OrderRng, Purpose};

pub use plan::Plan;
use schedule::*;
use sort::*;
use step::*;
pub(crate) use tasks::prefetch;
use tasks::*;

use crate::Error;
use crate::event::Event;
use crate::event::context::{self, Context, FacilityKind};
use crate::model::{MarketId, PoolId, Scenario};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::{EntityKind, Tables};

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
                crate::event::EventKind::Dispatched {
                    seller: 0,
                    value_cents: 1,
                    freight_cents: 0,
                }
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
                .get(EntityKind::Market, &market.id, "in_flight")
                .unwrap();
            assert_eq!(
                folded,
                crate::projection::Value::Count(stats.in_flight[m] as i64),
                "{}",
                market.id
            );
            assert!(stats.in_flight[m] > 0);
        }
        assert_eq!(stats.events, sink.0.events());
    }
}
