//! The RL stage of `quill run`: GRPO / Dr.GRPO from the warm-started checkpoint on the
//! experiment's composite reward, with held-out evaluation on the valid split, checkpoints and
//! `--resume`; the final policy is saved under `grpo/policy` beside the warm start's `policy`.

use crate::config::Experiment;
use crate::finished_stage::{outcome_report, reuse_finished, save_finished};
use crate::scoring::Scoring;
use anyhow::{Context, Result};
use quill::clean::Cleaner;
use quill::data::{Dataset, Split, UserRecord};
use quill::device::training_device;
use quill::eval::OfflineEvaluator;
use quill::policy::{TOKENIZER_FILE, load_checkpoint};
use quill::text::{PolicyTokenizer, PromptBuilder};
use quill::train::grpo::{Decoding, GrpoRun, PolicyEvaluator, train_grpo};
use serde_json::{Value, json};
use std::path::PathBuf;

/// How `quill run` treats an interrupted RL stage.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Continue from the newest GRPO checkpoint instead of starting over.
    pub resume: bool,
    /// Stop after this GRPO step as if killed (for testing `--resume`).
    pub stop_after: Option<u32>,
}

/// The run directory of the RL stage: logs, `checkpoints/`, the final `policy/`. Its own
/// `grpo/`, or, where stages are shared (sweep cells), `<stage_dir>/grpo-<hash>`: cells that
/// differ only in their evaluation train once.
pub fn grpo_dir(exp: &Experiment) -> PathBuf {
    exp.stage_path("grpo", "grpo", crate::config::grpo_hash(&exp.config))
}

/// Where the final GRPO policy is saved.
pub fn grpo_policy_dir(exp: &Experiment) -> PathBuf {
    grpo_dir(exp).join("policy")
}

/// Cleaned users of a split (at most `limit`).
pub fn cleaned(
    data: &Dataset,
    cleaner: Option<&Cleaner>,
    split: Split,
    limit: usize,
) -> Vec<UserRecord> {
    data.iter_split(split)
        .take(limit)
        .map(|u| match cleaner {
            Some(c) => c.clean_user(&u),
            None => u,
        })
        .collect()
}

/// The cleaned validation users of the held-out checks during training (`grpo.eval_users` of
/// them) and the retrieval evaluation over their clicks.
pub fn valid_split(
    exp: &Experiment,
    data: &Dataset,
    cleaner: Option<&Cleaner>,
    scoring: &Scoring,
) -> (Vec<UserRecord>, OfflineEvaluator) {
    let cfg = &exp.config;
    let valid = cleaned(data, cleaner, Split::Valid, cfg.grpo.eval_users as usize);
    let offline = OfflineEvaluator {
        corpus: data.corpus.clone(),
        retriever: scoring.stack.retriever.clone(),
        fusion: cfg.retrieval.fusion.fusion(),
        fresh_from: data.split_date(),
    };
    (valid, offline)
}

/// The held-out check during training: greedy, as it is usually run (TRL, the paper).
pub fn held_out_evaluator<'a>(
    exp: &Experiment,
    builder: &'a PromptBuilder,
    scoring: &'a Scoring,
    offline: &'a OfflineEvaluator,
    users: Vec<UserRecord>,
) -> PolicyEvaluator<'a> {
    let cfg = &exp.config;
    PolicyEvaluator {
        decoding: Decoding::Greedy,
        builder,
        composite: &scoring.composite,
        offline,
        users,
        max_new_tokens: cfg.sampling.max_new_tokens as usize,
        batch: cfg.evaluation.batch_size as usize,
    }
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
    let config_hash = crate::config::grpo_hash(cfg)?;
    if let Some(saved) = reuse_finished("grpo", &report_path, &config_hash, &grpo_policy_dir(exp))?
    {
        return Ok((saved, true));
    }
    let warm_dir = crate::policy_stage::checkpoint_dir(exp);
    let tokenizer = PolicyTokenizer::load(&warm_dir.join(TOKENIZER_FILE))?;
    let tokenizer_json = tokenizer.to_json()?;
    let builder = PromptBuilder::new(
        tokenizer,
        cfg.policy.prompt_budget as usize,
        cfg.format.clone(),
    )?;
    let device = training_device(cfg.experiment.device)?;
    let (decoder, decoder_cfg) = load_checkpoint(&warm_dir, &device)
        .with_context(|| format!("loading the warm start {}", warm_dir.display()))?;

    let train = cleaned(data, cleaner, Split::Train, usize::MAX);
    let (valid, offline) = valid_split(exp, data, cleaner, scoring);
    let evaluator = held_out_evaluator(exp, &builder, scoring, &offline, valid);
    let run = GrpoRun {
        cfg: &cfg.grpo,
        sampling: &cfg.sampling,
        builder: &builder,
        composite: &scoring.composite,
        train_users: &train,
        evaluator: Some(&evaluator),
        seed: cfg.experiment.seed,
        dir: &dir,
        config_hash: config_hash.clone(),
        stop_after: opts.stop_after,
    };
    eprintln!(
        "grpo: {} steps × {} users × {} lists, {} ({} advantages, {} loss) ({} training users)",
        cfg.grpo.steps,
        cfg.grpo.prompts_per_step,
        cfg.grpo.group_size,
        cfg.grpo.algorithm,
        cfg.grpo.variant().advantage,
        cfg.grpo.variant().loss_aggregation,
        train.len()
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
    let provenance = json!({
        "preset": cfg.policy.preset, "stage": "grpo", "steps": outcome.steps,
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
