//! One step of a teacher-guided distillation: sample lists for the step's users (from the
//! student for on-policy distillation, from the teacher for supervised), score them with the
//! teacher (one forward pass, no graph), and take one AdamW step on the student's loss, whose
//! forward and backward pass run in row shards (`train::data_parallel`).

use super::DistillJob;
use super::config::KlEstimator;
use super::kl::{exact_reverse_kl, masked_token_sum, sampled_kl_surrogate, sampled_reverse_kl};
use crate::error::{Error, Result};
use crate::log::CompletionRow;
use crate::policy::{
    Completion, Decoder, Generation, completion_logits_at, completion_logprobs_at, generate_chunked,
};
use crate::train::data_parallel::{sharded_grads, training_shards};
use crate::train::grpo::{GENERATE_CHUNK, clip_grad_norm, learning_rate};
use crate::train::step_loop::{LoopSpec, StepOutput, mean, non_finite, sequence_seed};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

/// What the student minimises on the step's lists.
#[derive(Debug, Clone, Copy)]
pub enum Objective {
    /// Reverse KL to the teacher on lists the student sampled.
    ReverseKl(KlEstimator),
    /// Cross-entropy on lists the teacher sampled.
    TeacherCrossEntropy,
}

/// The teacher and what the student learns from it.
#[derive(Clone, Copy)]
pub struct Guide<'a> {
    pub teacher: &'a Decoder,
    pub objective: Objective,
}

const HINT: &str = "try a lower distill.learning_rate or distill.max_grad_norm";

/// One step for `picked` training users; see the module doc.
pub fn teacher_step(
    job: &DistillJob,
    spec: &LoopSpec,
    guide: Guide,
    student: &mut Decoder,
    optim: &mut ModuleOptimizer,
    step: u32,
    picked: &[usize],
) -> Result<StepOutput> {
    let cfg = job.cfg;
    let Guide { teacher, objective } = guide;
    let tokenizer = &job.builder.tokenizer;
    let pad = tokenizer.pad_id();
    let n = cfg.samples_per_prompt as usize;
    let prompts: Vec<Vec<u32>> = picked
        .iter()
        .flat_map(|&u| std::iter::repeat_n(job.builder.prompt(&job.train_users[u]), n))
        .collect();
    let seeds: Vec<u64> = (0..prompts.len())
        .map(|i| sequence_seed(job.seed, step, i))
        .collect();
    let end = [tokenizer.end_id()];
    let how = Generation {
        sampler: job.sampling,
        max_new_tokens: job.sampling.max_new_tokens as usize,
        stop_tokens: &end,
        pad_id: pad,
    };

    let t = Instant::now();
    let on_policy = matches!(objective, Objective::ReverseKl(_));
    let completions = match on_policy {
        true => generate_chunked(&student.valid(), &prompts, &seeds, &how, GENERATE_CHUNK)?,
        false => generate_chunked(teacher, &prompts, &seeds, &how, GENERATE_CHUNK)?,
    };
    let sampling_s = t.elapsed().as_secs_f64();
    let tokens: Vec<Vec<u32>> = completions.iter().map(|c| c.tokens.clone()).collect();

    // The teacher's side is a constant of the loss: computed without a graph. Teacher and
    // student are compared at the sampling temperature, the distribution the lists come from.
    let t = Instant::now();
    let temperature = job.sampling.logprob_temperature();
    let teacher_side = match objective {
        Objective::ReverseKl(KlEstimator::Exact) => TeacherSide::Logits(
            completion_logits_at(teacher, &prompts, &tokens, pad, temperature)?.0,
        ),
        Objective::ReverseKl(KlEstimator::Sampled) => TeacherSide::LogProbs(
            completion_logprobs_at(teacher, &prompts, &tokens, pad, temperature)?.0,
        ),
        Objective::TeacherCrossEntropy => TeacherSide::OwnSamples,
    };
    let teacher_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let batch = StudentBatch {
        prompts: &prompts,
        tokens: &tokens,
        completions: &completions,
        pad,
        temperature,
    };
    let (loss_value, mut grads, row_kl) =
        student_grads(student, &batch, &teacher_side, training_shards())?;
    if !loss_value.is_finite() {
        return Err(non_finite(spec, step, "loss", loss_value as f64, HINT));
    }
    let norm = clip_grad_norm(&*student, &mut grads, cfg.max_grad_norm);
    if !norm.is_finite() {
        return Err(non_finite(spec, step, "gradient norm", norm, HINT));
    }
    let lr = learning_rate(step, cfg.steps, cfg.warmup_steps, cfg.learning_rate);
    *student = optim.step(lr, student.clone(), grads);
    let update_s = t.elapsed().as_secs_f64();

    let (token_kl, list_kl) = token_and_list_means(&row_kl);
    let mut scalars = sample_scalars(job, &completions);
    scalars.insert("loss".into(), loss_value as f64);
    // The KL the loss pulls on: reverse KL(student ‖ teacher) on the student's lists, or the
    // forward KL(teacher ‖ student) estimate on the teacher's (supervised).
    let kl_name = if on_policy {
        "teacher_kl"
    } else {
        "teacher_forward_kl"
    };
    scalars.insert(kl_name.into(), token_kl);
    scalars.insert("grad_norm".into(), norm);
    scalars.insert("lr".into(), lr);
    scalars.insert("time/sampling".into(), sampling_s);
    scalars.insert("time/teacher".into(), teacher_s);
    scalars.insert("time/update".into(), update_s);
    let rows = completion_rows(job, picked, &prompts, &completions, &list_kl, kl_name);
    Ok(StepOutput {
        scalars,
        rows,
        tokens: tokens.iter().map(Vec::len).sum::<usize>() as f64,
        seconds: [sampling_s, teacher_s, update_s],
    })
}

