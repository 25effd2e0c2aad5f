//! A run on disk: replications simulated into a temporary directory, tables and
//! manifest written, then renamed into place, so an interrupted or failed run leaves
//! nothing half-written and an earlier run is replaced only when asked.

use std::collections::BTreeMap;
use std::fs::{self};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::Error;
use crate::engine::streams::uncertain_coords;
use crate::engine::{self, Plan, RunParams, RunStats, Sink};
use crate::event::Event;
use crate::log::{AnyLogWriter, LogFormat};
use crate::model::Scenario;
use crate::output::manifest::{Manifest, write_manifest};
use crate::output::shard::{SHARD_JSON, Shard, ShardInfo, write_json};
use crate::output::staging::Staging;
use crate::projection::{ORDERS_CSV, Orders, Summary, Tables};
use crate::scenario::{self, Document, Loaded, Override, sha256_hex};

pub const EVENTS: &str = "events.csv";
/// The Parquet log's directory (`--log parquet`).
pub const EVENTS_DIR: &str = "events";

/// What the user asked to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub loaded: Loaded,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    pub replications: u32,
    pub sample: f64,
    pub out: PathBuf,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    pub event_log: bool,
    /// The log's format, when there is one.
    pub log_format: LogFormat,
    /// Also write `orders.csv`.
    pub orders: bool,
    pub force: bool,
    /// Draw the scenario's uncertain parameters anew for each replication.
    pub uncertain: bool,
    /// Run only this shard's replications (`--shard K/N`), with `shard.json`.
    pub shard: Option<Shard>,
}

/// What decides a run's replications: `shard.json` of `run --shard` (merge compares it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunStudy {
    pub tradesim_version: String,
    pub scenario_file: String,
    pub scenario_sha256: String,
    pub variant: Option<String>,
    pub overrides: Vec<String>,
    pub seed: u64,
    pub replications: u32,
    pub sample: f64,
    /// The log's format (`csv`, `parquet`), or none.
    pub event_log: Option<String>,
    pub orders: bool,
    pub uncertain: bool,
}

impl RunStudy {
    pub fn of(req: &RunRequest) -> RunStudy {
        RunStudy {
            tradesim_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario_file: req.loaded.file.display().to_string(),
            scenario_sha256: req.loaded.sha256.clone(),
            variant: req.loaded.variant.clone(),
            overrides: req
                .loaded
                .overrides
                .iter()
                .map(Override::to_string)
                .collect(),
            seed: req.seed.unwrap_or(req.loaded.scenario.seed),
            replications: req.replications,
            sample: req.sample,
            event_log: req.event_log.then(|| {
                if req.log_format.is_csv() {
                    "csv"
                } else {
                    "parquet"
                }
                .to_string()
            }),
            orders: req.orders,
            uncertain: req.uncertain,
        }
    }
}

/// The directory of replication `r` in a run of `replications` (the run's own directory
/// when it has one replication).
pub fn replication_dir(replications: u32, r: u32) -> String {
    if replications == 1 {
        String::new()
    } else {
        format!("rep-{r:03}")
    }
}

/// One finished replication.
#[derive(Debug, Clone)]
pub struct Replication {
    /// Where it ended up, after the rename.
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub summary: Summary,
    pub stats: RunStats,
}

/// Called after each simulated day with (replication, day, events so far in it).
pub type Progress<'a> = &'a (dyn Fn(u32, u32, u64) + Sync);

pub fn check_sample(sample: f64) -> Result<(), Error> {
    if !(sample > 0.0 && sample <= 1.0) {
        return Err(Error::Usage(format!(
            "--sample must be in (0, 1], found {sample}"
        )));
    }
    Ok(())
}

/// Runs every replication and moves the result to `req.out`.
pub fn run(
    req: &RunRequest,
    progress: Progress,
    stop: &AtomicBool,
) -> Result<Vec<Replication>, Error> {
    check_sample(req.sample)?;
    check_replications(req.replications)?;
    if req.shard.is_some() && req.replications < 2 {
        return Err(Error::Usage(
            "--shard splits replications: give --replications 2 or more".to_string(),
        ));
    }
    if req.event_log {
        req.log_format.check_built()?;
    }
    if !req.uncertain {
        return run_each(req, &|_| Ok(req.loaded.clone()), progress, stop);
    }
    let loaded = &req.loaded;
    let seed = req.seed.unwrap_or(loaded.scenario.seed);
    scenario::with_document(&loaded.file, &loaded.sha256, |document| {
        check_uncertain(
            document,
            &[loaded.variant.as_deref()],
            &loaded.overrides,
            req.sample,
        )?;
        let draw = |r: u32| -> Result<Loaded, Error> {
            let coords = uncertain_coords(seed, r, document.uncertain().len());
            let (variant, sets) = (loaded.variant.as_deref(), &loaded.overrides);
            Ok(document.loaded_at(&loaded.file, &loaded.sha256, variant, sets, &coords)?)
        };
        run_each(req, &draw, progress, stop)
    })
}

