//! Unlikelihood fine-tuning, an optional warm-start stage after supervised fine-tuning. The
//! policy keeps imitating the bootstrap lists, and at every step it also samples lists for
//! training prompts at the configured temperature:
//!
//! - the tokens that broke the format in those samples ([`crate::text::PromptBuilder::response_faults`]: a
//!   repeated query's first token and its closing line break, the letter after a "-", a
//!   terminator written too early, ...) are pushed down with the unlikelihood loss
//!   `-log(1 - p(token))` (Welleck et al. 2020, "Neural Text Generation with Unlikelihood
//!   Training", whose sequence-level form penalises repeats in the model's own samples),
//!   summed and divided by the tokens sampled, times `unlikelihood_weight`;
//! - with `unlikelihood_format_weight`, the imitation loss gains a term that raises the total
//!   probability of the tokens the format allows at each line start and after each "-" of the
//!   targets ([`crate::text::format_points`]);
//! - with `unlikelihood_repeat_weight`, it also gains Welleck et al.'s token-level
//!   unlikelihood at each query line's opening of the targets, against the tokens that opened
//!   the target's earlier lines (where a repeat would begin). It buys validity with recall:
//!   what it pushes down at a line's opening is the user's salient words, which the next
//!   query should copy too. Off by default and in the quickstart.
//!
//! Why: a small policy imitating the bootstrap lists often breaks the format at temperature
//! 1, most often by writing a query twice, and imitation alone never shows it that mistake:
//! the targets contain no repeats, so no target token is ever the one that makes one.
//! Fine-tuning on its own valid lists (`self_filter`) also teaches its invented names. All
//! its terms read only the list's format (no reward, no future click), so the stage stays
//! prompt-only like the bootstrap rule.
//!
//! The penalty is strong medicine: on a policy that has seen one fixed list a few dozen times
//! (the integration test) it raises the invalid share, because there the contexts of a repeat
//! and of the first writing look alike to the model and the push spreads to both. Its weight
//! is chosen on the validation split of real data; the measured effects are in docs/results.md.

use super::data_parallel::grads_of;
use super::warm_start::{Epochs, Stage, StageInputs, mean_nll, sample_lists};
use crate::error::Result;
use crate::policy::{Decoder, completion_logits, completion_logprobs};
use crate::text::format_points::{FormatClasses, FormatPoint};
use burn::module::Module;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};
use rand_chacha::ChaCha8Rng;

/// The largest probability a penalised token is taken to have: `-log(1 - p)` grows without
/// bound as `p` nears 1, and one near-certain mistake must not swamp the step.
const MAX_PENALISED_PROB: f64 = 1.0 - 1e-4;

/// What the unlikelihood stage did.
pub(super) struct UnlikelihoodStage {
    pub(super) losses: Vec<(u32, f32)>,
    /// (step, share of the lists sampled since the previous entry that were invalid), every
    /// tenth of the stage: the policy's validity as it trains.
    pub(super) invalid: Vec<(u32, f64)>,
    pub(super) sampled: usize,
    /// Tokens pushed down, over the stage.
    pub(super) penalised: usize,
}

