//! Quill: learn a user's interests as a list of news search queries, from cross-domain signals.
//!
//! The library holds every stage of an experiment; the `quill` binary in `experiments/` wires
//! them to TOML files. See the repository's docs/architecture.md for a tour.

pub mod bounded_read;
pub mod clean;
pub mod config;
pub mod data;
pub mod device;
pub mod distill;
pub mod error;
pub mod eval;
pub mod io;
pub mod log;
pub mod policy;
pub mod progress;
pub mod retrieval;
pub mod reward;
pub mod text;
pub mod train;

pub use error::{Error, Result};