/// The teacher's constant inputs to the loss, for the whole batch (on the teacher's device).
enum TeacherSide {
    Logits(Tensor<3>),
    LogProbs(Tensor<2>),
    /// Supervised: the teacher's log-probs of its own samples came with them.
    OwnSamples,
}

/// Per list, the sum of a per-token value over its real tokens and their count.
type RowSums = Vec<(f64, usize)>;

/// The lists of one step and their prompts.
struct StudentBatch<'a> {
    prompts: &'a [Vec<u32>],
    /// The completions' tokens.
    tokens: &'a [Vec<u32>],
    completions: &'a [Completion],
    pad: u32,
    /// The student's logits are divided by it, as the teacher's were (see `teacher_step`).
    temperature: f32,
}

/// The student's loss on `batch` and its gradients (not clipped), computed in `shards` row
/// shards, and each list's (sum, count) of the per-token KL the step logs.
///
/// Every objective is a mean over the batch's real tokens; each shard divides its masked sum
/// by the whole batch's token count (the completions' lengths, counted here), so the shards'
/// terms add up to the batch's mean. The teacher's logits or log-probs were computed for the
/// whole batch; a shard reads its rows and its own width (its longest completion) of them.
fn student_grads(
    student: &Decoder,
    batch: &StudentBatch,
    side: &TeacherSide,
    shards: usize,
) -> Result<(f32, GradientsParams, RowSums)> {
    let StudentBatch {
        prompts,
        tokens,
        completions,
        pad,
        temperature,
    } = *batch;
    let total = tokens.iter().map(Vec::len).sum::<usize>().max(1) as f32;
    // Each shard's per-list KL sums, keyed by its first row, put in row order below.
    let kl_rows: Mutex<Vec<(usize, RowSums)>> = Mutex::new(Vec::new());
    let (loss, grads) = sharded_grads(student, shards, prompts.len(), |d, rows| {
        let (p, c) = (&prompts[rows.clone()], &tokens[rows.clone()]);
        let (loss_bt, kl_bt, mask) = match side {
            TeacherSide::Logits(teacher) => {
                let (logits, mask) = completion_logits_at(d, p, c, pad, temperature)?;
                let [_, width, vocab] = logits.dims();
                let teacher = teacher.clone().slice([rows.clone(), 0..width, 0..vocab]);
                let kl = exact_reverse_kl(logits, teacher)?;
                (kl.clone(), kl, mask)
            }
            TeacherSide::LogProbs(teacher) => {
                let (logp, mask) = completion_logprobs_at(d, p, c, pad, temperature)?;
                let width = logp.dims()[1];
                let teacher = teacher.clone().slice([rows.clone(), 0..width]);
                let kl = sampled_reverse_kl(logp.clone().detach(), teacher.clone())?;
                (sampled_kl_surrogate(logp, teacher)?, kl, mask)
            }
            TeacherSide::OwnSamples => {
                let (logp, mask) = completion_logprobs_at(d, p, c, pad, temperature)?;
                // Forward KL's sampled estimate on the teacher's own lists: log p_t − log p_s.
                let teacher_logp = padded(&completions[rows.clone()], &mask);
                let kl = Tensor::from_data(teacher_logp, &logp.device()) - logp.clone().detach();
                (logp.neg(), kl, mask)
            }
        };
        let sums = row_sums(&kl_bt, &mask)?;
        kl_rows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((rows.start, sums));
        Ok(masked_token_sum(loss_bt, mask)?.div_scalar(total))
    })?;
    let mut kl_rows = kl_rows.into_inner().unwrap_or_else(|e| e.into_inner());
    kl_rows.sort_by_key(|(start, _)| *start);
    let rows = kl_rows.into_iter().flat_map(|(_, sums)| sums).collect();
    Ok((loss, grads, rows))
}

