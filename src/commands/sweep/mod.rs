//! `tradesim sweep`: a scenario run at the points of a design over its `[[uncertain]]`
//! parameters (full factorial, Latin hypercube, Sobol' with Saltelli's scheme, Morris
//! trajectories), each point with R replications under common random numbers and,
//! with `--variant`, paired with each variant; then which parameters move each metric.
//!
//! Work unit k is (point k / R, replication k mod R) with every arm. A unit's result is
//! one small file of summary rows; the tables are folded from those files, in unit
//! order, whether the units ran here, in an earlier interrupted run (`units.rs`: resume)
//! or on other machines (`--shard`, `tradesim merge`): the same files in, the same bytes
//! out.

pub mod design;
pub mod sensitivity;
pub mod slurm;
mod svg;
mod tables;
mod units;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::engine::{Plan, RunParams};
use crate::model::uncertain::Uncertain;
use crate::output::run;
use crate::output::shard::{MAX_SHARDS, Shard, ShardInfo};
use crate::output::staging::Staging;
use crate::projection::{Key, Tables};
use crate::scenario::{self, Override};

/// The experimental design.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DesignKind {
    Factorial,
    Lhs,
    Sobol,
    Morris,
}

impl DesignKind {
    pub fn name(self) -> &'static str {
        match self {
            DesignKind::Factorial => "factorial",
            DesignKind::Lhs => "lhs",
            DesignKind::Sobol => "sobol",
            DesignKind::Morris => "morris",
        }
    }

    /// Whether the design yields sensitivity indices.
    fn has_indices(self) -> bool {
        matches!(self, DesignKind::Sobol | DesignKind::Morris)
    }
}

/// What `sweep` was asked to do.
#[derive(Debug, Clone)]
pub struct Config {
    pub scenario: PathBuf,
    /// Variants paired with the baseline at every point.
    pub variants: Vec<String>,
    /// Overrides of every arm; a parameter they set is fixed, not swept.
    pub sets: Vec<Override>,
    pub design: DesignKind,
    /// Latin hypercube points, Sobol' base points or Morris trajectories.
    pub points: u32,
    /// Levels of a continuous parameter in a factorial design, or of the Morris grid.
    pub levels: u32,
    pub replications: u32,
    pub sample: f64,
    pub seed: Option<u64>,
    /// Dotted metric names (`RU.orders`) drawn in `sensitivity.svg`.
    pub metrics: Vec<String>,
    /// Bootstrap resamples of the Sobol' intervals.
    pub bootstrap: u32,
    pub out: Option<PathBuf>,
    pub threads: usize,
    pub force: bool,
    pub quiet: bool,
    pub shard: Option<Shard>,
    /// Write Slurm scripts for `shards` shards here instead of running.
    pub emit_slurm: Option<PathBuf>,
    pub shards: u32,
}

/// Everything that decides a sweep's result: written as `study.json` (and in each
/// shard's `shard.json`), compared when resuming or merging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Study {
    pub tradesim_version: String,
    pub scenario: String,
    pub scenario_file: String,
    pub scenario_sha256: String,
    pub variants: Vec<String>,
    pub overrides: Vec<String>,
    /// `name=path` of each parameter, in the file's order.
    pub parameters: Vec<String>,
    pub design: String,
    pub points: u32,
    pub levels: u32,
    pub design_points: u64,
    pub replications: u32,
    pub sample: f64,
    pub seed: u64,
    pub bootstrap: u32,
    pub metrics: Vec<String>,
}

impl Study {
    pub fn units(&self) -> u64 {
        self.design_points * u64::from(self.replications)
    }
}

pub const STUDY_JSON: &str = "study.json";
pub const DESIGN_CSV: &str = "design.csv";
pub const RESULTS_CSV: &str = "results.csv";
pub const SENSITIVITY_CSV: &str = "sensitivity.csv";
pub const SENSITIVITY_SVG: &str = "sensitivity.svg";
/// Most design points one sweep may hold.
pub const MAX_POINTS: u64 = design::MAX_POINTS as u64;
/// Most bootstrap resamples (each holds 2 d indices per metric).
pub const MAX_BOOTSTRAP: u32 = 100_000;
/// The arm without a variant.
pub const BASELINE: &str = "baseline";

/// A design: each point's coordinates in [0, 1], and how points group (for the table).
pub struct Design {
    pub points: Vec<Vec<f64>>,
    pub roles: Vec<Role>,
}

/// A point's group (Saltelli base row, Morris trajectory) and its role in it.
pub type Role = (Option<usize>, String);

/// The arms of each point: the baseline, then each variant.
fn arm_names(variants: &[String]) -> Vec<String> {
    std::iter::once(BASELINE.to_string())
        .chain(variants.iter().cloned())
        .collect()
}

