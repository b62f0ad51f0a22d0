//! The forward and backward pass of one policy update, split by rows into
//! [`training_shards`](crate::train::data_parallel::training_shards) shards
//! (see `train::data_parallel`).
//!
//! Each shard's loss is [`shard_policy_loss`] of its rows, normalised by the whole batch's row
//! and token counts (taken on the host from the completions' lengths), so the shards' losses,
//! statistics and gradients add up to the whole batch's. The sampling policy's and the
//! reference's log-probabilities are computed once for the whole batch (inference device, no
//! graph) and each shard reads its rows and its own width of them. Every log-prob is taken at
//! the batch's sampling temperature (see `completion_logprobs_at`).

use super::objective::{BatchTotals, ObjectiveConfig, shard_policy_loss};
use super::query_credit::token_advantages;
use crate::error::Result;
use crate::policy::{Decoder, Policy, completion_logprobs_at};
use crate::train::data_parallel::sharded_grads;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use std::ops::Range;
use std::sync::Mutex;

/// Per-query credit of the batch's rows (see `query_credit`).
#[derive(Clone, Copy)]
pub struct QueryCredit<'a> {
    /// Per row, the centred leave-one-out contribution of each query.
    pub credit: &'a [Vec<f32>],
    /// Per row, the query of each completion token.
    pub token_query: &'a [Vec<Option<usize>>],
    /// `[grpo] query_credit`.
    pub weight: f32,
}

/// The batch of one policy update.
#[derive(Clone, Copy)]
pub struct PolicyBatch<'a> {
    pub prompts: &'a [Vec<u32>],
    pub completions: &'a [Vec<u32>],
    pub pad: u32,
    /// The temperature the completions were sampled at (`SamplingConfig::logprob_temperature`):
    /// the current policy's log-probs are of logits / temperature, as `old_logp` and
    /// `ref_logp` must be.
    pub temperature: f32,
    /// One per row.
    pub advantages: &'a [f32],
    pub credit: Option<QueryCredit<'a>>,
    /// The sampling policy's log-probs `[rows, longest completion]` (any device); `None` when
    /// the update is on-policy, i.e. the ratio is 1 with the current log-probs detached.
    pub old_logp: Option<&'a Tensor<2>>,
    /// The frozen reference's log-probs, shaped like `old_logp`; `None`: no KL term.
    pub ref_logp: Option<&'a Tensor<2>>,
}

/// The whole batch's loss and logged statistics of one update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateStats {
    pub loss: f32,
    pub clip_ratio: f32,
    pub kl: f32,
}

/// The GRPO loss of `batch` on `decoder` and its gradients (not clipped), computed in
/// `shards` row shards.
pub fn policy_grads(
    decoder: &Decoder,
    batch: &PolicyBatch,
    objective: &ObjectiveConfig,
    shards: usize,
) -> Result<(UpdateStats, GradientsParams)> {
    let totals = BatchTotals {
        rows: batch.prompts.len(),
        tokens: batch.completions.iter().map(Vec::len).sum(),
    };
    // Each shard's clip share and KL, keyed by its first row, summed in row order below.
    let parts: Mutex<Vec<(usize, f32, f32)>> = Mutex::new(Vec::new());
    let (loss, grads) = sharded_grads(decoder, shards, totals.rows, |d, rows| {
        let p = shard_loss(d, batch, objective, totals, rows.clone())?;
        let mut parts = parts.lock().unwrap_or_else(|e| e.into_inner());
        parts.push((rows.start, p.clip_ratio, p.kl));
        Ok(p.loss)
    })?;
    let mut parts = parts.into_inner().unwrap_or_else(|e| e.into_inner());
    parts.sort_by_key(|&(start, _, _)| start);
    let (clip_ratio, kl) = parts
        .iter()
        .fold((0f32, 0f32), |(c, k), &(_, pc, pk)| (c + pc, k + pk));
    Ok((
        UpdateStats {
            loss,
            clip_ratio,
            kl,
        },
        grads,
    ))
}

