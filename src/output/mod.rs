//! Run directories on disk: replications simulated into a staging directory, with their
//! tables, log and manifest, renamed into place.

pub mod manifest;
pub mod run;
pub mod shard;
pub mod staging;
