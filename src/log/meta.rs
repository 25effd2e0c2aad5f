//! The sidecar `events.meta.json` beside `events.csv`: what the log is (format and schema
//! version), how long it is and its digest (so a truncated or edited log is caught), the
//! run's context (so the log alone rebuilds every table), and the data dictionary (each
//! column's type and unit, and which kinds fill it). It keeps `events.csv` plain CSV.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::event::KIND_NAMES;
use crate::event::context::Context;

use super::schema::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogMeta {
    pub format: String,
    pub schema: u32,
    /// Rows of events (the header aside).
    pub events: u64,
    /// Bytes of `events.csv`.
    pub bytes: u64,
    /// SHA-256 of `events.csv`, lowercase hex.
    pub sha256: String,
    pub columns: Vec<ColumnMeta>,
    pub context: Context,
}

/// A column of the data dictionary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMeta {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub unit: String,
    /// The event kinds that fill it; every kind for `seq` to `route`.
    pub kinds: Vec<String>,
}

/// `events.meta.json` for `events.csv`: the log's name with `.meta.json` for its extension.
pub fn meta_path(log: &Path) -> PathBuf {
    log.with_extension("meta.json")
}

/// The data dictionary this build writes.
pub fn dictionary() -> Vec<ColumnMeta> {
    DICTIONARY
        .iter()
        .enumerate()
        .map(|(i, c)| ColumnMeta {
            name: c.name.to_string(),
            ty: c.ty.name().to_string(),
            unit: c.unit.to_string(),
            kinds: KIND_NAMES
                .iter()
                .zip(FILLED)
                .filter(|(_, filled)| i < COMMON || filled.contains(&i))
                .map(|(k, _)| k.to_string())
                .collect(),
        })
        .collect()
}

impl LogMeta {
    pub fn new(context: &Context, events: u64, bytes: u64, sha256: String) -> LogMeta {
        LogMeta {
            format: FORMAT.to_string(),
            schema: SCHEMA_VERSION,
            events,
            bytes,
            sha256,
            columns: dictionary(),
            context: context.clone(),
        }
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("the sidecar serialises");
        text.push('\n');
        text
    }

    /// Reads a sidecar's text; `source` names it in messages. A sidecar of another schema
    /// is refused naming both versions, before its fields are held to this one's.
    pub fn parse(text: &[u8], source: &str) -> Result<LogMeta, Error> {
        let bad = |m: String| Error::BadInput(format!("{source}: {m}"));
        let value: serde_json::Value = serde_json::from_slice(text)
            .map_err(|e| bad(format!("not a tradesim log's sidecar: {e}")))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(bad(format!(
                "not a tradesim log's sidecar: expected \"format\": \"{FORMAT}\""
            )));
        }
        let schema = value.get("schema").and_then(serde_json::Value::as_u64);
        let Some(schema) = schema.filter(|s| READABLE_SCHEMAS.iter().any(|&r| u64::from(r) == *s))
        else {
            let found = schema.map_or("no whole number".to_string(), |s| s.to_string());
            let newer = match schema {
                Some(s) if READABLE_SCHEMAS.iter().all(|&r| u64::from(r) < s) => {
                    "; it was written by a newer tradesim"
                }
                Some(_) => {
                    "; it was written by an older tradesim: run its scenario again with this one"
                }
                None => "",
            };
            return Err(bad(format!(
                "event log schema {found} is not supported: tradesim {} reads schema {}{newer}",
                env!("CARGO_PKG_VERSION"),
                readable()
            )));
        };
        let meta: LogMeta = serde_json::from_value(value)
            .map_err(|e| bad(format!("unreadable sidecar of schema {schema}: {e}")))?;
        if meta.columns != dictionary() {
            return Err(bad(
                "its data dictionary is not this schema's: the sidecar was edited".to_string(),
            ));
        }
        Ok(meta)
    }
}

pub(super) fn readable() -> String {
    READABLE_SCHEMAS
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
