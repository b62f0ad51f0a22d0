//! Sweeps: `[sweep.<name>]` tables whose `axes` map dotted field paths to lists of values,
//! expanded into cells (one resolved experiment config each) by cross product or by zipping.
//!
//! ```toml
//! [sweep.space]                      # one named sweep; a file may hold several
//! mode = "product"                   # or "zip": the i-th values of every axis together
//! axes.policy.preset = ["pico", "nano", "micro", "small"]
//! axes.experiment.seed = [42, 1, 7]
//! ```
//!
//! A cell is identified by the hash of its resolved config (name and output directory aside):
//! two sweeps that produce the same config share one cell, and a finished cell is never run
//! again. `runner` runs cells; `crate::report` reads them back.

pub mod plan;
mod progress;
pub mod runner;
mod schedule;

use crate::config::{Experiment, ExperimentConfig, config_hash};
use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

quill::config_enum! {
    /// How a sweep combines its axes.
    pub enum SweepMode {
        /// Every combination of the axes' values (axes in sorted path order, the last varying
        /// fastest: TOML tables do not keep their keys' order).
        Product = "product",
        /// The i-th value of every axis together; all axes must have the same length.
        Zip = "zip",
    }
}

// `config_enum!` takes no attributes on variants, so `#[default]` cannot be derived.
#[allow(clippy::derivable_impls)]
impl Default for SweepMode {
    fn default() -> Self {
        SweepMode::Product
    }
}

/// The assignments (dotted path, value) of each cell of one sweep.
type Combos = Vec<Vec<(String, Value)>>;

/// One `[sweep.<name>]` table.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SweepSpec {
    pub mode: SweepMode,
    /// Nested tables ending in lists: `axes.policy.preset = [...]` is the axis `policy.preset`.
    pub axes: Table,
    /// Groups of axes that move together (their i-th values paired) inside a product, e.g.
    /// `zip = [["policy.preset", "warm_start.learning_rate"]]`: a learning rate per preset,
    /// crossed with the other axes.
    pub zip: Vec<Vec<String>>,
}

/// One resolved experiment of a sweep.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The sweeps that produce it (a cell two sweeps share runs once).
    pub sweeps: Vec<String>,
    /// The value of every axis of every sweep in the file, read from the resolved config.
    pub axes: BTreeMap<String, Value>,
    /// Hash of the resolved config without its name and output directory.
    pub hash: String,
    /// Directory name under `<experiment>/cells/`: the axes' values and the hash.
    pub id: String,
    pub config: ExperimentConfig,
}

impl Cell {
    /// The experiment this cell runs: its output under `cells/`, its warm start shared.
    pub fn experiment(&self, parent: &Experiment) -> Experiment {
        Experiment {
            config: self.config.clone(),
            path: parent.path.clone(),
            base_dir: parent.base_dir.clone(),
            stage_dir: Some(stage_dir(parent)),
            cell: Some(self.clone()),
            overrides: parent.overrides.clone(),
        }
    }
}

/// Where a sweep's cells write: `<output_dir>/<name>/cells`.
pub fn cells_dir(parent: &Experiment) -> PathBuf {
    parent.output_dir().join("cells")
}

/// Where a sweep's shared stages (the warm starts) live: `<output_dir>/<name>/stages`.
pub fn stage_dir(parent: &Experiment) -> PathBuf {
    parent.output_dir().join("stages")
}

/// The hash that identifies a cell: the resolved config without what only names or places it.
pub fn cell_hash(c: &ExperimentConfig) -> Result<String> {
    let mut c = c.clone();
    c.experiment.name = String::new();
    c.experiment.output_dir = PathBuf::new();
    c.sweep.clear();
    config_hash(&c)
}