/// Runs `unlikelihood_steps` steps (none when 0) on `decoder`, an autodiff decoder.
pub(super) fn unlikelihood_stage(
    decoder: Decoder,
    inputs: &StageInputs,
    rng: &mut ChaCha8Rng,
    tokens: &mut usize,
    on_step: &mut impl FnMut(&str, u32, f32),
) -> Result<(Decoder, UnlikelihoodStage)> {
    let StageInputs {
        data,
        cfg,
        builder,
        sampler,
        max_new_tokens,
        seed,
    } = *inputs;
    let mut out = UnlikelihoodStage {
        losses: Vec::new(),
        invalid: Vec::new(),
        sampled: 0,
        penalised: 0,
    };
    let steps = cfg.unlikelihood_steps;
    if steps == 0 || data.sft.is_empty() {
        return Ok((decoder, out));
    }
    let pad = builder.tokenizer.pad_id();
    let batch = cfg.batch_size as usize;
    let samples = cfg.unlikelihood_samples as usize;
    let weight = cfg.unlikelihood_weight as f32;
    let every = (steps / 10).max(1);
    let weights = TargetTerms {
        format: cfg.unlikelihood_format_weight as f32,
        repeat: cfg.unlikelihood_repeat_weight as f32,
    };
    let classes = (weights.format > 0.0 || weights.repeat > 0.0)
        .then(|| FormatClasses::new(&builder.tokenizer));
    // Targets and sampled prompts are drawn in epochs of their own over the same pairs.
    let (mut targets, mut drawn) = (Epochs::new(data.sft.len()), Epochs::new(data.sft.len()));
    let (mut window_lists, mut window_invalid) = (0usize, 0usize);
    let mut stage = Stage::new(cfg, steps, cfg.unlikelihood_learning_rate);
    let decoder = stage.run(
        decoder,
        |step, d| {
            let (p, c) = targets.next_batch(&data.sft, batch, rng, tokens);
            let imitation = match &classes {
                Some(classes) => imitation_with_target_terms(d, &p, &c, pad, classes, weights)?,
                None => mean_nll(d, &p, &c, pad)?,
            };
            let mut untrained = 0;
            let (chosen, _) = drawn.next_batch(&data.sft, samples, rng, &mut untrained);
            let step_seed = seed ^ 0x0A11_CE11_0000_0001 ^ (u64::from(step) << 40);
            let lists = sample_lists(
                &d.valid(),
                builder,
                &chosen,
                sampler,
                max_new_tokens,
                step_seed,
            )?;
            let mut negatives = Negatives::default();
            let drawn_lists = chosen.len();
            for (prompt, list) in chosen.into_iter().zip(lists) {
                // The policy can draw the pad token itself. The parser drops it, and so does
                // the stage: a list is judged and penalised as the text it decodes to.
                let list: Vec<u32> = list.into_iter().filter(|&t| t != pad).collect();
                window_invalid += usize::from(!builder.parse_response(&list).is_valid());
                let faults = builder.response_faults(&list);
                negatives.push(prompt, list, faults);
            }
            window_lists += drawn_lists;
            out.sampled += drawn_lists;
            out.penalised += negatives.count;
            if step % every == 0 || step == steps {
                out.invalid
                    .push((step, window_invalid as f64 / window_lists.max(1) as f64));
                (window_lists, window_invalid) = (0, 0);
            }
            let loss = match negatives.loss(d, pad)? {
                Some(penalty) => imitation + penalty * weight,
                None => imitation,
            };
            grads_of(d, loss)
        },
        &mut |step, loss| on_step("unlikelihood", step, loss),
        None,
    )?;
    out.losses = stage.losses;
    Ok((decoder, out))
}

/// The weights of the terms [`imitation_with_target_terms`] adds to imitation on the targets.
#[derive(Clone, Copy)]
struct TargetTerms {
    /// `unlikelihood_format_weight`: the format's classes at its decision points.
    format: f32,
    /// `unlikelihood_repeat_weight`: earlier lines' opening tokens at each later opening.
    repeat: f32,
}

