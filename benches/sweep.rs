//! A sweep's work unit on `scenarios/dftz_baseline.toml` at `--sample 0.01` (the shipped
//! study's scale): what one design point costs to build (`Document::loaded_at`: the
//! overrides applied, the scenario validated, its demand model solved) against what its
//! run costs (`run::simulate_tables`: the month simulated and every table folded). The
//! first is the per-run overhead a sweep adds, measured in-process: a sweep starts one
//! process and parses the file once.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};

use tradesim::engine::RunParams;
use tradesim::output::run;
use tradesim::scenario;

fn point_cost(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/dftz_baseline.toml");
    let text = scenario::read_text(&path).expect("the shipped scenario reads");
    let sha = scenario::sha256_hex(text.as_bytes());
    let name = path.display().to_string();
    let document = scenario::Document::parse(&text, &name).expect("it parses");
    let d = document.uncertain().len();
    assert!(d > 0, "dftz_baseline declares its uncertain assumptions");
    let coords: Vec<f64> = (0..d).map(|i| (i as f64 + 0.5) / d as f64).collect();
    let stop = AtomicBool::new(false);
    let params = RunParams {
        seed: 20161101,
        replication: 0,
        sample: 0.01,
    };
    let pool = run::thread_pool(1).expect("one thread");

    let mut g = c.benchmark_group("sweep_unit");
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("load_point", |b| {
        b.iter(|| {
            document
                .loaded_at(&path, &sha, None, &[], &coords)
                .expect("a point loads")
        })
    });
    let loaded = document
        .loaded_at(&path, &sha, None, &[], &coords)
        .expect("a point loads");
    g.sample_size(10);
    g.bench_function("run_point_1_thread", |b| {
        b.iter(|| {
            pool.install(|| run::simulate_tables(&loaded.scenario, params, &|_, _| {}, &stop))
                .expect("runs")
        })
    });
    g.finish();
}

criterion_group!(benches, point_cost);
criterion_main!(benches);
