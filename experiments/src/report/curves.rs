//! GRPO training curves read from the runs' `grpo/scalars.jsonl`: the composite reward per
//! step by preset, and each reward per step for the reference preset, averaged over seeds.

use super::plots::Series;
use super::stats::Estimate;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A run's GRPO log: its own `grpo/`, or a sweep's shared `stages/grpo-<hash>/`.
pub fn scalars_file(run: &Path, metrics: &Value) -> PathBuf {
    let own = run.join("grpo").join("scalars.jsonl");
    if own.exists() {
        return own;
    }
    let hash = metrics["grpo"]["config_hash"].as_str().unwrap_or("");
    let experiment = run.parent().and_then(Path::parent).unwrap_or(run);
    experiment
        .join("stages")
        .join(format!("grpo-{hash}"))
        .join("scalars.jsonl")
}

/// The (step, value) pairs of `key` in one run's step scalars (evaluation lines skipped).
fn scalar(file: &Path, key: &str) -> Vec<(u64, f64)> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|v| Some((v["step"].as_u64()?, v.get(key)?.as_f64()?)))
        .collect()
}

/// Steps each side of a point in the moving average: one step scores only 16 users' lists,
/// too noisy to read a trend from.
const SMOOTH: usize = 2;

/// The mean over runs at every step that all of them logged, as a centred moving average over
/// `2 * SMOOTH + 1` steps (fewer at the ends).
fn mean_curve(files: &[PathBuf], key: &str) -> Vec<(f64, Estimate)> {
    let raw = raw_mean_curve(files, key);
    (0..raw.len())
        .map(|i| {
            let window = &raw[i.saturating_sub(SMOOTH)..(i + SMOOTH + 1).min(raw.len())];
            let mean = window.iter().map(|(_, e)| e.mean).sum::<f64>() / window.len() as f64;
            (
                raw[i].0,
                Estimate {
                    mean,
                    half_width: 0.0,
                    n: raw[i].1.n,
                },
            )
        })
        .collect()
}

fn raw_mean_curve(files: &[PathBuf], key: &str) -> Vec<(f64, Estimate)> {
    let mut by_step: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for file in files {
        for (step, v) in scalar(file, key) {
            by_step.entry(step).or_default().push(v);
        }
    }
    by_step
        .into_iter()
        .filter(|(_, vs)| vs.len() == files.len())
        .filter_map(|(step, vs)| {
            let mean = Estimate::of(&vs)?.mean;
            // Lines only: an interval bar at every step would hide the curve.
            Some((
                step as f64,
                Estimate {
                    mean,
                    half_width: 0.0,
                    n: vs.len(),
                },
            ))
        })
        .collect()
}

/// The GRPO logs of the runs at the reference of every axis but `preset` and the axes `tied`
/// to it (a learning rate zipped with the preset), by preset.
fn full_runs_by_preset(
    runs: &[(PathBuf, Value)],
    reference: &BTreeMap<String, String>,
    tied: &[String],
) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for (dir, m) in runs {
        let ablation = m["ablation"].as_str().unwrap_or("full");
        let other_axes_at_reference = m["cell"]["axes"]
            .as_object()
            .map(|axes| {
                let paths: Vec<String> = axes.keys().cloned().collect();
                axes.iter().all(|(path, v)| {
                    let short = crate::sweep::short_axis(path, &paths);
                    let text = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    matches!(short.as_str(), "seed" | "preset" | "ablation")
                        || tied.contains(&short)
                        || reference.get(&short).is_none_or(|r| *r == text)
                })
            })
            .unwrap_or(true);
        if ablation == reference.get("ablation").map_or("full", String::as_str)
            && other_axes_at_reference
        {
            let preset = m["preset"].as_str().unwrap_or("").to_string();
            out.entry(preset).or_default().push(scalars_file(dir, m));
        }
    }
    out
}

/// (composite reward per step, one series per preset, smallest first; each reward per step
/// for `preset`).
pub fn training_curves(
    runs: &[(PathBuf, Value)],
    reference: &BTreeMap<String, String>,
    tied: &[String],
) -> (Vec<Series>, Vec<Series>) {
    let groups = full_runs_by_preset(runs, reference, tied);
    let order: Vec<&str> = quill::policy::presets().iter().map(|p| p.name).collect();
    let mut composite: Vec<Series> = groups
        .iter()
        .map(|(preset, dirs)| Series {
            label: preset.clone(),
            points: mean_curve(dirs, "reward"),
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    composite.sort_by_key(|s| {
        order
            .iter()
            .position(|p| *p == s.label)
            .unwrap_or(usize::MAX)
    });
    let Some(files) = reference
        .get("preset")
        .and_then(|p| groups.get(p))
        .or(groups.values().next())
    else {
        return (composite, Vec::new());
    };
    let mut names: Vec<String> = Vec::new();
    if let Some(first) = files.first()
        && let Ok(text) = std::fs::read_to_string(first)
        && let Some(line) = text.lines().find_map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(|v| v.get("reward").is_some())
        })
        && let Some(obj) = line.as_object()
    {
        names = obj
            .keys()
            .filter_map(|k| {
                k.strip_prefix("rewards/")?
                    .strip_suffix("/mean")
                    .map(str::to_string)
            })
            .collect();
    }
    let per_reward = names
        .iter()
        .map(|name| Series {
            label: name.clone(),
            points: mean_curve(files, &format!("rewards/{name}/mean")),
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    (composite, per_reward)
}
