//! The paper's distillation view: the teacher, the three students (on-policy distillation,
//! supervised distillation, no distillation) and the student before distillation, each with its
//! ranking metrics over seeds, its size, its serving speed and its share of the teacher's
//! Recall@10.
//!
//! The cells of one seed differ only in the distillation method, and the teacher and the
//! student's warm start are stages they share, so those rows appear once per method cell. A
//! seed counts once: its copies are averaged (equal, but for users/s, which each cell times
//! anew), and intervals are taken over seeds, never over copies. The single sampled draws of
//! each row are kept the same way, by seed and draw, for comparisons within one seed.

use super::analysis::Analysis;
use super::paired::{Difference, Sample};
use super::results::{METHOD, RANKING, Results};
use super::stats::Estimate;
use std::collections::BTreeMap;

/// The serving-speed column: sampled lists decoded per second, one list per user.
pub const SPEED: &str = "users_per_s";

/// The metric the paper's distillation figures and shares are read on.
pub const SHARE_METRIC: &str = "recall@10";

/// A row of the distillation table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Teacher,
    OnPolicy,
    Supervised,
    NoDistillation,
    StudentWarmStart,
}

impl Role {
    /// The paper's order, with the student's starting point last as a reference.
    pub const ALL: [Role; 5] = [
        Role::Teacher,
        Role::OnPolicy,
        Role::Supervised,
        Role::NoDistillation,
        Role::StudentWarmStart,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Role::Teacher => "teacher (GRPO)",
            Role::OnPolicy => "on-policy distillation",
            Role::Supervised => "supervised distillation",
            Role::NoDistillation => "no distillation (student with GRPO)",
            Role::StudentWarmStart => "student before distillation (warm start)",
        }
    }

    /// The policy name of its rows in results.csv.
    fn policy(self) -> &'static str {
        match self {
            Role::Teacher => "grpo",
            Role::StudentWarmStart => "student_warm_start",
            _ => "student",
        }
    }

    /// The method of the cells its rows come from; `None` for rows every method cell shares.
    fn method(self) -> Option<&'static str> {
        match self {
            Role::OnPolicy => Some("on_policy"),
            Role::Supervised => Some("supervised"),
            Role::NoDistillation => Some("none"),
            Role::Teacher | Role::StudentWarmStart => None,
        }
    }
}

/// One policy of the view: its model and, per seed, each metric (copies averaged).
#[derive(Debug, Clone)]
pub struct Row {
    pub role: Role,
    pub preset: String,
    pub params: Option<f64>,
    /// seed → column → value.
    pub seeds: BTreeMap<String, BTreeMap<String, f64>>,
    /// (seed, draw) → column → value, of the single sampled draws.
    pub draws: BTreeMap<(String, String), BTreeMap<String, f64>>,
}

impl Row {
    /// `column` by seed.
    pub fn per_seed(&self, column: &str) -> BTreeMap<String, f64> {
        self.seeds
            .iter()
            .filter_map(|(seed, values)| Some((seed.clone(), *values.get(column)?)))
            .collect()
    }

    /// Mean and 95% interval of `column` over seeds.
    pub fn estimate(&self, column: &str) -> Option<Estimate> {
        Estimate::of(&self.per_seed(column).into_values().collect::<Vec<_>>())
    }

    /// `column` by seed and by seed and draw: one side of a paired comparison.
    pub fn sample(&self, column: &str) -> Sample {
        let mut draws: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
        for ((seed, draw), values) in &self.draws {
            if let Some(v) = values.get(column) {
                draws
                    .entry(seed.clone())
                    .or_default()
                    .insert(draw.clone(), *v);
            }
        }
        Sample {
            seeds: self.per_seed(column),
            draws,
        }
    }
}

/// The ranking metrics and the speed of `rows` by `key`, the copies of one key averaged.
fn copies_averaged<K: Ord>(
    table: &Results,
    rows: &[&Vec<String>],
    key: impl Fn(&Results, &[String]) -> K,
) -> BTreeMap<K, BTreeMap<String, f64>> {
    let mut copies: BTreeMap<K, BTreeMap<String, Vec<f64>>> = BTreeMap::new();
    for row in rows {
        let columns = copies.entry(key(table, row.as_slice())).or_default();
        for column in RANKING.iter().copied().chain([SPEED]) {
            if let Some(v) = table.num(row, column) {
                columns.entry(column.to_string()).or_default().push(v);
            }
        }
    }
    copies
        .into_iter()
        .map(|(k, columns)| {
            let means = columns
                .into_iter()
                .map(|(c, vs)| (c, vs.iter().sum::<f64>() / vs.len() as f64))
                .collect();
            (k, means)
        })
        .collect()
}

/// The rows present, in `Role::ALL` order.
#[derive(Debug, Clone)]
pub struct Distillation {
    pub rows: Vec<Row>,
}

