//! The event log's two formats written from the same events: `events.csv` (`LogWriter`)
//! against the Parquet directory (`ParquetLogWriter`), each into a fresh temporary
//! directory on 2 threads, as a run writes them; in events per second.
//!
//! The events are those of `scenarios/aliexpress_russia_2016.toml` at `SAMPLE` (7.9
//! million in 14 days, so the Parquet days hold full row groups as a large run's do);
//! set `TRADESIM_BENCH_SAMPLE` to change it. `cargo bench --features parquet --bench
//! log_formats`.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

use tradesim::engine::{Plan, RunParams, Sink};
use tradesim::event::Event;
use tradesim::log::LogWriter;
use tradesim::log::parquet::ParquetLogWriter;
use tradesim::output::run;
use tradesim::scenario;

const SAMPLE: f64 = 0.1;

/// Keeps every event the engine hands over, in the log's order.
#[derive(Default)]
struct Collect(Vec<Event>);

impl Sink for Collect {
    fn events(&mut self, events: &[Event]) -> Result<(), tradesim::Error> {
        self.0.extend_from_slice(events);
        Ok(())
    }
}

fn log_formats(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/aliexpress_russia_2016.toml");
    let s = scenario::load(&path, None, &[])
        .expect("aliexpress_russia_2016 loads")
        .scenario;
    let sample = std::env::var("TRADESIM_BENCH_SAMPLE")
        .map(|v| v.parse().expect("TRADESIM_BENCH_SAMPLE is a number"))
        .unwrap_or(SAMPLE);
    let params = RunParams {
        seed: s.seed,
        replication: 0,
        sample,
    };
    let mut sink = Collect::default();
    tradesim::engine::simulate(&s, params, &mut sink, &AtomicBool::new(false))
        .expect("aliexpress_russia_2016 simulates");
    let context = Plan::new(&s, params).context();
    let events = sink.0;
    eprintln!(
        "log_formats: aliexpress_russia_2016, sample {sample}: {} events",
        events.len()
    );

    let pool = run::thread_pool(2).expect("thread pool");
    // Handed over in steps, as the engine does.
    const STEP: usize = 1 << 19;
    let mut g = c.benchmark_group(format!("log_formats_ru2016_{sample}"));
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("csv_2_threads", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("temporary directory"),
            |dir| {
                pool.install(|| {
                    let mut w =
                        LogWriter::create(&dir.path().join("events.csv"), &context).expect("log");
                    for step in events.chunks(STEP) {
                        w.write(step).expect("write");
                    }
                    w.finish().expect("finish");
                });
                dir
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("parquet_2_threads", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("temporary directory"),
            |dir| {
                pool.install(|| {
                    let mut w = ParquetLogWriter::create(&dir.path().join("events"), &context)
                        .expect("log");
                    for step in events.chunks(STEP) {
                        w.write(step).expect("write");
                    }
                    w.finish().expect("finish");
                });
                dir
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10))
        .sample_size(10)
}

criterion_group! {
    name = formats;
    config = config();
    targets = log_formats
}
criterion_main!(formats);
