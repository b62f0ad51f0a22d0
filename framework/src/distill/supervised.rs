//! The paper's "supervised distillation" baseline: cross-entropy on lists the teacher samples
//! (sequence-level KD, Kim & Rush 2016); the student never sees its own mistakes.

use super::step::Objective;
use super::with_teacher::with_teacher;
use super::{DistillConfig, DistillJob, DistillMethodPlugin, Distiller};
use crate::error::Result;
use crate::policy::Decoder;
use crate::train::step_loop::TrainOutcome;
use burn::tensor::Device;

/// Cross-entropy on the teacher's lists.
pub struct Supervised;

impl Distiller for Supervised {
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

fn build(_: &DistillConfig) -> Box<dyn Distiller> {
    Box::new(Supervised)
}

inventory::submit! {
    DistillMethodPlugin {
        name: "supervised",
        description: "baseline: cross-entropy on lists the teacher samples",
        build,
    }
}