impl Distillation {
    /// The view of the distillation cells (rows with a `method`), sampled lists with one draw
    /// per user; `None` when the table has no teacher or no student from such cells.
    pub fn of(a: &Analysis) -> Option<Distillation> {
        let r = &a.results;
        let mut rows = Vec::new();
        for role in Role::ALL {
            let mut filter = vec![
                ("policy", role.policy()),
                ("decoding", "sampled"),
                ("best_of_n", "1"),
            ];
            if let Some(method) = role.method() {
                filter.push((METHOD, method));
            }
            // The method is what the view compares and the preset differs between teacher and
            // student: neither is held; every other axis is.
            let found: Vec<&Vec<String>> = a
                .rows(&[METHOD, "preset"], &filter)
                .into_iter()
                .filter(|row| r.get(row, METHOD).is_some())
                .collect();
            let Some(first) = found.first() else {
                continue;
            };
            let draw_rows: Vec<&Vec<String>> = a
                .draw_rows(&[METHOD, "preset"], &filter)
                .into_iter()
                .filter(|row| a.draws.get(row, METHOD).is_some())
                .collect();
            let seed_of =
                |t: &Results, row: &[String]| t.get(row, "seed").unwrap_or("").to_string();
            let draw_of = |t: &Results, row: &[String]| {
                (
                    seed_of(t, row),
                    t.get(row, "draw").unwrap_or("").to_string(),
                )
            };
            rows.push(Row {
                role,
                preset: r.get(first, "preset").unwrap_or("").to_string(),
                params: r.num(first, "params"),
                seeds: copies_averaged(r, &found, seed_of),
                draws: copies_averaged(&a.draws, &draw_rows, draw_of),
            });
        }
        let teacher = rows.iter().any(|row| row.role == Role::Teacher);
        let student = rows.iter().any(|row| row.role.method().is_some());
        (teacher && student).then_some(Distillation { rows })
    }

    pub fn row(&self, role: Role) -> Option<&Row> {
        self.rows.iter().find(|r| r.role == role)
    }

    /// `f(row's value, other's value)` of `column` for each seed both have.
    pub fn paired(
        &self,
        role: Role,
        other: Role,
        column: &str,
        f: impl Fn(f64, f64) -> f64,
    ) -> Vec<f64> {
        let (Some(row), Some(other)) = (self.row(role), self.row(other)) else {
            return Vec::new();
        };
        let theirs = other.per_seed(column);
        row.per_seed(column)
            .iter()
            .filter_map(|(seed, v)| Some(f(*v, *theirs.get(seed)?)))
            .filter(|x| x.is_finite())
            .collect()
    }

    /// `f(role's, other's)` of `column`, paired by seed (or by draw of a single seed).
    pub fn difference(
        &self,
        role: Role,
        other: Role,
        column: &str,
        f: impl Fn(f64, f64) -> f64,
    ) -> Option<Difference> {
        let (row, other) = (self.row(role)?, self.row(other)?);
        Difference::between(&row.sample(column), &other.sample(column), f)
    }

    /// The mean over seeds of the row's Recall@10 divided by the teacher's of the same seed.
    pub fn share_of_teacher(&self, role: Role) -> Option<Estimate> {
        Estimate::of(&self.paired(role, Role::Teacher, SHARE_METRIC, |s, t| s / t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::results::Results;

    fn table(rows: &[&str]) -> Results {
        let header = "experiment,cell,method,policy,decoding,best_of_n,seed,ablation,preset,params,recall@10,users_per_s";
        crate::report::results::tests::table(header, rows)
    }

    #[test]
    fn a_teacher_shared_by_three_method_cells_counts_once_per_seed() {
        // One seed, three method cells: the teacher's three copies have one recall and three
        // timings; the view keeps one seed with their mean.
        let t = table(&[
            "d,a,on_policy,grpo,sampled,1,1,full,nano,100,0.5,10",
            "d,b,supervised,grpo,sampled,1,1,full,nano,100,0.5,11",
            "d,c,none,grpo,sampled,1,1,full,nano,100,0.5,12",
            "d,a,on_policy,student,sampled,1,1,full,pico,40,0.1,40",
            "d,b,supervised,student,sampled,1,1,full,pico,40,0.125,40",
        ]);
        let a = Analysis::new(&t);
        let d = Distillation::of(&a).unwrap();
        let teacher = d.row(Role::Teacher).unwrap();
        assert_eq!(teacher.seeds.len(), 1);
        assert_eq!(teacher.estimate(SPEED).unwrap().mean, 11.0);
        assert_eq!(
            (teacher.preset.as_str(), teacher.params),
            ("nano", Some(100.0))
        );
        let student = d.row(Role::OnPolicy).unwrap();
        assert_eq!(
            (student.preset.as_str(), student.params),
            ("pico", Some(40.0))
        );
        assert_eq!(d.share_of_teacher(Role::Supervised).unwrap().mean, 0.25);
        assert!(d.row(Role::NoDistillation).is_none());
    }

    #[test]
    fn a_table_without_distillation_cells_has_no_view() {
        let t = table(&["d,a,,grpo,sampled,1,1,full,nano,100,0.5,10"]);
        assert!(Distillation::of(&Analysis::new(&t)).is_none());
    }
}
