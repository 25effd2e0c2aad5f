//! `manifest.json`: everything recorded about one replication, with the SHA-256 of every
//! file it wrote, so `reproduce` can re-run it and prove the result.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::engine::{RunParams, RunStats};
use crate::log::LogFormat;
use crate::scenario::{Loaded, Override};

pub const MANIFEST: &str = "manifest.json";

/// Everything recorded about one replication, written as `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub tradesim_version: String,
    pub scenario: String,
    pub scenario_file: String,
    pub scenario_sha256: String,
    pub variant: Option<String>,
    /// `--set` overrides as `PATH=VALUE`, VALUE in TOML syntax, in the order applied.
    pub overrides: Vec<String>,
    /// The uncertain parameters' values drawn for this replication (`--uncertain`) as
    /// `PATH=VALUE`, applied before the variant; absent when none were drawn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uncertain: Vec<String>,
    pub seed: u64,
    pub replication: u32,
    pub sample: f64,
    pub threads: usize,
    pub event_log: bool,
    /// The log's format; absent for `events.csv` (and in manifests from before Parquet).
    #[serde(default, skip_serializing_if = "LogFormat::is_csv")]
    pub log_format: LogFormat,
    /// Whether the run wrote `orders.csv` (`--orders`); absent from older manifests.
    #[serde(default)]
    pub orders_csv: bool,
    pub events: u64,
    pub orders: u64,
    /// SHA-256 of every other file in the directory, by its path there (the Parquet
    /// log's files as `events/date=YYYY-MM-DD/part-0.parquet`).
    pub files: BTreeMap<String, String>,
}

impl Manifest {
    /// The record of replication `params` of `loaded`, simulated with `stats` into `files`
    /// (with the event log in format `log`, if any).
    pub fn new(
        loaded: &Loaded,
        params: RunParams,
        threads: usize,
        log: Option<LogFormat>,
        orders_csv: bool,
        stats: &RunStats,
        files: BTreeMap<String, String>,
    ) -> Manifest {
        Manifest {
            tradesim_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: loaded.scenario.name.clone(),
            scenario_file: loaded.file.display().to_string(),
            scenario_sha256: loaded.sha256.clone(),
            variant: loaded.variant.clone(),
            overrides: loaded.overrides.iter().map(Override::to_string).collect(),
            uncertain: loaded.drawn.iter().map(Override::to_string).collect(),
            seed: params.seed,
            replication: params.replication,
            sample: params.sample,
            threads,
            event_log: log.is_some(),
            log_format: log.unwrap_or_default(),
            orders_csv,
            events: stats.events,
            orders: stats.orders,
            files,
        }
    }
}

pub fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), Error> {
    let path = dir.join(MANIFEST);
    let mut text = serde_json::to_string_pretty(manifest).expect("manifest serialises");
    text.push('\n');
    fs::write(&path, text).map_err(Error::io(format!("writing {}", path.display())))
}

pub fn read_manifest(path: &Path) -> Result<Manifest, Error> {
    let text =
        fs::read_to_string(path).map_err(Error::io(format!("reading {}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::BadInput(format!("{}: not a tradesim manifest: {e}", path.display())))
}

pub fn hash_file(path: &Path) -> Result<String, Error> {
    use sha2::{Digest, Sha256};
    let mut file = File::open(path).map_err(Error::io(format!("reading {}", path.display())))?;
    let mut h = Sha256::new();
    std::io::copy(&mut file, &mut h).map_err(Error::io(format!("reading {}", path.display())))?;
    Ok(crate::model::digest::hex(&h.finalize()))
}
