//! The paper's "no distillation" baseline (`[distill] method = "none"`): the student trained
//! with GRPO on the composite reward directly (the `[grpo]` section), no teacher.

use super::{DistillConfig, DistillJob, DistillMethodPlugin, Distiller};
use crate::error::Result;
use crate::policy::Decoder;
use crate::train::grpo::{GrpoRun, train_grpo};
use crate::train::step_loop::TrainOutcome;
use burn::tensor::Device;

/// No distillation: GRPO on the student.
pub struct NoTeacher;

impl Distiller for NoTeacher {
    fn uses_teacher(&self) -> bool {
        false
    }
    fn samples_on_policy(&self) -> Option<&'static str> {
        Some("GRPO")
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
            // Students are presets, trained whole.
            lora: None,
        };
        train_grpo(&run, student, job.student_cfg, device, resume)
    }
}

fn build(_: &DistillConfig) -> Box<dyn Distiller> {
    Box::new(NoTeacher)
}

inventory::submit! {
    DistillMethodPlugin {
        name: "none",
        description: "baseline: the student trained with GRPO on the rewards, no teacher",
        build,
    }
}
