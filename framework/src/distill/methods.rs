//! The three `Distiller`s of `[distill] method`.

use super::step::{Guide, Objective, teacher_step};
use super::{DistillJob, Distiller, KlEstimator};
use crate::error::{Error, Result};
use crate::policy::{Decoder, Policy};
use crate::train::grpo::{GrpoRun, train_grpo};
use crate::train::step_loop::{LoopSpec, TrainOutcome, run_steps};
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;

/// The paper's on-policy distillation: reverse KL to the teacher on the student's own lists.
pub struct OnPolicy {
    pub estimator: KlEstimator,
}

/// Supervised distillation: cross-entropy on the teacher's lists.
pub struct Supervised;

/// No distillation: GRPO on the student, no teacher.
pub struct NoTeacher;

impl Distiller for OnPolicy {
    fn name(&self) -> &'static str {
        "on_policy"
    }
    fn uses_teacher(&self) -> bool {
        true
    }
    fn train(
        &self,
        job: &DistillJob,
        student: Decoder,
        device: &Device,
        resume: bool,
    ) -> Result<TrainOutcome> {
        with_teacher(
            job,
            student,
            device,
            resume,
            Objective::ReverseKl(self.estimator),
        )
    }
}

impl Distiller for Supervised {
    fn name(&self) -> &'static str {
        "supervised"
    }
    fn uses_teacher(&self) -> bool {
        true
    }
    fn train(
        &self,
        job: &DistillJob,
        student: Decoder,
        device: &Device,
        resume: bool,
    ) -> Result<TrainOutcome> {
        with_teacher(job, student, device, resume, Objective::TeacherCrossEntropy)
    }
}

impl Distiller for NoTeacher {
    fn name(&self) -> &'static str {
        "none"
    }
    fn uses_teacher(&self) -> bool {
        false
    }
    /// GRPO on the composite reward with the `[grpo]` section, from the student's warm start:
    /// the paper's "0.5B trained with RL directly".
    fn train(
        &self,
        job: &DistillJob,
        student: Decoder,
        device: &Device,
        resume: bool,
    ) -> Result<TrainOutcome> {
        let run = GrpoRun {
            cfg: job.grpo,
            sampling: job.sampling,
            builder: job.builder,
            composite: job.composite,
            train_users: job.train_users,
            evaluator: job.evaluator,
            seed: job.seed,
            dir: job.dir,
            config_hash: job.config_hash.clone(),
            stop_after: job.stop_after,
        };
        train_grpo(&run, student, job.student_cfg, device, resume)
    }
}

/// The training loop over `teacher_step`s, after checking that the teacher reads the
/// student's vocabulary and, for on-policy distillation, that the student's lists are drawn
/// from the distribution its KL is computed on (`SamplingConfig::check_on_policy`). Supervised
/// distillation may truncate: the teacher's lists are its targets, not on-policy samples.
fn with_teacher(
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
