//! The warm start of a from-scratch policy, standing in for the paper's instruct models:
//! language modelling on corpus and signal text, then supervised fine-tuning on bootstrap
//! query lists (`text::bootstrap`: built from each training user's cleaned history only),
//! optionally unlikelihood fine-tuning against the format faults of its own samples
//! (`unlikelihood`) and fine-tuning on its own valid lists (`self_filter`), then a check of how
//! many sampled lists are structurally valid.
//!
//! Fine-tuning keeps the weights that write valid lists most often, not simply the last ones:
//! every `probe_every` steps from `probe_from` (and at the last step) it samples one list per
//! *probe* prompt at the configured temperature, and keeps the best-scoring weights. Probe
//! prompts come from training users held out of fine-tuning, never from validation users, so
//! the final check on validation users stays an unbiased measure of the kept weights.
//!
//! Both stages minimise the mean negative log-likelihood of "completion" tokens computed by
//! `policy::completion_logprobs`: for language modelling a window's first token is the prompt
//! and the rest the completion; for fine-tuning the prompt is the user's signals and the
//! completion the bootstrap list, so only response tokens are learned.

use super::config::WarmStartConfig;
use super::data_parallel::mean_nll_grads;
use super::self_filter::self_filter_stage;
use super::unlikelihood::unlikelihood_stage;
use crate::error::{Error, Result};
use crate::policy::{Decoder, Generation, Sampler, completion_logprobs, generate};
use crate::text::PromptBuilder;
use crate::text::query_list::FormatProblem;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;
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
    /// Prompts of training users left out of `sft`, whose sampled lists choose which
    /// fine-tuning weights are kept (empty: the last step's). Never validation users: the
    /// choice would then flatter the reported rate.
    pub probe_prompts: Vec<Vec<u32>>,
}

/// Invalid lists kept as examples by [`validity`].
const MAX_EXAMPLES: usize = 40;

/// Losses, timings and the validity rate of a warm start.
#[derive(Debug, Clone, Serialize)]
pub struct WarmStartReport {
    /// (step, mean loss over the steps since the previous entry) of each stage.
    pub lm_loss: Vec<(u32, f32)>,
    pub sft_loss: Vec<(u32, f32)>,
    /// (step, share of probe lists valid) of each fine-tuning probe.
    pub probes: Vec<(u32, f64)>,
    /// The fine-tuning step whose weights were kept (the best probe; the last step without).
    pub kept_step: u32,
    /// Unlikelihood fine-tuning: its losses (imitation plus weighted unlikelihood), the share
    /// of the lists it sampled that were invalid (step, share since the previous entry), how
    /// many it sampled and how many tokens it pushed down.
    pub unlikelihood_loss: Vec<(u32, f32)>,
    pub unlikelihood_invalid: Vec<(u32, f64)>,
    pub unlikelihood_sampled: usize,
    pub unlikelihood_penalised: usize,
    /// Unlikelihood fine-tuning, its sampling included.
    pub unlikelihood_seconds: f64,
    /// Self-filtered fine-tuning: its losses, the lists it sampled and the valid ones it kept.
    pub self_filter_loss: Vec<(u32, f32)>,
    pub self_filter_sampled: usize,
    pub self_filter_kept: usize,
    pub lm_seconds: f64,
    /// Fine-tuning, its probes included.
    pub sft_seconds: f64,
    /// Self-filtered fine-tuning, its sampling included.
    pub self_filter_seconds: f64,
    /// The final validity check.
    pub check_seconds: f64,
    /// Trained (non-padding) tokens per second over both stages.
    pub train_tokens_per_second: f64,
    /// Share of sampled validation lists that parse as valid query lists.
    pub valid_rate: f64,
    pub sampled_lists: usize,
    /// How many sampled lists had each kind of format problem (a list may have several).
    pub problems: BTreeMap<String, usize>,
    /// The first few invalid lists, as text.
    pub examples: Vec<String>,
}

/// The outcome of sampling one list per validation prompt.
#[derive(Debug, Clone, Default)]
pub struct Validity {
    /// Share of lists that parse valid.
    pub rate: f64,
    pub lists: usize,
    /// Lists with each kind of problem, by the problem's name (`TooManyQueries`, ...).
    pub problems: BTreeMap<String, usize>,
    /// The text of the first few invalid lists, so a report shows what went wrong.
    pub examples: Vec<String>,
}

