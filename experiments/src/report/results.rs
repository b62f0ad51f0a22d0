//! `results.csv`: one row per cell, split, policy, decoding and best-of-N size (and per single
//! sampled draw), read from the cells' `metrics.json`. The report is drawn from this table alone
//! (plus the training curves), so a table merged from several shards, or a fixture, renders the
//! same way.
//!
//! Settings are chosen on the validation split, so the table holds its rows beside the test
//! split's, and every view of the report reads the test split only ([`Results::reported`]).

use anyhow::{Context, Result, anyhow};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The ranking metrics, in the paper's column order.
pub const RANKING: [&str; 5] = ["recall@5", "recall@10", "ndcg@5", "ndcg@10", "mrr"];

/// The column of a distillation cell's method (`on_policy`, `supervised`, `none`), filled for
/// every row of the cell, as a swept axis is: the teacher's rows carry it too, though they do
/// not depend on it (the views that compare methods take each seed's teacher once).
pub const METHOD: &str = "method";

/// The column naming a row's split: `valid` or `test`.
pub const SPLIT: &str = "split";

/// The split the report shows. A table written before rows had a split holds this one only.
pub const REPORTED_SPLIT: &str = "test";

/// The column numbering a single sampled draw (1, 2, ...: one list per user each); empty on
/// every other row, the sampled row among them, which averages all draws.
pub const DRAW: &str = "draw";

/// The sections of `metrics.json` that become rows, in the order the run evaluates them.
const SPLITS: [&str; 2] = ["valid", "test"];

/// Columns every row has, before the metrics; sweep axes not among them are added after `cell`.
pub const KEYS: [&str; 11] = [
    "experiment",
    "cell",
    SPLIT,
    "policy",
    "decoding",
    "best_of_n",
    DRAW,
    "seed",
    "ablation",
    "preset",
    "params",
];

/// The result table: a header and rows of the same length.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Results {
    /// The value of `column` in `row`, if the column exists and the cell is not empty.
    pub fn get<'a>(&self, row: &'a [String], column: &str) -> Option<&'a str> {
        let i = self.header.iter().position(|h| h == column)?;
        row.get(i).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// `get` as a number.
    pub fn num(&self, row: &[String], column: &str) -> Option<f64> {
        self.get(row, column)?.parse().ok()
    }

    /// The rows `keep` accepts, under the same header.
    pub fn filtered(&self, keep: impl Fn(&[String]) -> bool) -> Results {
        Results {
            header: self.header.clone(),
            rows: self.rows.iter().filter(|r| keep(r)).cloned().collect(),
        }
    }

    /// A row's split; a row of a table without the column is a test row.
    pub fn split_of<'a>(&self, row: &'a [String]) -> &'a str {
        self.get(row, SPLIT).unwrap_or(REPORTED_SPLIT)
    }

    /// The rows every view of the report reads: the test split's.
    pub fn reported(&self) -> Results {
        self.filtered(|row| self.split_of(row) == REPORTED_SPLIT)
    }

    /// The splits the table has rows of, in order of appearance.
    pub fn splits(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for row in &self.rows {
            let split = self.split_of(row);
            if !out.contains(&split) {
                out.push(split);
            }
        }
        out
    }

    /// Whether `row` is one sampled draw rather than a summary over draws.
    pub fn is_draw(&self, row: &[String]) -> bool {
        self.get(row, DRAW).is_some()
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record(&self.header)?;
        for row in &self.rows {
            out.write_record(row)?;
        }
        let bytes = out
            .into_inner()
            .map_err(|e| anyhow!("writing results.csv: {e}"))?;
        quill::io::write_atomic(path, &bytes)?;
        Ok(())
    }

    /// Reads a results table; every row must have the header's length, and the key columns
    /// must be there.
    pub fn read(path: &Path) -> Result<Results> {
        let mut reader = csv::Reader::from_path(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let header: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
        for key in ["policy", "decoding", "best_of_n", "seed", "recall@10"] {
            if !header.iter().any(|h| h == key) {
                return Err(anyhow!(
                    "{}: no column {key:?}; a results table has {}",
                    path.display(),
                    KEYS.join(", ")
                ));
            }
        }
        let mut rows = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let record = record.with_context(|| format!("{}: line {}", path.display(), i + 2))?;
            rows.push(record.iter().map(str::to_string).collect());
        }
        Ok(Results { header, rows })
    }
}