/// Checks `--uncertain` on a scenario: it declares parameters, and each of their extremes
/// gives a valid scenario that fits the machine, for each of `variants`.
pub fn check_uncertain(
    document: &Document,
    variants: &[Option<&str>],
    sets: &[Override],
    sample: f64,
) -> Result<(), Error> {
    if document.uncertain().is_empty() {
        return Err(Error::Usage(
            "--uncertain: the scenario declares no [[uncertain]] parameters to draw".to_string(),
        ));
    }
    let fits = |s: &Scenario| {
        crate::model::cost::check(s, sample)
            .map(drop)
            .map_err(|e| e.to_string())
    };
    Ok(document.check_uncertain(variants, sets, &fits)?)
}

/// Runs replication r of `scenario_of(r)` for every r, staged and moved into place.
fn run_each(
    req: &RunRequest,
    scenario_of: &dyn Fn(u32) -> Result<Loaded, Error>,
    progress: Progress,
    stop: &AtomicBool,
) -> Result<Vec<Replication>, Error> {
    let log = req.event_log.then_some(req.log_format);
    let staging = Staging::new(&req.out, req.force, &[&req.loaded.file])?;
    let pool = thread_pool(req.threads)?;
    let threads = pool.current_num_threads();
    let mut reps = Vec::new();
    for r in (0..req.replications).filter(|&r| req.shard.is_none_or(|s| s.owns(u64::from(r)))) {
        let sub = replication_dir(req.replications, r);
        let dir = staging.tmp.join(&sub);
        fs::create_dir_all(&dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        let loaded = scenario_of(r)?;
        let params = RunParams {
            seed: req.seed.unwrap_or(req.loaded.scenario.seed),
            replication: r,
            sample: req.sample,
        };
        let Simulated {
            stats,
            tables,
            files,
        } = pool.install(|| {
            simulate_into(
                &loaded.scenario,
                params,
                &dir,
                log,
                req.orders,
                &|d, e| progress(r, d, e),
                stop,
            )
        })?;
        let summary = tables.summary();
        let manifest = Manifest::new(&loaded, params, threads, log, req.orders, &stats, files);
        write_manifest(&dir, &manifest)?;
        reps.push(Replication {
            dir: req.out.join(&sub),
            manifest,
            summary,
            stats,
        });
    }
    if let Some(shard) = req.shard {
        let info = ShardInfo {
            command: "run".to_string(),
            shard: shard.to_string(),
            units: u64::from(req.replications),
            study: RunStudy::of(req),
        };
        write_json(&staging.tmp.join(SHARD_JSON), &info)?;
    }
    staging.commit()?;
    Ok(reps)
}

/// Most worker threads `--threads` may ask for; far more than any machine has cores.
pub const MAX_THREADS: usize = 1024;
/// Most replications one command may run.
pub const MAX_REPLICATIONS: u32 = 100_000;

/// Checks `--replications`.
pub fn check_replications(replications: u32) -> Result<(), Error> {
    if !(1..=MAX_REPLICATIONS).contains(&replications) {
        return Err(Error::Usage(format!(
            "--replications must be from 1 to {MAX_REPLICATIONS}, found {replications}"
        )));
    }
    Ok(())
}

pub fn thread_pool(threads: usize) -> Result<rayon::ThreadPool, Error> {
    if threads > MAX_THREADS {
        return Err(Error::Usage(format!(
            "--threads must be at most {MAX_THREADS} (0 means one per core), found {threads}"
        )));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Usage(format!("cannot start {threads} threads: {e}")))
}

/// The live-run sink: folds every table and, if asked, the orders and writes the log.
struct RunSink<'a> {
    tables: Tables,
    orders: Option<Orders>,
    log: Option<AnyLogWriter>,
    progress: &'a (dyn Fn(u32, u64) + Sync),
}

impl Sink for RunSink<'_> {
    fn events(&mut self, events: &[Event]) -> Result<(), Error> {
        let (tables, orders) = (&mut self.tables, &mut self.orders);
        match &mut self.log {
            // Format the log and fold at the same time.
            Some(log) => rayon::join(|| log.write(events), || fold(tables, orders, events)).0,
            None => {
                fold(tables, orders, events);
                Ok(())
            }
        }
    }

    fn day_finished(&mut self, day: u32, events: u64) {
        (self.progress)(day, events);
    }

    /// Only the log needs the events in order: the tables are counts and sums, and each
    /// event sets its own fields of an order's row.
    fn needs_order(&self) -> bool {
        self.log.is_some()
    }
}