/// Runs both stages on `decoder` (which must live on an autodiff device) and returns it on the
/// inference device with the report. `on_step(stage, step, loss)` is called after every step.
#[allow(clippy::too_many_arguments)]
pub fn warm_start(
    decoder: Decoder,
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
    let mut lm = Stage::new(cfg, cfg.lm_steps, cfg.learning_rate);
    let decoder = lm.run(
        decoder,
        |_, d| {
            // Random windows of the stream: the first token is the prompt, the rest is learned.
            let (mut prompts, mut completions) = (Vec::new(), Vec::new());
            for _ in 0..batch {
                let at = rng.random_range(0..data.lm_stream.len() - window);
                prompts.push(vec![data.lm_stream[at]]);
                completions.push(data.lm_stream[at + 1..at + window].to_vec());
            }
            tokens += batch * (window - 1);
            mean_nll_grads(d, &prompts, &completions, pad)
        },
        &mut |step, loss| on_step("lm", step, loss),
        None,
    )?;
    let lm_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    if cfg.sft_steps > 0 && data.sft.is_empty() {
        return Err(Error::field(
            "warm_start.sft_steps",
            "no training user has a bootstrap list",
        ));
    }
    let mut epochs = Epochs::new(data.sft.len());
    // The same sampling seeds at every probe, so checkpoints are compared on equal draws.
    let mut probe = |d: &Decoder| -> Result<f64> {
        let probe_seed = seed ^ 0x9E37_79B9_7F4A_7C15;
        let checked = validity(
            d,
            builder,
            &data.probe_prompts,
            sampler,
            max_new_tokens,
            probe_seed,
        )?;
        Ok(checked.rate)
    };
    let probing = !data.probe_prompts.is_empty();
    let mut sft = Stage::new(cfg, cfg.sft_steps, cfg.learning_rate);
    let decoder = sft.run(
        decoder,
        |_, d| {
            let (prompts, completions) = epochs.next_batch(&data.sft, batch, &mut rng, &mut tokens);
            mean_nll_grads(d, &prompts, &completions, pad)
        },
        &mut |step, loss| on_step("sft", step, loss),
        probing.then_some(&mut probe as &mut dyn FnMut(&Decoder) -> Result<f64>),
    )?;
    let sft_seconds = t.elapsed().as_secs_f64();

    // What the stages after fine-tuning read.
    let inputs = StageInputs {
        data,
        cfg,
        builder,
        sampler,
        max_new_tokens,
        seed,
    };
    let t = Instant::now();
    let (decoder, unlikely) =
        unlikelihood_stage(decoder, &inputs, &mut rng, &mut tokens, &mut on_step)?;
    let unlikelihood_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let (decoder, filtered) =
        self_filter_stage(decoder, &inputs, &mut rng, &mut tokens, &mut on_step)?;
    let self_filter_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
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
        lm_loss: lm.losses,
        sft_loss: sft.losses,
        probes: sft.probes,
        kept_step: sft.kept_step,
        unlikelihood_loss: unlikely.losses,
        unlikelihood_invalid: unlikely.invalid,
        unlikelihood_sampled: unlikely.sampled,
        unlikelihood_penalised: unlikely.penalised,
        unlikelihood_seconds,
        self_filter_loss: filtered.losses,
        self_filter_sampled: filtered.sampled,
        self_filter_kept: filtered.kept,
        lm_seconds,
        sft_seconds,
        self_filter_seconds,
        check_seconds: t.elapsed().as_secs_f64(),
        train_tokens_per_second: tokens as f64
            / (lm_seconds + sft_seconds + unlikelihood_seconds + self_filter_seconds).max(1e-9),
        valid_rate: checked.rate,
        sampled_lists: checked.lists,
        problems: checked.problems,
        examples: checked.examples,
    };
    Ok((decoder, report))
}

/// What a warm-start stage after supervised fine-tuning reads: the data, the settings, and how
/// the policy samples.
#[derive(Clone, Copy)]
pub(super) struct StageInputs<'a> {
    pub(super) data: &'a WarmStartData,
    pub(super) cfg: &'a WarmStartConfig,
    pub(super) builder: &'a PromptBuilder,
    pub(super) sampler: &'a dyn Sampler,
    pub(super) max_new_tokens: usize,
    pub(super) seed: u64,
}

/// The learning rate of `step` (1-based) of `steps`: linear warm-up over `warmup` steps, then
/// the cosine curve from `peak` towards 0. Warm-up matters because AdamW's first steps, with
/// its moment estimates still empty, are large at any peak rate.
fn learning_rate(step: u32, steps: u32, peak: f64, warmup: u32) -> f64 {
    let progress = f64::from(step.saturating_sub(1)) / f64::from(steps.max(1));
    let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
    let warm = if warmup == 0 {
        1.0
    } else {
        (f64::from(step) / f64::from(warmup)).min(1.0)
    };
    peak * cosine * warm
}

/// Batches of (prompt, completion) pairs in epochs over a shuffled order, so every pair is seen
/// once before any twice. Shared by fine-tuning and self-filtered fine-tuning.
pub(super) struct Epochs {
    order: Vec<usize>,
    cursor: usize,
}

