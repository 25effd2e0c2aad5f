//! End to end: the whole 30-day `scenarios/dftz_baseline.toml` (Singles' Day included)
//! at a sampled scale, reported in events per second.
//!
//! - `engine`: the simulation alone into a counting sink (no tables, no I/O), on 1 and
//!   on 2 threads, to show what parallelism pays;
//! - `run_no_log`: `run::simulate_into` without the event log (every table folded and
//!   written), as `tradesim run --no-event-log`;
//! - `run_with_log`: the same with `events.csv` written to a file in a temporary directory.
//!
//! The sample fraction defaults to `SAMPLE` (about 1.9 million events); set
//! `TRADESIM_BENCH_SAMPLE` to change it, e.g. `TRADESIM_BENCH_SAMPLE=0.1 cargo bench
//! --bench end_to_end`.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

use tradesim::engine::{RunParams, Sink};
use tradesim::event::Event;
use tradesim::model::Scenario;
use tradesim::output::run;
use tradesim::scenario;

/// Fraction of buyers (and hub capacity) simulated by default.
const SAMPLE: f64 = 0.01;

/// Counts events and folds something of each, so nothing is optimised away.
#[derive(Default)]
struct Count {
    events: u64,
    check: u64,
}

impl Sink for Count {
    fn events(&mut self, events: &[Event]) -> Result<(), tradesim::Error> {
        self.events += events.len() as u64;
        self.check = events.iter().fold(self.check, |acc, e| {
            acc.wrapping_add(u64::from(e.time_s) ^ e.order_id)
        });
        Ok(())
    }
}

fn dftz() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/dftz_baseline.toml");
    scenario::load(&path, None, &[])
        .expect("scenarios/dftz_baseline.toml loads")
        .scenario
}

fn sample() -> f64 {
    match std::env::var("TRADESIM_BENCH_SAMPLE") {
        Ok(v) => {
            let f: f64 = v.parse().expect("TRADESIM_BENCH_SAMPLE is a number");
            run::check_sample(f).expect("TRADESIM_BENCH_SAMPLE in (0, 1]");
            f
        }
        Err(_) => SAMPLE,
    }
}

fn simulate(s: &Scenario, params: RunParams) -> Count {
    let mut sink = Count::default();
    let stats = tradesim::engine::simulate(s, params, &mut sink, &AtomicBool::new(false))
        .expect("dftz_baseline simulates");
    assert_eq!(stats.events, sink.events);
    sink
}

fn simulate_into(s: &Scenario, params: RunParams, event_log: bool) -> (tempfile::TempDir, u64) {
    let log = event_log.then_some(tradesim::log::LogFormat::Csv);
    let dir = tempfile::tempdir().expect("temporary directory");
    let done = run::simulate_into(
        s,
        params,
        dir.path(),
        log,
        false,
        &|_, _| {},
        &AtomicBool::new(false),
    )
    .expect("dftz_baseline runs");
    (dir, done.stats.events)
}

fn end_to_end(c: &mut Criterion) {
    let s = dftz();
    let params = RunParams {
        seed: s.seed,
        replication: 0,
        sample: sample(),
    };
    // A first run sets the throughput; every later one must produce the same events.
    let first = simulate(&s, params);
    let events = first.events;
    eprintln!(
        "end_to_end: dftz_baseline, {} days, sample {}: {} events",
        s.days, params.sample, events
    );

    let mut g = c.benchmark_group(format!("dftz_baseline_sample_{}", params.sample));
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(events));
    for threads in [1, 2] {
        let pool = run::thread_pool(threads).expect("thread pool");
        g.bench_function(format!("engine_{threads}_threads"), |b| {
            b.iter(|| {
                let sink = pool.install(|| simulate(&s, params));
                assert_eq!(sink.check, first.check);
                sink.events
            })
        });
    }
    let pool = run::thread_pool(2).expect("thread pool");
    for (name, event_log) in [
        ("run_no_log_2_threads", false),
        ("run_with_log_2_threads", true),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || (),
                |()| {
                    let (dir, n) = pool.install(|| simulate_into(&s, params, event_log));
                    assert_eq!(n, events);
                    // Returned, so the directory is removed outside the timing.
                    dir
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(15))
        .sample_size(10)
}

criterion_group! {
    name = e2e;
    config = config();
    targets = end_to_end
}
criterion_main!(e2e);
