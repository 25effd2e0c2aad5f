//! `--shard K/N`: a multi-run command's work units are numbered 0, 1, ...; shard K of N
//! runs the units u with u mod N = K - 1 (round robin, so shards of a design whose cost
//! grows along it stay even) and writes them with `shard.json`, which `tradesim merge`
//! reads to check that the shards belong together and cover the work exactly once.

use std::fmt;
use std::fs;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::output::manifest::{MANIFEST, Manifest, read_manifest};

/// Most shards a command may be split into.
pub const MAX_SHARDS: u32 = 100_000;
/// The file in a shard's directory that says what it holds.
pub const SHARD_JSON: &str = "shard.json";

/// Shard K of N (1 <= K <= N).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether work unit `unit` belongs to this shard.
    pub fn owns(self, unit: u64) -> bool {
        unit % u64::from(self.count) == u64::from(self.index - 1)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "--shard expects K/N with 1 <= K <= N <= {MAX_SHARDS} (shard K of N, e.g. 2/8), found `{s}`"
            )
        };
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > count || count > MAX_SHARDS {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// `shard.json`: which command's work this is, the study's identity (everything that
/// decides the result: merge refuses shards whose studies differ), and which shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardInfo<S> {
    pub command: String,
    pub shard: String,
    pub units: u64,
    pub study: S,
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let mut text = serde_json::to_string_pretty(value).expect("serialises");
    text.push('\n');
    fs::write(path, text).map_err(Error::io(format!("writing {}", path.display())))
}

pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, what: &str) -> Result<T, Error> {
    let text =
        fs::read_to_string(path).map_err(Error::io(format!("reading {}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::BadInput(format!("{}: not {what}: {e}", path.display())))
}

/// Puts the tree `from` at `to` (which must not exist): each file hard-linked where the
/// file system allows (a merge of large event logs then copies nothing), else copied.
pub fn link_or_copy_tree(from: &Path, to: &Path) -> Result<(), Error> {
    fs::create_dir(to).map_err(Error::io(format!("creating {}", to.display())))?;
    let entries = fs::read_dir(from).map_err(Error::io(format!("reading {}", from.display())))?;
    for entry in entries {
        let entry = entry.map_err(Error::io(format!("reading {}", from.display())))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry
            .file_type()
            .map_err(Error::io(format!("reading {}", src.display())))?;
        if kind.is_dir() {
            link_or_copy_tree(&src, &dst)?;
        } else if kind.is_file() {
            if fs::hard_link(&src, &dst).is_err() {
                fs::copy(&src, &dst).map_err(Error::io(format!("copying {}", src.display())))?;
            }
        } else {
            return Err(Error::BadInput(format!(
                "{}: neither a file nor a directory; a shard holds only tradesim's files",
                src.display()
            )));
        }
    }
    Ok(())
}

/// The manifest of the replication a shard's directory `dir` should hold, checked to be
/// replication `r`'s.
pub fn replication_manifest(dir: &Path, r: u32) -> Result<Manifest, Error> {
    let manifest = read_manifest(&dir.join(MANIFEST))?;
    if manifest.replication != r {
        return Err(Error::BadInput(format!(
            "{}: holds replication {}, not {r}",
            dir.display(),
            manifest.replication
        )));
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_units_exactly_once() {
        let n = 7;
        let shards: Vec<Shard> = (1..=n)
            .map(|k| format!("{k}/{n}").parse().unwrap())
            .collect();
        for unit in 0..100u64 {
            assert_eq!(shards.iter().filter(|s| s.owns(unit)).count(), 1);
        }
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "1/100001", "-1/3"] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
        assert_eq!(" 2 / 8".parse::<Shard>().unwrap().to_string(), "2/8");
    }
}
