//! `quill compare DIR`: each sweep's settings against its first, paired by seed, on one split.
//!
//! This is how a setting is chosen: a sweep lists the current value first and the alternatives
//! after it, and the comparison reads the validation split by default, so the test split stays
//! unread until the report. Arms are the combinations of the sweep's axes other than the seed;
//! the reference arm is the one of the sweep's first cell in plan order (`sweep.json`).

use super::paired::{Difference, Sample, Side};
use super::results::{self, DRAW, Results, SPLIT};
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The axis every arm is paired over.
const SEED_AXIS: &str = "experiment.seed";

/// What to compare: one split, decoding, best-of-N size and metric, for some policies.
#[derive(Debug, Clone)]
pub struct Query {
    pub split: String,
    pub policies: Vec<String>,
    pub decoding: String,
    /// 1: every sampled list (the sampled rows); N > 1: the list the composite reward picks
    /// among each user's first N (sampled decoding only).
    pub best_of: u32,
    pub metric: String,
}

/// A cell of `sweep.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct PlannedCell {
    pub id: String,
    pub sweeps: Vec<String>,
    pub axes: BTreeMap<String, Value>,
}

/// One arm of a sweep: its settings, its metric per seed, and its difference from the
/// reference arm (`None` for the reference itself, or with no seed in common).
#[derive(Debug, Clone)]
pub struct Arm {
    pub label: String,
    pub sample: Sample,
    pub difference: Option<Difference>,
}

/// A sweep's arms for one policy, the reference first.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub sweep: String,
    pub policy: String,
    pub arms: Vec<Arm>,
}

/// Reads `DIR/sweep.json` and the finished cells under `DIR` and compares every sweep.
pub fn compare_dir(dir: &Path, query: &Query) -> Result<Vec<Comparison>> {
    let path = dir.join("sweep.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: cannot read it (is {} a sweep's output directory?)",
            path.display(),
            dir.display()
        )
    })?;
    #[derive(Deserialize)]
    struct Plan {
        cells: Vec<PlannedCell>,
    }
    let plan: Plan = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a sweep plan", path.display()))?;
    let table = results::collect(&results::runs(dir)?);
    if !table.header.iter().any(|h| h == SPLIT) || table.rows.is_empty() {
        bail!("{}: no finished cell yet", dir.display());
    }
    if !table.header.contains(&query.metric) {
        bail!(
            "--metric {:?}: not a column of the results; valid: {}",
            query.metric,
            table.header.join(", ")
        );
    }
    let found = compare(&plan.cells, &table, query);
    if found.is_empty() {
        bail!(
            "{}: no finished cell has {} rows of policy {} with {} decoding",
            dir.display(),
            query.split,
            query.policies.join(" or "),
            query.decoding
        );
    }
    Ok(found)
}

/// Every sweep of `plan` (in order of first appearance), for each policy of `query`.
pub fn compare(plan: &[PlannedCell], table: &Results, query: &Query) -> Vec<Comparison> {
    let mut sweeps: Vec<&str> = Vec::new();
    for cell in plan {
        for s in &cell.sweeps {
            if !sweeps.contains(&s.as_str()) {
                sweeps.push(s);
            }
        }
    }
    let mut out = Vec::new();
    for sweep in sweeps {
        let cells: Vec<&PlannedCell> = plan
            .iter()
            .filter(|c| c.sweeps.iter().any(|s| s == sweep))
            .collect();
        let arms = arms_of(&cells);
        // A sweep of one setting (seeds only, or an evaluation setting) compares nothing.
        if arms.len() < 2 {
            continue;
        }
        for policy in &query.policies {
            let mut compared: Vec<Arm> = arms
                .iter()
                .map(|(label, ids)| Arm {
                    label: label.clone(),
                    sample: sample_of(table, ids, policy, query),
                    difference: None,
                })
                .collect();
            if compared.iter().all(|a| a.sample.seeds.is_empty()) {
                continue;
            }
            let reference = compared[0].sample.clone();
            for arm in compared.iter_mut().skip(1) {
                arm.difference = Difference::between(&arm.sample, &reference, |a, b| a - b);
            }
            out.push(Comparison {
                sweep: sweep.to_string(),
                policy: policy.clone(),
                arms: compared,
            });
        }
    }
    out
}

