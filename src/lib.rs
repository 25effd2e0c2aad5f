//! tradesim: a seeded, parallel, event-sourced simulator of cross-border e-commerce
//! trade by small and medium enterprises. See ARCHITECTURE.md for the map of the code.

pub mod calibrate;
pub mod cli;
pub mod compare;
pub mod context;
pub mod cost;
pub mod date;
pub mod direct;
pub mod dist;
pub mod engine;
mod error;
pub mod event;
mod exp;
pub mod explain;
mod in_order;
pub mod log;
pub mod model;
pub mod projection;
pub mod replay;
pub mod report;
pub mod rules;
pub mod run;
pub mod scenario;
pub mod staging;

pub use error::Error;
