//! `tradesim replay`, `reproduce` and `explain` (being written).
use std::io::Write;

use crate::Error;
use crate::cli::{ExplainArgs, ReplayArgs, ReproduceArgs};

pub fn replay_command(_args: ReplayArgs, _out: &mut dyn Write) -> Result<(), Error> {
    Err(Error::Usage("replay is not available yet".to_string()))
}

pub fn reproduce_command(_args: ReproduceArgs, _out: &mut dyn Write) -> Result<(), Error> {
    Err(Error::Usage("reproduce is not available yet".to_string()))
}

pub fn explain_command(_args: ExplainArgs, _out: &mut dyn Write) -> Result<(), Error> {
    Err(Error::Usage("explain is not available yet".to_string()))
}
