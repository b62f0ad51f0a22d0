//! One GRPO rollout: `group_size` sampled lists for each picked user, parsed with the shared
//! query-list parser and scored by the composite reward, with the time each part took.

use crate::data::UserRecord;
use crate::error::{Error, Result};
use crate::policy::{Completion, Decoder, Generation, Sampler, generate_chunked};
use crate::reward::{CompositeReward, Scored};
use crate::text::PromptBuilder;
use crate::text::query_list::QueryList;
use std::time::Instant;

/// Sequences generated in one call: bounds the KV cache's memory for large batches.
pub const GENERATE_CHUNK: usize = 256;

/// The sampled, scored groups of one step. Sequence `g * group_size + j` is list `j` of group
/// `g`, whose user is `users[g]`.
pub struct Rollout {
    pub users: Vec<usize>,
    pub group_size: usize,
    pub prompts: Vec<Vec<u32>>,
    pub completions: Vec<Completion>,
    pub lists: Vec<QueryList>,
    pub scored: Vec<Scored>,
    pub sampling_seconds: f64,
    pub scoring_seconds: f64,
}

impl Rollout {
    /// The composite reward of every sequence.
    pub fn rewards(&self) -> Vec<f32> {
        self.scored.iter().map(|s| s.composite).collect()
    }
}

/// What a rollout needs besides the policy and the users.
pub struct RolloutSpec<'a> {
    pub builder: &'a PromptBuilder,
    pub composite: &'a CompositeReward,
    pub sampler: &'a dyn Sampler,
    pub max_new_tokens: usize,
    pub group_size: usize,
}

/// Samples and scores `spec.group_size` lists for each of `picked` (indices into `users`).
/// Sequence `i` draws from its own stream seeded by `seed_of(i)`, so the rollout depends on the
/// step and the seed only, not on what ran before: a resumed run samples what an uninterrupted
/// one would.
pub fn rollout(
    policy: &Decoder,
    users: &[UserRecord],
    picked: &[usize],
    spec: &RolloutSpec,
    seed_of: impl Fn(usize) -> u64,
) -> Result<Rollout> {
    let t = Instant::now();
    let g = spec.group_size;
    let mut prompts = Vec::with_capacity(picked.len() * g);
    for &u in picked {
        let prompt = spec.builder.prompt(&users[u]);
        prompts.extend(std::iter::repeat_n(prompt, g));
    }
    let end = [spec.builder.tokenizer.end_id()];
    let how = Generation {
        sampler: spec.sampler,
        max_new_tokens: spec.max_new_tokens,
        stop_tokens: &end,
        pad_id: spec.builder.tokenizer.pad_id(),
    };
    let seeds: Vec<u64> = (0..prompts.len()).map(seed_of).collect();
    let completions = generate_chunked(policy, &prompts, &seeds, &how, GENERATE_CHUNK)?;
    let sampling_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let lists: Vec<QueryList> = completions
        .iter()
        .map(|c| spec.builder.parse_response(&c.tokens))
        .collect();
    let items: Vec<(&UserRecord, &QueryList)> = lists
        .iter()
        .enumerate()
        .map(|(i, l)| (&users[picked[i / g]], l))
        .collect();
    let scored = spec.composite.score_batch(&items)?;
    if let Some((i, s)) = scored
        .iter()
        .enumerate()
        .find(|(_, s)| !s.composite.is_finite())
    {
        let msg = format!(
            "the composite reward of list {i} (user {}) is {}: per-reward values {:?}",
            users[picked[i / g]].id,
            s.composite,
            s.per_reward
        );
        return Err(Error::model("grpo rollout", msg));
    }
    Ok(Rollout {
        users: picked.to_vec(),
        group_size: g,
        prompts,
        completions,
        lists,
        scored,
        sampling_seconds,
        scoring_seconds: t.elapsed().as_secs_f64(),
    })
}