/// The sweep's arms in plan order: a label from the axes that vary within the sweep (the seed
/// aside) and the ids of the cells that hold it.
fn arms_of(cells: &[&PlannedCell]) -> Vec<(String, Vec<String>)> {
    let every_axis: Vec<String> = cells
        .first()
        .map(|c| c.axes.keys().cloned().collect())
        .unwrap_or_default();
    let varying: Vec<&String> = cells
        .first()
        .map(|first| {
            first
                .axes
                .iter()
                .filter(|(path, value)| {
                    path.as_str() != SEED_AXIS
                        && cells.iter().any(|c| c.axes.get(*path) != Some(*value))
                })
                .map(|(path, _)| path)
                .collect()
        })
        .unwrap_or_default();
    let mut arms: Vec<(String, Vec<String>)> = Vec::new();
    for cell in cells {
        let label = varying
            .iter()
            .map(|path| {
                let value = cell.axes.get(*path).map_or_else(String::new, |v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
                format!("{}={value}", crate::sweep::short_axis(path, &every_axis))
            })
            .collect::<Vec<_>>()
            .join(", ");
        match arms.iter_mut().find(|(l, _)| *l == label) {
            Some((_, ids)) => ids.push(cell.id.clone()),
            None => arms.push((label, vec![cell.id.clone()])),
        }
    }
    arms
}

/// `query.metric` of `policy` in the cells `ids`: by seed, and by seed and draw.
fn sample_of(table: &Results, ids: &[String], policy: &str, query: &Query) -> Sample {
    let chosen = |row: &[String]| {
        table
            .get(row, "cell")
            .is_some_and(|c| ids.iter().any(|id| id == c))
            && table.split_of(row) == query.split
            && table.get(row, "policy") == Some(policy)
            && table.get(row, "decoding") == Some(query.decoding.as_str())
            && table
                .get(row, "best_of_n")
                .is_none_or(|n| n == query.best_of.to_string())
    };
    let rows: Vec<&Vec<String>> = table
        .rows
        .iter()
        .filter(|r| chosen(r) && table.get(r, DRAW).is_none())
        .collect();
    let draws: Vec<&Vec<String>> = table
        .rows
        .iter()
        .filter(|r| chosen(r) && table.get(r, DRAW).is_some())
        .collect();
    Sample::of(table, &rows, table, &draws, &query.metric)
}

/// The comparisons as Markdown tables, one per sweep and policy.
pub fn markdown(comparisons: &[Comparison], query: &Query) -> String {
    let mut out = String::new();
    for c in comparisons {
        let reference = &c.arms[0].label;
        let _ = writeln!(
            out,
            "## {} — {} {}{}, {} split\n\nFirst setting: `{reference}`.\n\n| setting | {} (mean ± 95% over seeds) | minus the first, paired by seed | verdict |\n|---|---|---|---|",
            c.sweep,
            c.policy,
            query.decoding,
            match query.best_of {
                1 => String::new(),
                n => format!(", best of {n}"),
            },
            query.split,
            query.metric
        );
        for arm in &c.arms {
            let value = arm
                .sample
                .estimate()
                .map_or_else(|| "—".into(), |e| e.show(4));
            let seeds = super::count(arm.sample.seeds.len(), "seed");
            let (difference, verdict) = match (&arm.difference, arm.label == *reference) {
                (_, true) => ("reference".to_string(), String::new()),
                (None, false) => ("no seed in common".to_string(), String::new()),
                // Arms that differ only after this policy's stage share it.
                (Some(d), false) if d.values.iter().all(|v| *v == 0.0) => {
                    (d.show(4), "identical (a shared stage)".to_string())
                }
                (Some(d), false) => (d.show(4), verdict(d.side(0.0)).to_string()),
            };
            let _ = writeln!(
                out,
                "| `{}` | {value} ({seeds}) | {difference} | {verdict} |",
                arm.label
            );
        }
        out.push('\n');
    }
    out
}

fn verdict(side: Side) -> &'static str {
    match side {
        Side::Above => "higher",
        Side::Below => "lower",
        Side::Straddles => "within noise",
        Side::NoInterval => "no interval",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::results::tests::table;
    use serde_json::json;

    fn cell(id: &str, sweeps: &[&str], steps: i64, seed: i64) -> PlannedCell {
        PlannedCell {
            id: id.into(),
            sweeps: sweeps.iter().map(|s| s.to_string()).collect(),
            axes: [
                ("warm_start.sft_steps".to_string(), json!(steps)),
                (SEED_AXIS.to_string(), json!(seed)),
            ]
            .into(),
        }
    }

    fn query() -> Query {
        Query {
            split: "valid".into(),
            policies: vec!["grpo".into()],
            decoding: "sampled".into(),
            best_of: 1,
            metric: "recall@10".into(),
        }
    }

    #[test]
    fn arms_pair_by_seed_against_the_first_setting_on_the_chosen_split_only() {
        let plan = [
            cell("a1", &["sft"], 1500, 1),
            cell("a2", &["sft"], 1500, 2),
            cell("b1", &["sft"], 500, 1),
            cell("b2", &["sft"], 500, 2),
        ];
        let header = "cell,split,policy,decoding,best_of_n,draw,seed,recall@10";
        let t = table(
            header,
            &[
                "a1,valid,grpo,sampled,1,,1,0.10",
                "a2,valid,grpo,sampled,1,,2,0.20",
                "b1,valid,grpo,sampled,1,,1,0.07",
                "b2,valid,grpo,sampled,1,,2,0.16",
                // Other splits, decodings, best-of-N sizes and single draws are not read.
                "b1,test,grpo,sampled,1,,1,0.99",
                "b1,valid,grpo,greedy,1,,1,0.99",
                "b1,valid,grpo,sampled,4,,1,0.99",
                "b1,valid,grpo,sampled,1,1,1,0.99",
            ],
        );
        let c = compare(&plan, &t, &query());
        assert_eq!(c.len(), 1);
        let labels: Vec<&str> = c[0].arms.iter().map(|a| a.label.as_str()).collect();
        assert_eq!(labels, ["sft_steps=1500", "sft_steps=500"]);
        assert!(c[0].arms[0].difference.is_none());
        // Differences -0.03 and -0.04: mean -0.035, sd 0.00707, t(1) = 12.706 → ± 0.0635.
        let d = c[0].arms[1].difference.as_ref().unwrap();
        assert!((d.estimate.mean + 0.035).abs() < 1e-12);
        assert!((d.estimate.half_width - 12.706 * 0.005).abs() < 1e-9);
        assert_eq!(d.side(0.0), Side::Straddles);
        let text = markdown(&c, &query());
        assert!(text.contains("| `sft_steps=500` | 0.1150 ± 0.5718 (2 seeds) | -0.0350 ± 0.0635 over 2 seeds | within noise |"), "{text}");
        // --best-of 4 reads the best-of-4 rows instead: only b1 has one.
        let best_of_4 = Query {
            best_of: 4,
            ..query()
        };
        let c = compare(&plan, &t, &best_of_4);
        assert_eq!(c[0].arms[1].sample.seeds.get("1"), Some(&0.99));
        assert!(markdown(&c, &best_of_4).contains("grpo sampled, best of 4, valid split"));
    }

    #[test]
    fn a_shared_cell_is_each_sweeps_reference_and_one_setting_or_a_missing_policy_is_skipped() {
        let mut other = cell("c1", &["gate"], 1500, 1);
        other
            .axes
            .insert("rewards.x.interest_gate".into(), json!(false));
        // "seeds" varies nothing but the seed: no comparison.
        let mut shared = cell("a1", &["sft", "gate", "seeds"], 1500, 1);
        shared
            .axes
            .insert("rewards.x.interest_gate".into(), json!(true));
        let mut alt = cell("b1", &["sft"], 500, 1);
        alt.axes
            .insert("rewards.x.interest_gate".into(), json!(true));
        let plan = [shared, alt, other];
        let t = table(
            "cell,split,policy,decoding,best_of_n,draw,seed,recall@10",
            &[
                "a1,valid,grpo,sampled,1,,1,0.1",
                "b1,valid,grpo,sampled,1,,1,0.2",
                "c1,valid,grpo,sampled,1,,1,0.3",
            ],
        );
        let mut q = query();
        q.policies.push("student".into());
        let c = compare(&plan, &t, &q);
        let seen: Vec<(&str, &str, &str)> = c
            .iter()
            .flat_map(|c| {
                c.arms
                    .iter()
                    .map(move |a| (c.sweep.as_str(), c.policy.as_str(), a.label.as_str()))
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("sft", "grpo", "sft_steps=1500"),
                ("sft", "grpo", "sft_steps=500"),
                ("gate", "grpo", "interest_gate=true"),
                ("gate", "grpo", "interest_gate=false"),
            ]
        );
    }
}