/// The imitation loss (mean negative log-likelihood of the targets' tokens), plus two terms on
/// the targets themselves, each a mean over its positions. One forward pass serves all three.
///
/// - `format`: over the format decision points ([`FormatClasses::points`]), `-log` of the
///   total probability of the tokens the format allows there.
/// - `repeat`: at every query line's opening after the first ([`FormatClasses::openings`]),
///   `-log(1 - p(c))` summed over the tokens `c` that opened the target's earlier lines,
///   except the target's own token there. This is Welleck et al.'s token-level unlikelihood,
///   with the previous context narrowed to where a repeat begins: a target never repeats a
///   query, but a small policy restarts the line above it (mostly the adjacent one) as
///   induction copies it, and its sampled repeats are too few to teach it otherwise.
fn imitation_with_target_terms(
    decoder: &Decoder,
    prompts: &[Vec<u32>],
    completions: &[Vec<u32>],
    pad: u32,
    classes: &FormatClasses,
    weights: TargetTerms,
) -> Result<Tensor<1>> {
    let (logits, mask) = completion_logits(decoder, prompts, completions, pad)?;
    let [rows, cols, vocab] = logits.dims();
    let device = logits.device();
    let logp = log_softmax(logits, 2);
    let mut targets = vec![0i64; rows * cols];
    let mut at_line_start = vec![0f32; rows * cols];
    let mut after_dash = vec![0f32; rows * cols];
    // (row, position, token) of every earlier opening token penalised at a later opening.
    let mut repeats: Vec<(usize, usize, u32)> = Vec::new();
    let mut repeat_points = 0usize;
    for (r, completion) in completions.iter().enumerate() {
        for (j, &id) in completion.iter().enumerate() {
            targets[r * cols + j] = i64::from(id);
        }
        // Each term's positions are found only when the term is on: this runs every step.
        if weights.format > 0.0 {
            for (j, point) in classes.points(completion) {
                match point {
                    FormatPoint::LineStart => at_line_start[r * cols + j] = 1.0,
                    FormatPoint::AfterDash => after_dash[r * cols + j] = 1.0,
                }
            }
        }
        let openings = if weights.repeat > 0.0 {
            classes.openings(completion)
        } else {
            Vec::new()
        };
        for (k, &j) in openings.iter().enumerate() {
            let mut earlier: Vec<u32> = openings[..k].iter().map(|&i| completion[i]).collect();
            earlier.sort_unstable();
            earlier.dedup();
            earlier.retain(|&c| c != completion[j]);
            repeat_points += usize::from(!earlier.is_empty());
            repeats.extend(earlier.into_iter().map(|c| (r, j, c)));
        }
    }
    let targets = Tensor::<3, Int>::from_data(TensorData::new(targets, [rows, cols, 1]), &device);
    let picked = logp.clone().gather(2, targets).reshape([rows, cols]);
    let mut loss = -((picked * mask.clone()).sum() / mask.sum());
    let probs = logp.exp();
    let points = at_line_start
        .iter()
        .chain(&after_dash)
        .filter(|&&m| m > 0.0)
        .count();
    if points > 0 {
        let vocab_mask = |point| {
            let allowed: Vec<f32> = classes
                .allowed(point)
                .iter()
                .map(|&a| f32::from(u8::from(a)))
                .collect();
            Tensor::<3>::from_data(TensorData::new(allowed, [1, 1, vocab]), &device)
        };
        let position =
            |marks: Vec<f32>| Tensor::<2>::from_data(TensorData::new(marks, [rows, cols]), &device);
        let class_mass = |point| {
            (probs.clone() * vocab_mask(point))
                .sum_dim(2)
                .reshape([rows, cols])
        };
        let (line_start, dash) = (position(at_line_start), position(after_dash));
        let in_class = class_mass(FormatPoint::LineStart) * line_start.clone()
            + class_mass(FormatPoint::AfterDash) * dash.clone();
        let marks = line_start + dash;
        // Off the points, `in_class` is 0 and its mark 0: the clamp keeps the log finite there.
        let format = -(in_class.clamp_min(1e-12).log() * marks).sum() / points as f32;
        loss = loss + format * weights.format;
    }
    if repeat_points > 0 {
        let mut marks = vec![0f32; rows * cols * vocab];
        for &(r, j, c) in &repeats {
            marks[(r * cols + j) * vocab + c as usize] = 1.0;
        }
        let marks = Tensor::<3>::from_data(TensorData::new(marks, [rows, cols, vocab]), &device);
        let p = probs.clamp_max(MAX_PENALISED_PROB);
        let repeat = -(p.neg().add_scalar(1.0).log() * marks).sum() / repeat_points as f32;
        loss = loss + repeat * weights.repeat;
    }
    Ok(loss)
}

/// Sampled lists with at least one fault, and where their faults are.
#[derive(Default)]
struct Negatives {
    prompts: Vec<Vec<u32>>,
    completions: Vec<Vec<u32>>,
    /// (row, completion position) of every penalised token.
    faults: Vec<(usize, usize)>,
    count: usize,
    /// Tokens of every list sampled in the step, faulty or not: the penalty's denominator.
    sampled_tokens: usize,
}

impl Negatives {
    /// Counts every sampled list's tokens; keeps the list only when it has a fault.
    fn push(&mut self, prompt: Vec<u32>, completion: Vec<u32>, faults: Vec<usize>) {
        self.sampled_tokens += completion.len();
        if faults.is_empty() {
            return;
        }
        let row = self.prompts.len();
        self.count += faults.len();
        self.faults.extend(faults.into_iter().map(|j| (row, j)));
        self.prompts.push(prompt);
        self.completions.push(completion);
    }

    /// The sum of `-log(1 - p)` over the penalised tokens, divided by the number of tokens
    /// sampled (Welleck et al.'s per-token mean, in which unpenalised tokens count 0); `None`
    /// without any. Dividing by the penalised tokens alone would give each one far more weight
    /// than an imitated token (penalised tokens are a small share of those sampled), and the
    /// policy then learns to stop ending lines at all.
    fn loss(&self, decoder: &Decoder, pad: u32) -> Result<Option<Tensor<1>>> {
        if self.count == 0 {
            return Ok(None);
        }
        let (logp, _) = completion_logprobs(decoder, &self.prompts, &self.completions, pad)?;
        let [rows, cols] = logp.dims();
        let mut marks = vec![0f32; rows * cols];
        for &(row, col) in &self.faults {
            marks[row * cols + col] = 1.0;
        }
        let marks = Tensor::<2>::from_data(TensorData::new(marks, [rows, cols]), &logp.device());
        let p = logp.exp().clamp_max(MAX_PENALISED_PROB);
        let tokens = self.sampled_tokens.max(self.count);
        let penalty = -(p.neg().add_scalar(1.0).log() * marks).sum() / tokens as f32;
        Ok(Some(penalty))
    }
}

