//! `tradesim scenarios`: the shipped scenarios and their variants.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::scenario;

/// The shipped scenarios directory: `./scenarios`, else the source tree's.
pub fn scenarios_dir(dir: Option<&Path>) -> PathBuf {
    if let Some(d) = dir {
        return d.to_path_buf();
    }
    let local = PathBuf::from("scenarios");
    if local.is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

pub fn list_scenarios(dir: Option<&Path>, out: &mut dyn Write) -> Result<(), Error> {
    let dir = scenarios_dir(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::Usage(format!("cannot list {}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        writeln!(out, "no scenario files (*.toml) in {}", dir.display()).map_err(Error::stdout)?;
    }
    for f in files {
        match scenario::load(&f, None, &[]) {
            Ok(l) => {
                let s = &l.scenario;
                writeln!(
                    out,
                    "{}\n  {} ({} days from {})",
                    f.display(),
                    s.name,
                    s.days,
                    s.start
                )
                .map_err(Error::stdout)?;
                if !s.description.is_empty() {
                    writeln!(out, "  {}", s.description).map_err(Error::stdout)?;
                }
                for v in s.variants.iter() {
                    writeln!(out, "    --variant {}: {}", v.name, v.description)
                        .map_err(Error::stdout)?;
                }
            }
            Err(e) => {
                let first = e.to_string().lines().next().unwrap_or_default().to_string();
                writeln!(out, "{}\n  INVALID: {first}", f.display()).map_err(Error::stdout)?;
            }
        }
    }
    Ok(())
}
