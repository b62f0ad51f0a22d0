//! The `quill` command line as a library, so integration tests can drive it.

// The reward plugins register themselves with `inventory`; referencing the crate keeps the
// linker from dropping them from every binary that links this library.
pub use quill_rewards;

pub mod baselines_cmd;
pub mod cli;
pub mod config;
pub mod data_cmd;
pub mod distill_stage;
pub mod evaluate_stage;
pub mod explain;
pub mod finished_stage;
pub mod grpo_stage;
pub mod locate;
pub mod policy_stage;
pub mod report;
pub mod run;
pub mod scoring;
pub mod serve;
pub mod sweep;