/// The cells of every sweep of `exp`, deduplicated by hash, in the order first produced.
/// An experiment without sweeps has none.
pub fn expand(exp: &Experiment) -> Result<Vec<Cell>> {
    let sweeps = &exp.config.sweep;
    if sweeps.is_empty() {
        return Ok(Vec::new());
    }
    let file = exp.overrides.origin(&exp.path);
    let src = crate::config::source(&exp.path, &exp.overrides)?;
    let mut base: Table = toml::from_str(&src).with_context(|| format!("{file}: not TOML"))?;
    base.remove("sweep");
    let mut every_axis: Vec<String> = Vec::new();
    let mut planned: Vec<(String, Combos)> = Vec::new();
    for (name, spec) in sweeps {
        let axes =
            flatten_axes(&spec.axes, "").map_err(|e| anyhow!("{file}: sweep.{name}.axes.{e}"))?;
        if axes.is_empty() {
            bail!("{file}: sweep.{name} has no axes: add e.g. axes.experiment.seed = [1, 2, 3]");
        }
        for (path, _) in &axes {
            if !every_axis.contains(path) {
                every_axis.push(path.clone());
            }
        }
        check_axes_alone(&base, &axes)
            .map_err(|(path, e)| anyhow!("{} = {e}", axis_origin(&file, &src, name, &path)))?;
        let groups =
            group_axes(&axes, &spec.zip).map_err(|e| anyhow!("{file}: sweep.{name}: {e}"))?;
        let combos =
            combine(&groups, spec.mode).map_err(|e| anyhow!("{file}: sweep.{name}: {e}"))?;
        planned.push((name.clone(), combos));
    }
    let mut cells: Vec<Cell> = Vec::new();
    for (name, combos) in planned {
        for combo in combos {
            let mut table = base.clone();
            for (path, value) in &combo {
                set_path(&mut table, path, value.clone())
                    .map_err(|e| anyhow!("{file}: sweep.{name}: axis {path}: {e}"))?;
            }
            let text = toml::to_string(&table).context("serialising a sweep cell")?;
            let shown: Vec<String> = combo.iter().map(|(p, v)| format!("{p} = {v}")).collect();
            // Line numbers of errors point into the generated cell, so the cell is named too.
            let origin = format!("{file} (sweep.{name}, cell {{{}}})", shown.join(", "));
            let config = crate::config::parse(&text, Path::new(&origin))?;
            let hash = cell_hash(&config)?;
            if let Some(cell) = cells.iter_mut().find(|c| c.hash == hash) {
                if !cell.sweeps.contains(&name) {
                    cell.sweeps.push(name.clone());
                }
                continue;
            }
            cells.push(resolve(exp, config, hash, name.clone(), &every_axis)?);
        }
    }
    Ok(cells)
}

/// Each value of each axis set alone into the base file must still read as an experiment: an
/// axis naming no field, or a value of the wrong type, is the axis's own error (its line in
/// the file), not one of a generated cell's. Checks between fields (which another axis may
/// satisfy) wait for the whole cells.
fn check_axes_alone(
    base: &Table,
    axes: &[(String, Vec<Value>)],
) -> std::result::Result<(), (String, String)> {
    for (path, values) in axes {
        for value in values {
            let mut table = base.clone();
            set_path(&mut table, path, value.clone()).map_err(|e| (path.clone(), e))?;
            let text = toml::to_string(&table).map_err(|e| (path.clone(), e.to_string()))?;
            if let Err(e) = toml::from_str::<ExperimentConfig>(&text) {
                let message = format!("{value}: {}", e.message().trim());
                return Err((path.clone(), message));
            }
        }
    }
    Ok(())
}

/// `file:line:col: sweep.<name>.axes.<path>`, where the axis is written in `src`.
fn axis_origin(file: &str, src: &str, sweep: &str, path: &str) -> String {
    let dotted = format!("sweep.{sweep}.axes.{path}");
    match crate::locate::span_of(src, &dotted) {
        Some(start) => {
            let (line, col) = crate::locate::line_col(src, start);
            format!("{file}:{line}:{col}: {dotted}")
        }
        None => format!("{file}: {dotted}"),
    }
}

/// Names and places a parsed cell config, and reads every axis's value from it.
fn resolve(
    exp: &Experiment,
    mut config: ExperimentConfig,
    hash: String,
    sweep: String,
    every_axis: &[String],
) -> Result<Cell> {
    let resolved = Value::try_from(&config).context("serialising a sweep cell")?;
    let mut axes = BTreeMap::new();
    let mut label = Vec::new();
    for path in every_axis {
        let value = get_path(&resolved, path)
            .cloned()
            .ok_or_else(|| anyhow!("sweep axis {path} names no field of the experiment"))?;
        label.push(format!(
            "{}-{}",
            short_axis(path, every_axis),
            file_safe(&value)
        ));
        axes.insert(path.clone(), value);
    }
    let id = format!("{}_{}", label.join("_"), &hash[..8]);
    config.experiment.output_dir = cells_dir(exp);
    config.experiment.name = id.clone();
    Ok(Cell {
        sweeps: vec![sweep],
        axes,
        hash,
        id,
        config,
    })
}

