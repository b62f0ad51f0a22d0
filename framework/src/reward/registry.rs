//! The `Reward` trait and its `inventory` registry.

use super::env::{QueryCache, RewardEnv};
use super::interests::InterestItem;
use crate::data::Signal;
use crate::error::{Error, Result};
use crate::text::query_list::QueryList;

/// What a reward may look at when scoring one query list: the signals the policy saw and the
/// corpus. A user's held-out future clicks, the simulator's hidden interests and the signals
/// the prompt budget dropped are not here, so no reward can read them.
pub struct RewardContext<'a> {
    /// The user's cleaned signals that the policy's prompt shows, oldest first (the whole
    /// cleaned history only under `[composite] signals = "history"`).
    pub signals: &'a [Signal],
    /// Corpus, embedder, retriever, term statistics and judge.
    pub env: &'a RewardEnv,
    /// Embeddings and top-K hits of every query in the batch being scored.
    pub cache: &'a QueryCache,
    /// The user's interests as seen in `signals` (coverage rubric items).
    pub interests: &'a [InterestItem],
}

/// Scores one query list for one user, in [0, 1].
pub trait Reward: Send + Sync {
    /// The registered name, as written in TOML.
    fn name(&self) -> &'static str;
    /// The score of one list, in [0, 1]. Errors are for failures outside the list (an
    /// unreachable judge server), never for a bad list: a bad list scores low.
    fn score(&self, ctx: &RewardContext<'_>, list: &QueryList) -> Result<f32>;
    /// Scores many lists. The default scores them in parallel (rayon); override when a real
    /// batch is cheaper, e.g. one request to an LLM judge for the whole batch.
    fn score_batch(&self, items: &[(RewardContext<'_>, &QueryList)]) -> Result<Vec<f32>> {
        use rayon::prelude::*;
        items
            .par_iter()
            .map(|(ctx, list)| self.score(ctx, list))
            .collect()
    }
}

/// A registered reward: its TOML name, a one-line description, and how to build it from its
/// TOML table (`[rewards.<name>]`, minus `weight`).
pub struct RewardPlugin {
    pub name: &'static str,
    pub description: &'static str,
    pub build: fn(&toml::Table) -> Result<Box<dyn Reward>>,
}

inventory::collect!(RewardPlugin);

/// Builds a reward that takes no parameters besides `weight`: any other key in its
/// `[rewards.<name>]` table is an error naming the key.
pub fn parameterless(
    name: &str,
    params: &toml::Table,
    reward: Box<dyn Reward>,
) -> Result<Box<dyn Reward>> {
    match params.keys().next() {
        Some(key) => Err(Error::field(
            format!("rewards.{name}.{key}"),
            format!("{name} takes no parameters besides `weight`"),
        )),
        None => Ok(reward),
    }
}

/// Reads a plugin's parameters (its `[rewards.<name>]` table without `weight`) into `T`, a
/// serde struct that should deny unknown fields; errors name `rewards.<name>` and say what
/// was wrong (an unknown key with the valid ones, or a value of the wrong type).
pub fn plugin_params<T: serde::de::DeserializeOwned>(
    name: &str,
    params: &toml::Table,
) -> Result<T> {
    toml::Value::Table(params.clone())
        .try_into()
        .map_err(|e: toml::de::Error| {
            Error::field(format!("rewards.{name}"), e.message().trim().to_string())
        })
}

/// A reward with its weight in the composite.
pub struct WeightedReward {
    pub weight: f32,
    pub reward: Box<dyn Reward>,
}

/// Every registered reward, sorted by name. A plugin crate must be *referenced* by the binary
/// (`use quill_rewards as _;`) or the linker drops its registrations.
pub fn registered_rewards() -> Vec<&'static RewardPlugin> {
    let mut all: Vec<&'static RewardPlugin> = inventory::iter::<RewardPlugin>.into_iter().collect();
    all.sort_by_key(|p| p.name);
    all
}

/// The plugin registered under `name`, or an error listing the registered names.
pub fn find_reward(name: &str) -> Result<&'static RewardPlugin> {
    registered_rewards()
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = registered_rewards().iter().map(|p| p.name).collect();
            Error::field(
                format!("rewards.{name}"),
                format!(
                    "unknown reward {name:?}: registered rewards are {}",
                    names.join(", ")
                ),
            )
        })
}
