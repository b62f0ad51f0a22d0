//! Held-out evaluation of a policy: one list per user (greedy, or sampled with fixed seeds), scored by the composite reward
//! (each reward's mean too) and by retrieval against the user's held-out future clicks
//! (Recall/NDCG@5/10, MRR). Used during training on the valid split and at the end on the test
//! split, so the two report the same quantities.

use crate::data::UserRecord;
use crate::error::Result;
use crate::eval::{MetricMeans, OfflineEvaluator, RewardMeans};
use crate::policy::{Decoder, Generation, SamplingConfig, generate};
use crate::reward::{CompositeReward, Scored};
use crate::text::PromptBuilder;
use crate::text::query_list::QueryList;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A policy's held-out results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyEval {
    pub rewards: RewardMeans,
    pub ranking: MetricMeans,
    /// Share of lists that parse valid.
    pub valid_rate: f64,
}

impl PolicyEval {
    /// The results as named scalars under `prefix` (`eval/reward`, `eval/recall@10`, ...).
    pub fn scalars(&self, prefix: &str) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        out.insert(format!("{prefix}/reward"), self.rewards.composite);
        for (name, v) in &self.rewards.per_reward {
            out.insert(format!("{prefix}/rewards/{name}/mean"), *v);
        }
        let r = &self.ranking;
        for (name, v) in [
            ("recall@5", r.recall_5),
            ("recall@10", r.recall_10),
            ("ndcg@5", r.ndcg_5),
            ("ndcg@10", r.ndcg_10),
            ("mrr", r.mrr),
        ] {
            out.insert(format!("{prefix}/{name}"), v);
        }
        out.insert(format!("{prefix}/valid_rate"), self.valid_rate);
        out
    }
}

/// How an evaluated policy writes its one list per user.
#[derive(Clone, Copy)]
pub enum Decoding<'a> {
    /// Temperature 0: the single most likely continuation.
    Greedy,
    /// Drawn from `sampler`; user `i` uses a stream seeded from (`seed`, `i`), so results are
    /// reproducible and the same users get the same streams under every policy.
    Sample {
        sampler: &'a SamplingConfig,
        seed: u64,
    },
}

/// Evaluates policies on a fixed set of (cleaned) users.
pub struct PolicyEvaluator<'a> {
    pub decoding: Decoding<'a>,
    pub builder: &'a PromptBuilder,
    pub composite: &'a CompositeReward,
    pub offline: &'a OfflineEvaluator,
    pub users: Vec<UserRecord>,
    pub max_new_tokens: usize,
    /// Lists generated per forward batch. A row's draws depend on its seed only, not on the
    /// batch it shares; a GPU wants large batches (each decoding step is a fixed number of
    /// kernel launches), a CPU gains little past ~128.
    pub batch: usize,
}

impl PolicyEvaluator<'_> {
    /// One list of `policy` for every user, then their rewards and retrieval metrics.
    pub fn evaluate(&self, policy: &Decoder) -> Result<PolicyEval> {
        let lists = self.lists(policy)?;
        self.score(&lists)
    }

    /// One list per user, decoded as `self.decoding` says, parsed.
    pub fn lists(&self, policy: &Decoder) -> Result<Vec<QueryList>> {
        let greedy = SamplingConfig {
            temperature: 0.0,
            ..SamplingConfig::default()
        };
        let (sampler, seed) = match self.decoding {
            Decoding::Greedy => (&greedy, 0),
            Decoding::Sample { sampler, seed } => (sampler, seed),
        };
        let end = [self.builder.tokenizer.end_id()];
        let how = Generation {
            sampler,
            max_new_tokens: self.max_new_tokens,
            stop_tokens: &end,
            pad_id: self.builder.tokenizer.pad_id(),
        };
        let mut lists = Vec::with_capacity(self.users.len());
        let batch = self.batch.max(1);
        for (c, chunk) in self.users.chunks(batch).enumerate() {
            let prompts: Vec<Vec<u32>> = chunk.iter().map(|u| self.builder.prompt(u)).collect();
            let seeds: Vec<u64> = (0..chunk.len())
                .map(|i| seed ^ ((c * batch + i) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .collect();
            for c in generate(policy, &prompts, &seeds, &how)? {
                lists.push(self.builder.parse_response(&c.tokens));
            }
        }
        Ok(lists)
    }

    /// Rewards and retrieval metrics of one list per user (in `users` order).
    pub fn score(&self, lists: &[QueryList]) -> Result<PolicyEval> {
        let scored = self.rewards(lists)?;
        Ok(self.summarise(&self.users, lists, &scored))
    }

    /// The composite (and each reward) of one list per user (in `users` order).
    pub fn rewards(&self, lists: &[QueryList]) -> Result<Vec<Scored>> {
        let items: Vec<(&UserRecord, &QueryList)> = self.users.iter().zip(lists).collect();
        self.composite.score_batch(&items)
    }

    /// Mean rewards, retrieval metrics and validity of `lists`, one per user of `users`,
    /// already scored as `scored` (so a subset of scored lists is not scored again).
    pub fn summarise(
        &self,
        users: &[UserRecord],
        lists: &[QueryList],
        scored: &[Scored],
    ) -> PolicyEval {
        let rewards = RewardMeans::of(&self.composite.names(), scored, 0);
        let queries: Vec<Vec<String>> = lists.iter().map(|l| l.queries.clone()).collect();
        let ranking = self.offline.evaluate(users, &queries);
        let valid = lists.iter().filter(|l| l.is_valid()).count();
        PolicyEval {
            rewards,
            ranking,
            valid_rate: valid as f64 / lists.len().max(1) as f64,
        }
    }
}
