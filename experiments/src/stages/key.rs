//! Stage keys: a saved stage is reused, and a killed one resumed, only under the same key.
//!
//! Each stage declares the config fields its result depends on beyond the stages it reads, and
//! its key hashes their values together with those stages' keys. So two sweep cells that differ
//! only in what comes after a stage (GRPO settings after the warm start, the distillation method
//! after GRPO, the evaluation after everything) share that stage, and a change to anything a
//! stage reads, directly or through an earlier stage, trains it again. The test below checks
//! that every field of the experiment file is either read by some stage or listed as shaping no
//! trained result.

use crate::config::{Experiment, ExperimentConfig};
use anyhow::{Context, Result, anyhow};
use serde_json::Value;
use std::path::PathBuf;

/// What a stage's saved result depends on, and where it is kept.
#[derive(Debug)]
pub struct StageKey {
    /// Its kind: a sweep keeps it in `stages/<kind>-<key>/`.
    pub kind: &'static str,
    /// Its directory inside a single run's output directory.
    pub own_dir: &'static str,
    /// The dotted config paths (a whole section, or one field) it reads beyond its inputs.
    pub depends_on: &'static [&'static str],
}

/// The noise cleaner: trained on the data's labelled records.
pub const CLEANER: StageKey = StageKey {
    kind: "cleaner",
    own_dir: "cleaner",
    depends_on: &["experiment.seed", "data", "cleaner"],
};

/// The tokenizer and warm start: the cleaned training users, the prompt format, the preset,
/// its fine-tuning and the sampled lists that measure its validity.
pub const WARM_START: StageKey = StageKey {
    kind: "warm_start",
    own_dir: "policy",
    depends_on: &[
        "experiment.seed",
        "experiment.device",
        "experiment.cpu_shards",
        "data",
        "cleaner",
        "format",
        "policy",
        "warm_start",
        "sampling",
    ],
};

/// GRPO from the warm start: the rewards (and what they retrieve with), the ablation, and its
/// own settings.
pub const GRPO: StageKey = StageKey {
    kind: "grpo",
    own_dir: "grpo",
    depends_on: &[
        "experiment.ablation",
        "retrieval",
        "composite",
        "judge",
        "rewards",
        "grpo",
    ],
};

/// The student's warm start: for a checkpoint teacher, how many of its blocks the student
/// keeps. Its inputs are [`WARM_START`]'s key of the student's config (see
/// [`student_warm_start_key`]) and the teacher's warm start, whose tokenizer it takes.
pub const STUDENT_WARM_START: StageKey = StageKey {
    kind: "student_warm_start",
    own_dir: "student/policy",
    depends_on: &["distill.student_blocks"],
};

/// Distillation into the student, from the GRPO teacher (or GRPO alone, for `none`).
pub const DISTILL: StageKey = StageKey {
    kind: "distill",
    own_dir: "distill",
    depends_on: &["distill"],
};

/// The fields that shape no trained result: the run's name and place, the evaluation after
/// training, and the sweeps (a cell's config has its axes' values already).
pub const NOT_TRAINED_ON: [&str; 4] = [
    "experiment.name",
    "experiment.output_dir",
    "evaluation",
    "sweep",
];

impl StageKey {
    /// The key: a hash of the declared fields of `cfg` and of the `inputs`' keys.
    pub fn hash(&self, cfg: &ExperimentConfig, inputs: &[&str]) -> Result<String> {
        let tree = serde_json::to_value(cfg).context("serialising the resolved config")?;
        let mut parts = Vec::with_capacity(self.depends_on.len());
        for path in self.depends_on {
            let value = lookup(&tree, path).ok_or_else(|| {
                anyhow!("stage {}: no config field {path} to depend on", self.kind)
            })?;
            parts.push(Value::from(vec![Value::from(*path), value.clone()]));
        }
        let text = serde_json::to_string(&(parts, inputs))
            .with_context(|| format!("serialising the {} stage's key", self.kind))?;
        Ok(format!(
            "{:016x}",
            xxhash_rust::xxh3::xxh3_64(text.as_bytes())
        ))
    }

    /// Where the stage is kept: `<output dir>/<own_dir>`, or, in a sweep, the shared
    /// `<stage dir>/<kind>-<key>`.
    pub fn dir(&self, exp: &Experiment, key: Result<String>) -> PathBuf {
        exp.stage_path(self.own_dir, self.kind, key)
    }
}