/// The `(dotted path, values)` of every list under `axes`, in sorted path order.
fn flatten_axes(
    table: &Table,
    prefix: &str,
) -> std::result::Result<Vec<(String, Vec<Value>)>, String> {
    let mut out = Vec::new();
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Table(inner) => out.extend(flatten_axes(inner, &path)?),
            Value::Array(values) if values.is_empty() => {
                return Err(format!("{path}: an axis needs at least one value"));
            }
            Value::Array(values) => out.push((path, values.clone())),
            other => {
                return Err(format!(
                    "{path}: an axis is a list of values, like [{other}], not {other}"
                ));
            }
        }
    }
    Ok(out)
}

/// Axes that move together: (path, values) of equal length.
type Group = Vec<(String, Vec<Value>)>;

/// The sweep's axes as groups: each `zip` list one group, every other axis a group of its own,
/// in the order of their first axis.
fn group_axes(axes: &[(String, Vec<Value>)], zip: &[Vec<String>]) -> Result<Vec<Group>> {
    let mut group_of: Vec<Option<usize>> = vec![None; axes.len()];
    for (g, paths) in zip.iter().enumerate() {
        for path in paths {
            let i = axes
                .iter()
                .position(|(p, _)| p == path)
                .ok_or_else(|| anyhow!("zip names {path}, which is not an axis of this sweep"))?;
            if group_of[i].is_some() {
                bail!("zip names {path} twice");
            }
            group_of[i] = Some(g);
        }
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut placed: Vec<(usize, usize)> = Vec::new(); // (zip group, index in groups)
    for (i, axis) in axes.iter().enumerate() {
        match group_of[i] {
            None => groups.push(vec![axis.clone()]),
            Some(g) => match placed.iter().find(|(z, _)| *z == g) {
                Some((_, at)) => groups[*at].push(axis.clone()),
                None => {
                    placed.push((g, groups.len()));
                    groups.push(vec![axis.clone()]);
                }
            },
        }
    }
    Ok(groups)
}

/// The assignments of every cell of one sweep: the product of the groups (each group's i-th
/// values together), or with `mode = "zip"` every axis paired.
fn combine(groups: &[Group], mode: SweepMode) -> std::result::Result<Combos, String> {
    let merged;
    let groups: &[Group] = match mode {
        SweepMode::Zip => {
            merged = vec![groups.concat()];
            &merged
        }
        SweepMode::Product => groups,
    };
    let mut combos: Combos = vec![Vec::new()];
    for group in groups {
        let n = group[0].1.len();
        if let Some((path, values)) = group.iter().find(|(_, v)| v.len() != n) {
            return Err(format!(
                "zipped axes need one length: {} has {n} values, {path} has {}",
                group[0].0,
                values.len()
            ));
        }
        combos = combos
            .into_iter()
            .flat_map(|prefix| {
                (0..n).map(move |i| {
                    let mut c = prefix.clone();
                    c.extend(group.iter().map(|(p, v)| (p.clone(), v[i].clone())));
                    c
                })
            })
            .collect();
    }
    Ok(combos)
}

/// Sets the field at a dotted path, creating the tables on the way.
pub(crate) fn set_path(
    table: &mut Table,
    path: &str,
    value: Value,
) -> std::result::Result<(), String> {
    let (head, last) = match path.rsplit_once('.') {
        Some((head, last)) => (Some(head), last),
        None => (None, path),
    };
    let mut at = table;
    for part in head.into_iter().flat_map(|h| h.split('.')) {
        let next = at
            .entry(part.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        at = match next {
            Value::Table(t) => t,
            other => return Err(format!("{part} is {other}, not a table")),
        };
    }
    at.insert(last.to_string(), value);
    Ok(())
}

/// The value at a dotted path.
pub fn get_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, part| v.get(part))
}

/// An axis's column name: its last path segment, or the whole path where two axes share it.
pub fn short_axis(path: &str, every_axis: &[String]) -> String {
    let last = path.rsplit('.').next().unwrap_or(path);
    let shared = every_axis
        .iter()
        .filter(|p| p.rsplit('.').next() == Some(last))
        .count();
    if shared > 1 {
        path.to_string()
    } else {
        last.to_string()
    }
}

/// A value as text fit for a directory name.
fn file_safe(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let safe: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    safe.chars().take(32).collect()
}

#[cfg(test)]
mod tests;
