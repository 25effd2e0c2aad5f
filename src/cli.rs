//! The command line: clap arguments -> each command's configuration -> the command.
//! Nothing here computes; the commands know nothing of clap.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use clap::{Args, Parser, Subcommand};

use crate::Error;
use crate::commands;
use crate::log::LogFormat;
use crate::scenario::{self, Override};

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
    /// Write a run's event log as an OCEL 2.0 object-centric event log (JSON), for
    /// process mining.
    ExportOcel(ExportOcelArgs),
    /// Run a scenario and score it against its [[target]]s.
    Calibrate(CalibrateArgs),
    /// Check a scenario, then print the volumes and hub loads it implies.
    Validate(ValidateArgs),
    /// List the shipped scenarios and their variants.
    Scenarios(ScenariosArgs),
    /// Write one self-contained HTML report of a run's or a comparison's tables.
    Report(ReportArgs),
    /// Run the scenario over a design of its [[uncertain]] parameters and estimate which
    /// of them move each metric (Sobol' indices or Morris elementary effects).
    Sweep(SweepArgs),
    /// Combine the shards of a study (`--shard K/N`) into what one machine writes.
    Merge(MergeArgs),
}

/// `sweep --design`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DesignArg {
    /// Every combination of levels (--levels for continuous parameters).
    Factorial,
    /// Latin hypercube of --points points.
    Lhs,
    /// Sobol' sequence in Saltelli's scheme: --points base points, (d + 2) runs each;
    /// first-order and total indices.
    Sobol,
    /// --points Morris trajectories of d + 1 runs on a --levels grid; mu*, mu, sigma.
    Morris,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The scenario file (TOML), with [[uncertain]] parameters.
    pub scenario: PathBuf,
    /// The design over the uncertain parameters.
    #[arg(long, value_enum, default_value_t = DesignArg::Sobol)]
    pub design: DesignArg,
    /// Latin hypercube points, Sobol' base points or Morris trajectories.
    #[arg(long, default_value_t = 64)]
    pub points: u32,
    /// Levels of each continuous parameter (factorial) or of the Morris grid (even).
    #[arg(long, default_value_t = 4)]
    pub levels: u32,
    /// Replications at every point (common random numbers across points and arms).
    #[arg(long, default_value_t = 1)]
    pub replications: u32,
    /// A variant paired with the baseline at every point (repeatable): the indices are
    /// then also of each variant's difference from the baseline.
    #[arg(long = "variant")]
    pub variants: Vec<String>,
    /// Override applied to every run (repeatable); an uncertain parameter it sets is fixed.
    #[arg(long = "set", value_name = "PATH=VALUE", value_parser = parse_override)]
    pub sets: Vec<Override>,
    /// Simulate this fraction of buyers (and hub capacity), 0 < F <= 1.
    #[arg(long, default_value_t = 1.0)]
    pub sample: f64,
    /// Master seed (default: the scenario's `seed`); it also seeds the design.
    #[arg(long)]
    pub seed: Option<u64>,
    /// A metric to chart in sensitivity.svg by its dotted name, e.g. RU.orders or
    /// MY-DFTZ.peak_day_p95_wait_hours (repeatable; default: each market's orders).
    #[arg(long = "metric")]
    pub metrics: Vec<String>,
    /// Bootstrap resamples for the Sobol' intervals (0: none).
    #[arg(long, default_value_t = 500)]
    pub bootstrap: u32,
    /// Output directory (default: runs/<scenario>-sweep, or the next free name).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: one per core). The output does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Replace the output directory if it exists and tradesim wrote it; discard an
    /// unfinished sweep of other settings in its place.
    #[arg(long)]
    pub force: bool,
    /// No progress bar and no summary line.
    #[arg(long, short)]
    pub quiet: bool,
    /// Run only shard K of N of the work units (then `tradesim merge` the N outputs).
    #[arg(long, value_name = "K/N", conflicts_with = "emit_slurm")]
    pub shard: Option<crate::output::shard::Shard>,
    /// Write Slurm array and merge scripts for --shards shards into this directory,
    /// instead of running.
    #[arg(long, value_name = "DIR", requires = "shards")]
    pub emit_slurm: Option<PathBuf>,
    /// The number of shards of --emit-slurm.
    #[arg(long)]
    pub shards: Option<u32>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' output directories (every shard of one split).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Where to write the merged result.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace the output directory if it exists and tradesim wrote it.
    #[arg(long)]
    pub force: bool,
    /// No summary line.
    #[arg(long, short)]
    pub quiet: bool,
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
    scenario::parse_set(s).map_err(|e| e.to_string())
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
    /// The event log's format: csv (events.csv) or parquet (events/, one file per day;
    /// needs a build with `--features parquet`).
    #[arg(long = "log", value_enum, default_value_t = LogArg::Csv, conflicts_with = "no_event_log")]
    pub log: LogArg,
    /// Also write orders.csv: one row per order, its stage times and money (holds every
    /// order in memory until the end).
    #[arg(long)]
    pub orders: bool,
    /// Replace the output directory if it exists and tradesim wrote it (see README, Safety).
    #[arg(long)]
    pub force: bool,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Draw the scenario's [[uncertain]] parameters anew for each replication (recorded
    /// in each manifest under `uncertain`).
    #[arg(long)]
    pub uncertain: bool,
    /// Run only shard K of N of the replications (then `tradesim merge` the N outputs).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::output::shard::Shard>,
}

