//! The first stage: the noise cleaner, trained on the train split's labelled records (or
//! loaded), measured on the test split's, and shared by sweep cells of one seed and data; and
//! the dataset statistics before and after cleaning.

use crate::config::Experiment;
use anyhow::{Context, Result, bail};
use quill::clean::Cleaner;
use quill::data::{Dataset, Split, StatsBuilder, UserRecord};
use quill::io::{resolve_path, write_json};
use serde_json::json;

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
        let path = resolve_path(&exp.base_dir, &cfg.load);
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
    crate::stages::key::CLEANER.dir(exp, crate::stages::key::cleaner_key(&exp.config))
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
        false => resolve_path(&exp.base_dir, &cfg.load),
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