/// The sampler's per-token log-probs as a `[batch, longest]` tensor's data, 0 at padding.
fn padded(completions: &[Completion], mask_bt: &Tensor<2>) -> burn::tensor::TensorData {
    let [b, t] = mask_bt.dims();
    let mut values = vec![0f32; b * t];
    for (row, c) in completions.iter().enumerate() {
        values[row * t..row * t + c.logprobs.len()].copy_from_slice(&c.logprobs);
    }
    burn::tensor::TensorData::new(values, [b, t])
}

/// Length, stop, validity and entropy statistics of the sampled lists, under TRL's names.
fn sample_scalars(job: &DistillJob, completions: &[Completion]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let n = completions.len().max(1) as f64;
    let lengths = completions.iter().map(|c| c.tokens.len() as f64);
    out.insert("completions/mean_length".into(), mean(lengths));
    let clipped = completions.iter().filter(|c| !c.stopped).count();
    out.insert("completions/clipped_ratio".into(), clipped as f64 / n);
    let (sum, count) = completions
        .iter()
        .flat_map(|c| &c.logprobs)
        .fold((0.0, 0usize), |(s, k), &lp| (s - lp as f64, k + 1));
    // Per-token entropy of the sampler (student or teacher), as GRPO logs it.
    out.insert("entropy".into(), sum / count.max(1) as f64);
    let valid = completions
        .iter()
        .filter(|c| job.builder.parse_response(&c.tokens).is_valid())
        .count();
    out.insert("valid_rate".into(), valid as f64 / n);
    out
}

/// Each row's sum of `values_bt` over its real tokens (where `mask_bt` is 1) and their count.
fn row_sums(values_bt: &Tensor<2>, mask_bt: &Tensor<2>) -> Result<RowSums> {
    let t = values_bt.dims()[1];
    let (v, m) = (host(values_bt)?, host(mask_bt)?);
    Ok(v.chunks(t)
        .zip(m.chunks(t))
        .map(|(v, m)| {
            v.iter()
                .zip(m)
                .filter(|(_, m)| **m == 1.0)
                .fold((0.0f64, 0usize), |(s, n), (v, _)| (s + *v as f64, n + 1))
        })
        .collect())
}

/// The mean over all real tokens, and each list's mean over its own, from the lists'
/// [`row_sums`].
fn token_and_list_means(rows: &[(f64, usize)]) -> (f64, Vec<f64>) {
    let (sum, count) = rows
        .iter()
        .fold((0.0f64, 0usize), |(s, n), &(rs, rn)| (s + rs, n + rn));
    let lists = rows.iter().map(|&(s, n)| s / n.max(1) as f64).collect();
    (sum / count.max(1) as f64, lists)
}

fn host(x: &Tensor<2>) -> Result<Vec<f32>> {
    x.clone()
        .try_to_vec_as::<f32>()
        .map_err(|e| Error::model("distillation", format!("reading a tensor: {e:?}")))
}

