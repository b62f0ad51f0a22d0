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
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::ops::Range;

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
    /// `logits` of the given columns of `tokens_bs` only, `[batch, columns.len(), vocab]`. A
    /// model may skip the output projection of the other columns (the `Decoder` does): a
    /// prefill needs only its last column, a log-probability pass only the completion's.
    fn column_logits(
        &self,
        tokens_bs: Tensor<2, Int>,
        mask: &AttentionMask,
        cache: Option<&mut KvCache>,
        columns: Range<usize>,
    ) -> Tensor<3> {
        let logits = self.logits(tokens_bs, mask, cache);
        logits.narrow(1, columns.start, columns.len())
    }
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
    fn column_logits(
        &self,
        tokens_bs: Tensor<2, Int>,
        mask: &AttentionMask,
        cache: Option<&mut KvCache>,
        columns: Range<usize>,
    ) -> Tensor<3> {
        self.forward_columns(tokens_bs, mask, cache, columns)
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
    /// log p(token | prompt, earlier tokens) under the distribution the sampler drew it from
    /// ([`Sampler::pick_with_logprob`]), one per token. For `SamplingConfig` at temperature T
    /// without top-k or top-p that is what [`completion_logprobs_at`] gives at T, the quantity
    /// GRPO's ratio and distillation's KL are built on.
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
    let mut cache = policy.new_cache();
    cache.reserve(width + how.max_new_tokens);
    let mut rows = prefill(policy, prompts, &valid, how.pad_id, &mut cache)?;

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
        // Rows draw in parallel: each has its own stream, so the result does not depend on
        // the order. Drawing (a sort of the vocabulary per row) otherwise costs as much as the
        // decoding step itself for the small presets.
        let next: Vec<u32> = out
            .par_iter_mut()
            .zip(rows.par_iter())
            .zip(rngs.par_iter_mut())
            .map(|((done, row), rng)| {
                if done.stopped {
                    return how.pad_id;
                }
                let (token, logprob) = how.sampler.pick_with_logprob(row, rng);
                done.tokens.push(token);
                done.logprobs.push(logprob);
                done.stopped = how.stop_tokens.contains(&token);
                token
            })
            .collect();
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

/// Runs `prompts` (left-padded to the width of `valid`) into `cache` and returns each row's
/// next-token logits. Identical prompts (a GRPO group, best-of-N's draws) are prefilled once
/// and their cache rows copied: at a checkpoint's prompt lengths the prefill is most of
/// sampling's cost.
fn prefill(
    policy: &dyn Policy,
    prompts: &[Vec<u32>],
    valid: &[Vec<bool>],
    pad_id: u32,
    cache: &mut KvCache,
) -> Result<Vec<Vec<f32>>> {
    let (width, device) = (valid[0].len(), policy.device());
    let (distinct, owner) = distinct_rows(prompts);
    let ids: Vec<u32> = distinct
        .iter()
        .flat_map(|&i| {
            let p = &prompts[i];
            std::iter::repeat_n(pad_id, width - p.len()).chain(p.iter().copied())
        })
        .collect();
    let distinct_valid: Vec<Vec<bool>> = distinct.iter().map(|&i| valid[i].clone()).collect();
    let mask = AttentionMask::new(&distinct_valid, width, &device);
    let logits = policy.column_logits(
        int_tensor(ids, [distinct.len(), width], &device),
        &mask,
        Some(cache),
        width - 1..width,
    );
    let distinct_rows = last_column(logits)?;
    if distinct.len() == prompts.len() {
        return Ok(distinct_rows);
    }
    cache.select_rows(&owner, &device);
    Ok(owner.iter().map(|&d| distinct_rows[d].clone()).collect())
}

/// The first row of each distinct prompt, and for every row the index (into the first list)
/// of its prompt's first row.
fn distinct_rows(prompts: &[Vec<u32>]) -> (Vec<usize>, Vec<usize>) {
    let mut first: std::collections::HashMap<&[u32], usize> = std::collections::HashMap::new();
    let mut distinct = Vec::new();
    let owner = prompts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            *first.entry(p.as_slice()).or_insert_with(|| {
                distinct.push(i);
                distinct.len() - 1
            })
        })
        .collect();
    (distinct, owner)
}