/// The value at a dotted path.
fn lookup<'a>(tree: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(tree, |node, part| node.get(part))
}

/// The cleaner's key.
pub fn cleaner_key(cfg: &ExperimentConfig) -> Result<String> {
    CLEANER.hash(cfg, &[])
}

/// The warm start's key.
pub fn warm_start_key(cfg: &ExperimentConfig) -> Result<String> {
    WARM_START.hash(cfg, &[])
}

/// GRPO's key: its fields and the warm start it starts from.
pub fn grpo_key(cfg: &ExperimentConfig) -> Result<String> {
    GRPO.hash(cfg, &[&warm_start_key(cfg)?])
}

/// The config of the student's warm start: the experiment's, with the student's policy,
/// warm-start learning rate and fine-tuning steps. The student's policy is its preset; for a
/// checkpoint teacher, the checkpoint itself when `distill.student_blocks` prunes it, else the
/// preset from scratch. A student trains all its weights: it has no adapters.
pub fn student_config(c: &ExperimentConfig) -> ExperimentConfig {
    let mut student = c.clone();
    student.policy.lora = Default::default();
    if c.policy.checkpoint.is_none() || c.distill.student_blocks == 0 {
        student.policy.checkpoint = None;
        student.policy.preset = c.distill.student_preset.clone();
    }
    if c.distill.student_warm_start_lr > 0.0 {
        student.warm_start.learning_rate = c.distill.student_warm_start_lr;
    }
    if c.distill.student_sft_steps > 0 {
        student.warm_start.sft_steps = c.distill.student_sft_steps;
    }
    student
}

/// The student warm start's key: the warm-start key of the student's config (the same fields
/// as the teacher's warm start reads), the blocks it keeps, and the teacher's warm start, whose
/// tokenizer it uses.
pub fn student_warm_start_key(cfg: &ExperimentConfig) -> Result<String> {
    let as_warm_start = warm_start_key(&student_config(cfg))?;
    STUDENT_WARM_START.hash(cfg, &[&as_warm_start, &warm_start_key(cfg)?])
}

