//! The distillation stage of `quill run` (`[distill] enabled = true`): the student (a preset,
//! or a checkpoint teacher with fewer blocks) is warm-started like the teacher but with the
//! teacher's prompts and tokenizer (`student/policy`, or a shared `student_warm_start-<hash>`
//! stage in sweeps), then trained by the `[distill] method`
//! from the GRPO-trained teacher (or, for `none`, by GRPO alone), with held-out evaluation,
//! checkpoints and `--resume`. The distilled policy is saved under `distill/policy`.

use crate::config::Experiment;
use crate::scoring::{Scoring, checkpoint_path, policy_prompt};
use crate::stages::finished::{RunOptions, outcome_report, reuse_finished, save_finished};
use crate::stages::grpo::grpo_policy_dir;
use crate::stages::held_out::TrainingUsers;
use crate::stages::key::{
    DISTILL, STUDENT_WARM_START, distill_key, student_config, student_warm_start_key,
};
use crate::stages::warm_start::{FromTeacher, WarmStartTarget, checkpoint_dir, warm_start_into};
use anyhow::{Context, Result};
use quill::bounded_read::{JSON_BYTES, read_text_bounded};
use quill::clean::Cleaner;
use quill::data::Dataset;
use quill::device::training_device;
use quill::distill::{DistillJob, check_shared_tokenizer, distiller};
use quill::policy::{TOKENIZER_FILE, load_checkpoint, load_pretrained_shape};
use serde_json::{Value, json};
use std::path::PathBuf;

/// Where the student's warm start is saved: `student/policy`, or the sweep's shared
/// `stages/student_warm_start-<hash>`.
pub fn student_warm_start_dir(exp: &Experiment) -> PathBuf {
    STUDENT_WARM_START.dir(exp, student_warm_start_key(&exp.config))
}

/// The distillation run's directory (logs, checkpoints, the final `policy/`).
pub fn distill_dir(exp: &Experiment) -> PathBuf {
    DISTILL.dir(exp, distill_key(&exp.config))
}

/// The distilled student's final policy.
pub fn distilled_policy_dir(exp: &Experiment) -> PathBuf {
    distill_dir(exp).join("policy")
}

/// What `quill run` records of the stage.
pub struct DistillReport {
    /// The student's warm start, as `metrics.json`'s `warm_start` records the teacher's.
    pub warm_start: Value,
    /// The distillation run.
    pub distill: Value,
    /// Whether the distilled policy exists (false after `stop_after`).
    pub finished: bool,
}

