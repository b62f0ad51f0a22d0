//! `quill run`: the pipeline — data → cleaner → statistics → tokenizer and warm start → GRPO
//! → distillation into a student (when `[distill]` is on) → validation- and test-split
//! evaluation — with results written atomically under the experiment's output directory. A
//! sweep runs this once per cell (`crate::sweep`).

use crate::config::Experiment;
pub use crate::stages::finished::RunOptions;
use anyhow::{Context, Result};
use quill::data::{Split, load_dataset};
use quill::io::{write_atomic, write_json};
use serde_json::json;
use std::time::Instant;

pub fn run(exp: &Experiment, opts: RunOptions) -> Result<()> {
    let cfg = &exp.config;
    let out = exp.output_dir();
    let seed = cfg.experiment.seed;
    eprintln!(
        "experiment {:?} (seed {seed}) → {}",
        cfg.experiment.name,
        out.display()
    );
    let shards = match cfg.experiment.device {
        quill::device::DeviceKind::Cpu => cfg.experiment.cpu_shards as usize,
        _ => 1,
    };
    quill::train::data_parallel::set_training_shards(shards);
    write_atomic(&out.join("config.toml"), resolved_toml(exp)?.as_bytes())?;

    let t = Instant::now();
    let data = load_dataset(&cfg.data, seed, &exp.base_dir)?;
    eprintln!("data: {} ({:.1}s)", data.name, t.elapsed().as_secs_f64());

    let t = Instant::now();
    let raw_stats = crate::stages::clean::stats(&data, None);
    eprintln!("{raw_stats}\n({:.1}s)", t.elapsed().as_secs_f64());

    let mut metrics =
        json!({ "experiment": cfg.experiment.name, "seed": seed, "dataset": data.name });
    if let Some(cell) = &exp.cell {
        // What `quill report` and the sweep runner read back: which cell, of which config.
        metrics["cell"] = json!({
            "id": cell.id, "hash": cell.hash, "sweeps": cell.sweeps, "axes": cell.axes,
        });
    }
    // What the speed figures depend on (the metrics do not: see `quill::device::cpu_threads`).
    metrics["environment"] = json!({
        "cpu_threads": quill::device::cpu_threads(),
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    });
    // The code behind the figures: version, commit and whether the tree had changes.
    metrics["provenance"] = crate::provenance::provenance(&exp.base_dir);
    metrics["ablation"] = json!(cfg.experiment.ablation);
    let checkpoint = crate::scoring::checkpoint_path(exp);
    metrics["preset"] = match &checkpoint {
        Some(path) => json!(path.file_name().map(|n| n.to_string_lossy())),
        None => json!(cfg.policy.preset),
    };
    let cleaner = crate::stages::clean::cleaner(exp, &data)?;
    if let Some((cleaner, report)) = &cleaner {
        metrics["cleaner"] = report.clone();
        let cleaned = crate::stages::clean::stats(&data, Some(cleaner));
        eprintln!("after cleaning:\n{cleaned}");
        write_json(
            &out.join("stats.json"),
            &json!({ "raw": raw_stats, "cleaned": cleaned }),
        )?;
    } else {
        write_json(&out.join("stats.json"), &json!({ "raw": raw_stats }))?;
    }
    metrics["users"] = json!(raw_stats.users);
    let cleaner = cleaner.as_ref().map(|(c, _)| c);
    if cfg.warm_start.enabled || checkpoint.is_some() {
        // A checkpoint as it is: the paper's prompt-only baseline.
        let mut policies = Vec::new();
        if let Some(path) = &checkpoint {
            policies.push(("prompt_only", path.clone()));
            // Every policy of this run has the checkpoint's shape.
            let shape = quill::policy::load_pretrained_shape(path)?;
            let size = json!({ "preset": metrics["preset"], "parameters": shape.param_count() });
            metrics["policies"] = json!({ "prompt_only": size, "warm_start": size, "grpo": size });
        }
        let warm_dir = crate::stages::warm_start::checkpoint_dir(exp);
        if cfg.warm_start.enabled {
            metrics["warm_start"] =
                crate::stages::warm_start::warm_start_stage(exp, &data, cleaner)?;
            policies.push(("warm_start", warm_dir.clone()));
        }
        let t = Instant::now();
        // Rewards read what the policy's prompt shows, so the policy's tokenizer comes first.
        let prompt = crate::scoring::policy_prompt(exp, &warm_dir)?;
        let view = crate::scoring::reward_view(cfg, Some(prompt))?;
        let scoring = crate::scoring::scoring(exp, data.corpus.clone(), view)?;
        eprintln!(
            "retrieval and rewards ready ({:.1}s)",
            t.elapsed().as_secs_f64()
        );
        if cfg.grpo.enabled && cfg.grpo.steps > 0 {
            let (report, finished) =
                crate::stages::grpo::grpo_stage(exp, &data, cleaner, &scoring, opts)?;
            metrics["grpo"] = report;
            if !finished {
                write_json(&out.join("metrics.json"), &metrics)?;
                eprintln!("stopped early as asked; `quill run FILE --resume` continues");
                return Ok(());
            }
            policies.push(("grpo", crate::stages::grpo::grpo_policy_dir(exp)));
        }
        if cfg.distill.enabled {
            use crate::stages::distill::{
                distill_stage, distilled_policy_dir, student_warm_start_dir,
            };
            let d = distill_stage(exp, &data, cleaner, &scoring, opts)?;
            let teacher = policy_size(&metrics["warm_start"]);
            let student = policy_size(&d.warm_start);
            // Beside a checkpoint's prompt-only entry, when there is one.
            for (policy, size) in [
                ("warm_start", &teacher),
                ("grpo", &teacher),
                ("student_warm_start", &student),
                ("student", &student),
            ] {
                metrics["policies"][policy] = size.clone();
            }
            metrics["student_warm_start"] = d.warm_start;
            metrics["distill"] = d.distill;
            if !d.finished {
                write_json(&out.join("metrics.json"), &metrics)?;
                eprintln!("stopped early as asked; `quill run FILE --resume` continues");
                return Ok(());
            }
            policies.push(("student_warm_start", student_warm_start_dir(exp)));
            policies.push(("student", distilled_policy_dir(exp)));
        }
        // Settings are chosen on the validation split and reported on the test split, so both
        // are evaluated alike (each with sampling seeds of its own).
        let t = Instant::now();
        for split in [Split::Valid, Split::Test] {
            let (section, speed) = crate::stages::evaluate::evaluate_policies(
                exp, &data, cleaner, &scoring, &policies, split,
            )?;
            metrics[split.as_str()] = section;
            // Apart from the metrics: wall-clock speeds differ between two runs of one config.
            // The test pass's are kept (one split's timing is enough).
            if split == Split::Test {
                metrics["speed"] = speed;
            }
        }
        // What `quill run --dry-run` estimates a cell's evaluation from.
        metrics["evaluation_seconds"] = json!(t.elapsed().as_secs_f64());
    }
    write_json(&out.join("metrics.json"), &metrics)?;
    eprintln!("wrote {}", out.join("metrics.json").display());
    Ok(())
}

/// The resolved config as TOML. A checkpoint policy's names its checkpoint by absolute path
/// (the file is read again from the run directory, by `serve` and `export`) and has no
/// `preset` (the field's default would read as set beside the checkpoint).
fn resolved_toml(exp: &Experiment) -> Result<String> {
    let cfg = &exp.config;
    let Some(checkpoint) = crate::scoring::checkpoint_path(exp) else {
        return toml::to_string_pretty(cfg).context("serialising the resolved config");
    };
    let mut cfg = cfg.clone();
    cfg.policy.checkpoint = Some(std::path::absolute(&checkpoint)?);
    let mut table = toml::Table::try_from(&cfg).context("serialising the resolved config")?;
    if let Some(toml::Value::Table(policy)) = table.get_mut("policy") {
        policy.remove("preset");
    }
    toml::to_string_pretty(&table).context("serialising the resolved config")
}

/// A policy's preset and parameter count, from its warm start's report.
fn policy_size(warm_start: &serde_json::Value) -> serde_json::Value {
    json!({ "preset": warm_start["preset"], "parameters": warm_start["parameters"] })
}
