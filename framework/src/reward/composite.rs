//! The composite reward: the weighted plugins scored together, with per-reward values kept for
//! logging. A batch is scored in parallel (rayon) over one shared query cache. Rewards read only
//! the signals its [`RewardView`] lets through (by default, what the policy's prompt shows).

use super::env::{QueryCache, RewardEnv};
use super::interests::{InterestItem, user_interests};
use super::registry::{RewardContext, WeightedReward, find_reward};
use super::view::{RewardSignals, RewardView};
use crate::config::Check;
use crate::data::{Signal, UserRecord};
use crate::error::Result;
use crate::text::query_list::QueryList;
use std::collections::HashMap;
use std::sync::Arc;

crate::config_enum! {
    /// How weighted rewards combine.
    pub enum Aggregation {
        /// Σ weight × reward (the paper: five rewards, weight 1 each, so the composite is in [0, 5]).
        Sum = "sum",
        /// Σ weight × reward / Σ weight: the composite stays in [0, 1] whatever the weights.
        NormalizeThenSum = "normalize_then_sum",
    }
}

crate::config_section! {
    /// Settings of the composite that are not per-plugin.
    pub struct CompositeConfig {
        /// How the weighted rewards combine.
        pub aggregation: Aggregation = Aggregation::Sum, Check::Any;
        /// Which cleaned signals the rewards read: what the prompt shows, or (opt-in) the whole
        /// history, which pays for naming interests the policy cannot see.
        pub signals: RewardSignals = RewardSignals::Prompt, Check::Any;
    }
}

/// One scored list.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The weighted combination that is optimised.
    pub composite: f32,
    /// Each reward's own value in [0, 1], in the composite's reward order.
    pub per_reward: Vec<f32>,
}

/// The configured rewards, ready to score.
pub struct CompositeReward {
    rewards: Vec<WeightedReward>,
    aggregation: Aggregation,
    env: Arc<RewardEnv>,
    view: RewardView,
}

impl CompositeReward {
    /// Builds each (name, weight) of `spec` from its TOML parameters (`params[name]`); the
    /// rewards read a user's signals through `view`.
    pub fn build(
        spec: &[(String, f32)],
        params: &HashMap<String, toml::Table>,
        aggregation: Aggregation,
        env: Arc<RewardEnv>,
        view: RewardView,
    ) -> Result<Self> {
        let mut rewards = Vec::with_capacity(spec.len());
        for (name, weight) in spec {
            let plugin = find_reward(name)?;
            let table = params.get(name).cloned().unwrap_or_default();
            rewards.push(WeightedReward {
                weight: *weight,
                reward: (plugin.build)(&table)?,
            });
        }
        Ok(CompositeReward {
            rewards,
            aggregation,
            env,
            view,
        })
    }

    /// Which signals the rewards read.
    pub fn signals(&self) -> RewardSignals {
        self.view.kind()
    }

    /// Reward names, in the order of `Scored::per_reward`.
    pub fn names(&self) -> Vec<&'static str> {
        self.rewards.iter().map(|r| r.reward.name()).collect()
    }

    /// Reward weights, in the order of `Scored::per_reward`.
    pub fn weights(&self) -> Vec<f32> {
        self.rewards.iter().map(|r| r.weight).collect()
    }

    /// Scores (user, list) pairs. Each distinct query is embedded and retrieved once, each
    /// distinct user's visible signals and interests are extracted once, and each reward scores
    /// the whole batch (in parallel, unless the plugin batches otherwise). Only the user's
    /// cleaned history is read, and of it only what the view lets through.
    pub fn score_batch(&self, items: &[(&UserRecord, &QueryList)]) -> Result<Vec<Scored>> {
        let lists: Vec<&QueryList> = items.iter().map(|(_, l)| *l).collect();
        let cache = QueryCache::build(&self.env, &lists);
        let mut seen: HashMap<&str, (&[Signal], Vec<InterestItem>)> = HashMap::new();
        for (user, _) in items {
            seen.entry(user.id.as_str()).or_insert_with(|| {
                let signals = self.view.signals(&user.history);
                (signals, user_interests(signals, self.env.embedder.as_ref()))
            });
        }
        let contexts: Vec<(RewardContext<'_>, &QueryList)> = items
            .iter()
            .map(|(user, list)| {
                let (signals, interests) = &seen[user.id.as_str()];
                let ctx = RewardContext {
                    signals,
                    env: &self.env,
                    cache: &cache,
                    interests,
                };
                (ctx, *list)
            })
            .collect();
        let columns: Vec<Vec<f32>> = self
            .rewards
            .iter()
            .map(|r| r.reward.score_batch(&contexts))
            .collect::<Result<_>>()?;
        Ok((0..items.len())
            .map(|i| {
                let per_reward: Vec<f32> = columns.iter().map(|c| c[i].clamp(0.0, 1.0)).collect();
                Scored {
                    composite: self.combine(&per_reward),
                    per_reward,
                }
            })
            .collect())
    }

    fn combine(&self, values: &[f32]) -> f32 {
        let weighted: f32 = self
            .rewards
            .iter()
            .zip(values)
            .map(|(r, v)| r.weight * v)
            .sum();
        match self.aggregation {
            Aggregation::Sum => weighted,
            Aggregation::NormalizeThenSum => {
                let total: f32 = self.rewards.iter().map(|r| r.weight).sum();
                if total > 0.0 { weighted / total } else { 0.0 }
            }
        }
    }
}
