//! The `Policy` extension point, batched autoregressive sampling with a KV cache, and the
//! log-probabilities of given completions in one batched forward pass (GRPO, distillation).
//!
//! Prompts of different lengths are left-padded so that every row's next token lands in the
//! same column; padding keys are masked (`AttentionMask`). Rotary positions are column indices:
//! attention scores depend only on the distance between query and key, so a row's left padding
//! shifts its positions without changing what it computes (up to float rounding).

use super::cache::{AttentionMask, KvCache};
use super::decoder::Decoder;
use super::sampler::Sampler;
use crate::error::{Error, Result};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A model that yields next-token logits, incrementally with a KV cache.
pub trait Policy: Send + Sync {
    fn vocab_size(&self) -> usize;
    /// Longest sequence (padding included) it accepts.
    fn max_positions(&self) -> usize;
    fn device(&self) -> Device;
    /// An empty cache for this model.
    fn new_cache(&self) -> KvCache;
    /// Logits `[batch, new, vocab]` of `tokens_bs` appended after the cache's columns.
    fn logits(
        &self,
        tokens_bs: Tensor<2, Int>,
        mask: &AttentionMask,
        cache: Option<&mut KvCache>,
    ) -> Tensor<3>;
}

impl Policy for Decoder {
    fn vocab_size(&self) -> usize {
        self.embed_tokens.weight.dims()[0]
    }
    fn max_positions(&self) -> usize {
        Decoder::max_positions(self)
    }
    fn device(&self) -> Device {
        self.embed_tokens.weight.device()
    }
    fn new_cache(&self) -> KvCache {
        KvCache::new(self.blocks.len())
    }
    fn logits(
        &self,
        tokens_bs: Tensor<2, Int>,
        mask: &AttentionMask,
        cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        self.forward(tokens_bs, mask, cache)
    }
}

/// What to generate, besides the prompts.
#[derive(Clone)]
pub struct Generation<'a> {
    pub sampler: &'a dyn Sampler,
    pub max_new_tokens: usize,
    /// Tokens that end a completion (kept as its last token).
    pub stop_tokens: &'a [u32],
    /// The id fed in padding positions (masked; any valid id works).
    pub pad_id: u32,
}

/// One sampled completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// Generated ids, the stop token included when one was drawn.
    pub tokens: Vec<u32>,
    /// log p(token | prompt, earlier tokens) under the model itself (temperature 1, no top-k or
    /// top-p), one per token: the quantity GRPO's ratio and the distillation KL are built on.
    pub logprobs: Vec<f32>,
    /// Whether a stop token ended it (otherwise `max_new_tokens` did).
    pub stopped: bool,
}

/// Samples one completion per prompt, all rows in one batch. Row `i` draws from its own
/// ChaCha stream seeded with `seeds[i]`, so a completion does not depend on which other
/// prompts share its batch.
pub fn generate(
    policy: &dyn Policy,
    prompts: &[Vec<u32>],
    seeds: &[u64],
    how: &Generation,
) -> Result<Vec<Completion>> {
    if prompts.len() != seeds.len() {
        let msg = format!("{} prompts but {} seeds", prompts.len(), seeds.len());
        return Err(Error::model("generate", msg));
    }
    if prompts.is_empty() {
        return Ok(Vec::new());
    }
    let width = check_prompts(policy, prompts, how.max_new_tokens)?;
    let device = policy.device();
    let batch = prompts.len();
    let mut valid: Vec<Vec<bool>> = prompts
        .iter()
        .map(|p| (0..width).map(|c| c >= width - p.len()).collect())
        .collect();
    let ids: Vec<u32> = prompts
        .iter()
        .flat_map(|p| std::iter::repeat_n(how.pad_id, width - p.len()).chain(p.iter().copied()))
        .collect();
    let mut cache = policy.new_cache();
    let mask = AttentionMask::new(&valid, width, &device);
    let logits = policy.logits(
        int_tensor(ids, [batch, width], &device),
        &mask,
        Some(&mut cache),
    );
    let mut rows = last_column(logits)?;

    let mut rngs: Vec<ChaCha8Rng> = seeds
        .iter()
        .map(|&s| ChaCha8Rng::seed_from_u64(s))
        .collect();
    let mut out = vec![
        Completion {
            tokens: Vec::new(),
            logprobs: Vec::new(),
            stopped: false
        };
        batch
    ];
    for step in 0..how.max_new_tokens {
        let mut next = Vec::with_capacity(batch);
        for (i, done) in out.iter_mut().enumerate() {
            if done.stopped {
                next.push(how.pad_id);
                continue;
            }
            let token = how.sampler.pick(&rows[i], &mut rngs[i]);
            done.tokens.push(token);
            done.logprobs.push(log_softmax_at(&rows[i], token as usize));
            done.stopped = how.stop_tokens.contains(&token);
            next.push(token);
        }
        if step + 1 == how.max_new_tokens || out.iter().all(|c| c.stopped) {
            break;
        }
        // A row that stopped earlier than this step feeds padding from here on.
        for (row, c) in valid.iter_mut().zip(&out) {
            row.push(!c.stopped || c.tokens.len() == step + 1);
        }
        let mask = AttentionMask::new(&valid, 1, &device);
        let logits = policy.logits(
            int_tensor(next, [batch, 1], &device),
            &mask,
            Some(&mut cache),
        );
        rows = last_column(logits)?;
    }
    Ok(out)
}