pub fn command(args: Config, stop: &AtomicBool, out: &mut dyn Write) -> Result<(), Error> {
    run::check_sample(args.sample)?;
    run::check_replications(args.replications)?;
    if args.bootstrap > MAX_BOOTSTRAP {
        return Err(Error::Usage(format!(
            "--bootstrap must be at most {MAX_BOOTSTRAP}, found {}",
            args.bootstrap
        )));
    }
    if args.emit_slurm.is_some() && !(1..=MAX_SHARDS).contains(&args.shards) {
        return Err(Error::Usage(format!(
            "--shards must be from 1 to {MAX_SHARDS}, found {}",
            args.shards
        )));
    }
    let base = scenario::load(&args.scenario, None, &args.sets)?;
    for (k, name) in args.variants.iter().enumerate() {
        if name == BASELINE || args.variants[..k].contains(name) {
            return Err(Error::Usage(format!(
                "--variant {name}: each variant once, and not `{BASELINE}` (the scenario itself)"
            )));
        }
    }
    scenario::with_document(&base.file, &base.sha256, |document| {
        let mut arms: Vec<Option<&str>> = vec![None];
        arms.extend(args.variants.iter().map(|v| Some(v.as_str())));
        run::check_uncertain(document, &arms, &args.sets, args.sample)?;
        let params = document.uncertain();
        let seed = args.seed.unwrap_or(base.scenario.seed);
        let design = design_of(args.design, args.points, args.levels, seed, params)?;
        if args.emit_slurm.is_none() {
            check_points(document, &base, &arms, &args, &design)?;
        }
        let metrics = chart_metrics(&args, &base.scenario, seed)?;
        let study = Study {
            tradesim_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: base.scenario.name.clone(),
            scenario_file: base.file.display().to_string(),
            scenario_sha256: base.sha256.clone(),
            variants: args.variants.clone(),
            overrides: args.sets.iter().map(Override::to_string).collect(),
            parameters: params
                .iter()
                .map(|p| format!("{}={}", p.name, p.path))
                .collect(),
            design: args.design.name().to_string(),
            points: args.points,
            levels: args.levels,
            design_points: design.points.len() as u64,
            replications: args.replications,
            sample: args.sample,
            seed,
            bootstrap: args.bootstrap,
            metrics,
        };
        let dest = match &args.out {
            Some(p) => p.clone(),
            None => run::default_out(&base.scenario, Some("sweep")),
        };
        if let Some(dir) = &args.emit_slurm {
            return emit_slurm(&args, &study, dir, &dest, out);
        }
        let job = units::Job {
            document,
            study: &study,
            design: &design,
            arms: arm_names(&args.variants),
            sets: &args.sets,
            file: &base.file,
            shard: args.shard,
        };
        let done = units::run_units(&job, &dest, &args, stop)?;
        let what = match args.shard {
            Some(shard) => {
                units::finish_shard(&done, &study, shard, &dest, args.force)?;
                format!("shard {shard}")
            }
            None => {
                let dirs = [done.dir.clone()];
                write_study(
                    &study,
                    params,
                    &design,
                    &dirs,
                    &dest,
                    args.force,
                    &[&args.scenario],
                )?;
                done.remove();
                "sweep".to_string()
            }
        };
        if !args.quiet {
            writeln!(
                out,
                "{} {what}: {} design {} points x {} replications x {} arms ({} runs, {} resumed) -> {}",
                study.scenario,
                study.design,
                study.design_points,
                study.replications,
                args.variants.len() + 1,
                done.ran * (args.variants.len() as u64 + 1),
                done.resumed,
                dest.display()
            )
            .map_err(Error::stdout)?;
        }
        Ok(())
    })
}

/// Folds the units in `dirs` (each holding `units/`) into the sweep's tables, staged into
/// `dest`.
pub fn write_study(
    study: &Study,
    params: &[Uncertain],
    design: &Design,
    dirs: &[PathBuf],
    dest: &Path,
    force: bool,
    inputs: &[&Path],
) -> Result<(), Error> {
    let staging = Staging::new(dest, force, inputs)?;
    crate::output::shard::write_json(&staging.tmp.join(STUDY_JSON), study)?;
    tables::write_design(&staging.tmp.join(DESIGN_CSV), params, design)?;
    let results = tables::read_units(study, dirs)?;
    tables::write_results(
        &staging.tmp.join(RESULTS_CSV),
        params,
        design,
        study,
        &results,
    )?;
    if DesignKind::parse(&study.design).is_some_and(DesignKind::has_indices) {
        let rows = tables::sensitivity(study, params, design, &results);
        tables::write_sensitivity(&staging.tmp.join(SENSITIVITY_CSV), &rows)?;
        let svg = svg::render(study, params, &rows);
        std::fs::write(staging.tmp.join(SENSITIVITY_SVG), svg)
            .map_err(Error::io(format!("writing {SENSITIVITY_SVG}")))?;
    }
    staging.commit()
}

