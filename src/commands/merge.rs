//! `tradesim merge SHARD_DIR... --out DIR`: shards of one study (`--shard K/N`) combined
//! into the files one machine running every unit writes. Shards of different commands,
//! studies (scenario bytes, settings, seed, tradesim version) or shard counts, a shard
//! given twice or missing, are refused before anything is written.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::compare::CompareStudy;
use super::sweep::{self, DesignKind};
use crate::Error;
use crate::output::run::{self, RunStudy};
use crate::output::shard::{
    SHARD_JSON, Shard, ShardInfo, link_or_copy_tree, read_json, replication_manifest,
};
use crate::output::staging::Staging;
use crate::scenario;

/// What `merge` was asked to do.
#[derive(Debug, Clone)]
pub struct Config {
    pub shards: Vec<PathBuf>,
    pub out: PathBuf,
    pub force: bool,
    pub quiet: bool,
}

/// The part of `shard.json` every command shares.
#[derive(serde::Deserialize)]
struct Header {
    command: String,
    shard: String,
}

pub fn command(args: Config, out: &mut dyn Write) -> Result<(), Error> {
    if args.shards.is_empty() {
        return Err(Error::Usage(
            "merge needs the shards' directories".to_string(),
        ));
    }
    let mut command = None;
    let mut seen: BTreeMap<u32, &Path> = BTreeMap::new();
    let mut count = None;
    for dir in &args.shards {
        let header: Header = read_json(&dir.join(SHARD_JSON), "a tradesim shard's shard.json")?;
        let shard: Shard = header
            .shard
            .parse()
            .map_err(|e| Error::BadInput(format!("{}: {e}", dir.join(SHARD_JSON).display())))?;
        match &command {
            None => command = Some(header.command.clone()),
            Some(c) if *c != header.command => {
                return Err(Error::Usage(format!(
                    "{} is a shard of `{}`, the others of `{c}`: shards of one study only",
                    dir.display(),
                    header.command
                )));
            }
            Some(_) => {}
        }
        if *count.get_or_insert(shard.count) != shard.count {
            return Err(Error::Usage(format!(
                "{} is shard {shard}, the others are of {} shards: shards of one split only",
                dir.display(),
                count.unwrap_or_default()
            )));
        }
        if let Some(other) = seen.insert(shard.index, dir) {
            return Err(Error::Usage(format!(
                "shard {shard} is given twice: {} and {}",
                other.display(),
                dir.display()
            )));
        }
    }
    let count = count.unwrap_or_default();
    let missing: Vec<String> = (1..=count)
        .filter(|k| !seen.contains_key(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Usage(format!(
            "shards missing: {} (every shard of the split is needed)",
            missing.join(", ")
        )));
    }
    match command.as_deref() {
        Some("sweep") => merge_sweep(&args, out),
        Some("run") => merge_run(&args, count, out),
        Some("compare") => {
            let shards =
                read_shards::<CompareStudy>(&args, "a tradesim compare shard's shard.json", |s| {
                    &s.tradesim_version
                })?;
            let said = super::compare::merge(&shards, &args.out, args.force)?;
            if !args.quiet {
                writeln!(out, "{said} -> {}", args.out.display()).map_err(Error::stdout)?;
            }
            Ok(())
        }
        Some(other) => Err(Error::BadInput(format!(
            "shards of `{other}`: this tradesim merges shards of run, compare and sweep"
        ))),
        None => unreachable!("at least one shard"),
    }
}

/// Every shard's `shard.json`, by shard index (1 first); their studies must be one, and
/// of this tradesim's version.
fn read_shards<S>(
    args: &Config,
    what: &str,
    version: impl Fn(&S) -> &str,
) -> Result<Vec<(PathBuf, S)>, Error>
where
    S: PartialEq + serde::Serialize + for<'de> serde::Deserialize<'de>,
{
    let mut shards: Vec<(u32, PathBuf, S)> = Vec::new();
    for dir in &args.shards {
        let info: ShardInfo<S> = read_json(&dir.join(SHARD_JSON), what)?;
        let index = info.shard.parse::<Shard>().map_err(Error::BadInput)?.index;
        if let Some((_, first, study)) = shards.first()
            && *study != info.study
        {
            return Err(Error::Usage(format!(
                "{} and {} are shards of different studies ({}): shards of one study only",
                first.display(),
                dir.display(),
                differences(study, &info.study)
            )));
        }
        shards.push((index, dir.clone(), info.study));
    }
    shards.sort_by_key(|s| s.0);
    let found = version(&shards[0].2);
    if found != env!("CARGO_PKG_VERSION") {
        return Err(Error::Usage(format!(
            "the shards were written by tradesim {found}; this is {}: merge with the same version",
            env!("CARGO_PKG_VERSION")
        )));
    }
    Ok(shards
        .into_iter()
        .map(|(_, dir, study)| (dir, study))
        .collect())
}

