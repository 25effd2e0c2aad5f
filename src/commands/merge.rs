//! `tradesim merge SHARD_DIR... --out DIR`: shards of one study (`--shard K/N`) combined
//! into the files one machine running every unit writes. Shards of different commands,
//! studies (scenario bytes, settings, seed, tradesim version) or shard counts, a shard
//! given twice or missing, are refused before anything is written.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::shard::{SHARD_JSON, Shard, read_json};
use super::sweep::{self, DesignKind};
use crate::Error;
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
        return Err(Error::Usage("merge needs the shards' directories".to_string()));
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
        Some(other) => Err(Error::BadInput(format!(
            "shards of `{other}`: this tradesim merges shards of sweep"
        ))),
        None => unreachable!("at least one shard"),
    }
}

fn merge_sweep(args: &Config, out: &mut dyn Write) -> Result<(), Error> {
    let first = sweep::read_shard(&args.shards[0])?;
    for dir in &args.shards[1..] {
        let info = sweep::read_shard(dir)?;
        if info.study != first.study {
            return Err(Error::Usage(format!(
                "{} and {} are shards of different sweeps ({}): shards of one study only",
                args.shards[0].display(),
                dir.display(),
                differences(&first.study, &info.study)
            )));
        }
    }
    let study = first.study;
    if study.tradesim_version != env!("CARGO_PKG_VERSION") {
        return Err(Error::Usage(format!(
            "the shards were written by tradesim {}; this is {}: merge with the same version",
            study.tradesim_version,
            env!("CARGO_PKG_VERSION")
        )));
    }
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
        let inputs: Vec<&Path> = args.shards.iter().map(PathBuf::as_path).collect();
        sweep::write_study(&study, params, &design, &args.shards, &args.out, args.force, &inputs)
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
fn differences(a: &sweep::Study, b: &sweep::Study) -> String {
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