impl DesignKind {
    pub fn parse(name: &str) -> Option<DesignKind> {
        [
            DesignKind::Factorial,
            DesignKind::Lhs,
            DesignKind::Sobol,
            DesignKind::Morris,
        ]
        .into_iter()
        .find(|d| d.name() == name)
    }
}

/// The design from what a study records (so `merge` rebuilds the same points).
pub fn design_of(
    kind: DesignKind,
    points: u32,
    levels: u32,
    seed: u64,
    params: &[Uncertain],
) -> Result<Design, Error> {
    let d = params.len();
    let n = points as usize;
    let too_many = |count: u64| {
        Error::Usage(format!(
            "the {} design would have {count} points; at most {MAX_POINTS}",
            kind.name()
        ))
    };
    let refused = |e: design::DesignError| Error::Usage(format!("the {} design: {e}", kind.name()));
    if kind != DesignKind::Factorial && points == 0 {
        return Err(Error::Usage("--points must be at least 1".to_string()));
    }
    let design_seed = seed ^ 0x7472_6164_6573_696d; // "tradesim": the design's own stream
    let (points, roles): (Vec<Vec<f64>>, Vec<Role>) = match kind {
        DesignKind::Factorial => {
            if levels < 2 {
                return Err(Error::Usage(format!(
                    "--levels must be at least 2 for a factorial design, found {levels}"
                )));
            }
            // Counted before anything is built: a level count can be absurd.
            let count = params
                .iter()
                .map(|p| p.levels().map_or(u64::from(levels), |n| n as u64))
                .try_fold(1u64, |acc, n| acc.checked_mul(n))
                .unwrap_or(u64::MAX);
            if count > MAX_POINTS {
                return Err(too_many(count));
            }
            let per_param: Vec<Vec<f64>> = params
                .iter()
                .map(|p| match p.levels() {
                    Some(n) => design::level_midpoints(n as u32),
                    None => design::level_grid(levels),
                })
                .collect();
            let pts = design::factorial_of_axes(&per_param).map_err(refused)?;
            let roles = vec![(None, String::new()); pts.len()];
            (pts, roles)
        }
        DesignKind::Lhs => {
            if points as u64 > MAX_POINTS {
                return Err(too_many(points as u64));
            }
            let pts = design::latin_hypercube(n, d, design_seed).map_err(refused)?;
            (pts, vec![(None, String::new()); n])
        }
        DesignKind::Sobol => {
            let count = points as u64 * (d as u64 + 2);
            if count > MAX_POINTS {
                return Err(too_many(count));
            }
            let pts = design::saltelli(n, d, design_seed).map_err(refused)?;
            let roles = (0..pts.len())
                .map(|i| {
                    let (j, k) = (i / (d + 2), i % (d + 2));
                    let role = match k {
                        0 => "A".to_string(),
                        k if k == d + 1 => "B".to_string(),
                        k => format!("AB:{}", params[k - 1].name),
                    };
                    (Some(j), role)
                })
                .collect();
            (pts, roles)
        }
        DesignKind::Morris => {
            if levels < 2 || levels % 2 == 1 {
                return Err(Error::Usage(format!(
                    "--levels of a Morris grid must be even and at least 2, found {levels}"
                )));
            }
            let count = points as u64 * (d as u64 + 1);
            if count > MAX_POINTS {
                return Err(too_many(count));
            }
            let pts = design::morris(n, d, levels, design_seed).map_err(refused)?;
            let roles = (0..pts.len())
                .map(|i| {
                    let (t, k) = (i / (d + 1), i % (d + 1));
                    let role = if k == 0 {
                        "start".to_string()
                    } else {
                        let changed = (0..d)
                            .find(|&c| pts[i][c] != pts[i - 1][c])
                            .map_or("-", |c| params[c].name.as_str());
                        format!("step:{changed}")
                    };
                    (Some(t), role)
                })
                .collect();
            (pts, roles)
        }
    };
    Ok(Design { points, roles })
}