impl Epochs {
    pub(super) fn new(pairs: usize) -> Self {
        Epochs {
            order: (0..pairs).collect(),
            cursor: pairs,
        }
    }

    /// The next `batch` pairs (fewer when there are fewer pairs); adds their completion
    /// tokens to `tokens`.
    pub(super) fn next_batch(
        &mut self,
        pairs: &[(Vec<u32>, Vec<u32>)],
        batch: usize,
        rng: &mut ChaCha8Rng,
        tokens: &mut usize,
    ) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
        let (mut prompts, mut completions) = (Vec::new(), Vec::new());
        for _ in 0..batch.min(self.order.len()) {
            if self.cursor == self.order.len() {
                self.order.shuffle(rng);
                self.cursor = 0;
            }
            let (p, c) = &pairs[self.order[self.cursor]];
            self.cursor += 1;
            *tokens += c.len();
            prompts.push(p.clone());
            completions.push(c.clone());
        }
        (prompts, completions)
    }
}

/// One training stage: AdamW steps on batches from a closure, with its loss curve and, for
/// fine-tuning, the validity probes and the weights they chose.
pub(super) struct Stage<'a> {
    cfg: &'a WarmStartConfig,
    steps: u32,
    peak_lr: f64,
    /// (step, mean loss over the steps since the previous entry), every tenth of the stage.
    pub(super) losses: Vec<(u32, f32)>,
    probes: Vec<(u32, f64)>,
    kept_step: u32,
}

impl<'a> Stage<'a> {
    pub(super) fn new(cfg: &'a WarmStartConfig, steps: u32, peak_lr: f64) -> Self {
        Stage {
            cfg,
            steps,
            peak_lr,
            losses: Vec::new(),
            probes: Vec::new(),
            kept_step: steps,
        }
    }

    /// Trains `decoder` on the loss value and gradients `grads_of_step(step, decoder)` gives
    /// (a supervised stage's come from [`mean_nll_grads`], sharded); with `probe`,
    /// measures the weights every `probe_every` steps from `probe_from` (and at the last step)
    /// and returns the best-measured ones, the later on ties (they have seen more data at a
    /// lower learning rate).
    #[allow(clippy::type_complexity)]
    pub(super) fn run(
        &mut self,
        mut decoder: Decoder,
        mut grads_of_step: impl FnMut(u32, &Decoder) -> Result<(f32, GradientsParams)>,
        on_step: &mut dyn FnMut(u32, f32),
        mut probe: Option<&mut dyn FnMut(&Decoder) -> Result<f64>>,
    ) -> Result<Decoder> {
        let (cfg, steps) = (self.cfg, self.steps);
        if steps == 0 {
            return Ok(decoder);
        }
        let mut optim: ModuleOptimizer = AdamWConfig::new()
            .with_weight_decay(cfg.weight_decay as f32)
            .init();
        let every = (steps / 10).max(1);
        let mut window = Vec::new();
        let mut best: Option<(f64, Decoder)> = None;
        for step in 1..=steps {
            let (value, grads) = grads_of_step(step, &decoder)?;
            if !value.is_finite() {
                let msg = format!(
                    "training diverged at step {step} (loss {value}); try a learning_rate below {}",
                    cfg.learning_rate
                );
                return Err(Error::field("warm_start.learning_rate", msg));
            }
            let lr = learning_rate(step, steps, self.peak_lr, cfg.warmup_steps);
            decoder = optim.step(lr, decoder, grads);
            on_step(step, value);
            window.push(value);
            if step % every == 0 || step == steps {
                self.losses
                    .push((step, window.iter().sum::<f32>() / window.len() as f32));
                window.clear();
            }
            let due = step == steps || (step >= cfg.probe_from && step % cfg.probe_every == 0);
            if let (Some(probe), true) = (probe.as_mut(), due) {
                let rate = probe(&decoder.valid())?;
                self.probes.push((step, rate));
                if best.as_ref().is_none_or(|(b, _)| rate >= *b) {
                    // A clone shares the tensors, which later steps replace rather than mutate.
                    best = Some((rate, decoder.clone()));
                    self.kept_step = step;
                }
            }
        }
        Ok(best.map_or(decoder, |(_, d)| d))
    }
}

/// The mean negative log-likelihood of the completions' tokens given their prompts, in one
/// piece (for a stage that adds terms of its own to it).
pub(super) fn mean_nll(
    decoder: &Decoder,
    prompts: &[Vec<u32>],
    completions: &[Vec<u32>],
    pad: u32,
) -> Result<Tensor<1>> {
    let (logp, mask) = completion_logprobs(decoder, prompts, completions, pad)?;
    Ok(-(logp.sum() / mask.sum()))
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
    let mut valid = 0;
    for tokens in sample_lists(decoder, builder, prompts, sampler, max_new_tokens, seed)? {
        let list = builder.parse_response(&tokens);
        valid += usize::from(list.is_valid());
        if !list.is_valid() && out.examples.len() < MAX_EXAMPLES {
            out.examples.push(builder.tokenizer.decode(&tokens));
        }
        let kinds: std::collections::BTreeSet<&str> =
            list.problems.iter().map(FormatProblem::kind).collect();
        for kind in kinds {
            *out.problems.entry(kind.to_string()).or_default() += 1;
        }
    }
    out.rate = valid as f64 / prompts.len() as f64;
    Ok(out)
}