/// [`generate`] over `prompts` in chunks of at most `chunk` rows, which bounds the KV cache's
/// memory for large batches; row `i` still draws from `seeds[i]`, so chunking changes nothing
/// else.
pub fn generate_chunked(
    policy: &dyn Policy,
    prompts: &[Vec<u32>],
    seeds: &[u64],
    how: &Generation,
    chunk: usize,
) -> Result<Vec<Completion>> {
    if prompts.len() != seeds.len() {
        let msg = format!("{} prompts but {} seeds", prompts.len(), seeds.len());
        return Err(Error::model("generate", msg));
    }
    let mut out = Vec::with_capacity(prompts.len());
    for (p, s) in prompts.chunks(chunk.max(1)).zip(seeds.chunks(chunk.max(1))) {
        out.extend(generate(policy, p, s, how)?);
    }
    Ok(out)
}

/// Per-token log-probabilities `[batch, longest completion]` of `completions` given `prompts`,
/// from one forward pass (differentiable when the policy is on an autodiff device), and the
/// mask `[batch, longest completion]` (1 for real tokens, 0 for padding after shorter ones).
/// Of the model's own distribution: [`completion_logprobs_at`] at temperature 1.
pub fn completion_logprobs(
    policy: &dyn Policy,
    prompts: &[Vec<u32>],
    completions: &[Vec<u32>],
    pad_id: u32,
) -> Result<(Tensor<2>, Tensor<2>)> {
    completion_logprobs_at(policy, prompts, completions, pad_id, 1.0)
}

/// [`completion_logprobs`] of the distribution softmax(logits / `temperature`): the one lists
/// sampled at that temperature were drawn from (TRL divides the logits the same way), so a
/// policy-gradient ratio or a KL built on them stays on-policy. An error unless `temperature`
/// is a finite number > 0.
pub fn completion_logprobs_at(
    policy: &dyn Policy,
    prompts: &[Vec<u32>],
    completions: &[Vec<u32>],
    pad_id: u32,
    temperature: f32,
) -> Result<(Tensor<2>, Tensor<2>)> {
    const ORIGIN: &str = "completion_logprobs";
    check_temperature(temperature, ORIGIN)?;
    let mut packed = Packed::new(policy, prompts, completions, pad_id, ORIGIN)?;
    let (batch, longest) = (prompts.len(), packed.longest);
    let device = policy.device();
    let targets_bc1 = Tensor::<3, Int>::from_data(
        TensorData::new(std::mem::take(&mut packed.targets), [batch, longest, 1]),
        &device,
    );
    let (logits_bcv, mask_bc) = packed.logits(policy, temperature);
    let logp_bc1 = target_logprobs(logits_bcv, targets_bc1);
    let logp_bc = logp_bc1.reshape([batch, longest]) * mask_bc.clone();
    Ok((logp_bc, mask_bc))
}

/// The full next-token logits `[batch, longest completion, vocab]` at every completion position
/// (column `j` predicts completion token `j`), from one forward pass, and the mask as
/// [`completion_logprobs`] gives it. Distillation's exact KL compares whole distributions.
pub fn completion_logits(
    policy: &dyn Policy,
    prompts: &[Vec<u32>],
    completions: &[Vec<u32>],
    pad_id: u32,
) -> Result<(Tensor<3>, Tensor<2>)> {
    completion_logits_at(policy, prompts, completions, pad_id, 1.0)
}

/// [`completion_logits`] divided by `temperature`: their softmax is the distribution sampled
/// at that temperature. An error unless `temperature` is a finite number > 0.
pub fn completion_logits_at(
    policy: &dyn Policy,
    prompts: &[Vec<u32>],
    completions: &[Vec<u32>],
    pad_id: u32,
    temperature: f32,
) -> Result<(Tensor<3>, Tensor<2>)> {
    const ORIGIN: &str = "completion_logits";
    check_temperature(temperature, ORIGIN)?;
    let packed = Packed::new(policy, prompts, completions, pad_id, ORIGIN)?;
    Ok(packed.logits(policy, temperature))
}

