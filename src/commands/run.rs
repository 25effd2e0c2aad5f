//! `tradesim run`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use super::ScenarioChoice;
use super::progress::Progress;
use crate::Error;
use crate::output::run::{self, RunRequest};

/// What `run` was asked to do.
#[derive(Debug, Clone)]
pub struct Config {
    pub scenario: ScenarioChoice,
    /// Replaces the scenario's seed.
    pub seed: Option<u64>,
    pub replications: u32,
    pub sample: f64,
    /// Default: a new directory under `runs/`.
    pub out: Option<PathBuf>,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    pub event_log: bool,
    pub force: bool,
    pub quiet: bool,
}

/// `tradesim run`: every replication into a new directory, then a summary.
pub fn command(a: Config, stop: &AtomicBool, out: &mut dyn Write) -> Result<(), Error> {
    let loaded = a.scenario.load()?;
    run::check_sample(a.sample)?;
    crate::model::cost::check(&loaded.scenario, a.sample)?;
    let dest = match &a.out {
        Some(p) => p.clone(),
        None => run::default_out(&loaded.scenario, loaded.variant.as_deref()),
    };
    let req = RunRequest {
        seed: a.seed,
        replications: a.replications,
        sample: a.sample,
        out: dest,
        threads: a.threads,
        event_log: a.event_log,
        force: a.force,
        loaded,
    };
    let progress = Progress::new(a.quiet, req.loaded.scenario.days, req.replications);
    let started = Instant::now();
    let reps = run::run(&req, &|r, d, e| progress.update(r, d, e), stop);
    progress.finish();
    let reps = reps?;
    if a.quiet {
        return Ok(());
    }
    let secs = started.elapsed().as_secs_f64();
    let events: u64 = reps.iter().map(|r| r.stats.events).sum();
    writeln!(
        out,
        "{} ({} replication{}, sample {}): {} events in {:.2} s ({:.1} M events/s) -> {}",
        req.loaded.scenario.name,
        reps.len(),
        if reps.len() == 1 { "" } else { "s" },
        req.sample,
        events,
        secs,
        events as f64 / secs / 1e6,
        req.out.display()
    )
    .map_err(Error::stdout)?;
    super::report::print_summary(&req.loaded.scenario, &reps[0].summary, req.sample, out)
}
