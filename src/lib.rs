//! tradesim: a seeded, parallel, event-sourced simulator of cross-border e-commerce
//! trade by small and medium enterprises. See ARCHITECTURE.md for the map of the code.
//!
//! # Running a scenario from Rust
//!
//! Load a scenario file (with a variant and `--set` overrides if wanted), simulate one
//! replication, and read its typed tables and headline metrics:
//!
//! ```
//! use std::path::Path;
//!
//! let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.toml");
//! let cheaper = tradesim::parse_set("market.RU.customs.duty_rate=0.1")?;
//! let loaded = tradesim::load(&file, None, &[cheaper])?;
//! let params = tradesim::RunParams { seed: 7, replication: 0, sample: 1.0 };
//! let tables = tradesim::simulate(&loaded.scenario, params)?;
//! let summary = tables.summary();
//! let orders = summary.get(tradesim::EntityKind::Market, "RU", "orders");
//! let orders = orders.and_then(|v| v.as_f64()).unwrap();
//! assert!(orders > 0.0);
//! // The same tables `tradesim run` writes, as CSV text.
//! let files = tables.render();
//! assert!(files.iter().any(|(name, _)| *name == "summary.csv"));
//! # Ok::<(), tradesim::Error>(())
//! ```
//!
//! The same seed, scenario and overrides give the same tables on any number of threads
//! (run it inside a `rayon::ThreadPool::install` to choose them).
//!
//! # Layers
//!
//! Each uses only those before it (a test, `tests/it/tidy.rs`, holds them to it):
//! `model` (the typed world: dates, distributions, the validated scenario, the rules and
//! the cost of a run), `scenario` (TOML text to `model::Scenario`), `event` (the events
//! and a run's context), `engine` (the simulation), `log` and `projection` (the event log,
//! the tables folded from events), `output` (run directories), `commands` (what each
//! command does) and `cli`. The functions and types re-exported here are the API; the
//! modules are public for the benchmarks, the fuzz targets and the tests, and may change.

#[doc(hidden)]
pub mod model;

#[doc(hidden)]
pub mod scenario;

mod error;
pub use error::Error;

#[doc(hidden)]
pub mod event;

#[doc(hidden)]
pub mod engine;

#[doc(hidden)]
pub mod log;
#[doc(hidden)]
pub mod projection;

#[doc(hidden)]
pub mod output;

#[doc(hidden)]
pub mod commands;

#[doc(hidden)]
pub mod cli;

pub use engine::{RunParams, RunStats, Sink};
pub use event::{Event, EventKind};
pub use log::{LogReader, LogWriter};
pub use model::Scenario;
pub use projection::{EntityKind, Key, Summary, Tables, Value};
pub use scenario::{Loaded, Override, Problem, ScenarioError, load, load_str, parse_set};

/// Simulates one replication of `scenario` and folds its events into the tables, on the
/// current rayon thread pool; nothing is written. Refuses (as `tradesim run` does) a run
/// that would overflow or not fit the machine.
pub fn simulate(scenario: &Scenario, params: RunParams) -> Result<Tables, Error> {
    let never = std::sync::atomic::AtomicBool::new(false);
    output::run::simulate_tables(scenario, params, &|_, _| {}, &never).map(|(_, tables)| tables)
}
