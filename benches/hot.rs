//! The hot pieces of a run, one at a time: random streams, distribution sampling, the
//! hub queue, event encoding and log writing, the projections, and validating variants.
//!
//! Inputs are realistic: distributions come from `tests/data/small.toml`, and the events
//! (with their context) from simulating that scenario in full. Every benchmark reports
//! elements per second (draws, parcels or events).
//!
//! Run with `cargo bench --bench hot`; see README "Performance" for the recorded figures.

use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::weighted::WeightedAliasIndex;
use rand_distr::{Distribution, Exp};

use tradesim::engine::streams::{OrderRng, Purpose, base_rng, seek_unit, stream_id};
use tradesim::engine::{AliasTable, LineQueue, Plan, Regime, RunParams, Sink};
use tradesim::event::Event;
use tradesim::event::context::Context;
use tradesim::log::LogWriter;
use tradesim::model::Scenario;
use tradesim::model::dist::Dist;
use tradesim::projection::Tables;
use tradesim::scenario;

/// Draws, parcels or orders per iteration of the streams, sampling and hub benchmarks.
const N: usize = 100_000;
/// 64-bit draws an order makes from its slot, about the 27 to 31 words the engine uses.
const DRAWS_PER_ORDER: usize = 14;

fn small() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/small.toml");
    scenario::load(&path, None, &[])
        .expect("tests/data/small.toml loads")
        .scenario
}

/// Keeps every event the engine hands over.
#[derive(Default)]
struct Collect(Vec<Event>);

impl Sink for Collect {
    fn events(&mut self, events: &[Event]) -> Result<(), tradesim::Error> {
        self.0.extend_from_slice(events);
        Ok(())
    }
}

/// The events of a full run of `small.toml` and the context its log would carry.
fn small_run() -> (Context, Vec<Event>) {
    let s = small();
    let params = RunParams {
        seed: s.seed,
        replication: 0,
        sample: 1.0,
    };
    let mut sink = Collect::default();
    tradesim::engine::simulate(&s, params, &mut sink, &AtomicBool::new(false))
        .expect("small.toml simulates");
    let context = Plan::new(&s, params).context();
    (context, sink.0)
}

fn orders_rng() -> ChaCha8Rng {
    let mut rng = base_rng(42, 0);
    seek_unit(&mut rng, stream_id(Purpose::Orders, 0, 10, 12));
    rng
}

fn streams(c: &mut Criterion) {
    let mut g = c.benchmark_group("streams");
    g.throughput(Throughput::Elements(N as u64));
    // A raw stream: the cost of one 64-bit word.
    g.bench_function("next_u64", |b| {
        let mut rng = orders_rng();
        b.iter(|| {
            let mut acc = 0u64;
            for _ in 0..N {
                acc ^= rng.next_u64();
            }
            black_box(acc)
        })
    });
    // As the engine draws orders: each from its own slot of the hour's stream.
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("order_slots_14_draws", |b| {
        let mut rng = OrderRng::new(&base_rng(42, 0), 0, 10, 12);
        b.iter(|| {
            let mut acc = 0u64;
            for i in 0..N as u64 {
                rng.begin(i);
                for _ in 0..DRAWS_PER_ORDER {
                    acc ^= rng.next_u64();
                }
            }
            black_box(acc)
        })
    });
    // A unit's generator: SHA-256 key, then the unit's stream (once per market-hour).
    g.throughput(Throughput::Elements(1));
    g.bench_function("base_rng_seek_unit", |b| {
        b.iter(|| {
            let mut rng = base_rng(black_box(42), 0);
            seek_unit(&mut rng, stream_id(Purpose::OrderCount, 0, 10, 12));
            rng.next_u64()
        })
    });
    g.finish();
}

fn sampling(c: &mut Criterion) {
    let s = small();
    let apparel = s
        .categories
        .iter()
        .position(|c| c == "apparel")
        .expect("small.toml has apparel");
    let dists: [(&str, &Dist); 4] = [
        // median 1.5 days, sigma 0.4
        ("lognormal", &s.markets[0].last_mile),
        // mean 200 s
        ("exponential", &s.hubs[0].service_time),
        // shape 2, mean 1 day
        ("gamma", &s.markets[1].last_mile),
        // four values by alias table
        (
            "empirical",
            s.pools[0].order_value[apparel]
                .as_ref()
                .expect("CN sells apparel"),
        ),
    ];
    let mut g = c.benchmark_group("dist");
    g.throughput(Throughput::Elements(N as u64));
    for (name, d) in dists {
        g.bench_function(format!("{name}_sample_u32"), |b| {
            let mut rng = orders_rng();
            b.iter(|| {
                let mut acc = 0u32;
                for _ in 0..N {
                    acc = acc.wrapping_add(d.sample_u32(&mut rng));
                }
                black_box(acc)
            })
        });
    }
    // Seller popularity over the 200,000 sellers of aliexpress_russia_2016's Chinese pool
    // (Zipf exponent 1.05): the engine's table against the `rand_distr` one it replaced.
    let weights: Vec<f64> = (1..=200_000).map(|k| f64::from(k).powf(-1.05)).collect();
    let ours = AliasTable::new(&weights);
    let theirs = WeightedAliasIndex::new(weights).expect("positive weights");
    g.bench_function("seller_alias_200k", |b| {
        let mut rng = orders_rng();
        b.iter(|| {
            let mut acc = 0u32;
            for _ in 0..N {
                acc = acc.wrapping_add(ours.sample(&mut rng));
            }
            black_box(acc)
        })
    });
    g.bench_function("seller_rand_distr_alias_200k", |b| {
        let mut rng = orders_rng();
        b.iter(|| {
            let mut acc = 0usize;
            for _ in 0..N {
                acc = acc.wrapping_add(theirs.sample(&mut rng));
            }
            black_box(acc)
        })
    });
    g.finish();
}

