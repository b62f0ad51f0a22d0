//! The loop that GRPO and distillation share: users in shuffled epochs, one update step at a
//! time through a caller's step function, TRL-named scalars to TensorBoard and JSONL, held-out
//! evaluation every few steps, and checkpoints (weights, AdamW moments, cursor) that make a
//! killed run resume exactly where an uninterrupted one would be. The trainers differ only in
//! what one step samples and which loss it takes.

use super::grpo::{
    CursorState, PolicyEval, PolicyEvaluator, TrainerState, UserCursor, freeze_all_but_last_blocks,
    latest_checkpoint, load_training_checkpoint, save_training_checkpoint,
};
use crate::error::{Error, Result};
use crate::log::{CompletionRow, RunLog};
use crate::policy::{Decoder, DecoderConfig, LoraSpec};
use burn::module::Module;
use burn::optim::{AdamWConfig, ModuleOptimizer};
use burn::tensor::Device;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The bookkeeping of a training loop, whatever its steps do.
pub struct LoopSpec<'a> {
    /// The stage's name: progress bar label and error origin (`grpo`, `distill`).
    pub name: &'static str,
    pub steps: u32,
    /// Training users handed to each step.
    pub users_per_step: usize,
    /// Training users in all (the cursor shuffles their indices).
    pub users: usize,
    pub seed: u64,
    /// Logs under this directory, checkpoints under its `checkpoints/`.
    pub dir: &'a Path,
    /// Hash of the experiment config; a resume under another config is refused.
    pub config_hash: &'a str,
    /// Stop after this step as if the process were killed there (to test resuming).
    pub stop_after: Option<u32>,
    pub save_every: u32,
    pub keep_checkpoints: u32,
    pub eval_every: u32,
    /// Held-out evaluation at step 0, every `eval_every` steps and at the end.
    pub evaluator: Option<&'a PolicyEvaluator<'a>>,
    pub weight_decay: f64,
    /// Only the last this many blocks learn (0: all).
    pub trainable_blocks: u32,
    /// Adapters to train instead of the weights (then `trainable_blocks` must be 0).
    pub lora: Option<&'a LoraSpec>,
    pub log_completions_every: u32,
    /// The scalar shown beside the progress bar.
    pub progress_scalar: &'static str,
    pub decoder_cfg: &'a DecoderConfig,
}

impl LoopSpec<'_> {
    pub fn checkpoint_root(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }
}

/// What one step reports back to the loop.
pub struct StepOutput {
    /// Logged under their names (the loop adds `step_time` and `tokens_per_second`).
    pub scalars: BTreeMap<String, f64>,
    /// Sample completions for `completions.jsonl`.
    pub rows: Vec<CompletionRow>,
    /// Completion tokens the step trained on.
    pub tokens: f64,
    /// Seconds spent sampling, scoring (rewards or the teacher) and updating.
    pub seconds: [f64; 3],
}

/// The result of a run (or of the part of it this process ran).
pub struct TrainOutcome {
    /// The trained policy, on the inference device.
    pub decoder: Decoder,
    /// Steps completed in total.
    pub steps: u32,
    /// The checkpoint step this process resumed from.
    pub resumed_from: Option<u32>,
    /// Whether every configured step has run.
    pub finished: bool,
    /// The scalars of the last step this process ran.
    pub last_step: BTreeMap<String, f64>,
    /// Held-out evaluations by step, those before a resume point included.
    pub evals: Vec<(u32, PolicyEval)>,
    /// Seconds spent sampling, scoring and updating in this process.
    pub seconds: [f64; 3],
    /// Settings the trainer resolved from its config, recorded with the run's report (GRPO:
    /// the algorithm and the advantage and loss aggregation it resolves to); may be empty.
    pub settings: BTreeMap<String, String>,
}

/// One step: the policy and its optimiser, the step number (from 1) and the users' indices.
pub type StepFn<'s> =
    dyn FnMut(&mut Decoder, &mut ModuleOptimizer, u32, &[usize]) -> Result<StepOutput> + 's;

