//! tradesim: a seeded, parallel, event-sourced simulator of cross-border e-commerce
//! trade by small and medium enterprises. See ARCHITECTURE.md for the map of the code.
//!
//! Layers, each using only those before it: `model` (the typed world: dates,
//! distributions, the validated scenario, the rules and the cost of a run), `scenario`
//! (TOML text to `model::Scenario`), `event` (the events and a run's context), `engine`
//! (the simulation), `log` and `projection` (the event log, the tables folded from
//! events), `output` (run directories), `commands` (what each command does) and `cli`.

pub mod model;

pub mod scenario;

mod error;
pub use error::Error;

pub mod event;

pub mod engine;

pub mod log;
pub mod projection;

pub mod output;

pub mod commands;

pub mod cli;
