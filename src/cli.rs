//! The command line: clap arguments -> run configuration -> library calls.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::Error;
use crate::model::Scenario;
use crate::run::{self, RunRequest};
use crate::scenario::{self, Loaded, Override};

/// Set by Ctrl-C; long work checks it and stops without writing output.
pub static STOP: AtomicBool = AtomicBool::new(false);

#[derive(Debug, Parser)]
#[command(
    name = "tradesim",
    version,
    about = "Seeded, parallel, event-sourced simulator of cross-border e-commerce by SMEs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario: write the event log and every table into a new directory.
    Run(RunArgs),
    /// Compare variants with the baseline over paired replications (common random numbers).
    Compare(CompareArgs),
    /// Rebuild every table from an event log alone.
    Replay(ReplayArgs),
    /// Re-run what a manifest records and verify every output hash.
    Reproduce(ReproduceArgs),
    /// Tell one order's story from a run's event log.
    Explain(ExplainArgs),
    /// Run a scenario and score it against its [[target]]s.
    Calibrate(CalibrateArgs),
    /// Check a scenario, then print the volumes and hub loads it implies.
    Validate(ValidateArgs),
    /// List the shipped scenarios and their variants.
    Scenarios(ScenariosArgs),
}

/// Which scenario, with which changes.
#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Apply a variant's overrides (see `tradesim scenarios`).
    #[arg(long)]
    pub variant: Option<String>,
    /// Override one parameter after the variant, e.g. market.RU.customs.duty_rate=0.15 (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE", value_parser = parse_override)]
    pub sets: Vec<Override>,
}

fn parse_override(s: &str) -> Result<Override, String> {
    scenario::parse_set(s)
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Master seed (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Independent replications, written to rep-000/, rep-001/, ...
    #[arg(long, default_value_t = 1)]
    pub replications: u32,
    /// Simulate this fraction of buyers (and hub capacity), 0 < F <= 1.
    #[arg(long, default_value_t = 1.0)]
    pub sample: f64,
    /// Output directory (default: a new directory under runs/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: one per core). The output does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Write the tables only, not events.csv.
    #[arg(long)]
    pub no_event_log: bool,
    /// Replace the output directory if it exists.
    #[arg(long)]
    pub force: bool,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// A variant to compare with the baseline (repeatable).
    #[arg(long = "variant", required = true)]
    pub variants: Vec<String>,
    /// Override applied to the baseline and every variant alike (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE", value_parser = parse_override)]
    pub sets: Vec<Override>,
    /// Paired replications of the baseline and of each variant.
    #[arg(long, default_value_t = 10)]
    pub replications: u32,
    /// Simulate this fraction of buyers (and hub capacity), 0 < F <= 1.
    #[arg(long, default_value_t = 1.0)]
    pub sample: f64,
    /// Master seed (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory (default: runs/<scenario>-compare, or the next free name).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: one per core). The output does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Replace the output directory if it exists.
    #[arg(long)]
    pub force: bool,
    /// No progress bar and no table.
    #[arg(long, short)]
    pub quiet: bool,
    /// Run each variant with its own seed instead of common random numbers (to measure
    /// what common random numbers gain).
    #[arg(long, hide = true)]
    pub independent: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A run directory or an events.csv file.
    pub input: PathBuf,
    /// Where to write the rebuilt tables (default: <run dir>/replay; with --check, nowhere).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compare the rebuilt tables with the run's own beside the log and name each that differs.
    #[arg(long)]
    pub check: bool,
    /// Replace the output directory if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// A run's manifest.json (or the run directory holding it).
    pub manifest: PathBuf,
    /// Worker threads (default: one per core). The output does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// No progress bar; print only the files that differ.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A run directory (with events.csv), or an events.csv file.
    pub run_dir: PathBuf,
    /// The order's id (the `order_id` column of events.csv).
    pub order_id: u64,
}

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Simulate this fraction of buyers, 0 < F <= 1; counts and money are scaled by 1/F.
    #[arg(long, default_value_t = 1.0)]
    pub sample: f64,
    /// Master seed (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: one per core). The result does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// No progress bar and no table: the exit code (and the error) say whether targets pass.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Check that a run at this fraction of buyers fits the machine, 0 < F <= 1.
    #[arg(long, default_value_t = 1.0)]
    pub sample: f64,
}

#[derive(Debug, Args)]
pub struct ScenariosArgs {
    /// Directory to list (default: ./scenarios, else the one shipped with the source).
    pub dir: Option<PathBuf>,
}

/// Runs a parsed command line, printing to `out`.
pub fn execute(cli: Cli, out: &mut dyn Write) -> Result<(), Error> {
    match cli.command {
        Command::Run(a) => cmd_run(a, out),
        Command::Validate(a) => crate::report::validate(
            &a.scenario.scenario,
            a.scenario.variant.as_deref(),
            &a.scenario.sets,
            a.sample,
            out,
        ),
        Command::Scenarios(a) => crate::report::list_scenarios(a.dir.as_deref(), out),
        Command::Compare(a) => crate::compare::command(a, out),
        Command::Replay(a) => crate::replay::replay_command(a, out),
        Command::Reproduce(a) => crate::replay::reproduce_command(a, out),
        Command::Explain(a) => crate::replay::explain_command(a, out),
        Command::Calibrate(a) => crate::calibrate::command(a, out),
    }
}

pub fn load(args: &ScenarioArgs) -> Result<Loaded, Error> {
    Ok(scenario::load(
        &args.scenario,
        args.variant.as_deref(),
        &args.sets,
    )?)
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

/// A progress bar on a terminal, nothing otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    days: u32,
}

impl Progress {
    pub fn new(quiet: bool, days: u32, replications: u32) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(u64::from(days) * u64::from(replications));
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} day {pos}/{len} {msg} (eta {eta})",
                )
                .expect("valid template"),
            );
            bar
        });
        Progress {
            bar,
            started: Instant::now(),
            days,
        }
    }

    pub fn update(&self, replication: u32, day: u32, events: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(u64::from(replication) * u64::from(self.days) + u64::from(day) + 1);
            let secs = self.started.elapsed().as_secs_f64().max(1e-9);
            let note = if replication > 0 {
                format!(" rep {replication}")
            } else {
                String::new()
            };
            bar.set_message(format!(
                "{:.1} M events/s{note}",
                events as f64 / secs / 1e6
            ));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn cmd_run(a: RunArgs, out: &mut dyn Write) -> Result<(), Error> {
    let loaded = load(&a.scenario)?;
    run::check_sample(a.sample)?;
    crate::cost::check(&loaded.scenario, a.sample)?;
    let dest = match &a.out {
        Some(p) => p.clone(),
        None => default_out(&loaded.scenario, loaded.variant.as_deref()),
    };
    let req = RunRequest {
        seed: a.seed,
        replications: a.replications,
        sample: a.sample,
        out: dest,
        threads: a.threads,
        event_log: !a.no_event_log,
        force: a.force,
        loaded,
    };
    let progress = Progress::new(a.quiet, req.loaded.scenario.days, req.replications);
    let started = Instant::now();
    let reps = run::run(&req, &|r, d, e| progress.update(r, d, e), &STOP);
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
    crate::report::print_summary(&req.loaded.scenario, &reps[0].summary, req.sample, out)
}