/// The finished runs under an experiment directory: the directory itself (a single run) or
/// its `cells/*` (a sweep), each with its `metrics.json` parsed.
pub fn runs(dir: &Path) -> Result<Vec<(PathBuf, Value)>> {
    let mut dirs = vec![dir.to_path_buf()];
    let cells = dir.join("cells");
    if cells.is_dir() {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&cells)
            .with_context(|| format!("cannot list {}", cells.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        found.sort();
        dirs.extend(found);
    }
    let mut out = Vec::new();
    for d in dirs {
        let path = d.join("metrics.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let metrics: Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not valid JSON", path.display()))?;
        if metrics.get("test").is_some() {
            out.push((d, metrics));
        }
    }
    Ok(out)
}

/// The result table of finished runs' `metrics.json`.
pub fn collect(runs: &[(PathBuf, Value)]) -> Results {
    let mut axes: Vec<String> = Vec::new();
    let mut rewards: Vec<String> = Vec::new();
    let mut records: Vec<BTreeMap<String, String>> = Vec::new();
    for (dir, m) in runs {
        let mut cell_axes = axis_values(m);
        // A distillation cell names its method even when the method is not swept, so a single
        // distillation run still reads as one.
        if let Some(method) = m["distill"]["method"].as_str() {
            cell_axes.insert(METHOD.into(), method.into());
        }
        for name in cell_axes.keys() {
            if !KEYS.contains(&name.as_str()) && !axes.contains(name) {
                axes.push(name.clone());
            }
        }
        let sections = SPLITS
            .iter()
            .flat_map(|split| policy_rows(&m[*split]).into_iter().map(move |r| (split, r)));
        for (split, mut record) in sections {
            record.insert(SPLIT.into(), split.to_string());
            // The run times its test pass only.
            if *split == REPORTED_SPLIT
                && record.get("decoding").map(String::as_str) == Some("sampled")
                && record.get("best_of_n").map(String::as_str) == Some("1")
                && !record.contains_key(DRAW)
                && let Some(policy) = record.get("policy")
                && let Some(speed) = m["speed"][policy]["users_per_s"].as_f64()
            {
                record.insert("users_per_s".into(), format!("{speed:.3}"));
            }
            for (name, value) in &cell_axes {
                record.entry(name.clone()).or_insert_with(|| value.clone());
            }
            record.insert("experiment".into(), text(&m["experiment"]));
            let cell = dir.file_name().map(|f| f.to_string_lossy().into_owned());
            record.insert("cell".into(), cell.unwrap_or_default());
            record.insert("seed".into(), text(&m["seed"]));
            record.insert("ablation".into(), text(&m["ablation"]));
            let model = model_of(m, record.get("policy").map_or("", String::as_str));
            record.insert("preset".into(), text(&model["preset"]));
            record.insert("params".into(), text(&model["parameters"]));
            for key in record.keys() {
                if key.starts_with("reward/") && !rewards.contains(key) {
                    rewards.push(key.clone());
                }
            }
            records.push(record);
        }
    }
    rewards.sort();
    let mut header: Vec<String> = vec!["experiment".into(), "cell".into()];
    header.extend(axes);
    header.extend(KEYS[2..].iter().map(|k| k.to_string()));
    header.extend(RANKING.iter().map(|k| k.to_string()));
    header.push("reward".into());
    header.extend(rewards);
    header.extend(["valid_rate".into(), "users_per_s".into()]);
    let rows = records
        .iter()
        .map(|r| {
            header
                .iter()
                .map(|h| r.get(h).cloned().unwrap_or_default())
                .collect()
        })
        .collect();
    Results { header, rows }
}

/// The cell's axes by short name (`seed`, `preset`, ...), as text. The distillation method is
/// always `method`, the column the distillation view reads, whatever else the sweep varies.
fn axis_values(m: &Value) -> BTreeMap<String, String> {
    let Some(axes) = m["cell"]["axes"].as_object() else {
        return BTreeMap::new();
    };
    let paths: Vec<String> = axes.keys().cloned().collect();
    axes.iter()
        .map(|(path, v)| {
            let name = if path == "distill.method" {
                METHOD.to_string()
            } else {
                crate::sweep::short_axis(path, &paths)
            };
            (name, text(v))
        })
        .collect()
}

