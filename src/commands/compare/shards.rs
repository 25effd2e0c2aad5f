//! `compare --shard K/N` and its merge: a shard runs every arm of its replications and
//! writes their directories with `shard.json`; `merge` puts all replications together
//! and folds the comparison from the files, which hold exactly what a comparison run on
//! one machine folds (`Summary::read_like`, lead times as `daily_markets.csv` shows them).

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Arm, Config, Outcome, arms, write_comparison};
use crate::Error;
use crate::engine::{Plan, RunParams};
use crate::output::shard::{
    SHARD_JSON, Shard, ShardInfo, link_or_copy_tree, replication_manifest, write_json,
};
use crate::output::staging::Staging;
use crate::projection::{Summary, Tables};
use crate::scenario::{self, Override};

/// What decides a comparison: `shard.json` of `compare --shard` (merge compares it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareStudy {
    pub tradesim_version: String,
    pub scenario_file: String,
    pub scenario_sha256: String,
    pub variants: Vec<String>,
    pub overrides: Vec<String>,
    pub seed: u64,
    pub replications: u32,
    pub sample: f64,
    pub independent: bool,
    pub uncertain: bool,
}

pub(super) fn write_shard_json(
    args: &Config,
    arms: &[Arm],
    shard: Shard,
    dir: &Path,
) -> Result<(), Error> {
    let base = &arms[0].loaded;
    let info = ShardInfo {
        command: "compare".to_string(),
        shard: shard.to_string(),
        units: u64::from(args.replications),
        study: CompareStudy {
            tradesim_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario_file: base.file.display().to_string(),
            scenario_sha256: base.sha256.clone(),
            variants: args.variants.clone(),
            overrides: args.sets.iter().map(Override::to_string).collect(),
            seed: arms[0].seed,
            replications: args.replications,
            sample: args.sample,
            independent: args.independent,
            uncertain: args.uncertain,
        },
    };
    write_json(&dir.join(SHARD_JSON), &info)
}

/// Merges the shards (`shards[k]` is shard k + 1 of them) into `dest`.
pub fn merge(
    shards: &[(PathBuf, CompareStudy)],
    dest: &Path,
    force: bool,
) -> Result<String, Error> {
    let study = &shards[0].1;
    let sets = study
        .overrides
        .iter()
        .map(|s| scenario::parse_set(s))
        .collect::<Result<Vec<_>, _>>()?;
    let config = Config {
        scenario: PathBuf::from(&study.scenario_file),
        variants: study.variants.clone(),
        sets,
        replications: study.replications,
        sample: study.sample,
        seed: Some(study.seed),
        out: Some(dest.to_path_buf()),
        threads: 1,
        force,
        quiet: true,
        independent: study.independent,
        uncertain: study.uncertain,
        shard: None,
    };
    let arms = arms(&config)?;
    if arms[0].loaded.sha256 != study.scenario_sha256 {
        return Err(Error::BadInput(format!(
            "{}: not the bytes the shards ran (SHA-256 {}); merge needs the scenario file they ran",
            study.scenario_file, study.scenario_sha256
        )));
    }
    let inputs: Vec<&Path> = shards.iter().map(|(d, _)| d.as_path()).collect();
    let staging = Staging::new(dest, force, &inputs)?;
    let reps = study.replications;
    let mut outcomes = Vec::with_capacity(arms.len() * reps as usize);
    for arm in &arms {
        fs::create_dir_all(staging.tmp.join(&arm.dir))
            .map_err(Error::io(format!("creating {}", arm.dir)))?;
        for r in 0..reps {
            let name = format!("rep-{r:03}");
            let from = shards[(r as usize) % shards.len()]
                .0
                .join(&arm.dir)
                .join(&name);
            let to = staging.tmp.join(&arm.dir).join(&name);
            link_or_copy_tree(&from, &to)?;
            outcomes.push(outcome_from_dir(&to, &config.scenario, r)?);
        }
    }
    write_comparison(&arms, reps, study.sample, &outcomes, &staging.tmp)?;
    staging.commit()?;
    Ok(format!(
        "{} shards of a comparison of {} replications merged",
        shards.len(),
        reps
    ))
}

/// What compare keeps of one replication, read from its directory.
fn outcome_from_dir(dir: &Path, file: &Path, replication: u32) -> Result<Outcome, Error> {
    let manifest = replication_manifest(dir, replication)?;
    let sets = manifest
        .overrides
        .iter()
        .map(|s| scenario::parse_set(s))
        .collect::<Result<Vec<_>, _>>()?;
    let drawn = manifest
        .uncertain
        .iter()
        .map(|s| scenario::parse_set(s))
        .collect::<Result<Vec<_>, _>>()?;
    let loaded = scenario::load_drawn(file, &drawn, manifest.variant.as_deref(), &sets)?;
    let params = RunParams {
        seed: manifest.seed,
        replication,
        sample: manifest.sample,
    };
    let template = Tables::new(&Plan::new(&loaded.scenario, params).context()).summary();
    let read = |name: &str| {
        let path = dir.join(name);
        fs::read_to_string(&path).map_err(Error::io(format!("reading {}", path.display())))
    };
    let bad = |name: &str, e: String| Error::BadInput(format!("{}: {e}", dir.join(name).display()));
    let summary =
        Summary::read_like(&template, &read("summary.csv")?).map_err(|e| bad("summary.csv", e))?;
    let daily =
        daily_series(&read("daily_markets.csv")?).map_err(|e| bad("daily_markets.csv", e))?;
    Ok(Outcome { summary, daily })
}

/// Per day, the chart's series over all markets from `daily_markets.csv`, summed in the
/// file's market order as `outcome` sums them.
fn daily_series(text: &str) -> Result<Vec<[Option<f64>; 3]>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(format!("no {name} column"))
    };
    let (date, orders, duty, lead, delivered) = (
        col("date")?,
        col("orders")?,
        col("duty_usd")?,
        col("mean_lead_time_days")?,
        col("delivered")?,
    );
    let mut days: Vec<[Option<f64>; 3]> = Vec::new();
    // (date, orders, duty, lead x delivered, delivered) of the day being summed.
    let mut current: Option<(String, f64, f64, f64, f64)> = None;
    let finish = |c: (String, f64, f64, f64, f64), days: &mut Vec<[Option<f64>; 3]>| {
        let lead = (c.4 > 0.0).then(|| c.3 / c.4);
        days.push([Some(c.1), lead, Some(c.2)]);
    };
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        let num = |k: usize| -> Result<f64, String> {
            f.get(k).and_then(|v| v.parse().ok()).ok_or(format!(
                "row {}: column {} is not a number",
                i + 2,
                header[k]
            ))
        };
        let day = f.get(date).ok_or(format!("row {}: short", i + 2))?;
        if current.as_ref().is_some_and(|c| c.0 != *day) {
            finish(current.take().expect("a day"), &mut days);
        }
        let c = current.get_or_insert_with(|| (day.to_string(), 0.0, 0.0, 0.0, 0.0));
        c.1 += num(orders)?;
        c.2 += num(duty)?;
        if f.get(lead).is_some_and(|v| !v.is_empty()) {
            let n = num(delivered)?;
            c.3 += num(lead)? * n;
            c.4 += n;
        }
    }
    if let Some(c) = current {
        finish(c, &mut days);
    }
    Ok(days)
}
