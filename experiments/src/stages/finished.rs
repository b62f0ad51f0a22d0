//! What the trained stages of `quill run` (GRPO, distillation) share around their training
//! loop: how an interrupted run is treated, reusing a finished run of the same config, the JSON
//! report of a run, and saving the final policy before the marker that says the stage is
//! finished.

use anyhow::{Context, Result};
use quill::io::write_json;
use quill::policy::{DecoderConfig, save_checkpoint};
use quill::train::step_loop::TrainOutcome;
use serde_json::{Value, json};
use std::path::Path;

/// How `quill run` treats an interrupted RL stage.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Continue from the newest GRPO checkpoint instead of starting over.
    pub resume: bool,
    /// Stop after this GRPO step as if killed (for testing `--resume`).
    pub stop_after: Option<u32>,
}

/// The saved report of a finished run, when `marker` holds `config_hash` and the final policy
/// exists; otherwise `None`, after deleting a marker left by another config (it must not
/// outlive the run it describes).
pub fn reuse_finished(
    stage: &str,
    marker: &Path,
    config_hash: &str,
    policy_dir: &Path,
) -> Result<Option<Value>> {
    if let Ok(text) = std::fs::read_to_string(marker) {
        let saved: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if saved["config_hash"] == json!(config_hash) && policy_dir.is_dir() {
            let dir = marker.parent().unwrap_or(marker);
            eprintln!(
                "{stage}: reusing the finished run in {} (same config)",
                dir.display()
            );
            return Ok(Some(saved));
        }
    }
    if marker.exists() {
        std::fs::remove_file(marker)
            .with_context(|| format!("removing the stale {}", marker.display()))?;
    }
    Ok(None)
}

/// The report of a run for `metrics.json`: its hash, steps, resume point, time per part
/// (named by `parts`), last step's scalars and held-out evaluations, the settings the trainer
/// resolved (if any), and `stopped_at` when it stopped early. Prints the resume point and the
/// timings.
pub fn outcome_report(
    stage: &str,
    config_hash: &str,
    outcome: &TrainOutcome,
    parts: [&str; 3],
) -> Value {
    if let Some(step) = outcome.resumed_from {
        eprintln!("{stage}: resumed from the checkpoint of step {step}");
    }
    let [a, b, c] = outcome.seconds;
    eprintln!(
        "{stage}: {} steps done; {a:.0}s {}, {b:.0}s {}, {c:.0}s {}",
        outcome.steps, parts[0], parts[1], parts[2]
    );
    let evals: Vec<Value> = outcome
        .evals
        .iter()
        .map(|(s, e)| json!({"step": s, "eval": e}))
        .collect();
    let mut report = json!({
        "config_hash": config_hash,
        "steps": outcome.steps,
        "resumed_from": outcome.resumed_from,
        "seconds": { parts[0]: a, parts[1]: b, parts[2]: c },
        "last_step": outcome.last_step,
        "valid_evals": evals,
    });
    if !outcome.finished {
        report["stopped_at"] = json!(outcome.steps);
    }
    if !outcome.settings.is_empty() {
        report["settings"] = json!(outcome.settings);
    }
    report
}

/// Saves the final policy, then `report` to `marker`: written last, its presence with the
/// config's hash marks a finished stage.
pub fn save_finished(
    policy_dir: &Path,
    outcome: &TrainOutcome,
    decoder_cfg: &DecoderConfig,
    tokenizer_json: &str,
    provenance: Value,
    marker: &Path,
    report: &Value,
) -> Result<()> {
    save_checkpoint(
        policy_dir,
        &outcome.decoder,
        decoder_cfg,
        Some(tokenizer_json.as_bytes()),
        provenance,
    )?;
    write_json(marker, report)?;
    Ok(())
}
