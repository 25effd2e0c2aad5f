//! Run directories on disk: replications simulated into a staging directory, with their
//! tables, log and manifest, renamed into place.

pub mod run;
pub mod staging;
