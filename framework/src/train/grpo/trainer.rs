//! The GRPO / Dr.GRPO loop. Each step samples `prompts_per_step` training users, draws
//! `group_size` lists per user, scores them with the composite reward, turns rewards into
//! advantages within each group, and takes `num_iterations` clipped policy-gradient steps
//! (AdamW, warm-up + cosine, global gradient-norm clipping) on that batch. Scalars go to
//! TensorBoard and JSONL under TRL's names; checkpoints make a killed run resume exactly.

use super::advantage::{advantages, group_spread, keep_groups};
use super::config::GrpoConfig;
use super::evaluate::PolicyEvaluator;
use super::likelihood_cov::{mean_token_logprobs, within_group_covariance};
use super::objective::ObjectiveConfig;
use super::optim::{clip_grad_norm, learning_rate};
use super::query_credit::{leave_one_out, token_queries};
use super::rollout::{Rollout, RolloutSpec, rollout};
use super::update::{PolicyBatch, QueryCredit, policy_grads};
use crate::data::UserRecord;
use crate::error::{Error, Result};
use crate::log::CompletionRow;
use crate::policy::{Decoder, DecoderConfig, LoraSpec, SamplingConfig, completion_logprobs_at};
use crate::reward::CompositeReward;
use crate::text::PromptBuilder;
use crate::text::query_list::QueryList;
use crate::train::data_parallel::training_shards;
use crate::train::step_loop::{
    LoopSpec, StepOutput, TrainOutcome, mean, non_finite, run_steps, sequence_seed,
};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Tensor};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Everything a GRPO run reads besides the policy.
pub struct GrpoRun<'a> {
    pub cfg: &'a GrpoConfig,
    pub sampling: &'a SamplingConfig,
    pub builder: &'a PromptBuilder,
    pub composite: &'a CompositeReward,
    /// Cleaned training users.
    pub train_users: &'a [UserRecord],
    /// Held-out (valid split) evaluation every `eval_every` steps.
    pub evaluator: Option<&'a PolicyEvaluator<'a>>,
    pub seed: u64,
    /// Logs under this directory, checkpoints under its `checkpoints/`.
    pub dir: &'a Path,
    /// Hash of the experiment config; a resume under another config is refused.
    pub config_hash: String,
    /// Stop after this step as if the process were killed there (to test resuming).
    pub stop_after: Option<u32>,
    /// Adapters to train instead of the policy's weights.
    pub lora: Option<&'a LoraSpec>,
}

/// The result of a GRPO run; `seconds` are sampling, reward scoring and updating.
pub type GrpoOutcome = TrainOutcome;

impl GrpoRun<'_> {
    pub fn checkpoint_root(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }

    /// The bookkeeping of the shared training loop for this run.
    fn loop_spec<'s>(&'s self, decoder_cfg: &'s DecoderConfig) -> LoopSpec<'s> {
        let cfg = self.cfg;
        LoopSpec {
            name: "grpo",
            steps: cfg.steps,
            users_per_step: cfg.prompts_per_step as usize,
            users: self.train_users.len(),
            seed: self.seed,
            dir: self.dir,
            config_hash: &self.config_hash,
            stop_after: self.stop_after,
            save_every: cfg.save_every,
            keep_checkpoints: cfg.keep_checkpoints,
            eval_every: cfg.eval_every,
            evaluator: self.evaluator,
            weight_decay: cfg.weight_decay,
            trainable_blocks: cfg.trainable_blocks,
            lora: self.lora,
            log_completions_every: cfg.log_completions_every,
            progress_scalar: "reward",
            decoder_cfg,
        }
    }
}

/// Trains `initial` (on the autodiff `device`, of shape `decoder_cfg`) with GRPO. With
/// `resume`, continues from the newest checkpoint under the run directory, if any. The outcome's
/// `settings` record the algorithm's resolved advantage and loss aggregation.
///
/// An error naming the `[sampling]` field before anything runs when its lists would not be
/// on-policy samples (see `SamplingConfig::check_on_policy`).
pub fn train_grpo(
    run: &GrpoRun,
    initial: Decoder,
    decoder_cfg: &DecoderConfig,
    device: &Device,
    resume: bool,
) -> Result<GrpoOutcome> {
    run.sampling.check_on_policy("GRPO")?;
    // The frozen warm start, taken before any checkpoint is loaded over `initial`.
    let reference = (run.cfg.beta > 0.0).then(|| initial.valid());
    let spec = run.loop_spec(decoder_cfg);
    let mut step_fn =
        |decoder: &mut Decoder, optim: &mut ModuleOptimizer, step, picked: &[usize]| {
            train_step(run, &spec, decoder, optim, reference.as_ref(), step, picked)
        };
    let mut outcome = run_steps(&spec, initial, device, resume, &mut step_fn)?;
    outcome.settings = run.cfg.resolved_settings();
    Ok(outcome)
}

