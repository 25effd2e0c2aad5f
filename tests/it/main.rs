//! The integration tests: one binary, one module per area, each test running the real
//! command line in its own temporary directory.

mod support;

mod calibrate;
mod changes;
mod clients;
mod compare;
mod drain;
mod engine;
mod facilities;
mod fit_scale;
mod merge;
mod money;
mod orders;
#[cfg(feature = "parquet")]
mod parquet;
mod record;
mod replay;
mod report;
mod safety;
mod scenario;
mod slurm;
mod summary;
mod sweep;
mod tidy;