/// `--log`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogArg {
    Csv,
    Parquet,
}

impl From<LogArg> for LogFormat {
    fn from(a: LogArg) -> LogFormat {
        match a {
            LogArg::Csv => LogFormat::Csv,
            LogArg::Parquet => LogFormat::Parquet,
        }
    }
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
    /// Replace the output directory if it exists and tradesim wrote it (see README, Safety).
    #[arg(long)]
    pub force: bool,
    /// No progress bar and no table.
    #[arg(long, short)]
    pub quiet: bool,
    /// Run each variant with its own seed instead of common random numbers (to measure
    /// what common random numbers gain).
    #[arg(long, hide = true)]
    pub independent: bool,
    /// Draw the scenario's [[uncertain]] parameters per replication: replication r of
    /// every arm gets the same draws (common random numbers for the assumptions too).
    #[arg(long)]
    pub uncertain: bool,
    /// Run only shard K of N of the replications, every arm of each (then `tradesim
    /// merge` the N outputs).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::output::shard::Shard>,
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
    /// Also rebuild orders.csv: one row per order (--check compares it whenever the run has one).
    #[arg(long)]
    pub orders: bool,
    /// Replace the output directory if it exists and tradesim wrote it (see README, Safety).
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
pub struct ExportOcelArgs {
    /// A run directory (with events.csv), or an events.csv file.
    pub input: PathBuf,
    /// The file to write (default: ocel.json beside the log).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the file if it exists and is an earlier export (see README, export-ocel).
    #[arg(long)]
    pub force: bool,
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
    /// First solve the scenario's [[fit]] parameters against its targets (those with
    /// `fit = true`), then run with them.
    #[arg(long)]
    pub fit: bool,
    /// Replications to run; with two or more the table shows 95 % intervals.
    #[arg(long, default_value_t = 1)]
    pub replications: u32,
    /// Write backtest.csv into this directory (created; see --force).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing --out directory that tradesim wrote.
    #[arg(long)]
    pub force: bool,
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
pub struct ReportArgs {
    /// A run directory or a comparison's directory.
    pub dir: PathBuf,
    /// Where to write the report (default: DIR/report.html).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the report file if it exists and tradesim wrote it.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ScenariosArgs {
    /// Directory to list (default: ./scenarios, else the one shipped with the source).
    pub dir: Option<PathBuf>,
}

/// Runs a parsed command line, printing to `out`; `stop` is set by Ctrl-C, SIGTERM or
/// SIGHUP.
pub fn execute(cli: Cli, stop: &AtomicBool, out: &mut dyn Write) -> Result<(), Error> {
    match cli.command {
        Command::Run(a) => commands::run::command(
            commands::run::Config {
                scenario: a.scenario.into(),
                seed: a.seed,
                replications: a.replications,
                sample: a.sample,
                out: a.out,
                threads: a.threads,
                event_log: !a.no_event_log,
                log_format: a.log.into(),
                orders: a.orders,
                force: a.force,
                quiet: a.quiet,
                uncertain: a.uncertain,
                shard: a.shard,
            },
            stop,
            out,
        ),
        Command::Validate(a) => commands::validate::validate(&a.scenario.into(), a.sample, out),
        Command::Scenarios(a) => commands::scenarios::list_scenarios(a.dir.as_deref(), out),
        Command::Report(a) => commands::report::command(
            commands::report::Config {
                dir: a.dir,
                out: a.out,
                force: a.force,
            },
            out,
        ),
        Command::Compare(a) => commands::compare::command(
            commands::compare::Config {
                scenario: a.scenario,
                variants: a.variants,
                sets: a.sets,
                replications: a.replications,
                sample: a.sample,
                seed: a.seed,
                out: a.out,
                threads: a.threads,
                force: a.force,
                quiet: a.quiet,
                independent: a.independent,
                uncertain: a.uncertain,
                shard: a.shard,
            },
            stop,
            out,
        ),
        Command::Replay(a) => commands::replay::replay_command(
            commands::replay::ReplayConfig {
                input: a.input,
                out: a.out,
                check: a.check,
                orders: a.orders,
                force: a.force,
            },
            stop,
            out,
        ),
        Command::Reproduce(a) => commands::replay::reproduce_command(
            commands::replay::ReproduceConfig {
                manifest: a.manifest,
                threads: a.threads,
                quiet: a.quiet,
            },
            stop,
            out,
        ),
        Command::Explain(a) => commands::explain::command(
            commands::explain::Config {
                run_dir: a.run_dir,
                order_id: a.order_id,
            },
            stop,
            out,
        ),
        Command::ExportOcel(a) => commands::ocel::command(
            commands::ocel::Config {
                input: a.input,
                out: a.out,
                force: a.force,
            },
            stop,
            out,
        ),
        Command::Sweep(a) => commands::sweep::command(
            commands::sweep::Config {
                scenario: a.scenario,
                variants: a.variants,
                sets: a.sets,
                design: match a.design {
                    DesignArg::Factorial => commands::sweep::DesignKind::Factorial,
                    DesignArg::Lhs => commands::sweep::DesignKind::Lhs,
                    DesignArg::Sobol => commands::sweep::DesignKind::Sobol,
                    DesignArg::Morris => commands::sweep::DesignKind::Morris,
                },
                points: a.points,
                levels: a.levels,
                replications: a.replications,
                sample: a.sample,
                seed: a.seed,
                metrics: a.metrics,
                bootstrap: a.bootstrap,
                out: a.out,
                threads: a.threads,
                force: a.force,
                quiet: a.quiet,
                shard: a.shard,
                emit_slurm: a.emit_slurm,
                shards: a.shards.unwrap_or(0),
            },
            stop,
            out,
        ),
        Command::Merge(a) => commands::merge::command(
            commands::merge::Config {
                shards: a.shards,
                out: a.out,
                force: a.force,
                quiet: a.quiet,
            },
            out,
        ),
        Command::Calibrate(a) => commands::calibrate::command(
            commands::calibrate::Config {
                scenario: a.scenario.into(),
                sample: a.sample,
                seed: a.seed,
                threads: a.threads,
                quiet: a.quiet,
                fit: a.fit,
                replications: a.replications,
                out: a.out,
                force: a.force,
            },
            stop,
            out,
        ),
    }
}

impl From<ScenarioArgs> for commands::ScenarioChoice {
    fn from(a: ScenarioArgs) -> commands::ScenarioChoice {
        commands::ScenarioChoice {
            file: a.scenario,
            variant: a.variant,
            sets: a.sets,
        }
    }
}