/// One step: rollout, advantages, `num_iterations` updates. Returns the step's scalars, sample
/// rows for the completions table and its timings.
fn train_step(
    run: &GrpoRun,
    loop_spec: &LoopSpec,
    decoder: &mut Decoder,
    optim: &mut ModuleOptimizer,
    reference: Option<&Decoder>,
    step: u32,
    picked: &[usize],
) -> Result<StepOutput> {
    let cfg = run.cfg;
    let g = cfg.group_size as usize;
    let spec = RolloutSpec {
        builder: run.builder,
        composite: run.composite,
        sampler: run.sampling,
        max_new_tokens: run.sampling.max_new_tokens as usize,
        group_size: g,
    };
    let seed_of = |i: usize| sequence_seed(run.seed, step, i);
    let policy = decoder.valid();
    let roll = rollout(&policy, run.train_users, picked, &spec, seed_of)
        .map_err(|e| Error::model(format!("grpo step {step}"), e.to_string()))?;
    let rewards = roll.rewards();
    let weights = run.composite.weights();
    let advantages = advantages(&roll.scored, &weights, g, cfg.variant().advantage)?;
    let spread = group_spread(&rewards, g);
    let keep = keep_groups(&spread, cfg.zero_spread_tolerance);
    let mut scalars = rollout_scalars(run, &roll, &spread);
    scalars.insert(
        "advantage/abs_mean".into(),
        mean(advantages.iter().map(|a| a.abs() as f64)),
    );

    let t = Instant::now();
    let rows: Vec<usize> = (0..rewards.len()).filter(|&i| keep[i / g]).collect();
    let lr = learning_rate(step, cfg.steps, cfg.warmup_steps, cfg.learning_rate);
    scalars.insert("lr".into(), lr);
    scalars.insert(
        "groups_kept".into(),
        keep.iter().filter(|&&k| k).count() as f64,
    );
    let (mut loss_sum, mut clip_sum, mut kl_sum, mut norm_sum) = (0.0, 0.0, 0.0, 0.0);
    if !rows.is_empty() {
        let pad = run.builder.tokenizer.pad_id();
        let prompts: Vec<Vec<u32>> = rows.iter().map(|&i| roll.prompts[i].clone()).collect();
        let completions: Vec<Vec<u32>> = rows
            .iter()
            .map(|&i| roll.completions[i].tokens.clone())
            .collect();
        let row_advantages: Vec<f32> = rows.iter().map(|&i| advantages[i]).collect();
        let credit = if cfg.query_credit > 0.0 {
            let users: Vec<&UserRecord> = rows
                .iter()
                .map(|&i| &run.train_users[roll.users[i / g]])
                .collect();
            let lists: Vec<&QueryList> = rows.iter().map(|&i| &roll.lists[i]).collect();
            let credit = leave_one_out(run.composite, &users, &lists, &run.builder.format)?;
            let tokenizer = &run.builder.tokenizer;
            let token_query: Vec<_> = completions
                .iter()
                .map(|c| token_queries(tokenizer, c, run.builder.markers()))
                .collect();
            Some((credit, token_query))
        } else {
            None
        };
        // Constant log-probs (sampling policy, reference) computed once for the whole batch
        // without a graph; each shard of the update reads its rows of them. All of them, the
        // reference's too (as TRL), are of the distribution the lists were sampled from.
        let temperature = run.sampling.logprob_temperature();
        let constant = |model: &Decoder| -> Result<Tensor<2>> {
            Ok(completion_logprobs_at(model, &prompts, &completions, pad, temperature)?.0)
        };
        let old = if cfg.num_iterations > 1 {
            Some(constant(&policy)?)
        } else {
            None
        };
        let reference = reference.map(constant).transpose()?;
        let objective = ObjectiveConfig::from_grpo(cfg, run.sampling.max_new_tokens as usize);
        let batch = PolicyBatch {
            prompts: &prompts,
            completions: &completions,
            pad,
            temperature,
            advantages: &row_advantages,
            credit: credit.as_ref().map(|(credit, token_query)| QueryCredit {
                credit,
                token_query,
                weight: cfg.query_credit as f32,
            }),
            old_logp: old.as_ref(),
            ref_logp: reference.as_ref(),
        };
        for _ in 0..cfg.num_iterations {
            let (parts, mut grads) =
                policy_grads(&*decoder, &batch, &objective, training_shards())?;
            let loss = parts.loss;
            if !loss.is_finite() {
                return Err(non_finite(loop_spec, step, "loss", loss as f64, HINT));
            }
            let norm = clip_grad_norm(&*decoder, &mut grads, cfg.max_grad_norm);
            if !norm.is_finite() {
                return Err(non_finite(loop_spec, step, "gradient norm", norm, HINT));
            }
            *decoder = optim.step(lr, decoder.clone(), grads);
            loss_sum += loss as f64;
            clip_sum += parts.clip_ratio as f64;
            kl_sum += parts.kl as f64;
            norm_sum += norm;
        }
    }
    let iters = f64::from(cfg.num_iterations);
    scalars.insert("loss".into(), loss_sum / iters);
    scalars.insert("clip_ratio".into(), clip_sum / iters);
    if cfg.beta > 0.0 {
        scalars.insert("kl".into(), kl_sum / iters);
    }
    scalars.insert("grad_norm".into(), norm_sum / iters);
    let update = t.elapsed().as_secs_f64();
    scalars.insert("time/sampling".into(), roll.sampling_seconds);
    scalars.insert("time/scoring".into(), roll.scoring_seconds);
    scalars.insert("time/update".into(), update);
    let tokens = scalars["completions/mean_length"] * roll.completions.len() as f64;
    Ok(StepOutput {
        rows: completion_rows(run, &roll, &advantages),
        scalars,
        tokens,
        seconds: [roll.sampling_seconds, roll.scoring_seconds, update],
    })
}

