//! Rewards and ablations: the two plugin extension points of RL training.
//!
//! A reward plugin is one file in the `quill-rewards` crate that implements [`Reward`] and
//! registers a [`RewardPlugin`] with `inventory::submit!`. An ablation is a named change of the
//! reward set, registered the same way as an [`AblationPlugin`]; `no_<reward>` ablations exist
//! for every registered reward without being written.

mod ablation;
mod registry;

pub use ablation::{Ablation, AblationPlugin, resolve_ablation, ablation_names};
pub use registry::{Reward, RewardContext, RewardPlugin, WeightedReward, find_reward, registered_rewards};