/// One sampled completion per prompt (stop token included when drawn), in chunks that bound
/// the KV cache's memory; prompt `i` draws from a stream seeded by `seed` and `i` alone.
pub(super) fn sample_lists(
    decoder: &Decoder,
    builder: &PromptBuilder,
    prompts: &[Vec<u32>],
    sampler: &dyn Sampler,
    max_new_tokens: usize,
    seed: u64,
) -> Result<Vec<Vec<u32>>> {
    let end = [builder.tokenizer.end_id()];
    let how = Generation {
        sampler,
        max_new_tokens,
        stop_tokens: &end,
        pad_id: builder.tokenizer.pad_id(),
    };
    let mut out = Vec::with_capacity(prompts.len());
    for (c, chunk) in prompts.chunks(64).enumerate() {
        let seeds: Vec<u64> = (0..chunk.len())
            .map(|i| seed ^ (((c * 64 + i) as u64) << 20))
            .collect();
        out.extend(
            generate(decoder, chunk, &seeds, &how)?
                .into_iter()
                .map(|c| c.tokens),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{Stage, learning_rate, mean_nll_grads};
    use crate::policy::{Decoder, find_preset};
    use crate::train::WarmStartConfig;
    use burn::tensor::Device;

    /// A number that changes whenever any embedding weight does.
    fn fingerprint(d: &Decoder) -> f32 {
        let w = d.embed_tokens.weight.val();
        (w.clone() * w).sum().try_into_scalar::<f32>().unwrap()
    }

    #[test]
    fn the_best_probed_weights_are_kept_and_the_later_wins_a_tie() {
        let mut cfg = find_preset("nano").unwrap().with_vocab(16);
        cfg.max_positions = 16;
        let ws = WarmStartConfig {
            probe_every: 2,
            probe_from: 3,
            ..WarmStartConfig::default()
        };
        let batch = |_, d: &Decoder| {
            mean_nll_grads(
                d,
                &[vec![1, 2, 3], vec![1, 2, 3]],
                &[vec![4, 5, 6, 7], vec![4, 5, 6, 7]],
                0,
            )
        };
        // Scripted probe results; each probe also records the weights it saw.
        let rates = [0.5, 0.9, 0.9, 0.7];
        let mut seen = Vec::new();
        let mut probe = |d: &Decoder| {
            seen.push(fingerprint(d));
            Ok(rates[seen.len() - 1])
        };
        let mut stage = Stage::new(&ws, 10, ws.learning_rate);
        let kept = stage
            .run(
                Decoder::new(&cfg, 1, &Device::flex().autodiff()),
                batch,
                &mut |_, _| (),
                Some(&mut probe),
            )
            .unwrap();
        // Every second step from step 3, and the last; 6 and 8 tie, and the later is kept.
        let steps: Vec<u32> = stage.probes.iter().map(|p| p.0).collect();
        assert_eq!(steps, vec![4, 6, 8, 10]);
        assert_eq!(stage.kept_step, 8, "{:?}", stage.probes);
        assert_ne!(seen[2], seen[3], "training went on after the kept step");
        assert_eq!(fingerprint(&kept), seen[2]);
    }

    #[test]
    fn the_learning_rate_warms_up_linearly_then_follows_the_cosine_down() {
        let lr = |step| learning_rate(step, 100, 1e-2, 10);
        assert!((lr(1) - 1e-3).abs() < 1e-4, "{}", lr(1));
        assert!((lr(5) - 5e-3).abs() < 2e-4, "{}", lr(5));
        // Past the warm-up, the cosine alone: just under the peak, half at mid-stage, ~0 last.
        assert!(lr(10) > 9.5e-3 && lr(10) < 1e-2, "{}", lr(10));
        assert!((lr(51) - 5e-3).abs() < 1e-9, "{}", lr(51));
        assert!(lr(100) < 1e-5 && lr(100) > 0.0, "{}", lr(100));
        let steps: Vec<f64> = (10..=100).map(lr).collect();
        assert!(
            steps.windows(2).all(|w| w[1] <= w[0]),
            "decreasing after warm-up"
        );
        // No warm-up: the first step runs at the peak, as Burn's cosine scheduler does.
        assert_eq!(learning_rate(1, 100, 1e-2, 0), 1e-2);
    }
}
