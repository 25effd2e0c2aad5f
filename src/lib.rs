//! tradesim: a seeded, parallel, event-sourced simulator of cross-border e-commerce
//! trade by small and medium enterprises. See ARCHITECTURE.md for the map of the code.

pub mod date;
pub mod dist;
pub mod engine;
mod error;
pub mod event;
pub mod model;
pub mod scenario;

pub use error::Error;
