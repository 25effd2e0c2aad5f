//! `tradesim compare` (being written).
use std::io::Write;

use crate::Error;
use crate::cli::CompareArgs;

pub fn command(_args: CompareArgs, _out: &mut dyn Write) -> Result<(), Error> {
    Err(Error::Usage("compare is not available yet".to_string()))
}