/// The first list of up to `log_completions` users, with its KL to the teacher as its one
/// "reward" (there are no rewards in teacher-guided distillation).
fn completion_rows(
    job: &DistillJob,
    picked: &[usize],
    prompts: &[Vec<u32>],
    completions: &[Completion],
    list_kl: &[f64],
    kl_name: &str,
) -> Vec<CompletionRow> {
    let n = job.cfg.samples_per_prompt as usize;
    let tok = &job.builder.tokenizer;
    picked
        .iter()
        .enumerate()
        .take(job.cfg.log_completions as usize)
        .map(|(group, &u)| {
            let i = group * n;
            let list = job.builder.parse_response(&completions[i].tokens);
            CompletionRow {
                user_id: job.train_users[u].id.clone(),
                prompt: tok.decode(&prompts[i]),
                completion: tok.decode(&completions[i].tokens),
                queries: list.queries.clone(),
                valid: list.is_valid(),
                rewards: BTreeMap::from([(kl_name.to_string(), list_kl[i])]),
                composite: f64::NAN,
                advantage: f64::NAN,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::train::grpo::testing::{assert_close, assert_same_grads, batch, pico};

    /// Student (autodiff) and teacher (inference) of the `pico` preset, a batch of 6 lists of
    /// unequal lengths with made-up sampler log-probs, and the student's loss and gradients
    /// over 1 and 2 shards, with log-probs at `temperature`.
    fn one_and_two_shards(objective: Objective, temperature: f32) {
        let student = pico(3, true);
        let teacher = pico(11, false);
        let (prompts, tokens) = batch(student.vocab_size() as u32);
        let completions: Vec<Completion> = tokens
            .iter()
            .enumerate()
            .map(|(r, t)| Completion {
                tokens: t.clone(),
                logprobs: (0..t.len()).map(|i| -0.1 - ((r + i) % 7) as f32).collect(),
                stopped: r % 2 == 0,
            })
            .collect();
        let side = match objective {
            Objective::ReverseKl(KlEstimator::Exact) => TeacherSide::Logits(
                completion_logits_at(&teacher, &prompts, &tokens, 0, temperature)
                    .unwrap()
                    .0,
            ),
            Objective::ReverseKl(KlEstimator::Sampled) => TeacherSide::LogProbs(
                completion_logprobs_at(&teacher, &prompts, &tokens, 0, temperature)
                    .unwrap()
                    .0,
            ),
            Objective::TeacherCrossEntropy => TeacherSide::OwnSamples,
        };
        let batch = StudentBatch {
            prompts: &prompts,
            tokens: &tokens,
            completions: &completions,
            pad: 0,
            temperature,
        };
        let (l1, g1, kl1) = student_grads(&student, &batch, &side, 1).unwrap();
        let (l2, g2, kl2) = student_grads(&student, &batch, &side, 2).unwrap();
        let what = format!("{objective:?}");
        assert_close(l2, l1, &format!("{what} loss"));
        assert_same_grads(&student, &g2, &g1);
        assert_eq!(kl1.len(), 6);
        assert_eq!(kl2.len(), 6);
        for ((s2, n2), (s1, n1)) in kl2.iter().zip(&kl1) {
            assert_eq!(n2, n1);
            assert_close(*s2 as f32, *s1 as f32, &format!("{what} list KL"));
        }
        let lengths: Vec<usize> = tokens.iter().map(Vec::len).collect();
        assert_eq!(kl1.iter().map(|r| r.1).collect::<Vec<_>>(), lengths);
        let (token_kl, _) = token_and_list_means(&kl1);
        assert!(
            token_kl.is_finite() && token_kl != 0.0,
            "{what}: {token_kl}"
        );
    }

    #[test]
    fn sharded_exact_kl_equals_the_whole_batch() {
        one_and_two_shards(Objective::ReverseKl(KlEstimator::Exact), 1.0);
        one_and_two_shards(Objective::ReverseKl(KlEstimator::Exact), 0.7);
    }

    #[test]
    fn sharded_sampled_kl_equals_the_whole_batch() {
        one_and_two_shards(Objective::ReverseKl(KlEstimator::Sampled), 1.3);
    }

    #[test]
    fn sharded_supervised_loss_equals_the_whole_batch() {
        one_and_two_shards(Objective::TeacherCrossEntropy, 1.0);
    }

    /// A student with its teacher's weights has KL 0 only when both sides are at the same
    /// temperature: the student's logits must be divided as the teacher's are.
    #[test]
    fn a_student_equal_to_its_teacher_has_zero_kl_at_the_sampling_temperature() {
        let (student, teacher) = (pico(3, true), pico(3, false));
        let (prompts, tokens) = batch(student.vocab_size() as u32);
        let completions: Vec<Completion> = Vec::new();
        let temperature = 0.6;
        let exact = completion_logits_at(&teacher, &prompts, &tokens, 0, temperature);
        let sampled = completion_logprobs_at(&teacher, &prompts, &tokens, 0, temperature);
        let sides = [
            TeacherSide::Logits(exact.unwrap().0),
            TeacherSide::LogProbs(sampled.unwrap().0),
        ];
        for side in sides {
            let kl_at = |temperature| {
                let batch = StudentBatch {
                    prompts: &prompts,
                    tokens: &tokens,
                    completions: &completions,
                    pad: 0,
                    temperature,
                };
                let (_, _, rows) = student_grads(&student, &batch, &side, 1).unwrap();
                token_and_list_means(&rows).1
            };
            assert!(kl_at(temperature).iter().all(|kl| kl.abs() < 1e-5));
            assert!(kl_at(1.0).iter().all(|kl| kl.abs() > 1e-4));
        }
    }
}