/// Warm-starts the student (or reuses it) and distils it (or reuses a finished run of the
/// same config).
pub fn distill_stage(
    exp: &Experiment,
    data: &Dataset,
    cleaner: Option<&Cleaner>,
    scoring: &Scoring,
    opts: RunOptions,
) -> Result<DistillReport> {
    let cfg = &exp.config;
    let teacher_warm = checkpoint_dir(exp);
    // The teacher's prompts: its trained tokenizer's, or a checkpoint's chat template.
    let builder = policy_prompt(exp, &teacher_warm)?;
    let tokenizer = builder.tokenizer.clone();
    let (teacher_tokenizer_path, vocab_size) = match checkpoint_path(exp) {
        Some(path) => {
            let shape = load_pretrained_shape(&path)?;
            (path, shape.vocab_size)
        }
        None => (teacher_warm.join(TOKENIZER_FILE), tokenizer.vocab_size()),
    };
    let student_exp = Experiment {
        config: student_config(cfg),
        path: exp.path.clone(),
        base_dir: exp.base_dir.clone(),
        stage_dir: exp.stage_dir.clone(),
        cell: None,
        overrides: exp.overrides.clone(),
    };
    let student_warm = student_warm_start_dir(exp);
    let keep_blocks = cfg.distill.student_blocks as usize;
    match keep_blocks {
        0 => eprintln!(
            "distill: student {} warm start with the teacher's tokenizer",
            cfg.distill.student_preset
        ),
        n => eprintln!("distill: student of {n} of the checkpoint's blocks, warm start"),
    }
    let target = WarmStartTarget {
        dir: student_warm.clone(),
        config_hash: student_warm_start_key(cfg)?,
        teacher: Some(FromTeacher {
            prompt: builder.clone(),
            vocab_size,
            keep_blocks,
        }),
    };
    let warm_start = warm_start_into(&student_exp, data, cleaner, target)?;
    // The preset's name, or the checkpoint's with the blocks kept.
    let student_name = warm_start["preset"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let dir = distill_dir(exp);
    let report_path = dir.join("distill.json");
    let config_hash = distill_key(cfg)?;
    let policy_dir = distilled_policy_dir(exp);
    if let Some(saved) = reuse_finished("distill", &report_path, &config_hash, &policy_dir)? {
        return Ok(DistillReport {
            warm_start,
            distill: saved,
            finished: true,
        });
    }
    let tokenizer_json = tokenizer.to_json()?;
    let student_tokenizer_path = student_warm.join(TOKENIZER_FILE);
    let student_json = read_text_bounded(&student_tokenizer_path, JSON_BYTES, "a tokenizer file")?;
    check_shared_tokenizer(
        (&teacher_tokenizer_path, &tokenizer_json),
        (&student_tokenizer_path, &student_json),
    )?;
    let method = distiller(&cfg.distill)?;
    let teacher = if method.uses_teacher() {
        let inference = quill::device::device(cfg.experiment.device)?;
        let teacher_dir = grpo_policy_dir(exp);
        let (teacher, _) = load_checkpoint(&teacher_dir, &inference)
            .with_context(|| format!("loading the teacher {}", teacher_dir.display()))?;
        Some(teacher)
    } else {
        None
    };
    let device = training_device(cfg.experiment.device)?;
    let (student, student_cfg) = load_checkpoint(&student_warm, &device)
        .with_context(|| format!("loading the student {}", student_warm.display()))?;

    let users = TrainingUsers::of(exp, data, cleaner, scoring);
    let evaluator = users.evaluator(exp, &builder, scoring);
    let job = DistillJob {
        cfg: &cfg.distill,
        grpo: &cfg.grpo,
        sampling: &cfg.sampling,
        builder: &builder,
        composite: &scoring.composite,
        teacher: teacher.as_ref(),
        train_users: &users.train,
        evaluator: Some(&evaluator),
        seed: cfg.experiment.seed,
        dir: &dir,
        config_hash: config_hash.clone(),
        student_cfg: &student_cfg,
        stop_after: opts.stop_after,
    };
    let steps = match method.uses_teacher() {
        true => cfg.distill.steps,
        false => cfg.grpo.steps,
    };
    let estimator = method.estimator().map(|e| e.to_string());
    eprintln!(
        "distill: {}{}, {steps} steps, student {student_name} ({} parameters)",
        cfg.distill.method,
        estimator
            .as_ref()
            .map_or(String::new(), |e| format!(" ({e})")),
        student_cfg.param_count()
    );
    let outcome = method.train(&job, student, &device, opts.resume)?;
    let parts = ["sampling", "teacher_or_rewards", "update"];
    let mut report = outcome_report("distill", &config_hash, &outcome, parts);
    report["method"] = json!(cfg.distill.method);
    // Only a method with a reverse-KL estimator records one.
    report["estimator"] = json!(estimator);
    report["student_preset"] = json!(student_name);
    report["student_parameters"] = json!(student_cfg.param_count());
    if !outcome.finished {
        return Ok(DistillReport {
            warm_start,
            distill: report,
            finished: false,
        });
    }
    crate::tracking::write_hparams(exp, &dir)?;
    let provenance = json!({
        "preset": student_name, "stage": "distill", "method": cfg.distill.method,
        "steps": outcome.steps, "seed": cfg.experiment.seed,
    });
    save_finished(
        &policy_dir,
        &outcome,
        &student_cfg,
        &tokenizer_json,
        provenance,
        &report_path,
        &report,
    )?;
    Ok(DistillReport {
        warm_start,
        distill: report,
        finished: true,
    })
}