const HINT: &str = "try a lower grpo.learning_rate or grpo.max_grad_norm";

/// Reward, length and validity statistics of a rollout, under TRL's names.
fn rollout_scalars(run: &GrpoRun, roll: &Rollout, spread: &[f32]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let rewards: Vec<f64> = roll.scored.iter().map(|s| s.composite as f64).collect();
    out.insert("reward".into(), mean(rewards.iter().copied()));
    out.insert("reward_std".into(), std(&rewards));
    // Which way each reward pulls the entropy (see `likelihood_cov`).
    let logp = mean_token_logprobs(&roll.completions);
    let g = roll.group_size;
    out.insert(
        "reward/logp_cov".into(),
        within_group_covariance(&rewards, &logp, g),
    );
    for (k, name) in run.composite.names().iter().enumerate() {
        let values: Vec<f64> = roll.scored.iter().map(|s| s.per_reward[k] as f64).collect();
        out.insert(format!("rewards/{name}/mean"), mean(values.iter().copied()));
        out.insert(format!("rewards/{name}/std"), std(&values));
        let cov = within_group_covariance(&values, &logp, g);
        out.insert(format!("rewards/{name}/logp_cov"), cov);
    }
    // TRL counts groups whose rewards are all equal, whatever the filtering tolerance.
    let zero = spread.iter().filter(|&&s| s < 1e-6).count();
    out.insert(
        "frac_reward_zero_std".into(),
        zero as f64 / spread.len().max(1) as f64,
    );
    let lengths: Vec<f64> = roll
        .completions
        .iter()
        .map(|c| c.tokens.len() as f64)
        .collect();
    out.insert(
        "completions/mean_length".into(),
        mean(lengths.iter().copied()),
    );
    let clipped = roll.completions.iter().filter(|c| !c.stopped).count();
    out.insert(
        "completions/clipped_ratio".into(),
        clipped as f64 / lengths.len().max(1) as f64,
    );
    // A Monte-Carlo estimate of the per-token entropy of the sampling distribution: the mean
    // of -log p of the sampled tokens under the distribution they were drawn from.
    let (sum, count) = roll
        .completions
        .iter()
        .flat_map(|c| &c.logprobs)
        .fold((0.0, 0usize), |(s, n), &lp| (s - lp as f64, n + 1));
    out.insert("entropy".into(), sum / count.max(1) as f64);
    let valid = roll.lists.iter().filter(|l| l.is_valid()).count();
    out.insert(
        "valid_rate".into(),
        valid as f64 / roll.lists.len().max(1) as f64,
    );
    out
}

/// The first list of up to `log_completions` groups, for the completions table.
fn completion_rows(run: &GrpoRun, roll: &Rollout, advantages: &[f32]) -> Vec<CompletionRow> {
    let names = run.composite.names();
    let tok = &run.builder.tokenizer;
    (0..roll.users.len())
        .take(run.cfg.log_completions as usize)
        .map(|group| {
            let i = group * roll.group_size;
            let user = &run.train_users[roll.users[group]];
            CompletionRow {
                user_id: user.id.clone(),
                prompt: tok.decode(&roll.prompts[i]),
                completion: tok.decode(&roll.completions[i].tokens),
                queries: roll.lists[i].queries.clone(),
                valid: roll.lists[i].is_valid(),
                rewards: names
                    .iter()
                    .zip(&roll.scored[i].per_reward)
                    .map(|(n, &v)| (n.to_string(), v as f64))
                    .collect(),
                composite: roll.scored[i].composite as f64,
                advantage: advantages[i] as f64,
            }
        })
        .collect()
}

/// Population standard deviation.
fn std(values: &[f64]) -> f64 {
    let m = mean(values.iter().copied());
    mean(values.iter().map(|v| (v - m).powi(2))).sqrt()
}
