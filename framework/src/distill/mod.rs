//! Distillation: a small, fast student learns the GRPO-trained teacher's query lists (the
//! paper's stage 4). The `Distiller` trait is the extension point; `[distill] method` picks one
//! of three implementations:
//!
//! - `on_policy` (the paper's method): the student samples lists for training users, the
//!   teacher scores the student's tokens, and the student minimises the reverse
//!   KL(student ‖ teacher) on its own samples (`kl`: exact over the vocabulary, or the sampled
//!   per-token estimate used as an advantage);
//! - `supervised`: cross-entropy on lists the teacher samples;
//! - `none`: the student trained with GRPO on the rewards, no teacher.
//!
//! All three run through the training loop GRPO uses (`train::step_loop`): the same logs,
//! held-out evaluation, checkpoints and exact `--resume`.

mod config;
pub mod kl;
mod methods;
mod step;

pub use config::{DistillConfig, DistillMethod, KlEstimator};
pub use methods::{NoTeacher, OnPolicy, Supervised};

use crate::data::UserRecord;
use crate::error::{Error, Result};
use crate::policy::{Decoder, DecoderConfig, SamplingConfig};
use crate::reward::CompositeReward;
use crate::text::{PolicyTokenizer, PromptBuilder};
use crate::train::grpo::{GrpoConfig, PolicyEvaluator};
use crate::train::step_loop::TrainOutcome;
use burn::tensor::Device;
use std::path::Path;

/// Everything a distillation run reads besides the student.
pub struct DistillJob<'a> {
    pub cfg: &'a DistillConfig,
    /// The RL settings, for the `none` baseline.
    pub grpo: &'a GrpoConfig,
    /// How lists are sampled (the student's for `on_policy`, the teacher's for `supervised`).
    pub sampling: &'a SamplingConfig,
    /// Prompts and parsing, with the tokenizer teacher and student share.
    pub builder: &'a PromptBuilder,
    /// The rewards, for the `none` baseline (and nothing else).
    pub composite: &'a CompositeReward,
    /// The frozen teacher, on an inference device; `None` only for methods that use none.
    pub teacher: Option<&'a Decoder>,
    /// Cleaned training users.
    pub train_users: &'a [UserRecord],
    /// Held-out (valid split) evaluation of the student every `eval_every` steps.
    pub evaluator: Option<&'a PolicyEvaluator<'a>>,
    pub seed: u64,
    /// Logs under this directory, checkpoints under its `checkpoints/`.
    pub dir: &'a Path,
    /// Hash of the experiment config; a resume under another config is refused.
    pub config_hash: String,
    /// The student's shape (saved with checkpoints).
    pub student_cfg: &'a DecoderConfig,
    /// Stop after this step as if the process were killed there (to test resuming).
    pub stop_after: Option<u32>,
}

/// One distillation method.
pub trait Distiller: Send + Sync {
    /// The method's name in `[distill] method`.
    fn name(&self) -> &'static str;
    /// Whether it reads the teacher (the `none` baseline does not).
    fn uses_teacher(&self) -> bool;
    /// Trains `student` (on the autodiff `device`); with `resume`, continues from the newest
    /// checkpoint of the same config under the run directory.
    fn train(
        &self,
        job: &DistillJob,
        student: Decoder,
        device: &Device,
        resume: bool,
    ) -> Result<TrainOutcome>;
}

/// The distiller `[distill]` selects.
pub fn distiller(cfg: &DistillConfig) -> Box<dyn Distiller> {
    match cfg.method {
        DistillMethod::OnPolicy => Box::new(OnPolicy {
            estimator: cfg.estimator,
        }),
        DistillMethod::Supervised => Box::new(Supervised),
        DistillMethod::None => Box::new(NoTeacher),
    }
}

/// Teacher and student must read and write the same token ids: the KL compares their
/// distributions over one vocabulary, and supervised targets are teacher token ids. An error
/// naming both tokenizer files otherwise.
pub fn check_shared_tokenizer(
    teacher: (&Path, &PolicyTokenizer),
    student: (&Path, &PolicyTokenizer),
) -> Result<()> {
    let (teacher_json, student_json) = (teacher.1.to_json()?, student.1.to_json()?);
    if teacher_json != student_json {
        let msg = format!(
            "the teacher's tokenizer ({}, {} tokens) and the student's ({}, {} tokens) differ: \
             teacher and student must share a tokenizer (warm-start the student with the \
             teacher's tokenizer)",
            teacher.0.display(),
            teacher.1.vocab_size(),
            student.0.display(),
            student.1.vocab_size()
        );
        return Err(Error::field("distill.student_preset", msg));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizer(words: &[&str]) -> PolicyTokenizer {
        let texts: Vec<String> = (0..40)
            .map(|i| {
                format!(
                    "{} {} news {i}",
                    words[i % words.len()],
                    words[(i + 1) % words.len()]
                )
            })
            .collect();
        PolicyTokenizer::train(&texts, 300).unwrap()
    }

    #[test]
    fn teacher_and_student_must_share_a_tokenizer() {
        let words = ["helix group", "nexora foods", "riverton hawks"];
        let (a, b) = (tokenizer(&words), tokenizer(&words));
        let (t, s) = (
            Path::new("teacher/tokenizer.json"),
            Path::new("student/tokenizer.json"),
        );
        assert!(check_shared_tokenizer((t, &a), (s, &b)).is_ok());
        let other = tokenizer(&["quantra motors", "port alder", "lumeno pro"]);
        let msg = check_shared_tokenizer((t, &a), (s, &other))
            .unwrap_err()
            .to_string();
        for part in [
            "teacher/tokenizer.json",
            "student/tokenizer.json",
            "share a tokenizer",
        ] {
            assert!(msg.contains(part), "{msg}");
        }
    }

    #[test]
    fn each_method_is_selected_by_its_toml_name() {
        for (method, name, teacher) in [
            (DistillMethod::OnPolicy, "on_policy", true),
            (DistillMethod::Supervised, "supervised", true),
            (DistillMethod::None, "none", false),
        ] {
            let cfg = DistillConfig {
                method,
                ..DistillConfig::default()
            };
            let d = distiller(&cfg);
            assert_eq!((d.name(), d.uses_teacher()), (name, teacher));
            assert_eq!(method.to_string(), name);
        }
    }
}