/// `N` parcels offered to a hub of `lines` lines at about 90 % load, with small.toml's
/// service times: (arrival, service), arrivals in order.
fn hub_jobs(lines: u32) -> Vec<(u32, u32)> {
    let s = small();
    let service = &s.hubs[0].service_time;
    let mean_gap_s = service.mean() / f64::from(lines) / 0.9;
    let gap = Exp::new(1.0 / mean_gap_s).expect("positive rate");
    let mut rng = orders_rng();
    let mut t = 0.0f64;
    (0..N)
        .map(|_| {
            t += gap.sample(&mut rng);
            (t as u32, service.sample_u32(&mut rng))
        })
        .collect()
}

fn hub(c: &mut Criterion) {
    const LINES: u32 = 4;
    let jobs = hub_jobs(LINES);
    let horizon = jobs.last().expect("jobs").0;
    let steady = vec![Regime {
        from_s: 0,
        lines: LINES,
        service_scale: 1.0,
    }];
    // small.toml's outage: a quarter of the lines for a tenth of the horizon, with the
    // backlog it builds.
    let outage = vec![
        steady[0],
        Regime {
            from_s: horizon / 3,
            lines: 1,
            service_scale: 1.0,
        },
        Regime {
            from_s: horizon / 3 + horizon / 10,
            lines: LINES,
            service_scale: 1.0,
        },
    ];
    let mut g = c.benchmark_group("hub");
    g.throughput(Throughput::Elements(N as u64));
    for (name, regimes) in [
        ("serve_4_lines", &steady),
        ("serve_4_lines_outage", &outage),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || LineQueue::new(regimes.clone()),
                |mut q| {
                    let mut last = 0u32;
                    for &(arrival, service) in &jobs {
                        let s = q.serve(arrival, service).expect("lines > 0");
                        last = last.max(s.start_s);
                    }
                    last
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn log_and_projections(c: &mut Criterion) {
    let (context, events) = small_run();
    let n = events.len() as u64;

    let mut g = c.benchmark_group("log");
    g.throughput(Throughput::Elements(n));
    // Encoding only: rows formatted in parallel chunks and hashed on the rayon threads,
    // then thrown away by the writing thread.
    g.bench_function("write_sink", |b| {
        b.iter(|| {
            let mut w = LogWriter::new(std::io::sink(), &context).expect("header");
            w.write(&events).expect("write");
            w.finish().expect("finish")
        })
    });
    // Encoding and copying into memory, as into a file's buffer.
    let bytes = {
        let mut w = LogWriter::new(Vec::new(), &context).expect("header");
        w.write(&events).expect("write");
        w.finish().expect("finish").out.len()
    };
    g.bench_function("write_vec", |b| {
        b.iter_batched(
            || Vec::with_capacity(bytes),
            |buf| {
                let mut w = LogWriter::new(buf, &context).expect("header");
                w.write(&events).expect("write");
                w.finish().expect("finish")
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("projection");
    g.throughput(Throughput::Elements(n));
    g.bench_function("observe", |b| {
        b.iter(|| {
            let mut t = Tables::new(&context);
            for e in &events {
                t.observe(e);
            }
            t
        })
    });
    // Folding and rendering every table, as at the end of a run.
    g.bench_function("observe_render", |b| {
        b.iter(|| {
            let mut t = Tables::new(&context);
            for e in &events {
                t.observe(e);
            }
            t.render()
        })
    });
    g.finish();
}

/// Validating a scenario with many variants, each applied and checked: the time per
/// variant should not grow with their number (issue 16 found it quadratic).
fn validation(c: &mut Criterion) {
    let tiny =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.toml"))
            .expect("tests/data/tiny.toml");
    let mut g = c.benchmark_group("validation");
    for n in [100u64, 1000] {
        let mut text = tiny.clone();
        for i in 0..n {
            text.push_str(&format!(
                "\n[[variant]]\nname = \"v{i}\"\nset = {{ \"market.RU.customs.duty_rate\" = 0.{} }}\n",
                i % 9 + 1
            ));
        }
        g.throughput(Throughput::Elements(n));
        g.bench_function(format!("every_variant_of_{n}"), |b| {
            b.iter(|| {
                let doc = scenario::Document::parse(&text, "tiny.toml").expect("valid");
                let names: Vec<String> = doc.variant_names().map(str::to_string).collect();
                for name in &names {
                    black_box(doc.scenario(Some(name), &[]).expect("valid variant"));
                }
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(20)
}

criterion_group! {
    name = hot;
    config = config();
    targets = streams, sampling, hub, log_and_projections, validation
}
criterion_main!(hot);