/// Builds every point's scenario for every arm, and checks that it fits the machine,
/// before anything runs: a combination of values that only a corner of the design reaches
/// would otherwise fail its unit on every resume. A build costs about a thousandth of a
/// run.
fn check_points(
    document: &scenario::Document,
    base: &scenario::Loaded,
    arms: &[Option<&str>],
    args: &Config,
    design: &Design,
) -> Result<(), Error> {
    use rayon::prelude::*;
    let pool = run::thread_pool(args.threads)?;
    pool.install(|| {
        design
            .points
            .par_iter()
            .enumerate()
            .try_for_each(|(i, coords)| {
                for &arm in arms {
                    let at = |e: String| {
                        let values: Vec<String> = document
                            .uncertain()
                            .iter()
                            .zip(coords)
                            .map(|(p, &u)| format!("{} = {}", p.name, p.text_at(u)))
                            .collect();
                        Error::Usage(format!(
                            "design point {i} ({}){}: {e}",
                            values.join(", "),
                            arm.map_or(String::new(), |v| format!(", variant {v}"))
                        ))
                    };
                    let loaded = document
                        .loaded_at(&base.file, &base.sha256, arm, &args.sets, coords)
                        .map_err(|e| at(e.to_string()))?;
                    crate::model::cost::check(&loaded.scenario, args.sample)
                        .map_err(|e| at(e.to_string()))?;
                }
                Ok(())
            })
    })
}

/// The metrics drawn in `sensitivity.svg`: those asked for (each checked against the
/// scenario's summary), else each market's orders.
fn chart_metrics(
    args: &Config,
    scenario: &crate::model::Scenario,
    seed: u64,
) -> Result<Vec<String>, Error> {
    let params = RunParams {
        seed,
        replication: 0,
        sample: args.sample,
    };
    let keys: Vec<Key> = Tables::new(&Plan::new(scenario, params).context())
        .summary()
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    if args.metrics.is_empty() {
        return Ok(scenario
            .markets
            .iter()
            .map(|m| format!("{}.orders", m.id))
            .collect());
    }
    for m in &args.metrics {
        if !keys.iter().any(|k| &k.name() == m) {
            let known: Vec<String> = keys.iter().map(Key::name).collect();
            return Err(Error::Usage(format!(
                "--metric {m}: no such metric in this scenario's summary; its metrics: {}",
                known.join(", ")
            )));
        }
    }
    Ok(args.metrics.clone())
}

/// `--emit-slurm`: the array and merge scripts that run this sweep in `shards` shards.
fn emit_slurm(
    args: &Config,
    study: &Study,
    dir: &Path,
    dest: &Path,
    out: &mut dyn Write,
) -> Result<(), Error> {
    if args.shard.is_some() {
        return Err(Error::Usage(
            "--emit-slurm writes the scripts for every shard; leave out --shard".to_string(),
        ));
    }
    let cwd = std::env::current_dir().map_err(Error::io("reading the current directory"))?;
    let absolute = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            cwd.join(p)
        }
    };
    let exe = std::env::current_exe().map_err(Error::io("finding the tradesim binary"))?;
    let mut words: Vec<String> = vec![
        args.scenario.display().to_string(),
        "--design".into(),
        study.design.clone(),
        "--points".into(),
        study.points.to_string(),
        "--levels".into(),
        study.levels.to_string(),
        "--replications".into(),
        study.replications.to_string(),
        "--sample".into(),
        study.sample.to_string(),
        "--seed".into(),
        study.seed.to_string(),
        "--bootstrap".into(),
        study.bootstrap.to_string(),
    ];
    for v in &args.variants {
        words.extend(["--variant".to_string(), v.clone()]);
    }
    for s in &args.sets {
        words.extend(["--set".to_string(), s.to_string()]);
    }
    for m in &args.metrics {
        words.extend(["--metric".to_string(), m.clone()]);
    }
    let (dir, dest) = (absolute(dir), absolute(dest));
    let job = slurm::SlurmJob {
        exe: &exe,
        workdir: &cwd,
        args: &words,
        shards: args.shards,
        out: &dest,
        dir: &dir,
    };
    let files = slurm::write(&job)?;
    if !args.quiet {
        writeln!(
            out,
            "{}: {} shards of {} units; submit with {}",
            study.scenario,
            args.shards,
            study.units(),
            dir.join("submit.sh").display()
        )
        .map_err(Error::stdout)?;
        for f in files {
            writeln!(out, "  {}", f.display()).map_err(Error::stdout)?;
        }
    }
    Ok(())
}

/// The shard file a sweep shard writes.
pub type SweepShard = ShardInfo<Study>;

/// Where a shard's (or a run's) unit files are.
pub fn units_dir(dir: &Path) -> PathBuf {
    dir.join("units")
}

/// The file of unit `k`.
pub fn unit_file(dir: &Path, k: u64) -> PathBuf {
    units_dir(dir).join(format!("{k:07}.csv"))
}
