//! `quill run`: the pipeline — data → cleaner → statistics → tokenizer and warm start → GRPO
//! → distillation into a student (when `[distill]` is on) → validation- and test-split
//! evaluation — with results written atomically under the experiment's output directory. A
//! sweep runs this once per cell (`crate::sweep`).

use crate::config::Experiment;
use crate::grpo_stage::RunOptions;
use anyhow::{Context, Result, bail};
use quill::clean::Cleaner;
use quill::data::{Dataset, Split, StatsBuilder, UserRecord, load_dataset};
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
    let resolved = toml::to_string_pretty(cfg).context("serialising the resolved config")?;
    write_atomic(&out.join("config.toml"), resolved.as_bytes())?;

    let t = Instant::now();
    let data = load_dataset(&cfg.data, seed, &exp.base_dir)?;
    eprintln!("data: {} ({:.1}s)", data.name, t.elapsed().as_secs_f64());

    let t = Instant::now();
    let raw_stats = stats(&data, None);
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
    metrics["ablation"] = json!(cfg.experiment.ablation);
    metrics["preset"] = json!(cfg.policy.preset);
    let cleaner = cleaner(exp, &data)?;
    if let Some((cleaner, report)) = &cleaner {
        metrics["cleaner"] = report.clone();
        let cleaned = stats(&data, Some(cleaner));
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
    if cfg.warm_start.enabled {
        metrics["warm_start"] = crate::policy_stage::warm_start_stage(exp, &data, cleaner)?;
        let t = Instant::now();
        // Rewards read what the policy's prompt shows, so the warm start's tokenizer comes first.
        let warm_dir = crate::policy_stage::checkpoint_dir(exp);
        let prompt = crate::scoring::policy_prompt(exp, &warm_dir)?;
        let view = crate::scoring::reward_view(cfg, Some(prompt))?;
        let scoring = crate::scoring::scoring(exp, data.corpus.clone(), view)?;
        eprintln!(
            "retrieval and rewards ready ({:.1}s)",
            t.elapsed().as_secs_f64()
        );
        let mut policies = vec![("warm_start", warm_dir)];
        if cfg.grpo.enabled && cfg.grpo.steps > 0 {
            let (report, finished) =
                crate::grpo_stage::grpo_stage(exp, &data, cleaner, &scoring, opts)?;
            metrics["grpo"] = report;
            if !finished {
                write_json(&out.join("metrics.json"), &metrics)?;
                eprintln!("stopped early as asked; `quill run FILE --resume` continues");
                return Ok(());
            }
            policies.push(("grpo", crate::grpo_stage::grpo_policy_dir(exp)));
        }
        if cfg.distill.enabled {
            use crate::distill_stage::{
                distill_stage, distilled_policy_dir, student_warm_start_dir,
            };
            let d = distill_stage(exp, &data, cleaner, &scoring, opts)?;
            let teacher = policy_size(&metrics["warm_start"]);
            let student = policy_size(&d.warm_start);
            metrics["policies"] = json!({
                "warm_start": teacher, "grpo": teacher,
                "student_warm_start": student, "student": student,
            });
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
        for split in [Split::Valid, Split::Test] {
            let (section, speed) = crate::evaluate_stage::evaluate_policies(
                exp, &data, cleaner, &scoring, &policies, split,
            )?;
            metrics[split.as_str()] = section;
            // Apart from the metrics: wall-clock speeds differ between two runs of one config.
            // The test pass's are kept (one split's timing is enough).
            if split == Split::Test {
                metrics["speed"] = speed;
            }
        }
    }
    write_json(&out.join("metrics.json"), &metrics)?;
    eprintln!("wrote {}", out.join("metrics.json").display());
    Ok(())
}

/// A policy's preset and parameter count, from its warm start's report.
fn policy_size(warm_start: &serde_json::Value) -> serde_json::Value {
    json!({ "preset": warm_start["preset"], "parameters": warm_start["parameters"] })
}

/// Statistics over every user, optionally after cleaning, with a progress bar.
pub fn stats(data: &Dataset, cleaner: Option<&Cleaner>) -> quill::data::DataStats {
    let n = data.users.num_users();
    let bar = quill::progress::bar(
        n as u64,
        if cleaner.is_some() {
            "cleaning"
        } else {
            "users"
        },
    );
    let mut b = StatsBuilder::default();
    for user in data.iter() {
        match cleaner {
            Some(c) => b.add(&c.clean_user(&user), &data.splits),
            None => b.add(&user, &data.splits),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    b.finish()
}

/// Trains (or loads) the cleaner and measures it on held-out test users; returns the cleaner
/// and a JSON report, or `None` when cleaning is disabled.
pub fn cleaner(exp: &Experiment, data: &Dataset) -> Result<Option<(Cleaner, serde_json::Value)>> {
    let cfg = &exp.config.cleaner;
    if !cfg.enabled {
        eprintln!("cleaner: disabled");
        return Ok(None);
    }
    let out = cleaner_dir(exp);
    // A sweep cell finds the cleaner of its seed and data if another cell saved it already
    // (saves are atomic; one that cannot be read is trained again).
    let shared = || {
        exp.stage_dir
            .as_ref()
            .and_then(|_| Cleaner::load(&out, cfg.device).ok())
    };
    let (cleaner, training) = if !cfg.load.as_os_str().is_empty() {
        let path = if cfg.load.is_relative() {
            exp.base_dir.join(&cfg.load)
        } else {
            cfg.load.clone()
        };
        (
            Cleaner::load(&path, cfg.device)?,
            json!({ "loaded_from": path }),
        )
    } else if let Some(cleaner) = shared() {
        eprintln!(
            "cleaner: reusing {} (same seed, data and cleaner config)",
            out.display()
        );
        (cleaner, json!({ "reused_from": out }))
    } else {
        if !data.has_noise_labels {
            bail!(
                "cleaner.enabled = true but dataset {} has no noise labels to train on: set cleaner.load \
                 to a saved cleaner directory, or cleaner.enabled = false",
                data.name
            );
        }
        let records = records(data, Split::Train, cfg.train_users as usize);
        let (cleaner, report) = Cleaner::train(&records, cfg, exp.config.experiment.seed)?;
        cleaner.save(&out)?;
        (cleaner, serde_json::to_value(&report)?)
    };
    let mut report = json!({ "training": training, "threshold": cfg.threshold });
    if data.has_noise_labels {
        let held_out = records(data, Split::Test, usize::MAX);
        let m = cleaner.evaluate(&held_out);
        eprintln!(
            "cleaner on {} held-out test records: precision {:.3}  recall {:.3}  F1 {:.3}",
            held_out.len(),
            m.precision,
            m.recall,
            m.f1
        );
        report["test"] = serde_json::to_value(m)?;
        write_json(&out.join("metrics.json"), &m)?;
    }
    Ok(Some((cleaner, report)))
}

/// Where the cleaner is saved: `cleaner/` in the run, or the sweep's shared
/// `stages/cleaner-<hash>`.
pub fn cleaner_dir(exp: &Experiment) -> std::path::PathBuf {
    exp.stage_path(
        "cleaner",
        "cleaner",
        crate::config::cleaner_hash(&exp.config),
    )
}

/// The cleaner an earlier `quill run` saved (or `cleaner.load` names), without training one;
/// `None` when cleaning is disabled.
pub fn saved_cleaner(exp: &Experiment) -> Result<Option<Cleaner>> {
    let cfg = &exp.config.cleaner;
    if !cfg.enabled {
        return Ok(None);
    }
    let path = match cfg.load.as_os_str().is_empty() {
        true => cleaner_dir(exp),
        false if cfg.load.is_relative() => exp.base_dir.join(&cfg.load),
        false => cfg.load.clone(),
    };
    let cleaner = Cleaner::load(&path, cfg.device).with_context(|| {
        format!(
            "loading the cleaner {} (run `quill run` first)",
            path.display()
        )
    })?;
    Ok(Some(cleaner))
}

/// Labelled records of up to `max_users` users of a split.
fn records(data: &Dataset, split: Split, max_users: usize) -> Vec<quill::data::Signal> {
    data.iter_split(split)
        .take(max_users)
        .flat_map(|u: UserRecord| u.history)
        .filter(|s| s.noise.is_some())
        .collect()
}
