//! Self-filtered fine-tuning, the warm start's last stage: the fine-tuned policy samples lists
//! for training prompts, and the lists that parse as valid become the targets of a short,
//! gentler fine-tuning stage (rejection-sampling fine-tuning, as in STaR, Zelikman et al. 2022,
//! and Llama 2's rejection sampling, Touvron et al. 2023, with the format check as the filter).
//!
//! Why: a small policy imitating the bootstrap lists still writes the same query twice in about
//! one sampled list in eight at temperature 1. Its own valid lists show it, on its own
//! distribution, how lists end without repeats. The filter reads only the list's format — no
//! reward, no future click — so the stage stays prompt-only like the bootstrap rule.

use super::data_parallel::mean_nll_grads;
use super::warm_start::{Epochs, Stage, StageInputs, sample_lists};
use crate::error::{Error, Result};
use crate::policy::{Decoder, Sampler};
use crate::text::PromptBuilder;
use burn::module::Module;
use rand_chacha::ChaCha8Rng;

/// The valid sampled lists, as (prompt, completion) pairs.
pub struct SelfFiltered {
    pub pairs: Vec<(Vec<u32>, Vec<u32>)>,
    /// Lists sampled (the pairs are the valid ones among them).
    pub sampled: usize,
}

/// Samples `per_prompt` lists for each prompt (seeded per prompt and draw) and keeps those
/// that parse valid, their stop token included.
pub fn self_filtered_pairs(
    decoder: &Decoder,
    builder: &PromptBuilder,
    prompts: &[Vec<u32>],
    per_prompt: usize,
    sampler: &dyn Sampler,
    max_new_tokens: usize,
    seed: u64,
) -> Result<SelfFiltered> {
    let repeated: Vec<Vec<u32>> = (0..per_prompt)
        .flat_map(|_| prompts.iter().cloned())
        .collect();
    let completions = sample_lists(decoder, builder, &repeated, sampler, max_new_tokens, seed)?;
    let sampled = completions.len();
    let pairs = repeated
        .into_iter()
        .zip(completions)
        .filter(|(_, tokens)| builder.parse_response(tokens).is_valid())
        .collect();
    Ok(SelfFiltered { pairs, sampled })
}

/// What the self-filtered stage did.
pub(super) struct FilteredStage {
    pub(super) losses: Vec<(u32, f32)>,
    pub(super) sampled: usize,
    pub(super) kept: usize,
}

/// The warm start's last stage: fine-tuning on the policy's own valid lists
/// for the fine-tuning prompts. A no-op when `self_filter_steps` is 0.
pub(super) fn self_filter_stage(
    decoder: Decoder,
    inputs: &StageInputs,
    rng: &mut ChaCha8Rng,
    tokens: &mut usize,
    on_step: &mut impl FnMut(&str, u32, f32),
) -> Result<(Decoder, FilteredStage)> {
    let StageInputs {
        data,
        cfg,
        builder,
        sampler,
        max_new_tokens,
        seed,
    } = *inputs;
    let mut out = FilteredStage {
        losses: Vec::new(),
        sampled: 0,
        kept: 0,
    };
    if cfg.self_filter_steps == 0 {
        return Ok((decoder, out));
    }
    let prompts: Vec<Vec<u32>> = data.sft.iter().map(|(p, _)| p.clone()).collect();
    let filtered = self_filtered_pairs(
        &decoder.valid(),
        builder,
        &prompts,
        cfg.self_filter_samples as usize,
        sampler,
        max_new_tokens,
        seed ^ 0x5E1F_F117_E4ED_0001,
    )?;
    (out.sampled, out.kept) = (filtered.sampled, filtered.pairs.len());
    if filtered.pairs.is_empty() {
        let msg = format!(
            "none of the {} lists sampled after fine-tuning is valid, so there is nothing to \
             fine-tune on; raise sft_steps or set self_filter_steps = 0",
            filtered.sampled
        );
        return Err(Error::field("warm_start.self_filter_steps", msg));
    }
    let (batch, pairs) = (cfg.batch_size as usize, filtered.pairs);
    let mut epochs = Epochs::new(pairs.len());
    let mut stage = Stage::new(cfg, cfg.self_filter_steps, cfg.self_filter_learning_rate);
    let decoder = stage.run(
        decoder,
        |_, d| {
            let (prompts, completions) = epochs.next_batch(&pairs, batch, rng, tokens);
            mean_nll_grads(d, &prompts, &completions, builder.tokenizer.pad_id())
        },
        &mut |step, loss| on_step("self_filter", step, loss),
        None,
    )?;
    out.losses = stage.losses;
    Ok((decoder, out))
}