/// `run --replications R --shard K/N`: each replication's directory from the shard that
/// ran it.
fn merge_run(args: &Config, count: u32, out: &mut dyn Write) -> Result<(), Error> {
    let shards = read_shards::<RunStudy>(args, "a tradesim run shard's shard.json", |s| {
        &s.tradesim_version
    })?;
    let study = shards[0].1.clone();
    let inputs: Vec<&Path> = args.shards.iter().map(PathBuf::as_path).collect();
    let staging = Staging::new(&args.out, args.force, &inputs)?;
    for r in 0..study.replications {
        let name = run::replication_dir(study.replications, r);
        let from = shards[(r % count) as usize].0.join(&name);
        replication_manifest(&from, r)?;
        link_or_copy_tree(&from, &staging.tmp.join(&name))?;
    }
    staging.commit()?;
    if !args.quiet {
        writeln!(
            out,
            "{} shards of a run of {} replications merged -> {}",
            shards.len(),
            study.replications,
            args.out.display()
        )
        .map_err(Error::stdout)?;
    }
    Ok(())
}

fn merge_sweep(args: &Config, out: &mut dyn Write) -> Result<(), Error> {
    let shards = read_shards::<sweep::Study>(args, "a tradesim sweep shard's shard.json", |s| {
        &s.tradesim_version
    })?;
    let study = shards[0].1.clone();
    let file = PathBuf::from(&study.scenario_file);
    scenario::with_document(&file, &study.scenario_sha256, |document| {
        let params = document.uncertain();
        let names: Vec<String> = params
            .iter()
            .map(|p| format!("{}={}", p.name, p.path))
            .collect();
        if names != study.parameters {
            return Err(Error::BadInput(format!(
                "{}: its uncertain parameters are not the shards' ({})",
                file.display(),
                study.parameters.join(", ")
            )));
        }
        let kind = DesignKind::parse(&study.design)
            .ok_or_else(|| Error::BadInput(format!("unknown design `{}`", study.design)))?;
        let design = sweep::design_of(kind, study.points, study.levels, study.seed, params)?;
        if design.points.len() as u64 != study.design_points {
            return Err(Error::BadInput(format!(
                "the shards record {} design points; their settings give {}",
                study.design_points,
                design.points.len()
            )));
        }
        let inputs: Vec<&Path> = args.shards.iter().map(PathBuf::as_path).collect();
        sweep::write_study(
            &study,
            params,
            &design,
            &args.shards,
            &args.out,
            args.force,
            &inputs,
        )
    })
    .map_err(|e| match e {
        Error::Scenario(s) => Error::BadInput(format!(
            "{}: the shards' scenario file must be readable here, with the bytes they ran: {s}",
            study.scenario_file
        )),
        e => e,
    })?;
    if !args.quiet {
        writeln!(
            out,
            "{}: {} shards of the {} sweep merged ({} units) -> {}",
            study.scenario,
            args.shards.len(),
            study.design,
            study.units(),
            args.out.display()
        )
        .map_err(Error::stdout)?;
    }
    Ok(())
}

/// The fields in which two studies differ, named.
fn differences<S: serde::Serialize>(a: &S, b: &S) -> String {
    let (a, b) = (
        serde_json::to_value(a).expect("serialises"),
        serde_json::to_value(b).expect("serialises"),
    );
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return String::new();
    };
    let differ: Vec<&str> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| k.as_str())
        .collect();
    format!("they differ in {}", differ.join(", "))
}
