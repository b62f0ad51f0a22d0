//! The training loop of the methods that learn from the teacher (on-policy and supervised
//! distillation): `teacher_step`s through the loop GRPO uses.

use super::DistillJob;
use super::step::{Guide, Objective, teacher_step};
use crate::error::{Error, Result};
use crate::policy::{Decoder, Policy};
use crate::train::step_loop::{LoopSpec, TrainOutcome, run_steps};
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;

/// The training loop over `teacher_step`s, after checking that the teacher reads the
/// student's vocabulary and, for on-policy distillation, that the student's lists are drawn
/// from the distribution its KL is computed on (`SamplingConfig::check_on_policy`). Supervised
/// distillation may truncate: the teacher's lists are its targets, not on-policy samples.
pub(super) fn with_teacher(
    job: &DistillJob,
    student: Decoder,
    device: &Device,
    resume: bool,
    objective: Objective,
) -> Result<TrainOutcome> {
    if matches!(objective, Objective::ReverseKl(_)) {
        job.sampling.check_on_policy("on-policy distillation")?;
    }
    let teacher = job
        .teacher
        .ok_or_else(|| Error::field("distill.method", "this method needs a teacher"))?;
    let (tv, sv) = (teacher.vocab_size(), student.vocab_size());
    if tv != sv {
        let msg = format!(
            "the teacher's vocabulary has {tv} tokens and the student's {sv}: teacher and \
             student must share a tokenizer"
        );
        return Err(Error::field("distill.student_preset", msg));
    }
    let cfg = job.cfg;
    let spec = LoopSpec {
        name: "distill",
        steps: cfg.steps,
        users_per_step: cfg.prompts_per_step as usize,
        users: job.train_users.len(),
        seed: job.seed,
        dir: job.dir,
        config_hash: &job.config_hash,
        stop_after: job.stop_after,
        save_every: cfg.save_every,
        keep_checkpoints: cfg.keep_checkpoints,
        eval_every: cfg.eval_every,
        evaluator: job.evaluator,
        weight_decay: cfg.weight_decay,
        trainable_blocks: cfg.trainable_blocks,
        lora: None,
        log_completions_every: cfg.log_completions_every,
        progress_scalar: "loss",
        decoder_cfg: job.student_cfg,
    };
    let guide = Guide { teacher, objective };
    let mut step_fn =
        |student: &mut Decoder, optim: &mut ModuleOptimizer, step, picked: &[usize]| {
            teacher_step(job, &spec, guide, student, optim, step, picked)
        };
    run_steps(&spec, student, device, resume, &mut step_fn)
}
