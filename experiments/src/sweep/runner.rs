//! Running a sweep's cells: finished cells are skipped, cells run `--jobs` at a time (each in
//! its own `quill` process, its output in the cell's `log.txt`), and `--shard i/n` runs one of
//! n disjoint parts so that machines can share a sweep. Cells that share a stage (a warm
//! start, a GRPO run, a student's warm start) wait until the cell that trains it has ended
//! (`schedule`).

use super::progress::SweepProgress;
use super::schedule::Schedule;
use super::{Cell, cells_dir, expand};
use crate::config::Experiment;
use crate::pipeline::RunOptions;
use anyhow::{Context, Result, anyhow, bail};
use quill::io::write_json;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::{Condvar, Mutex};

/// `--shard i/n`: the i-th (1-based) of n disjoint parts; cell k belongs to part k mod n + 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Whether the k-th cell (0-based, in expansion order) is this shard's.
    pub fn owns(&self, k: usize) -> bool {
        k % self.count + 1 == self.index
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("--shard {s:?}: expected i/n with 1 <= i <= n, like 2/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// How `quill run` runs a sweep.
#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    /// Cells run at once (each in its own process when above 1).
    pub jobs: usize,
    pub shard: Option<Shard>,
    /// Continue each cell's GRPO from its newest checkpoint.
    pub resume: bool,
    /// Run only this cell, in this process (how the runner starts its worker processes).
    pub cell: Option<String>,
    /// Where the report goes (default `runs/<experiment name>/report`).
    pub report_dir: Option<PathBuf>,
    /// The `quill` executable worker processes run (default: this one).
    pub exe: Option<PathBuf>,
}

/// Runs the cells of `exp`'s sweeps that are not finished, then writes the report.
pub fn run_sweep(exp: &Experiment, opts: &SweepOptions) -> Result<()> {
    let cells = expand(exp)?;
    let resume = RunOptions {
        resume: opts.resume,
        stop_after: None,
    };
    if let Some(id) = &opts.cell {
        let cell = cells
            .iter()
            .find(|c| &c.id == id)
            .ok_or_else(|| anyhow!("{}: no sweep cell {id}", exp.path.display()))?;
        return crate::pipeline::run(&cell.experiment(exp), resume);
    }
    write_plan(exp, &cells)?;
    let mine: Vec<&Cell> = cells
        .iter()
        .enumerate()
        .filter(|(k, _)| opts.shard.is_none_or(|s| s.owns(*k)))
        .map(|(_, c)| c)
        .collect();
    let todo: Vec<&Cell> = mine.iter().copied().filter(|c| !finished(exp, c)).collect();
    let jobs = opts.jobs.max(1);
    eprintln!(
        "sweep {:?}: {} cells{}, {} finished, {} to run, {jobs} at a time",
        exp.config.experiment.name,
        cells.len(),
        opts.shard
            .map(|s| format!(" ({} in shard {}/{})", mine.len(), s.index, s.count))
            .unwrap_or_default(),
        mine.len() - todo.len(),
        todo.len(),
    );
    // The directories of the stages each cell trains or reuses, which `Schedule` keeps two
    // cells from training at once.
    let stages = todo
        .iter()
        .map(|c| {
            let run = c.experiment(exp);
            let dirs = super::plan::trained_stages(&run)?.into_iter();
            Ok(dirs
                .map(|(_, dir, _, _)| dir.display().to_string())
                .collect())
        })
        .collect::<Result<Vec<Vec<String>>>>()?;
    let failed = run_cells(exp, &todo, &stages, jobs, opts);
    // Cells without a policy (warm start off) have no test results, and so no report.
    let report = match crate::report::results::runs(&exp.output_dir()) {
        Ok(runs) if runs.is_empty() => Ok(None),
        _ => crate::report::write_report(&exp.output_dir(), opts.report_dir.as_deref()).map(Some),
    };
    if !failed.is_empty() {
        let lines: Vec<String> = failed
            .iter()
            .map(|(id, e)| format!("  {id}: {e:#}"))
            .collect();
        bail!("{} sweep cells failed:\n{}", failed.len(), lines.join("\n"));
    }
    if let Some(dir) = report? {
        eprintln!("report: {}", dir.display());
    }
    Ok(())
}

/// `sweep.json`: the cells and their axes, for `quill report`.
fn write_plan(exp: &Experiment, cells: &[Cell]) -> Result<()> {
    let listed: Vec<Value> = cells
        .iter()
        .map(|c| json!({ "id": c.id, "hash": c.hash, "sweeps": c.sweeps, "axes": c.axes }))
        .collect();
    let plan = json!({ "experiment": exp.config.experiment.name, "cells": listed });
    write_json(&exp.output_dir().join("sweep.json"), &plan)?;
    Ok(())
}

/// Whether a cell's `metrics.json` holds a finished run of this very config.
pub fn finished(exp: &Experiment, cell: &Cell) -> bool {
    let path = cells_dir(exp).join(&cell.id).join("metrics.json");
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let metrics: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    metrics["cell"]["hash"] == json!(cell.hash) && metrics.get("test").is_some()
}

/// Runs `cells`, `jobs` at a time, never two at once that train one of the same `stages`;
/// returns the ones that failed with their errors.
fn run_cells(
    exp: &Experiment,
    cells: &[&Cell],
    stages: &[Vec<String>],
    jobs: usize,
    sweep: &SweepOptions,
) -> Vec<(String, anyhow::Error)> {
    let progress = SweepProgress::new(cells.len());
    if jobs == 1 {
        let opts = RunOptions {
            resume: sweep.resume,
            stop_after: None,
        };
        return cells
            .iter()
            .filter_map(|c| {
                eprintln!("== cell {}", c.id);
                let result = crate::pipeline::run(&c.experiment(exp), opts);
                eprintln!("{}", progress.ended(&c.id, result.is_ok()));
                result.err().map(|e| (c.id.clone(), e))
            })
            .collect();
    }
    let schedule = Mutex::new(Schedule::new(stages));
    let cell_ended = Condvar::new();
    let failed = Mutex::new(Vec::new());
    // The next cell a worker may start: waits while every remaining cell depends on one still
    // running; `None` once all have started.
    let next = || -> Option<usize> {
        let mut s = schedule.lock().ok()?;
        loop {
            if let Some(i) = s.next() {
                return Some(i);
            }
            if s.all_started() {
                return None;
            }
            s = cell_ended.wait(s).ok()?;
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(cells.len()) {
            scope.spawn(|| {
                while let Some(i) = next() {
                    let cell = cells[i];
                    let result = run_in_process_of_its_own(exp, cell, sweep);
                    eprintln!("{}", progress.ended(&cell.id, result.is_ok()));
                    if let Err(e) = result
                        && let Ok(mut f) = failed.lock()
                    {
                        f.push((cell.id.clone(), e));
                    }
                    if let Ok(mut s) = schedule.lock() {
                        s.end(i);
                    }
                    cell_ended.notify_all();
                }
            });
        }
    });
    failed.into_inner().unwrap_or_default()
}

/// Runs one cell as `quill run FILE --cell ID`, its output in the cell's `log.txt`.
fn run_in_process_of_its_own(exp: &Experiment, cell: &Cell, sweep: &SweepOptions) -> Result<()> {
    let dir = cells_dir(exp).join(&cell.id);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let log_path = dir.join("log.txt");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let exe = match &sweep.exe {
        Some(exe) => exe.clone(),
        None => std::env::current_exe().context("locating the quill executable")?,
    };
    let mut command = Command::new(exe);
    command.args(["run", &path_arg(&exp.path), "--cell", &cell.id]);
    command.args(exp.overrides.args());
    if sweep.resume {
        command.arg("--resume");
    }
    // N processes with a thread per core each would oversubscribe the cores: each worker gets
    // its share of them, unless the user set the pool size.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let share = (cores / sweep.jobs.max(1)).max(1);
        command.env("RAYON_NUM_THREADS", share.to_string());
    }
    eprintln!("== cell {} started (log: {})", cell.id, log_path.display());
    let status = command
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .status()
        .context("starting a worker process")?;
    if status.success() {
        Ok(())
    } else {
        Err(anyhow!("{status}; see {}", log_path.display()))
    }
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
