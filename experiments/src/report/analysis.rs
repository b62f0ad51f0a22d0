//! The paper's views of a results table: space scaling (metric vs parameters), time scaling
//! (metric vs best-of-N), the reward ablation and the offline retrieval table, each as means
//! with 95% intervals over seeds.
//!
//! Every view reads the test split's rows only (settings are chosen on the validation split),
//! and the summary rows apart from the single draws. It holds all other axes at a reference
//! value: `ablation = full`, `method = on_policy` (distillation), and for the preset and any
//! other swept field the value with the most rows. An axis whose value follows from the view's
//! own (a learning rate zipped with the preset) varies with it instead. Rows that differ only in
//! their seed are the repeats an interval is taken over; with a single seed, the draws of one
//! are (`sample`).

use super::paired::Sample;
use super::plots::Series;
use super::results::{METHOD, Results};
use super::stats::Estimate;
use std::collections::BTreeMap;

/// The test rows of a results table, with their reference values.
pub struct Analysis {
    /// The test split's summary rows: each policy and decoding over all of a cell's draws,
    /// best-of-N, the references.
    pub results: Results,
    /// The test split's single sampled draws (a `draw` number each).
    pub draws: Results,
    /// The splits the whole table has rows of (`valid`, `test`).
    pub splits: Vec<String>,
    /// Column → the value the views hold it at (preset, ablation and the other axes).
    pub reference: BTreeMap<String, String>,
}

impl Analysis {
    /// The views of `table`'s test rows.
    pub fn new(table: &Results) -> Self {
        let reported = table.reported();
        let results = reported.filtered(|row| !reported.is_draw(row));
        let draws = reported.filtered(|row| reported.is_draw(row));
        let splits = table.splits().into_iter().map(String::from).collect();
        let reference = reference_values(&results);
        Analysis {
            results,
            draws,
            splits,
            reference,
        }
    }

    /// How many distinct seeds the test rows hold.
    pub fn seed_count(&self) -> usize {
        let r = &self.results;
        let seeds: std::collections::BTreeSet<&str> =
            r.rows.iter().filter_map(|row| r.get(row, "seed")).collect();
        seeds.len()
    }

    /// Rows at the reference of every axis except `free` and the axes tied to them, matching
    /// `filter` exactly.
    pub fn rows(&self, free: &[&str], filter: &[(&str, &str)]) -> Vec<&Vec<String>> {
        self.matching(&self.results, free, filter)
    }

    /// The single draws `rows` would select among the summary rows.
    pub fn draw_rows(&self, free: &[&str], filter: &[(&str, &str)]) -> Vec<&Vec<String>> {
        self.matching(&self.draws, free, filter)
    }