/// Trains `initial` (on the autodiff `device`) for `spec.steps` steps of `step`. With `resume`,
/// continues from the newest checkpoint under the run directory, if any; without, deletes any
/// (stale checkpoints of an earlier run must not be resumed later).
pub fn run_steps(
    spec: &LoopSpec,
    initial: Decoder,
    device: &Device,
    resume: bool,
    step_fn: &mut StepFn,
) -> Result<TrainOutcome> {
    let mut optim: ModuleOptimizer = AdamWConfig::new()
        .with_weight_decay(spec.weight_decay as f32)
        .init();
    let mut decoder = match spec.lora {
        Some(_) if spec.trainable_blocks > 0 => {
            let msg = format!(
                "{} with LoRA adapters: only the adapters train; leave trainable_blocks 0",
                spec.trainable_blocks
            );
            return Err(Error::field(format!("{}.trainable_blocks", spec.name), msg));
        }
        Some(lora) => initial.with_lora(lora, spec.decoder_cfg, spec.seed)?,
        None => initial,
    };
    let mut start = CursorState {
        epoch: 0,
        position: 0,
    };
    let mut done = 0u32;
    let root = spec.checkpoint_root();
    let mut resumed_from = None;
    let mut evals = Vec::new();
    match latest_checkpoint(&root)? {
        Some((dir, state)) if resume => {
            if state.config_hash != spec.config_hash {
                let msg = format!(
                    "the checkpoint {} was made under another config (hash {} here, {} there); \
                     run without --resume to start over",
                    dir.display(),
                    spec.config_hash,
                    state.config_hash
                );
                return Err(Error::field("--resume", msg));
            }
            (decoder, optim) = load_training_checkpoint(&dir, &state, optim, device)?;
            start = state.cursor;
            done = state.step;
            resumed_from = Some(state.step);
            evals = state.evals;
        }
        _ if root.exists() => {
            std::fs::remove_dir_all(&root).map_err(|e| Error::io(&root, e))?;
        }
        _ => {}
    }
    // After any checkpoint load: a loaded decoder has every parameter trainable again.
    let mut decoder = match decoder.has_adapters() {
        true => decoder.freeze_base(),
        false => freeze_all_but_last_blocks(decoder, spec.trainable_blocks)?,
    };
    let mut log = RunLog::open(spec.dir, resumed_from.map(u64::from))?;
    let mut cursor = UserCursor::new(spec.users, spec.seed, start);
    let mut outcome = TrainOutcome {
        decoder: decoder.valid(),
        steps: done,
        resumed_from,
        finished: done >= spec.steps,
        last_step: BTreeMap::new(),
        evals,
        seconds: [0.0; 3],
        settings: BTreeMap::new(),
    };
    if spec.users == 0 && spec.steps > done {
        let msg = "the train split has no users to sample";
        return Err(Error::field(spec.name, msg));
    }
    if done == 0 && spec.eval_every > 0 {
        evaluate(spec, &decoder, 0, &mut log, &mut outcome)?;
    }
    let bar = crate::progress::bar(u64::from(spec.steps), spec.name);
    bar.set_position(u64::from(done));
    for step in done + 1..=spec.steps {
        let t = Instant::now();
        let picked = cursor.next(spec.users_per_step);
        let out = step_fn(&mut decoder, &mut optim, step, &picked)?;
        let mut scalars = out.scalars;
        let seconds = t.elapsed().as_secs_f64();
        scalars.insert("step_time".into(), seconds);
        scalars.insert("tokens_per_second".into(), out.tokens / seconds.max(1e-9));
        for (total, s) in outcome.seconds.iter_mut().zip(out.seconds) {
            *total += s;
        }
        log.scalars(u64::from(step), &scalars)?;
        if spec.log_completions_every > 0 && step % spec.log_completions_every == 0 {
            log.completions(u64::from(step), &out.rows)?;
        }
        if let Some(v) = scalars.get(spec.progress_scalar) {
            bar.set_message(format!("{} {v:.3}", spec.progress_scalar));
        }
        bar.inc(1);
        let last = step == spec.steps;
        if spec.eval_every > 0 && (step % spec.eval_every == 0 || last) {
            evaluate(spec, &decoder, step, &mut log, &mut outcome)?;
        }
        if last
            || (spec.save_every > 0 && step % spec.save_every == 0)
            || spec.stop_after == Some(step)
        {
            let state = TrainerState {
                step,
                cursor: cursor.state(),
                config_hash: spec.config_hash.to_string(),
                decoder: spec.decoder_cfg.clone(),
                lora: spec.lora.cloned(),
                evals: outcome.evals.clone(),
            };
            log.flush()?;
            let keep = spec.keep_checkpoints as usize;
            save_training_checkpoint(&root, &state, &decoder, &optim, keep)?;
        }
        outcome.steps = step;
        outcome.last_step = scalars;
        if spec.stop_after == Some(step) {
            break;
        }
    }
    bar.finish_and_clear();
    log.flush()?;
    outcome.finished = outcome.steps >= spec.steps;
    outcome.decoder = decoder.valid();
    Ok(outcome)
}

/// Runs the held-out evaluation and logs it under `eval/`.
fn evaluate(
    spec: &LoopSpec,
    decoder: &Decoder,
    step: u32,
    log: &mut RunLog,
    outcome: &mut TrainOutcome,
) -> Result<()> {
    if let Some(evaluator) = spec.evaluator {
        let result = evaluator.evaluate(&decoder.valid())?;
        log.scalars(u64::from(step), &result.scalars("eval"))?;
        outcome.evals.push((step, result));
    }
    Ok(())
}

/// The error for a loss or gradient norm that is not finite, naming the last good checkpoint.
pub fn non_finite(spec: &LoopSpec, step: u32, what: &str, value: f64, hint: &str) -> Error {
    let last = latest_checkpoint(&spec.checkpoint_root())
        .ok()
        .flatten()
        .map_or("none yet".to_string(), |(d, _)| d.display().to_string());
    let msg = format!(
        "the {what} is {value}: training stopped; the last good checkpoint is {last} ({hint})"
    );
    Error::model(format!("{} step {step}", spec.name), msg)
}

/// The sampling seed of sequence `i` of a step: a pure function of (seed, step, i), so a
/// resumed run draws what an uninterrupted one would, whatever ran before.
pub fn sequence_seed(seed: u64, step: u32, i: usize) -> u64 {
    let key = [seed, u64::from(step), i as u64];
    let bytes: Vec<u8> = key.iter().flat_map(|k| k.to_le_bytes()).collect();
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

/// Mean of an iterator (0 when empty).
pub fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n.max(1) as f64
}