#[cfg(test)]
mod tests {
    use super::{Negatives, TargetTerms, imitation_with_target_terms};
    use crate::policy::{Decoder, completion_logits, completion_logprobs, find_preset};
    use crate::text::PolicyTokenizer;
    use crate::text::format_points::FormatClasses;
    use burn::tensor::Device;
    use burn::tensor::activation::log_softmax;

    #[test]
    fn the_repeat_term_pushes_earlier_openings_down_at_each_later_opening() {
        let texts = (0..30).map(|i| format!("- riverton hawks {i}\n- maria okafor\n"));
        let tok = PolicyTokenizer::train(texts.collect::<Vec<String>>(), 300).unwrap();
        let classes = FormatClasses::new(&tok);
        let mut cfg = find_preset("nano").unwrap().with_vocab(tok.vocab_size());
        cfg.max_positions = 64;
        let decoder = Decoder::new(&cfg, 5, &Device::flex());
        let mut target = tok.encode_plain("- riverton hawks\n- maria okafor\n- hawks\n");
        target.push(tok.end_id());
        let prompts = vec![tok.encode_plain("riverton")];
        let completions = vec![target.clone()];
        let pad = tok.pad_id();
        let loss = |repeat| -> f32 {
            let weights = TargetTerms {
                format: 0.0,
                repeat,
            };
            imitation_with_target_terms(&decoder, &prompts, &completions, pad, &classes, weights)
                .unwrap()
                .into_scalar()
        };
        let term = loss(1.0) - loss(0.0);
        // By hand: the second line's opening penalises the first's token; the third's, the
        // first two (unless one of them is its own token). Mean over the two openings.
        let open = classes.openings(&target);
        assert_eq!(open.len(), 3);
        let (logits, _) = completion_logits(&decoder, &prompts, &completions, pad).unwrap();
        let logp: Vec<f32> = log_softmax(logits, 2).into_data().try_to_vec().unwrap();
        let vocab = tok.vocab_size();
        let penalty = |j: usize, c: u32| -(1.0 - logp[j * vocab + c as usize].exp()).ln();
        let (a, b, c) = (target[open[0]], target[open[1]], target[open[2]]);
        let mut expected = penalty(open[1], a);
        for earlier in [a, b] {
            if earlier != c {
                expected += penalty(open[2], earlier);
            }
        }
        expected /= 2.0;
        assert!(term > 0.0);
        assert!((term - expected).abs() < 1e-5, "{term} vs {expected}");
    }

    #[test]
    fn the_penalty_sums_minus_log_one_minus_p_over_the_marked_tokens_per_sampled_token() {
        let mut cfg = find_preset("nano").unwrap().with_vocab(16);
        cfg.max_positions = 32;
        let decoder = Decoder::new(&cfg, 3, &Device::flex());
        let prompts = vec![vec![1, 2, 3], vec![1, 4]];
        let completions = vec![vec![5, 6, 7, 8], vec![9, 10]];
        let mut negatives = Negatives::default();
        negatives.push(prompts[0].clone(), completions[0].clone(), vec![1, 3]);
        negatives.push(vec![1], vec![2], vec![]);
        negatives.push(prompts[1].clone(), completions[1].clone(), vec![0]);
        // Every list's tokens count in the denominator (4 + 1 + 2), the faultless one's too.
        assert_eq!((negatives.prompts.len(), negatives.count), (2, 3));
        assert_eq!(negatives.sampled_tokens, 7);
        let loss: f32 = negatives
            .loss(&decoder, 0)
            .unwrap()
            .unwrap()
            .try_into_scalar()
            .unwrap();
        // By hand from the model's own log-probabilities of the three marked tokens.
        let (logp, _) = completion_logprobs(&decoder, &prompts, &completions, 0).unwrap();
        let logp: Vec<f32> = logp.into_data().try_to_vec().unwrap();
        let cols = 4;
        let expected: f32 = [logp[1], logp[3], logp[cols]]
            .iter()
            .map(|l| -(1.0 - l.exp()).ln())
            .sum::<f32>()
            / 7.0;
        assert!((loss - expected).abs() < 1e-5, "{loss} vs {expected}");
        assert!(Negatives::default().loss(&decoder, 0).unwrap().is_none());
    }
}
