//! What each command does, given its configuration: the CLI parses arguments into these
//! and calls them.

pub mod calibrate;
pub mod chart;
pub mod compare;
pub mod explain;
pub mod format;
pub mod ocel;
pub mod progress;
pub mod record;
pub mod replay;
pub mod report;
pub mod run;
pub mod scenarios;
pub mod sweep;
pub mod validate;

use std::path::PathBuf;

use crate::Error;
use crate::scenario::{self, Loaded, Override};

/// Which scenario, with which changes: a file, a variant of it, overrides after that.
#[derive(Debug, Clone)]
pub struct ScenarioChoice {
    pub file: PathBuf,
    pub variant: Option<String>,
    pub sets: Vec<Override>,
}

impl ScenarioChoice {
    pub fn load(&self) -> Result<Loaded, Error> {
        Ok(scenario::load(
            &self.file,
            self.variant.as_deref(),
            &self.sets,
        )?)
    }
}
