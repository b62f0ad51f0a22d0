//! Distillation: a small, fast student learns the GRPO-trained teacher's query lists (the
//! paper's stage 4). The `Distiller` trait is the extension point: each method is one file
//! that registers a [`DistillMethodPlugin`] with `inventory::submit!`, and `[distill] method`
//! names it. The paper's distillation table has three:
//!
//! - `on_policy` (the paper's method, `on_policy.rs`): the student samples lists for training
//!   users, the teacher scores the student's tokens, and the student minimises the reverse
//!   KL(student ‖ teacher) on its own samples (`kl`: exact over the vocabulary, or the sampled
//!   per-token estimate used as an advantage);
//! - `supervised` (`supervised.rs`): cross-entropy on lists the teacher samples;
//! - `none` (`no_teacher.rs`): the student trained with GRPO on the rewards, no teacher.
//!
//! All three run through the training loop GRPO uses (`train::step_loop`): the same logs,
//! held-out evaluation, checkpoints and exact `--resume`.

mod config;
pub mod kl;
mod no_teacher;
mod on_policy;
mod step;
mod supervised;
mod with_teacher;

pub use config::{DistillConfig, KlEstimator};
pub use no_teacher::NoTeacher;
pub use on_policy::OnPolicy;
pub use supervised::Supervised;

use crate::data::UserRecord;
use crate::error::{Error, Result};
use crate::policy::{Decoder, DecoderConfig, SamplingConfig};
use crate::reward::CompositeReward;
use crate::text::PromptBuilder;
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

/// One distillation method; its name is the one its `DistillMethodPlugin` registers.
pub trait Distiller: Send + Sync {
    /// Whether it reads the teacher (the `none` baseline does not).
    fn uses_teacher(&self) -> bool;
    /// The trainer whose loss is of the student's own samples (named in the error), if any:
    /// those samples must come from the whole temperature-scaled distribution
    /// (`SamplingConfig::check_on_policy`).
    fn samples_on_policy(&self) -> Option<&'static str> {
        None
    }
    /// The reverse-KL estimator, for a method that has one.
    fn estimator(&self) -> Option<KlEstimator> {
        None
    }
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

/// A registered distillation method: its name in `[distill] method`, a line for error
/// messages, and how it is built from the section.
pub struct DistillMethodPlugin {
    pub name: &'static str,
    pub description: &'static str,
    pub build: fn(&DistillConfig) -> Box<dyn Distiller>,
}

inventory::collect!(DistillMethodPlugin);

/// The registered methods' names and descriptions, sorted by name.
pub fn distill_methods() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<(&str, &str)> = inventory::iter::<DistillMethodPlugin>
        .into_iter()
        .map(|p| (p.name, p.description))
        .collect();
    all.sort();
    all
}

/// The distiller `[distill] method` names, or an error listing the registered ones.
pub fn distiller(cfg: &DistillConfig) -> Result<Box<dyn Distiller>> {
    inventory::iter::<DistillMethodPlugin>
        .into_iter()
        .find(|p| p.name == cfg.method)
        .map(|p| (p.build)(cfg))
        .ok_or_else(|| {
            let names: Vec<&str> = distill_methods().iter().map(|(n, _)| *n).collect();
            Error::field(
                "distill.method",
                format!(
                    "unknown method {:?}: registered methods are {}",
                    cfg.method,
                    names.join(", ")
                ),
            )
        })
}

/// Teacher and student must read and write the same token ids: the KL compares their
/// distributions over one vocabulary, and supervised targets are teacher token ids. Each
/// tokenizer is given as the file it was read from and its `tokenizer.json` text (Quill's own
/// or a pretrained checkpoint's); an error naming both files when they differ.
pub fn check_shared_tokenizer(teacher: (&Path, &str), student: (&Path, &str)) -> Result<()> {
    if teacher.1 != student.1 {
        let msg = format!(
            "the teacher's tokenizer ({}) and the student's ({}) differ: teacher and student \
             must share a tokenizer (warm-start the student with the teacher's tokenizer)",
            teacher.0.display(),
            student.0.display(),
        );
        return Err(Error::field("distill.student_preset", msg));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::PolicyTokenizer;

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
        let json = |t: PolicyTokenizer| t.to_json().unwrap();
        let (a, b) = (json(a), json(b));
        assert!(check_shared_tokenizer((t, &a), (s, &b)).is_ok());
        let other = json(tokenizer(&["quantra motors", "port alder", "lumeno pro"]));
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
        // The three properties tell the three methods apart.
        for (name, teacher, on_policy, estimator) in [
            (
                "on_policy",
                true,
                Some("on-policy distillation"),
                Some(KlEstimator::Exact),
            ),
            ("supervised", true, None, None),
            ("none", false, Some("GRPO"), None),
        ] {
            let cfg = DistillConfig {
                method: name.into(),
                ..DistillConfig::default()
            };
            let d = distiller(&cfg).unwrap();
            assert_eq!(d.uses_teacher(), teacher, "{name}");
            assert_eq!(d.samples_on_policy(), on_policy, "{name}");
            assert_eq!(d.estimator(), estimator, "{name}");
        }
        let cfg = DistillConfig {
            method: "dagger".into(),
            ..DistillConfig::default()
        };
        let err = distiller(&cfg).err().unwrap().to_string();
        assert!(
            err.contains("\"dagger\"") && err.contains("none, on_policy, supervised"),
            "{err}"
        );
    }
}
