//! `tradesim calibrate` (being written).
use std::io::Write;

use crate::Error;
use crate::cli::CalibrateArgs;

pub fn command(_args: CalibrateArgs, _out: &mut dyn Write) -> Result<(), Error> {
    Err(Error::Usage("calibrate is not available yet".to_string()))
}