    fn matching<'t>(
        &self,
        r: &'t Results,
        free: &[&str],
        filter: &[(&str, &str)],
    ) -> Vec<&'t Vec<String>> {
        let tied = self.tied_to(free);
        r.rows
            .iter()
            .filter(|row| {
                self.reference.iter().all(|(column, value)| {
                    free.contains(&column.as_str())
                        || tied.contains(column)
                        || r.get(row, column).unwrap_or("") == value
                })
            })
            .filter(|row| filter.iter().all(|(c, v)| r.get(row, c) == Some(*v)))
            .collect()
    }

    /// The axes whose value is a function of the `free` axes' values over every policy row
    /// (as zipped axes are): holding one of them would keep a single point of the view.
    pub fn tied_to(&self, free: &[&str]) -> Vec<String> {
        let r = &self.results;
        let key = |row: &Vec<String>| -> Vec<String> {
            free.iter()
                .map(|c| r.get(row, c).unwrap_or("").to_string())
                .collect()
        };
        let policy_rows = policy_rows(r);
        self.reference
            .keys()
            .filter(|column| !free.contains(&column.as_str()))
            .filter(|column| {
                let mut seen: BTreeMap<Vec<String>, &str> = BTreeMap::new();
                let mut values: Vec<&str> = Vec::new();
                let mut function = true;
                for row in &policy_rows {
                    let value = r.get(row, column).unwrap_or("");
                    if !values.contains(&value) {
                        values.push(value);
                    }
                    function &= *seen.entry(key(row)).or_insert(value) == value;
                }
                function && values.len() > 1
            })
            .cloned()
            .collect()
    }

    /// `rows` by their value of `column`.
    fn group_by<'t>(
        &self,
        rows: Vec<&'t Vec<String>>,
        column: &str,
    ) -> BTreeMap<String, Vec<&'t Vec<String>>> {
        let mut groups: BTreeMap<String, Vec<&Vec<String>>> = BTreeMap::new();
        for row in rows {
            let value = self.results.get(row, column).unwrap_or("").to_string();
            groups.entry(value).or_default().push(row);
        }
        groups
    }

    /// The estimate of `metric` over `rows` (one per seed).
    pub fn estimate(&self, rows: &[&Vec<String>], metric: &str) -> Option<Estimate> {
        let values: Vec<f64> = rows
            .iter()
            .filter_map(|r| self.results.num(r, metric))
            .collect();
        Estimate::of(&values)
    }

    /// The policies trained by the pipeline, in pipeline order (warm start first).
    pub fn policies(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for row in &self.results.rows {
            if self.results.get(row, "decoding") == Some("sampled")
                && let Some(p) = self.results.get(row, "policy")
                && !out.iter().any(|o| o == p)
            {
                out.push(p.to_string());
            }
        }
        let order = [
            "prompt_only",
            "warm_start",
            "grpo",
            "student_warm_start",
            "student",
        ];
        out.sort_by_key(|p| {
            let known = order.iter().position(|o| o == p);
            (known.unwrap_or(order.len()), p.clone())
        });
        out
    }

    /// The policy the ablation and the headline numbers are read on: GRPO when there is one.
    pub fn final_policy(&self) -> Option<String> {
        let policies = self.policies();
        policies
            .iter()
            .find(|p| *p == "grpo")
            .or(policies.last())
            .cloned()
    }

    /// `metric` against parameters, one series per policy (sampled lists, one per draw).
    pub fn space_scaling(&self, metric: &str) -> Vec<Series> {
        let mut out = Vec::new();
        for policy in self.policies() {
            let rows = self.rows(
                &["preset"],
                &[
                    ("policy", &policy),
                    ("decoding", "sampled"),
                    ("best_of_n", "1"),
                ],
            );
            let mut points: Vec<(f64, Estimate)> = self
                .group_by(rows, "preset")
                .values()
                .filter_map(|rows| {
                    let params = self.results.num(rows[0], "params")?;
                    Some((params, self.estimate(rows, metric)?))
                })
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            if !points.is_empty() {
                out.push(Series {
                    label: label(&policy),
                    points,
                });
            }
        }
        out
    }

    /// `metric` against N of best-of-N, one series per policy. Where the number of sampled
    /// lists per user is swept, the cells with the most draws (the longest curve) are used.
    pub fn time_scaling(&self, metric: &str) -> Vec<Series> {
        let mut out = Vec::new();
        for policy in self.policies() {
            let points: Vec<(f64, Estimate)> = self
                .best_of_n_rows(&policy)
                .iter()
                .filter_map(|(n, rows)| Some((*n as f64, self.estimate(rows, metric)?)))
                .collect();
            if points.len() > 1 {
                out.push(Series {
                    label: label(&policy),
                    points,
                });
            }
        }
        out
    }

    /// `policy`'s best-of-N curve of `metric` by seed, one sample per N (best-of-N keeps no
    /// single draws, so these pair by seed only).
    pub fn best_of_n_samples(&self, policy: &str, metric: &str) -> Vec<(u64, Sample)> {
        self.best_of_n_rows(policy)
            .into_iter()
            .map(|(n, rows)| {
                let sample = Sample::of(&self.results, &rows, &self.draws, &[], metric);
                (n, sample)
            })
            .collect()
    }

    /// The rows of `policy`'s best-of-N curve by N, from the cells with the most draws.
    fn best_of_n_rows(&self, policy: &str) -> BTreeMap<u64, Vec<&Vec<String>>> {
        let draws = "samples_per_user";
        let most = self
            .results
            .rows
            .iter()
            .filter_map(|r| self.results.num(r, draws))
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        let most = most.map(|m| format!("{m}"));
        let mut filter = vec![("policy", policy), ("decoding", "sampled")];
        if let Some(m) = &most {
            filter.push((draws, m.as_str()));
        }
        let mut by_n: BTreeMap<u64, Vec<&Vec<String>>> = BTreeMap::new();
        for row in self.rows(&[draws], &filter) {
            if let Some(n) = self.results.num(row, "best_of_n") {
                by_n.entry(n as u64).or_default().push(row);
            }
        }
        by_n
    }

    /// `metric` of `policy`'s sampled lists per preset, by parameters (smallest first): each
    /// preset's values by seed and by draw.
    pub fn space_samples(&self, policy: &str, metric: &str) -> Vec<(f64, Sample)> {
        let filter = [
            ("policy", policy),
            ("decoding", "sampled"),
            ("best_of_n", "1"),
        ];
        let rows = self.rows(&["preset"], &filter);
        let mut out: Vec<(f64, Sample)> = self
            .group_by(rows, "preset")
            .into_iter()
            .filter_map(|(preset, rows)| {
                let params = self.results.num(rows[0], "params")?;
                let mut of_preset = filter.to_vec();
                of_preset.push(("preset", preset.as_str()));
                let draw_rows = self.draw_rows(&["preset"], &of_preset);
                let sample = Sample::of(&self.results, &rows, &self.draws, &draw_rows, metric);
                Some((params, sample))
            })
            .collect();
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }

    /// `metric` of the rows `rows(free, filter)` selects, by seed, and of the single draws
    /// `draw_rows(free, filter)` selects, by seed and draw: one side of a paired comparison.
    pub fn sample(&self, free: &[&str], filter: &[(&str, &str)], metric: &str) -> Sample {
        let rows = self.rows(free, filter);
        let draw_rows = self.draw_rows(free, filter);
        Sample::of(&self.results, &rows, &self.draws, &draw_rows, metric)
    }

    /// The final policy's sampled rows (every draw averaged) of the ablation view.
    fn ablation_rows(&self) -> Vec<&Vec<String>> {
        let Some(policy) = self.final_policy() else {
            return Vec::new();
        };
        self.rows(
            &["ablation"],
            &[
                ("policy", &policy),
                ("decoding", "sampled"),
                ("best_of_n", "1"),
            ],
        )
    }

    /// `metric` per ablation of the final policy, `full` first.
    pub fn ablation(&self, metric: &str) -> Vec<(String, Estimate)> {
        let mut out: Vec<(String, Estimate)> = self
            .group_by(self.ablation_rows(), "ablation")
            .iter()
            .filter_map(|(a, rows)| Some((a.clone(), self.estimate(rows, metric)?)))
            .collect();
        out.sort_by_key(|(a, _)| (a != "full", a.clone()));
        out
    }

    /// Rows of the offline retrieval table: (method, row filter), in display order.
    pub fn offline_methods(&self) -> Vec<(String, Vec<(&'static str, String)>)> {
        let mut out = Vec::new();
        for baseline in ["history_as_queries", "bootstrap_lists"] {
            out.push((label(baseline), vec![("policy", baseline.to_string())]));
        }
        for policy in self.policies() {
            for decoding in ["greedy", "sampled"] {
                out.push((
                    format!("{} ({decoding})", label(&policy)),
                    vec![
                        ("policy", policy.clone()),
                        ("decoding", decoding.to_string()),
                        ("best_of_n", "1".to_string()),
                    ],
                ));
            }
            if let Some(n) = self.largest_n(&policy) {
                out.push((
                    format!("{} (best of {n})", label(&policy)),
                    vec![
                        ("policy", policy.clone()),
                        ("decoding", "sampled".to_string()),
                        ("best_of_n", n.to_string()),
                    ],
                ));
            }
        }
        out
    }

    fn largest_n(&self, policy: &str) -> Option<u64> {
        self.rows(&[], &[("policy", policy), ("decoding", "sampled")])
            .iter()
            .filter_map(|r| self.results.num(r, "best_of_n"))
            .map(|n| n as u64)
            .filter(|n| *n > 1)
            .max()
    }
}