/// Where a policy's preset and parameter count are: its own entry under `policies` (a
/// distillation cell holds a teacher and a smaller student), else the warm start's, which every
/// policy of an ordinary cell, and the model-free references, share.
fn model_of<'a>(m: &'a Value, policy: &str) -> &'a Value {
    let own = &m["policies"][policy];
    if own.is_object() {
        own
    } else {
        &m["warm_start"]
    }
}

/// One record per policy and decoding of a run's split section (`metrics.json`'s `valid` or
/// `test`), per best-of-N size and per sampled draw; none for a section the run did not write.
fn policy_rows(section: &Value) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    let Some(sections) = section.as_object() else {
        return out;
    };
    for (key, eval) in sections {
        let (policy, decoding) = match key.split_once('/') {
            Some((p, d)) => (p.to_string(), d.to_string()),
            // history_as_queries, bootstrap_lists: lists made without a policy
            None if eval.get("ranking").is_some() => (key.clone(), "none".to_string()),
            None => continue,
        };
        let mut r = eval_record(eval);
        r.insert("policy".into(), policy.clone());
        r.insert("decoding".into(), decoding.clone());
        r.insert("best_of_n".into(), "1".into());
        out.push(r);
    }
    if let Some(curves) = section["best_of_n"].as_object() {
        for (policy, points) in curves {
            for point in points.as_array().into_iter().flatten() {
                let n = point["n"].as_u64().unwrap_or(0);
                if n <= 1 {
                    // N = 1 is one draw per user: the sampled row averages every draw instead.
                    continue;
                }
                let mut r = eval_record(&point["eval"]);
                r.insert("policy".into(), policy.clone());
                r.insert("decoding".into(), "sampled".into());
                r.insert("best_of_n".into(), n.to_string());
                out.push(r);
            }
        }
    }
    if let Some(draws) = section["draws"].as_object() {
        for (policy, evals) in draws {
            for (k, eval) in evals.as_array().into_iter().flatten().enumerate() {
                let mut r = eval_record(eval);
                r.insert("policy".into(), policy.clone());
                r.insert("decoding".into(), "sampled".into());
                r.insert("best_of_n".into(), "1".into());
                r.insert(DRAW.into(), (k + 1).to_string());
                out.push(r);
            }
        }
    }
    out
}

/// The metrics of one `PolicyEval` as text columns.
fn eval_record(eval: &Value) -> BTreeMap<String, String> {
    let mut r = BTreeMap::new();
    for key in RANKING {
        r.insert(key.to_string(), number(&eval["ranking"][key]));
    }
    r.insert("reward".into(), number(&eval["rewards"]["composite"]));
    if let Some(per) = eval["rewards"]["per_reward"].as_object() {
        for (name, v) in per {
            r.insert(format!("reward/{name}"), number(v));
        }
    }
    r.insert("valid_rate".into(), number(&eval["valid_rate"]));
    r
}

fn number(v: &Value) -> String {
    v.as_f64().map(|x| format!("{x:.6}")).unwrap_or_default()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A table from a comma-separated header and rows (no quoting), for the report's tests.
    pub(crate) fn table(header: &str, rows: &[&str]) -> Results {
        let cells = |line: &str| line.split(',').map(String::from).collect();
        Results {
            header: cells(header),
            rows: rows.iter().map(|r| cells(r)).collect(),
        }
    }

    #[test]
    fn the_report_reads_the_test_split_and_a_table_without_splits_is_all_test() {
        let t = table(
            "split,policy,recall@10",
            &["valid,grpo,0.9", "test,grpo,0.1", "valid,warm_start,0.8"],
        );
        assert_eq!(t.reported().rows, [["test", "grpo", "0.1"]]);
        assert_eq!(t.splits(), ["valid", "test"]);
        let old = table("policy,recall@10", &["grpo,0.1", "warm_start,0.05"]);
        assert_eq!(old.reported(), old);
        assert_eq!(old.splits(), ["test"]);
    }
}