/// The loss of `rows` of `batch` on `decoder`, normalised by the whole batch's `totals`.
fn shard_loss(
    decoder: &Decoder,
    batch: &PolicyBatch,
    objective: &ObjectiveConfig,
    totals: BatchTotals,
    rows: Range<usize>,
) -> Result<super::objective::LossParts> {
    let prompts = &batch.prompts[rows.clone()];
    let completions = &batch.completions[rows.clone()];
    let (logp, mask) =
        completion_logprobs_at(decoder, prompts, completions, batch.pad, batch.temperature)?;
    let width = logp.dims()[1];
    let device = Policy::device(decoder);
    // These rows and the first `width` columns (this shard's longest completion) of a
    // whole-batch constant, moved onto the decoder's device.
    let constant = |x: &Tensor<2>| {
        let x = x.clone().slice([rows.clone(), 0..width]);
        Tensor::<2>::from_data(x.into_data(), &device)
    };
    let old_logp = batch
        .old_logp
        .map(constant)
        .unwrap_or_else(|| logp.clone().detach());
    let ref_logp = batch.ref_logp.map(constant);
    let advantages = &batch.advantages[rows.clone()];
    let per_token = match batch.credit {
        Some(c) => token_advantages(
            advantages,
            &c.credit[rows.clone()],
            &c.token_query[rows],
            c.weight,
            width,
        ),
        None => advantages
            .iter()
            .flat_map(|&a| std::iter::repeat_n(a, width))
            .collect(),
    };
    shard_policy_loss(
        logp, old_logp, ref_logp, &per_token, mask, objective, totals,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::completion_logprobs;
    use crate::train::data_parallel::testing::{assert_close, assert_same_grads, batch, pico};
    use crate::train::grpo::{LossAggregation, freeze_all_but_last_blocks};
    use burn::module::Module;
    use burn::tensor::TensorData;

    /// Whole-batch log-probs of `completions` under `decoder` plus a deterministic offset per
    /// token (so ratios and KLs differ from 1 and 0), on the inference device.
    fn shifted_logp(
        decoder: &Decoder,
        prompts: &[Vec<u32>],
        completions: &[Vec<u32>],
        scale: f32,
    ) -> Tensor<2> {
        let (logp, mask) = completion_logprobs(&decoder.valid(), prompts, completions, 0).unwrap();
        let dims = logp.dims();
        let (l, m) = (
            logp.try_to_vec_as::<f32>().unwrap(),
            mask.try_to_vec_as::<f32>().unwrap(),
        );
        let shifted: Vec<f32> = (l.iter().zip(&m).enumerate())
            .map(|(i, (x, m))| x + m * scale * (((i * 37) % 11) as f32 - 5.0) / 5.0)
            .collect();
        Tensor::from_data(TensorData::new(shifted, dims), &logp.device())
    }

    #[test]
    fn sharded_policy_loss_and_gradients_equal_the_whole_batch() {
        let decoder = pico(3, true);
        let vocab = decoder.vocab_size() as u32;
        let (prompts, completions) = batch(vocab);
        let advantages = [1.0, -0.5, 0.8, -1.2, 0.3, -0.1];
        let old = shifted_logp(&decoder, &prompts, &completions, 0.4);
        let reference = shifted_logp(&decoder, &prompts, &completions, 0.7);
        // Query credit: row r's tokens alternate between two queries and none.
        let credit: Vec<Vec<f32>> = (0..6).map(|r| vec![0.3 * r as f32, -0.2]).collect();
        let token_query: Vec<Vec<Option<usize>>> = completions
            .iter()
            .map(|c| {
                (0..c.len())
                    .map(|k| [Some(0), Some(1), None][k % 3])
                    .collect()
            })
            .collect();
        let aggregations = [
            LossAggregation::ConstantLength,
            LossAggregation::TokenMean,
            LossAggregation::SeqMeanTokenMean,
        ];
        for (case, aggregation) in aggregations.into_iter().enumerate() {
            let objective = ObjectiveConfig {
                epsilon_low: 0.2,
                epsilon_high: 0.28,
                beta: 0.1,
                aggregation,
                max_len: 24,
            };
            let batch = PolicyBatch {
                prompts: &prompts,
                completions: &completions,
                pad: 0,
                temperature: [1.0, 0.7, 1.3][case],
                advantages: &advantages,
                credit: (case == 1).then_some(QueryCredit {
                    credit: &credit,
                    token_query: &token_query,
                    weight: 0.5,
                }),
                old_logp: (case != 2).then_some(&old),
                ref_logp: Some(&reference),
            };
            let (one, g1) = policy_grads(&decoder, &batch, &objective, 1).unwrap();
            let (two, g2) = policy_grads(&decoder, &batch, &objective, 2).unwrap();
            let what = format!("{aggregation:?}");
            assert_close(two.loss, one.loss, &format!("{what} loss"));
            assert_close(two.clip_ratio, one.clip_ratio, &format!("{what} clip"));
            assert_close(two.kl, one.kl, &format!("{what} kl"));
            assert!(one.kl > 0.0);
            if case != 2 {
                assert!(one.clip_ratio > 0.0, "{what}: no token was clipped");
            }
            assert_same_grads(&decoder, &g2, &g1);
        }
    }

    #[test]
    fn shards_leave_frozen_blocks_frozen() {
        let decoder = freeze_all_but_last_blocks(pico(3, true), 1).unwrap();
        let (prompts, completions) = batch(decoder.vocab_size() as u32);
        let advantages = [1.0, -0.5, 0.8, -1.2, 0.3, -0.1];
        let batch = PolicyBatch {
            prompts: &prompts,
            completions: &completions,
            pad: 0,
            temperature: 1.0,
            advantages: &advantages,
            credit: None,
            old_logp: None,
            ref_logp: None,
        };
        let objective = ObjectiveConfig {
            epsilon_low: 0.2,
            epsilon_high: 0.2,
            beta: 0.0,
            aggregation: LossAggregation::TokenMean,
            max_len: 24,
        };
        let (one, g1) = policy_grads(&decoder, &batch, &objective, 1).unwrap();
        let (two, g2) = policy_grads(&decoder, &batch, &objective, 2).unwrap();
        assert_close(two.loss, one.loss, "loss");
        assert_eq!(g2.len(), g1.len(), "the same parameters learn");
        let (_, all) = policy_grads(&pico(3, true), &batch, &objective, 1).unwrap();
        assert!(g1.len() < all.len(), "some parameters are frozen");
        assert_same_grads(&decoder, &g2, &g1);
    }

    /// Lists sampled at temperature 0.5 and trained at once: with the current log-probs taken
    /// at the batch's temperature, as the sampling policy's were, every ratio is 1 and the KL
    /// to an equal reference 0, so the loss is minus the token-weighted mean advantage.
    #[test]
    fn the_update_takes_log_probs_at_the_batch_temperature() {
        let decoder = pico(3, true);
        let (prompts, completions) = batch(decoder.vocab_size() as u32);
        let advantages = [1.0, -0.5, 0.8, -1.2, 0.3, -0.1];
        let temperature = 0.5;
        let sampled =
            completion_logprobs_at(&decoder.valid(), &prompts, &completions, 0, temperature);
        let old = sampled.unwrap().0;
        let batch = PolicyBatch {
            prompts: &prompts,
            completions: &completions,
            pad: 0,
            temperature,
            advantages: &advantages,
            credit: None,
            old_logp: Some(&old),
            ref_logp: Some(&old),
        };
        let objective = ObjectiveConfig {
            epsilon_low: 0.2,
            epsilon_high: 0.2,
            beta: 0.1,
            aggregation: LossAggregation::TokenMean,
            max_len: 24,
        };
        let (stats, _) = policy_grads(&decoder, &batch, &objective, 2).unwrap();
        assert!(stats.kl.abs() < 1e-6, "KL {}", stats.kl);
        assert_eq!(stats.clip_ratio, 0.0);
        let lengths = completions.iter().map(|c| c.len() as f32);
        let tokens: f32 = lengths.clone().sum();
        let want = -lengths.zip(advantages).map(|(n, a)| n * a).sum::<f32>() / tokens;
        assert_close(stats.loss, want, "on-policy loss");
    }
}