fn check_temperature(temperature: f32, origin: &str) -> Result<()> {
    if temperature.is_finite() && temperature > 0.0 {
        return Ok(());
    }
    let msg = format!("temperature {temperature}: log-probs need a finite temperature > 0");
    Err(Error::model(origin, msg))
}

/// Prompts left-padded to one width, each followed by its completion and right padding.
struct Packed {
    tokens_bs: Tensor<2, Int>,
    mask: AttentionMask,
    /// Padded prompt width; `total - width` is `longest`.
    width: usize,
    total: usize,
    longest: usize,
    /// Completion ids, 0 at padding, row-major `[batch, longest]`.
    targets: Vec<i64>,
    target_mask_bc: Tensor<2>,
}

impl Packed {
    fn new(
        policy: &dyn Policy,
        prompts: &[Vec<u32>],
        completions: &[Vec<u32>],
        pad_id: u32,
        origin: &str,
    ) -> Result<Packed> {
        if prompts.len() != completions.len() || prompts.is_empty() {
            let msg = format!(
                "{} prompts and {} completions: need the same, non-zero number",
                prompts.len(),
                completions.len()
            );
            return Err(Error::model(origin, msg));
        }
        let longest = completions.iter().map(Vec::len).max().unwrap_or(0);
        if longest == 0 {
            return Err(Error::model(origin, "every completion is empty"));
        }
        let vocab = policy.vocab_size();
        if let Some((i, &bad)) = completions
            .iter()
            .enumerate()
            .find_map(|(i, c)| c.iter().find(|&&t| t as usize >= vocab).map(|t| (i, t)))
        {
            let msg = format!(
                "completion {i} has token id {bad}: valid ids are 0 ..= {}",
                vocab - 1
            );
            return Err(Error::model(origin, msg));
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
        Ok(Packed {
            tokens_bs: int_tensor(ids, [batch, total], &device),
            mask: AttentionMask::new(&valid, total, &device),
            width,
            total,
            longest,
            targets,
            target_mask_bc: Tensor::from_data(
                TensorData::new(target_mask, [batch, longest]),
                &device,
            ),
        })
    }

    /// The completion columns' logits over `temperature` and the completion mask.
    fn logits(self, policy: &dyn Policy, temperature: f32) -> (Tensor<3>, Tensor<2>) {
        // The logits at column width - 1 + j predict completion token j.
        let columns = self.width - 1..self.total - 1;
        let logits_bcv = policy.column_logits(self.tokens_bs, &self.mask, None, columns);
        // At 1 the logits are left untouched, so temperature-1 runs compute what they did.
        let logits_bcv = if temperature == 1.0 {
            logits_bcv
        } else {
            logits_bcv.div_scalar(temperature)
        };
        (logits_bcv, self.target_mask_bc)
    }
}

/// log softmax(logits)[target] `[b, c, 1]` for `[b, c, vocab]` logits, without the full
/// `[b, c, vocab]` log-softmax: that costs one exp per logit in the forward pass and, under
/// autodiff, another in the backward (Burn recomputes exp there). Here the fused softmax
/// kernel runs once on a constant copy of the logits, and log Σ exp comes from its largest
/// probability: max p = exp(top − lse), so lse = top − ln(max p) (max p ≥ 1/vocab, no
/// underflow). Its gradient, softmax itself, comes from Σ p ⊙ x with p held constant, added as
/// s − s (value 0), so the value is exact and the backward one multiply.
fn target_logprobs(logits_bcv: Tensor<3>, targets_bc1: Tensor<3, Int>) -> Tensor<3> {
    let constant = logits_bcv.clone().inner();
    let top_bc1 = constant.clone().max_dim(2);
    let probs_bcv = softmax(constant, 2);
    let lse_bc1 = top_bc1 - probs_bcv.clone().max_dim(2).log();
    let tracked = logits_bcv.is_tracked();
    let picked_bc1 = logits_bcv.clone().gather(2, targets_bc1);
    if !tracked {
        return picked_bc1 - lse_bc1;
    }
    let s_bc1 = (probs_bcv * logits_bcv).sum_dim(2);
    picked_bc1 - (s_bc1.clone() - s_bc1.detach()) - lse_bc1
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

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use burn::tensor::activation::log_softmax;

    #[test]
    fn target_logprobs_and_their_gradient_match_the_full_log_softmax() {
        let device = Device::flex().autodiff();
        let logits = Tensor::<3>::random([2, 3, 7], Distribution::Normal(0.0, 4.0), &device);
        let targets = Tensor::<3, Int>::from_data(
            TensorData::new(vec![0i64, 6, 3, 2, 2, 5], [2, 3, 1]),
            &device,
        );
        let weights = Tensor::<3>::random([2, 3, 1], Distribution::Default, &device);
        let run = |fast: bool| {
            let x = logits.clone().require_grad();
            let logp = match fast {
                true => target_logprobs(x.clone(), targets.clone()),
                false => log_softmax(x.clone(), 2).gather(2, targets.clone()),
            };
            let grads = (logp.clone() * weights.clone()).sum().backward();
            let values = |t: Tensor<3>| t.into_data().try_to_vec::<f32>().unwrap();
            (values(logp), values(x.grad(&grads).unwrap()))
        };
        let ((got, got_grad), (want, want_grad)) = (run(true), run(false));
        for (g, w) in got.iter().zip(&want).chain(got_grad.iter().zip(&want_grad)) {
            assert!(
                (g - w).abs() < 1e-5,
                "{got:?} {got_grad:?} vs {want:?} {want_grad:?}"
            );
        }
        let plain = target_logprobs(logits.inner(), targets.inner());
        let plain = plain.into_data().try_to_vec::<f32>().unwrap();
        for (g, w) in plain.iter().zip(&want) {
            assert!((g - w).abs() < 1e-5, "{plain:?} vs {want:?}");
        }
    }

    /// At temperature T the sampler reports log softmax(logits / T) of what it drew, and
    /// training computes the same numbers; temperature 1's differ, so a T ≠ 1 run trained on
    /// those would be off-policy.
    #[test]
    fn training_logprobs_at_the_sampling_temperature_are_the_sampled_ones() {
        use crate::policy::SamplingConfig;
        let model = crate::train::data_parallel::testing::pico(5, false);
        let prompts = vec![vec![5, 6], vec![10, 11, 12, 13], vec![20, 21, 22]];
        let stops: Vec<u32> = (40..70).collect();
        for temperature in [0.6, 1.0, 1.8] {
            let sampler = SamplingConfig {
                temperature,
                ..SamplingConfig::default()
            };
            let how = Generation {
                sampler: &sampler,
                max_new_tokens: 10,
                stop_tokens: &stops,
                pad_id: 0,
            };
            let sampled = generate(&model, &prompts, &[1, 2, 3], &how).unwrap();
            let tokens: Vec<Vec<u32>> = sampled.iter().map(|c| c.tokens.clone()).collect();
            let t = sampler.logprob_temperature();
            let at = |t| {
                let (logp, _) = completion_logprobs_at(&model, &prompts, &tokens, 0, t).unwrap();
                logp.into_data().try_to_vec::<f32>().unwrap()
            };
            let (trained, plain) = (at(t), at(1.0));
            let width = trained.len() / prompts.len();
            let mut largest_gap = 0f32;
            for (i, c) in sampled.iter().enumerate() {
                for (j, &lp) in c.logprobs.iter().enumerate() {
                    let got = trained[i * width + j];
                    assert!(
                        (got - lp).abs() < 1e-4,
                        "T {t} row {i} token {j}: {got} vs {lp}"
                    );
                    largest_gap = largest_gap.max((plain[i * width + j] - lp).abs());
                }
            }
            assert_eq!(
                largest_gap > 1e-2,
                temperature != 1.0,
                "T {t}: {largest_gap}"
            );
        }
        let msg = completion_logits_at(&model, &prompts, &vec![vec![1]; 3], 0, 0.0)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("temperature 0"), "{msg}");
    }
}
