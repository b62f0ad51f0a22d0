//! The RL stage of `quill run`: GRPO / Dr.GRPO from the warm-started checkpoint (or a
//! pretrained checkpoint as it is, when it has no warm start) on the
//! experiment's composite reward, with held-out evaluation on the valid split, checkpoints and
//! `--resume`; the final policy is saved under `grpo/policy` beside the warm start's `policy`.

use crate::config::Experiment;
use crate::scoring::Scoring;
use crate::stages::finished::{RunOptions, outcome_report, reuse_finished, save_finished};
use crate::stages::held_out::TrainingUsers;
use crate::stages::key::{GRPO, grpo_key};
use anyhow::{Context, Result};
use quill::clean::Cleaner;
use quill::data::Dataset;
use quill::device::training_device;
use quill::policy::load_policy;
use quill::policy::peft::save_peft_adapter;
use quill::train::grpo::{GrpoRun, train_grpo};
use serde_json::{Value, json};
use std::path::PathBuf;

/// The run directory of the RL stage: logs, `checkpoints/`, the final `policy/`. Its own
/// `grpo/`, or, where stages are shared (sweep cells), `<stage_dir>/grpo-<hash>`: cells that
/// differ only in their evaluation train once.
pub fn grpo_dir(exp: &Experiment) -> PathBuf {
    GRPO.dir(exp, grpo_key(&exp.config))
}

/// Where the final GRPO policy is saved.
pub fn grpo_policy_dir(exp: &Experiment) -> PathBuf {
    grpo_dir(exp).join("policy")
}

/// Runs GRPO unless a finished run of the same config is saved; returns the report for
/// `metrics.json` and whether the final policy exists (false after `stop_after`).
pub fn grpo_stage(
    exp: &Experiment,
    data: &Dataset,
    cleaner: Option<&Cleaner>,
    scoring: &Scoring,
    opts: RunOptions,
) -> Result<(Value, bool)> {
    let cfg = &exp.config;
    let dir = grpo_dir(exp);
    let report_path = dir.join("grpo.json");
    let config_hash = grpo_key(cfg)?;
    if let Some(saved) = reuse_finished("grpo", &report_path, &config_hash, &grpo_policy_dir(exp))?
    {
        return Ok((saved, true));
    }
    let warm_dir = crate::stages::warm_start::checkpoint_dir(exp);
    let builder = crate::scoring::policy_prompt(exp, &warm_dir)?;
    let tokenizer_json = builder.tokenizer.to_json()?;
    let device = training_device(cfg.experiment.device)?;
    let start = crate::stages::warm_start::starting_policy(exp);
    let (decoder, decoder_cfg) = load_policy(&start, &device)
        .with_context(|| format!("loading GRPO's starting policy {}", start.display()))?;

    let users = TrainingUsers::of(exp, data, cleaner, scoring);
    let evaluator = users.evaluator(exp, &builder, scoring);
    let lora = cfg.policy.lora.spec();
    let run = GrpoRun {
        cfg: &cfg.grpo,
        sampling: &cfg.sampling,
        builder: &builder,
        composite: &scoring.composite,
        train_users: &users.train,
        evaluator: Some(&evaluator),
        seed: cfg.experiment.seed,
        dir: &dir,
        config_hash: config_hash.clone(),
        stop_after: opts.stop_after,
        lora: lora.as_ref(),
    };
    eprintln!(
        "grpo: {} steps × {} users × {} lists, {} ({} advantages, {} loss) ({} training users)",
        cfg.grpo.steps,
        cfg.grpo.prompts_per_step,
        cfg.grpo.group_size,
        cfg.grpo.algorithm,
        cfg.grpo.variant().advantage,
        cfg.grpo.variant().loss_aggregation,
        users.train.len()
    );
    let outcome = train_grpo(&run, decoder, &decoder_cfg, &device, opts.resume)?;
    let report = outcome_report(
        "grpo",
        &config_hash,
        &outcome,
        ["sampling", "scoring", "update"],
    );
    if !outcome.finished {
        return Ok((report, false));
    }
    if let Some(spec) = &lora {
        let base = start.display().to_string();
        save_peft_adapter(
            &dir.join("adapter"),
            &outcome.decoder,
            &decoder_cfg,
            spec,
            &base,
        )?;
    }
    crate::tracking::write_hparams(exp, &dir)?;
    let policy = crate::scoring::checkpoint_path(exp)
        .map_or_else(|| cfg.policy.preset.clone(), |p| p.display().to_string());
    let provenance = json!({
        "policy": policy, "stage": "grpo", "steps": outcome.steps,
        "seed": cfg.experiment.seed,
    });
    save_finished(
        &grpo_policy_dir(exp),
        &outcome,
        &decoder_cfg,
        &tokenizer_json,
        provenance,
        &report_path,
        &report,
    )?;
    Ok((report, true))
}
