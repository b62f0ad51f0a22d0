//! The paper's method (Agarwal et al. 2024, "On-Policy Distillation of Language Models";
//! Thinking Machines 2025): the student samples lists for training users, the teacher scores
//! the student's tokens, and the student minimises the reverse KL(student ‖ teacher) on its own
//! samples (`[distill] estimator`: exact over the vocabulary, or the sampled per-token
//! estimate).

use super::step::Objective;
use super::with_teacher::with_teacher;
use super::{DistillConfig, DistillJob, DistillMethodPlugin, Distiller, KlEstimator};
use crate::error::Result;
use crate::policy::Decoder;
use crate::train::step_loop::TrainOutcome;
use burn::tensor::Device;

/// Reverse KL to the teacher on the student's own lists.
pub struct OnPolicy {
    pub estimator: KlEstimator,
}

impl Distiller for OnPolicy {
    fn uses_teacher(&self) -> bool {
        true
    }
    fn samples_on_policy(&self) -> Option<&'static str> {
        Some("on-policy distillation")
    }
    fn estimator(&self) -> Option<KlEstimator> {
        Some(self.estimator)
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

fn build(cfg: &DistillConfig) -> Box<dyn Distiller> {
    Box::new(OnPolicy {
        estimator: cfg.estimator,
    })
}

inventory::submit! {
    DistillMethodPlugin {
        name: "on_policy",
        description: "the paper's method: reverse KL to the teacher on the student's own lists",
        build,
    }
}
