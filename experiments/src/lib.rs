//! The `quill` command line as a library, so integration tests can drive it.

// The reward plugins register themselves with `inventory`; referencing the crate keeps the
// linker from dropping them from every binary that links this library.
pub use quill_rewards;

pub mod baselines_cmd;
pub mod cli;
pub mod config;
pub mod data_cmd;
pub mod explain;
pub mod export_cmd;
pub mod locate;
pub mod overrides;
pub mod pipeline;
pub mod provenance;
pub mod report;
pub mod sample_cmd;
pub mod scoring;
pub mod serve;
pub mod stages;
pub mod sweep;
pub mod tracking;