/// The value each axis is held at: the paper's own where present (all rewards, on-policy
/// distillation), else the most common one over policy rows (on a tie, the first seen).
fn reference_values(results: &Results) -> BTreeMap<String, String> {
    let mut reference = BTreeMap::new();
    let policy_rows = policy_rows(results);
    for column in axis_columns(results) {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for row in &policy_rows {
            let value = results.get(row, &column).unwrap_or("").to_string();
            match counts.iter_mut().find(|(v, _)| *v == value) {
                Some((_, n)) => *n += 1,
                None => counts.push((value, 1)),
            }
        }
        // The paper's own settings where present: all rewards, on-policy distillation.
        let preferred = match column.as_str() {
            "ablation" => Some("full"),
            METHOD => Some("on_policy"),
            _ => None,
        }
        .filter(|p| counts.iter().any(|(v, _)| v == p));
        let chosen = if let Some(p) = preferred {
            Some(p.to_string())
        } else {
            // The most common value; on a tie, the first seen.
            let best = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
            counts.into_iter().find(|(_, n)| *n == best).map(|(v, _)| v)
        };
        if let Some(v) = chosen {
            reference.insert(column, v);
        }
    }
    reference
}

/// The rows of trained policies (the model-free references have decoding `none`).
fn policy_rows(results: &Results) -> Vec<&Vec<String>> {
    results
        .rows
        .iter()
        .filter(|r| results.get(r, "decoding") != Some("none"))
        .collect()
}

/// The swept columns: those before `policy` that are not row keys.
fn axis_columns(results: &Results) -> Vec<String> {
    let mut out: Vec<String> = results
        .header
        .iter()
        .take_while(|h| *h != "policy")
        .filter(|h| !super::results::KEYS.contains(&h.as_str()))
        .cloned()
        .collect();
    for fixed in ["ablation", "preset"] {
        if results.header.iter().any(|h| h == fixed) && !out.iter().any(|o| o == fixed) {
            out.push(fixed.to_string());
        }
    }
    out
}

/// A policy's name for people.
pub fn label(policy: &str) -> String {
    match policy {
        "prompt_only" => "prompt only".into(),
        "warm_start" => "warm start".into(),
        "grpo" => "GRPO".into(),
        "student_warm_start" => "student warm start".into(),
        "history_as_queries" => "history as queries".into(),
        "bootstrap_lists" => "bootstrap lists".into(),
        other => other.into(),
    }
}