/// Folds the tables and, side by side, the orders.
fn fold(tables: &mut Tables, orders: &mut Option<Orders>, events: &[Event]) {
    match orders {
        Some(orders) => {
            rayon::join(|| tables.fold(events), || orders.fold(events));
        }
        None => tables.fold(events),
    }
}

/// One replication simulated into a directory.
pub struct Simulated {
    pub stats: RunStats,
    /// The folded tables (already written to the directory).
    pub tables: Tables,
    /// SHA-256 of each file written, by its path in the directory.
    pub files: BTreeMap<String, String>,
}

/// Simulates one replication into `dir` (which exists and is empty): the log in format
/// `log` and `orders.csv` if asked, and every table.
pub fn simulate_into(
    scenario: &Scenario,
    params: RunParams,
    dir: &Path,
    log: Option<LogFormat>,
    orders: bool,
    progress: &(dyn Fn(u32, u64) + Sync),
    stop: &AtomicBool,
) -> Result<Simulated, Error> {
    let plan = Plan::new(scenario, params);
    let context = plan.context();
    let log = log
        .map(|format| {
            let name = if format.is_csv() { EVENTS } else { EVENTS_DIR };
            AnyLogWriter::create(format, dir, name, &context)
        })
        .transpose()?;
    let mut sink = RunSink {
        tables: Tables::new(&context),
        orders: orders.then(|| Orders::new(&context)),
        log,
        progress,
    };
    let stats = engine::simulate(scenario, params, &mut sink, stop)?;
    let mut files = BTreeMap::new();
    if let Some(log) = sink.log.take() {
        // Hashed as written, not read back.
        files.extend(log.finish()?);
    }
    files.extend(write_tables(&sink.tables, dir)?);
    if let Some(orders) = sink.orders.take() {
        files.insert(ORDERS_CSV.to_string(), write_orders(&orders, dir)?);
    }
    Ok(Simulated {
        stats,
        tables: sink.tables,
        files,
    })
}

/// Simulates one replication into its tables, writing nothing.
pub fn simulate_tables(
    scenario: &Scenario,
    params: RunParams,
    progress: &(dyn Fn(u32, u64) + Sync),
    stop: &AtomicBool,
) -> Result<(RunStats, Tables), Error> {
    let mut sink = RunSink {
        tables: Tables::new(&Plan::new(scenario, params).context()),
        orders: None,
        log: None,
        progress,
    };
    let stats = engine::simulate(scenario, params, &mut sink, stop)?;
    Ok((stats, sink.tables))
}

/// Writes every table into `dir`; returns each file's SHA-256.
pub fn write_tables(tables: &Tables, dir: &Path) -> Result<BTreeMap<String, String>, Error> {
    let mut hashes = BTreeMap::new();
    for (name, text) in tables.render() {
        let path = dir.join(name);
        fs::write(&path, text.as_bytes())
            .map_err(Error::io(format!("writing {}", path.display())))?;
        hashes.insert(name.to_string(), sha256_hex(text.as_bytes()));
    }
    Ok(hashes)
}

/// Writes `orders.csv` into `dir`; returns its SHA-256, hashed as written.
pub fn write_orders(orders: &Orders, dir: &Path) -> Result<String, Error> {
    use sha2::{Digest, Sha256};
    use std::io::Write;

    /// Hashes what passes through to the file.
    struct Hashed(fs::File, Sha256);

    impl Write for Hashed {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = self.0.write(buf)?;
            self.1.update(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            self.0.flush()
        }
    }

    orders.check()?;
    let path = dir.join(ORDERS_CSV);
    let writing = || Error::io(format!("writing {}", path.display()));
    let file = fs::File::create(&path).map_err(writing())?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, Hashed(file, Sha256::new()));
    orders
        .write_csv(&mut out)
        .and_then(|()| out.flush())
        .map_err(writing())?;
    let Hashed(_, sha) = out.into_inner().map_err(|e| writing()(e.into_error()))?;
    Ok(crate::model::digest::hex(&sha.finalize()))
}

/// `runs/NAME[-VARIANT]`, or the first of `...-2`, `...-3`, ... that is free.
pub fn default_out(scenario: &Scenario, variant: Option<&str>) -> PathBuf {
    let base = match variant {
        Some(v) => format!("{}-{v}", scenario.name),
        None => scenario.name.clone(),
    };
    let runs = Path::new("runs");
    let first = runs.join(&base);
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|i| runs.join(format!("{base}-{i}")))
        .find(|p| !p.exists())
        .expect("a free name")
}
