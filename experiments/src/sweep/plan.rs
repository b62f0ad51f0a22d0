//! The plan of a run before it starts (`quill run --dry-run`, `quill validate`): which cells are
//! finished, which trained stages each of the others trains or reuses (saved on disk, or
//! trained by an earlier cell of the same run), and a rough time estimate from the stage
//! timings this output directory has recorded.

use super::Cell;
use crate::config::Experiment;
use crate::stages::distill::{distill_dir, student_warm_start_dir};
use crate::stages::grpo::grpo_dir;
use crate::stages::key::{distill_key, grpo_key, student_warm_start_key, warm_start_key};
use crate::stages::warm_start::checkpoint_dir;
use anyhow::Result;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// A trained stage of a cell, and what the run will do about it.
#[derive(Debug, Clone, PartialEq)]
pub struct StageStep {
    pub kind: &'static str,
    pub dir: PathBuf,
    pub state: StepState,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepState {
    /// Saved under the same key: reused.
    Saved,
    /// Trained by this cell.
    Trains,
    /// Trained by the named earlier cell of this run, then reused.
    SharedWith(String),
}

/// One cell (or the single run) and its stages.
#[derive(Debug, Clone, PartialEq)]
pub struct CellPlan {
    pub id: String,
    pub finished: bool,
    pub stages: Vec<StageStep>,
}

/// The plan of `exp`: one entry per cell, or one for a run without sweeps (never finished:
/// `quill run` evaluates it again).
pub fn plan(exp: &Experiment, cells: &[Cell]) -> Result<Vec<CellPlan>> {
    let mut trained_by: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut plans = Vec::new();
    let mut add = |id: String, run: &Experiment, finished: bool| -> Result<()> {
        let mut stages = Vec::new();
        for (kind, dir, key, marker) in trained_stages(run)? {
            let state = if marker_has_key(&dir.join(marker), &key) {
                StepState::Saved
            } else if let Some(first) = trained_by.get(&dir) {
                StepState::SharedWith(first.clone())
            } else {
                if !finished {
                    trained_by.insert(dir.clone(), id.clone());
                }
                StepState::Trains
            };
            stages.push(StageStep { kind, dir, state });
        }
        plans.push(CellPlan {
            id,
            finished,
            stages,
        });
        Ok(())
    };
    // A run without sweeps evaluates every time it runs (its trained stages may be saved).
    if cells.is_empty() {
        add("run".to_string(), exp, false)?;
    }
    for cell in cells {
        let finished = super::runner::finished(exp, cell);
        add(cell.id.clone(), &cell.experiment(exp), finished)?;
    }
    Ok(plans)
}

/// (kind, directory, key, marker file) of each stage `run` trains, in order: its warm start
/// and GRPO run, and with distillation on, the student's warm start and the distillation run.
/// The cleaner is left out (seconds to train; two cells that train one at once save the same).
pub(super) fn trained_stages(
    run: &Experiment,
) -> Result<Vec<(&'static str, PathBuf, String, &'static str)>> {
    let cfg = &run.config;
    let mut stages = Vec::new();
    if cfg.warm_start.enabled {
        let key = warm_start_key(cfg)?;
        stages.push(("warm_start", checkpoint_dir(run), key, "warm_start.json"));
    }
    if cfg.grpo.enabled && cfg.grpo.steps > 0 {
        stages.push(("grpo", grpo_dir(run), grpo_key(cfg)?, "grpo.json"));
    }
    if cfg.distill.enabled {
        let key = student_warm_start_key(cfg)?;
        let dir = student_warm_start_dir(run);
        stages.push(("student_warm_start", dir, key, "warm_start.json"));
        stages.push((
            "distill",
            distill_dir(run),
            distill_key(cfg)?,
            "distill.json",
        ));
    }
    Ok(stages)
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn marker_has_key(path: &Path, key: &str) -> bool {
    read_json(path).is_some_and(|saved| saved["config_hash"] == key)
}

/// Mean recorded seconds per stage kind (and `evaluation`) among the finished stages and runs
/// under `dir`: each kind's markers hold their parts' seconds, `metrics.json` its evaluation's.
pub fn recorded_seconds(dir: &Path) -> BTreeMap<&'static str, f64> {
    let mut seen: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for path in walk(dir, 4) {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(json) = read_json(&path) else {
            continue;
        };
        let student = path.to_string_lossy().contains("student");
        let (kind, seconds) = match name {
            "warm_start.json" => {
                let kind = if student {
                    "student_warm_start"
                } else {
                    "warm_start"
                };
                let parts = ["lm", "sft", "unlikelihood", "self_filter", "check"];
                let sum = parts
                    .iter()
                    .filter_map(|p| json[format!("{p}_seconds")].as_f64());
                (kind, Some(sum.sum()))
            }
            "grpo.json" | "distill.json" => {
                let kind = if name == "grpo.json" {
                    "grpo"
                } else {
                    "distill"
                };
                let sum = json["seconds"]
                    .as_object()
                    .map(|s| s.values().filter_map(Value::as_f64).sum());
                (kind, sum)
            }
            "metrics.json" => ("evaluation", json["evaluation_seconds"].as_f64()),
            _ => continue,
        };
        if let Some(s) = seconds.filter(|s| s.is_finite() && *s > 0.0) {
            seen.entry(kind).or_default().push(s);
        }
    }
    seen.into_iter()
        .map(|(kind, s)| (kind, s.iter().sum::<f64>() / s.len() as f64))
        .collect()
}

/// Files under `dir`, at most `depth` folders down.
fn walk(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for path in entries.flatten().map(|e| e.path()) {
        if path.is_dir() {
            if depth > 0 {
                files.extend(walk(&path, depth - 1));
            }
        } else {
            files.push(path);
        }
    }
    files
}

/// The plan of `exp` as `quill run --dry-run` and `quill validate` print it.
pub fn describe(exp: &Experiment) -> Result<String> {
    let cells = super::expand(exp)?;
    let plans = plan(exp, &cells)?;
    Ok(render(&plans, &recorded_seconds(&exp.output_dir())))
}

/// The plan as lines, with the estimate: each stage a cell trains at its kind's recorded mean,
/// and each unfinished cell's evaluation at the recorded mean evaluation.
pub fn render(plans: &[CellPlan], seconds: &BTreeMap<&'static str, f64>) -> String {
    let mut out = String::new();
    let mut total = 0.0;
    let mut unknown = Vec::new();
    let mut estimate = |kind: &'static str, total: &mut f64| match seconds.get(kind) {
        Some(s) => *total += s,
        None if !unknown.contains(&kind) => unknown.push(kind),
        None => {}
    };
    for cell in plans {
        if cell.finished {
            let _ = writeln!(out, "  {}: finished", cell.id);
            continue;
        }
        let steps: Vec<String> = cell
            .stages
            .iter()
            .map(|s| match &s.state {
                StepState::Saved => format!("{} saved", s.kind),
                StepState::Trains => {
                    estimate(s.kind, &mut total);
                    format!("{} trains", s.kind)
                }
                StepState::SharedWith(id) => format!("{} from {id}", s.kind),
            })
            .collect();
        estimate("evaluation", &mut total);
        let _ = writeln!(out, "  {}: {}, then evaluation", cell.id, steps.join(", "));
    }
    let todo = plans.iter().filter(|c| !c.finished).count();
    let _ = write!(out, "{} of {} to run", todo, plans.len());
    if todo > 0 {
        let _ = write!(out, "; about {:.0} min", total / 60.0);
        if !unknown.is_empty() {
            let _ = write!(out, " plus {} (no recorded timing)", unknown.join(", "));
        }
        out.push_str(" at this directory's recorded means");
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(kind: &'static str, state: StepState) -> StageStep {
        StageStep {
            kind,
            dir: PathBuf::from(kind),
            state,
        }
    }

    #[test]
    fn the_estimate_adds_what_each_unfinished_cell_trains_and_its_evaluation() {
        let plans = vec![
            CellPlan {
                id: "a".into(),
                finished: true,
                stages: vec![],
            },
            CellPlan {
                id: "b".into(),
                finished: false,
                stages: vec![
                    step("warm_start", StepState::Saved),
                    step("grpo", StepState::Trains),
                ],
            },
            CellPlan {
                id: "c".into(),
                finished: false,
                stages: vec![
                    step("warm_start", StepState::Trains),
                    step("grpo", StepState::SharedWith("b".into())),
                ],
            },
        ];
        let seconds = BTreeMap::from([("grpo", 600.0), ("evaluation", 120.0)]);
        let text = render(&plans, &seconds);
        assert_eq!(
            text,
            "  a: finished\n\
             \x20 b: warm_start saved, grpo trains, then evaluation\n\
             \x20 c: warm_start trains, grpo from b, then evaluation\n\
             2 of 3 to run; about 14 min plus warm_start (no recorded timing) at this \
             directory's recorded means\n"
        );
    }

    #[test]
    fn recorded_seconds_are_means_per_kind() {
        let dir = std::env::temp_dir().join(format!("quill-plan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let write = |rel: &str, body: &str| {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        };
        write(
            "stages/grpo-1/grpo.json",
            r#"{"seconds":{"sampling":10,"update":20}}"#,
        );
        write(
            "stages/grpo-2/grpo.json",
            r#"{"seconds":{"sampling":30,"update":40}}"#,
        );
        write(
            "stages/warm_start-1/warm_start.json",
            r#"{"sft_seconds":5,"check_seconds":1}"#,
        );
        write(
            "stages/student_warm_start-1/warm_start.json",
            r#"{"sft_seconds":2}"#,
        );
        write("cells/x/metrics.json", r#"{"evaluation_seconds":7}"#);
        write("cells/y/metrics.json", r#"{"test":{}}"#);
        let seconds = recorded_seconds(&dir);
        let expected = BTreeMap::from([
            ("evaluation", 7.0),
            ("grpo", 50.0),
            ("student_warm_start", 2.0),
            ("warm_start", 6.0),
        ]);
        assert_eq!(seconds, expected);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
