//! The warm start of a from-scratch policy, standing in for the paper's instruct models:
//! language modelling on corpus and signal text, then supervised fine-tuning on bootstrap
//! query lists (`text::bootstrap`: built from each training user's cleaned history only), then a
//! check of how many sampled lists are structurally valid.
//!
//! Both stages minimise the mean negative log-likelihood of "completion" tokens computed by
//! `policy::completion_logprobs`: for language modelling a window's first token is the prompt
//! and the rest the completion; for fine-tuning the prompt is the user's signals and the
//! completion the bootstrap list, so only response tokens are learned.

use super::config::WarmStartConfig;
use crate::error::{Error, Result};
use crate::policy::{Decoder, Generation, Sampler, completion_logprobs, generate};
use crate::text::PromptBuilder;
use crate::text::query_list::FormatProblem;
use burn::module::Module;
use burn::optim::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

/// What the warm start trains on, already tokenised.
pub struct WarmStartData {
    /// Corpus and signal texts, each `<bos>`-prefixed, concatenated.
    pub lm_stream: Vec<u32>,
    /// (prompt, bootstrap response) of each training user.
    pub sft: Vec<(Vec<u32>, Vec<u32>)>,
    /// Prompts of validation users, for the validity check.
    pub eval_prompts: Vec<Vec<u32>>,
}

/// Losses, timings and the validity rate of a warm start.
#[derive(Debug, Clone, Serialize)]
pub struct WarmStartReport {
    /// (step, mean loss over the steps since the previous entry) of each stage.
    pub lm_loss: Vec<(u32, f32)>,
    pub sft_loss: Vec<(u32, f32)>,
    pub lm_seconds: f64,
    pub sft_seconds: f64,
    /// Trained (non-padding) tokens per second over both stages.
    pub train_tokens_per_second: f64,
    /// Share of sampled validation lists that parse as valid query lists.
    pub valid_rate: f64,
    pub sampled_lists: usize,
    /// How many sampled lists had each kind of format problem (a list may have several).
    pub problems: BTreeMap<String, usize>,
}

/// The outcome of sampling one list per validation prompt.
#[derive(Debug, Clone, Default)]
pub struct Validity {
    /// Share of lists that parse valid.
    pub rate: f64,
    pub lists: usize,
    /// Lists with each kind of problem, by the problem's name (`TooManyQueries`, ...).
    pub problems: BTreeMap<String, usize>,
}

/// Runs both stages on `decoder` (which must live on an autodiff device) and returns it on the
/// inference device with the report. `on_step(stage, step, loss)` is called after every step.
pub fn warm_start(
    mut decoder: Decoder,
    data: &WarmStartData,
    cfg: &WarmStartConfig,
    builder: &PromptBuilder,
    sampler: &dyn Sampler,
    max_new_tokens: usize,
    seed: u64,
    mut on_step: impl FnMut(&str, u32, f32),
) -> Result<(Decoder, WarmStartReport)> {
    let pad = builder.tokenizer.pad_id();
    let batch = cfg.batch_size as usize;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x3A4D_57A4_7000_0001);
    let mut tokens = 0usize;

    let t = Instant::now();
    let window = cfg.lm_seq_len as usize;
    if cfg.lm_steps > 0 && data.lm_stream.len() <= window {
        let msg = format!(
            "the language-modelling text has {} tokens, fewer than one window of {window}",
            data.lm_stream.len()
        );
        return Err(Error::field("warm_start.lm_seq_len", msg));
    }
    let mut lm_loss = Vec::new();
    decoder = run_stage(
        decoder,
        cfg,
        cfg.lm_steps,
        &mut lm_loss,
        |_| {
            // Random windows of the stream: the first token is the prompt, the rest is learned.
            let (mut prompts, mut completions) = (Vec::new(), Vec::new());
            for _ in 0..batch {
                let at = rng.random_range(0..data.lm_stream.len() - window);
                prompts.push(vec![data.lm_stream[at]]);
                completions.push(data.lm_stream[at + 1..at + window].to_vec());
            }
            tokens += batch * (window - 1);
            (prompts, completions)
        },
        pad,
        &mut |step, loss| on_step("lm", step, loss),
    )?;
    let lm_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    if cfg.sft_steps > 0 && data.sft.is_empty() {
        return Err(Error::field(
            "warm_start.sft_steps",
            "no training user has a bootstrap list",
        ));
    }
    let mut order: Vec<usize> = (0..data.sft.len()).collect();
    let mut cursor = order.len();
    let mut sft_loss = Vec::new();
    decoder = run_stage(
        decoder,
        cfg,
        cfg.sft_steps,
        &mut sft_loss,
        |_| {
            // Epochs over a shuffled order, so every user is seen once before any twice.
            let (mut prompts, mut completions) = (Vec::new(), Vec::new());
            for _ in 0..batch.min(order.len()) {
                if cursor == order.len() {
                    order.shuffle(&mut rng);
                    cursor = 0;
                }
                let (p, c) = &data.sft[order[cursor]];
                cursor += 1;
                tokens += c.len();
                prompts.push(p.clone());
                completions.push(c.clone());
            }
            (prompts, completions)
        },
        pad,
        &mut |step, loss| on_step("sft", step, loss),
    )?;
    let sft_seconds = t.elapsed().as_secs_f64();

    let decoder = decoder.valid();
    let checked = validity(
        &decoder,
        builder,
        &data.eval_prompts,
        sampler,
        max_new_tokens,
        seed,
    )?;
    let report = WarmStartReport {
        lm_loss,
        sft_loss,
        lm_seconds,
        sft_seconds,
        train_tokens_per_second: tokens as f64 / (lm_seconds + sft_seconds).max(1e-9),
        valid_rate: checked.rate,
        sampled_lists: checked.lists,
        problems: checked.problems,
    };
    Ok((decoder, report))
}

