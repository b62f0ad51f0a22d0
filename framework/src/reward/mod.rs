//! Rewards and ablations: the two plugin extension points of RL training.
//!
//! A reward plugin is one file in the `quill-rewards` crate that implements [`Reward`] and
//! registers a [`RewardPlugin`] with `inventory::submit!`. An ablation is a named change of the
//! reward set, registered the same way as an [`AblationPlugin`]; `no_<reward>` ablations exist
//! for every registered reward without being written. Rubric rewards ask a [`Judge`], chosen
//! by the `[judge]` section ([`JudgeConfig`]) among the registered [`JudgePlugin`]s.

mod ablation;
mod composite;
mod env;
#[cfg(feature = "http-judge")]
mod http_judge;
mod http_judge_config;
mod interest_gate;
mod interests;
mod judge;
mod judge_config;
mod registry;
pub mod testing;
mod view;

pub use ablation::{Ablation, AblationPlugin, ablation_names, resolve_ablation};
pub use composite::{Aggregation, CompositeConfig, CompositeReward, Scored};
pub use env::{QueryCache, REWARD_TOP_K, RewardEnv};
#[cfg(feature = "http-judge")]
pub use http_judge::HttpJudge;
pub use http_judge_config::HttpJudgeConfig;
pub use interest_gate::{GateParams, interest_relevance};
pub use interests::{InterestItem, MAX_INTERESTS, user_interests};
pub use judge::{Judge, RubricItem, RuleJudge};
pub use judge_config::{JudgeConfig, JudgePlugin, judge_settings, no_settings, registered_judges};
pub use registry::{
    Reward, RewardContext, RewardPlugin, WeightedReward, find_reward, parameterless, plugin_params,
    registered_rewards,
};
pub use view::{RewardSignals, RewardView};
