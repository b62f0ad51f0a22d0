//! Training the policy: the warm start (language modelling, then supervised bootstrap lists).
//! GRPO / Dr.GRPO on the composite reward (`grpo`).

mod config;
pub mod data_parallel;
pub mod grpo;
mod self_filter;
pub mod step_loop;
mod unlikelihood;
mod warm_start;

pub use config::{BootstrapFrom, LoraSection, PolicySection, WarmStartConfig};
pub use self_filter::{SelfFiltered, self_filtered_pairs};
pub use warm_start::{Validity, WarmStartData, WarmStartReport, validity, warm_start};