/// The distillation's key: its section, the teacher (GRPO) and the student's warm start.
pub fn distill_key(cfg: &ExperimentConfig) -> Result<String> {
    DISTILL.hash(cfg, &[&grpo_key(cfg)?, &student_warm_start_key(cfg)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use std::path::Path;

    fn parsed(src: &str) -> ExperimentConfig {
        parse(src, Path::new("t.toml")).unwrap()
    }

    #[test]
    fn every_field_is_read_by_a_stage_or_shapes_no_trained_result() {
        let declared: Vec<&str> = [CLEANER, WARM_START, GRPO, DISTILL]
            .iter()
            .flat_map(|k| k.depends_on.iter().copied())
            .chain(NOT_TRAINED_ON)
            .collect();
        let tree = serde_json::to_value(parsed("")).unwrap();
        let mut fields: Vec<String> = Vec::new();
        for (section, value) in tree.as_object().unwrap() {
            match (section.as_str(), value.as_object()) {
                // [experiment] mixes fields every stage reads with naming: field by field.
                ("experiment", Some(inner)) => {
                    fields.extend(inner.keys().map(|k| format!("experiment.{k}")))
                }
                _ => fields.push(section.clone()),
            }
        }
        let missing: Vec<&String> = fields
            .iter()
            .filter(|f| !declared.contains(&f.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "declare these in a stage's depends_on or in NOT_TRAINED_ON: {missing:?}"
        );
        // And every declared path exists.
        for path in &declared {
            assert!(lookup(&tree, path).is_some(), "{path}");
        }
    }

    #[test]
    fn the_student_warm_start_reads_what_the_warm_start_reads_and_its_blocks() {
        // Each warm-start field of the student's config changes its key, as it changes the
        // teacher's warm start's.
        let key = |src: &str| student_warm_start_key(&parsed(src)).unwrap();
        let base = key("");
        for path in WARM_START.depends_on {
            let (section, field) = path.split_once('.').unwrap_or((path, ""));
            let changed = match (section, field) {
                ("experiment", "seed") => "[experiment]\nseed = 9\n",
                ("experiment", "device") => "[experiment]\ndevice = \"wgpu\"\n",
                ("experiment", "cpu_shards") => "[experiment]\ncpu_shards = 1\n",
                ("data", _) => "[data]\nusers = 700\n",
                ("cleaner", _) => "[cleaner]\nepochs = 5\n",
                ("format", _) => "[format]\nmax_queries = 7\n",
                ("policy", _) => "[policy]\nprompt_budget = 100\n",
                ("warm_start", _) => "[warm_start]\nbatch_size = 3\n",
                ("sampling", _) => "[sampling]\ntemperature = 0.7\n",
                other => panic!("no change written for {other:?}"),
            };
            assert_ne!(key(changed), base, "{path}");
        }
        let pruned = |n: u32| {
            let src =
                format!("[policy]\ncheckpoint = \"x.gguf\"\n[distill]\nstudent_blocks = {n}\n");
            student_warm_start_key(&parsed(&src)).unwrap()
        };
        assert_ne!(pruned(6), pruned(10));
    }

    #[test]
    fn grpo_key_ignores_naming_and_evaluation_but_not_training() {
        let key = |src: &str| grpo_key(&parsed(src)).unwrap();
        let base = key("[experiment]\nname = \"a\"\n");
        assert_eq!(
            key("[experiment]\nname = \"b\"\noutput_dir = \"elsewhere\"\n"),
            base
        );
        assert_eq!(
            key("[experiment]\nname = \"a\"\n[evaluation]\nsamples_per_user = 16\n"),
            base
        );
        assert_eq!(key("[distill]\nenabled = true\n"), key(""));
        for changed in [
            "[experiment]\nname = \"a\"\nseed = 7\n",
            "[experiment]\nname = \"a\"\n[grpo]\nlearning_rate = 1e-4\n",
            "[experiment]\nname = \"a\"\n[rewards.interest_coverage]\nweight = 3.0\n",
            // Through the warm start it starts from.
            "[experiment]\nname = \"a\"\n[warm_start]\nsft_steps = 10\n",
        ] {
            assert_ne!(key(changed), base, "{changed}");
        }
    }

    #[test]
    fn the_warm_start_is_shared_by_settings_after_it() {
        let key = |src: &str| warm_start_key(&parsed(src)).unwrap();
        let base = key("");
        for later in [
            "[grpo]\nlearning_rate = 1e-4\n",
            "[rewards.interest_coverage]\nweight = 3.0\n",
            "[experiment]\nablation = \"no_intra_list_diversity\"\n",
            "[distill]\nenabled = true\n",
        ] {
            assert_eq!(key(later), base, "{later}");
        }
        assert_ne!(key("[policy]\npreset = \"tiny\"\n"), base);
        assert_eq!(
            cleaner_key(&parsed("[policy]\npreset = \"tiny\"\n")).unwrap(),
            cleaner_key(&parsed("")).unwrap()
        );
    }

    #[test]
    fn distillation_settings_change_only_the_distillation_and_student_keys() {
        let base = parsed("[distill]\nenabled = true\n");
        let other = parsed("[distill]\nenabled = true\nmethod = \"supervised\"\n");
        assert_eq!(grpo_key(&base).unwrap(), grpo_key(&other).unwrap());
        assert_eq!(
            warm_start_key(&base).unwrap(),
            warm_start_key(&other).unwrap()
        );
        assert_ne!(distill_key(&base).unwrap(), distill_key(&other).unwrap());
        // The student's warm start depends on its preset, not on how it is distilled.
        let same = student_warm_start_key(&base).unwrap();
        assert_eq!(same, student_warm_start_key(&other).unwrap());
        let tiny = parsed("[distill]\nenabled = true\nstudent_preset = \"tiny\"\n");
        assert_ne!(same, student_warm_start_key(&tiny).unwrap());
        assert_eq!(student_config(&tiny).policy.preset, "tiny");
        let short = parsed("[distill]\nenabled = true\nstudent_sft_steps = 300\n");
        assert_ne!(same, student_warm_start_key(&short).unwrap());
        assert_eq!(student_config(&short).warm_start.sft_steps, 300);
        assert_eq!(
            student_config(&base).warm_start.sft_steps,
            base.warm_start.sft_steps
        );
        // ... and on the teacher's warm start, whose tokenizer it shares.
        let teacher = parsed("[distill]\nenabled = true\n[policy]\npreset = \"mini\"\n");
        assert_ne!(same, student_warm_start_key(&teacher).unwrap());
        // The distillation reads the teacher: a GRPO setting changes it.
        let lr = parsed("[distill]\nenabled = true\n[grpo]\nlearning_rate = 1e-4\n");
        assert_ne!(distill_key(&base).unwrap(), distill_key(&lr).unwrap());
    }
}