/// Per-token log-probabilities `[batch, longest completion]` of `completions` given `prompts`,
/// from one forward pass (differentiable when the policy is on an autodiff device), and the
/// mask `[batch, longest completion]` (1 for real tokens, 0 for padding after shorter ones).
pub fn completion_logprobs(
    policy: &dyn Policy,
    prompts: &[Vec<u32>],
    completions: &[Vec<u32>],
    pad_id: u32,
) -> Result<(Tensor<2>, Tensor<2>)> {
    if prompts.len() != completions.len() || prompts.is_empty() {
        let msg = format!(
            "{} prompts and {} completions: need the same, non-zero number",
            prompts.len(),
            completions.len()
        );
        return Err(Error::model("completion_logprobs", msg));
    }
    let longest = completions.iter().map(Vec::len).max().unwrap_or(0);
    if longest == 0 {
        return Err(Error::model(
            "completion_logprobs",
            "every completion is empty",
        ));
    }
    let width = check_prompts(policy, prompts, longest)?;
    let (batch, total) = (prompts.len(), width + longest);
    let device = policy.device();
    let mut ids = Vec::with_capacity(batch * total);
    let mut valid = Vec::with_capacity(batch);
    let (mut targets, mut target_mask) = (Vec::new(), Vec::new());
    for (p, c) in prompts.iter().zip(completions) {
        let pad_left = width - p.len();
        let pad_right = longest - c.len();
        ids.extend(std::iter::repeat_n(pad_id, pad_left));
        ids.extend(p.iter().chain(c));
        ids.extend(std::iter::repeat_n(pad_id, pad_right));
        valid.push(
            (0..total)
                .map(|col| col >= pad_left && col < total - pad_right)
                .collect(),
        );
        targets.extend(c.iter().map(|&t| t as i64));
        targets.extend(std::iter::repeat_n(0i64, pad_right));
        target_mask.extend((0..longest).map(|j| if j < c.len() { 1f32 } else { 0.0 }));
    }
    let mask = AttentionMask::new(&valid, total, &device);
    let logits_btv = policy.logits(int_tensor(ids, [batch, total], &device), &mask, None);
    // The logits at column width - 1 + j predict completion token j.
    let logp_bcv = log_softmax(logits_btv.narrow(1, width - 1, longest), 2);
    let targets_bc1 =
        Tensor::<3, Int>::from_data(TensorData::new(targets, [batch, longest, 1]), &device);
    let mask_bc = Tensor::<2>::from_data(TensorData::new(target_mask, [batch, longest]), &device);
    let logp_bc = logp_bcv.gather(2, targets_bc1).reshape([batch, longest]) * mask_bc.clone();
    Ok((logp_bc, mask_bc))
}

/// The padded prompt width, or an error for an empty prompt, an out-of-vocabulary id, or a
/// prompt too long to leave `new_tokens` positions.
fn check_prompts(policy: &dyn Policy, prompts: &[Vec<u32>], new_tokens: usize) -> Result<usize> {
    let vocab = policy.vocab_size();
    for (i, p) in prompts.iter().enumerate() {
        if p.is_empty() {
            return Err(Error::model("policy input", format!("prompt {i} is empty")));
        }
        if let Some(&bad) = p.iter().find(|&&t| t as usize >= vocab) {
            let msg = format!(
                "prompt {i} has token id {bad}: valid ids are 0 ..= {}",
                vocab - 1
            );
            return Err(Error::model("policy input", msg));
        }
    }
    let width = prompts.iter().map(Vec::len).max().unwrap_or(0);
    if width + new_tokens > policy.max_positions() {
        let msg = format!(
            "the longest prompt ({width} tokens) plus {new_tokens} new tokens exceeds the \
             model's {} positions",
            policy.max_positions()
        );
        return Err(Error::model("policy input", msg));
    }
    Ok(width)
}

fn int_tensor(ids: Vec<u32>, shape: [usize; 2], device: &Device) -> Tensor<2, Int> {
    let ids: Vec<i64> = ids.into_iter().map(i64::from).collect();
    Tensor::from_data(TensorData::new(ids, shape), device)
}

/// The last column's logits of `[batch, seq, vocab]`, one row per batch entry, on the CPU.
fn last_column(logits_bsv: Tensor<3>) -> Result<Vec<Vec<f32>>> {
    let [batch, seq, vocab] = logits_bsv.dims();
    let values = logits_bsv
        .narrow(1, seq - 1, 1)
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| Error::model("policy", format!("reading logits: {e:?}")))?;
    debug_assert_eq!(values.len(), batch * vocab);
    Ok(values.chunks(vocab).map(<[f32]>::to_vec).collect())
}

/// log softmax(logits)[index], in f64 for a stable log-sum-exp.
fn log_softmax_at(logits: &[f32], index: usize) -> f32 {
    let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&x| (x as f64 - top).exp()).sum();
    (logits[index] as f64 - top - sum.ln()) as f32
}