/// `steps` AdamW steps with a cosine-annealed learning rate on batches from `next_batch`;
/// appends (step, mean loss) to `losses` every tenth of the stage.
#[allow(clippy::type_complexity)]
fn run_stage(
    mut decoder: Decoder,
    cfg: &WarmStartConfig,
    steps: u32,
    losses: &mut Vec<(u32, f32)>,
    mut next_batch: impl FnMut(u32) -> (Vec<Vec<u32>>, Vec<Vec<u32>>),
    pad: u32,
    on_step: &mut dyn FnMut(u32, f32),
) -> Result<Decoder> {
    if steps == 0 {
        return Ok(decoder);
    }
    let mut optim: ModuleOptimizer = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay as f32)
        .init();
    let mut schedule = CosineAnnealingLrSchedulerConfig::new(cfg.learning_rate, steps as usize)
        .init()
        .map_err(|e| Error::field("warm_start.learning_rate", e))?;
    let every = (steps / 10).max(1);
    let mut window = Vec::new();
    for step in 1..=steps {
        let (prompts, completions) = next_batch(step);
        let (logp, mask) = completion_logprobs(&decoder, &prompts, &completions, pad)?;
        let loss = -(logp.sum() / mask.sum());
        let value: f32 = loss
            .clone()
            .try_into_scalar::<f32>()
            .map_err(|e| Error::model("warm start", format!("reading the loss: {e:?}")))?;
        if !value.is_finite() {
            let msg = format!(
                "training diverged at step {step} (loss {value}); try a learning_rate below {}",
                cfg.learning_rate
            );
            return Err(Error::field("warm_start.learning_rate", msg));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &decoder);
        decoder = optim.step(schedule.step(), decoder, grads);
        on_step(step, value);
        window.push(value);
        if step % every == 0 || step == steps {
            losses.push((step, window.iter().sum::<f32>() / window.len() as f32));
            window.clear();
        }
    }
    Ok(decoder)
}

/// Samples one list per prompt and tallies which parse valid and what breaks the others.
pub fn validity(
    decoder: &Decoder,
    builder: &PromptBuilder,
    prompts: &[Vec<u32>],
    sampler: &dyn Sampler,
    max_new_tokens: usize,
    seed: u64,
) -> Result<Validity> {
    let mut out = Validity {
        lists: prompts.len(),
        ..Validity::default()
    };
    if prompts.is_empty() {
        return Ok(out);
    }
    let end = [builder.tokenizer.end_id()];
    let how = Generation {
        sampler,
        max_new_tokens,
        stop_tokens: &end,
        pad_id: builder.tokenizer.pad_id(),
    };
    let mut valid = 0;
    // Chunks bound the memory of the KV cache.
    for (c, chunk) in prompts.chunks(64).enumerate() {
        let seeds: Vec<u64> = (0..chunk.len())
            .map(|i| seed ^ (((c * 64 + i) as u64) << 20))
            .collect();
        for completion in generate(decoder, chunk, &seeds, &how)? {
            let list = builder.parse_response(&completion.tokens);
            valid += usize::from(list.is_valid());
            let kinds: std::collections::BTreeSet<&str> =
                list.problems.iter().map(FormatProblem::kind).collect();
            for kind in kinds {
                *out.problems.entry(kind.to_string()).or_default() += 1;
            }
        }
    }
    out.rate = valid as f64 / prompts.len() as f64;
    Ok(out)
}
