//! The paper's six shapes (../shared/paper-results.md, "Shapes to reproduce"), each judged on
//! a results table: holds, partly, does not hold, or not measured, with the numbers behind it.

use super::analysis::{Analysis, label};
use super::distill::{Distillation, Role, SPEED};
use super::stats::Estimate;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Holds,
    Partly,
    DoesNotHold,
    NotMeasured,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Holds => "yes",
            Verdict::Partly => "partly",
            Verdict::DoesNotHold => "no",
            Verdict::NotMeasured => "not measured",
        }
    }
}

/// One shape: the paper's claim, its figures, and what Quill's table says.
#[derive(Debug, Clone)]
pub struct Shape {
    pub claim: &'static str,
    pub paper: &'static str,
    pub verdict: Verdict,
    pub evidence: String,
}

const METRIC: &str = "recall@10";

pub fn judge(a: &Analysis) -> Vec<Shape> {
    vec![
        rl_beats_prompt_only(a),
        ablation(a),
        best_of_n(a),
        model_size(a),
        distillation_order(a),
        student_speed(a),
    ]
}

/// Shape 1, paired by cell: the final policy's sampled Recall@10 minus the warm start's.
fn rl_beats_prompt_only(a: &Analysis) -> Shape {
    let mut shape = Shape {
        claim: "The RL-trained policy beats the same model before RL (prompt-only) on held-out recall",
        paper: "R@10 0.194 (prompt-only 32B) -> 0.271 (RL)",
        verdict: Verdict::NotMeasured,
        evidence: "no GRPO policy in the results".into(),
    };
    let Some(rl) = a.final_policy().filter(|p| p != "warm_start") else {
        return shape;
    };
    let per_cell = |policy: &str| -> BTreeMap<String, f64> {
        a.rows(
            &[],
            &[
                ("policy", policy),
                ("decoding", "sampled"),
                ("best_of_n", "1"),
            ],
        )
        .iter()
        .filter_map(|r| {
            Some((
                a.results.get(r, "cell")?.to_string(),
                a.results.num(r, METRIC)?,
            ))
        })
        .collect()
    };
    let (before, after) = (per_cell("warm_start"), per_cell(&rl));
    let diffs: Vec<f64> = after
        .iter()
        .filter_map(|(cell, v)| Some(v - before.get(cell)?))
        .collect();
    let (Some(d), Some(b), Some(r)) = (
        Estimate::of(&diffs),
        Estimate::of(&before.values().copied().collect::<Vec<_>>()),
        Estimate::of(&after.values().copied().collect::<Vec<_>>()),
    ) else {
        return shape;
    };
    let wins = diffs.iter().filter(|x| **x > 0.0).count();
    shape.verdict = if d.mean > 0.0 && wins == diffs.len() {
        Verdict::Holds
    } else if d.mean > 0.0 {
        Verdict::Partly
    } else {
        Verdict::DoesNotHold
    };
    let excludes_zero = d.n > 1 && d.low() > 0.0;
    shape.evidence = format!(
        "sampled R@10 {} (warm start) -> {} ({}); paired difference {} over {}, higher on {wins} of them{}",
        b.show(4),
        r.show(4),
        label(&rl),
        d.show(4),
        super::count(d.n, "seed"),
        if excludes_zero {
            "; its 95% interval excludes 0"
        } else {
            ""
        }
    );
    shape
}

/// Shape 2: every `no_<reward>` below `full`; coverage or alignment the largest drop.
fn ablation(a: &Analysis) -> Shape {
    let mut shape = Shape {
        claim: "Removing any reward hurts; removing coverage or alignment hurts most",
        paper: "R@10 full 0.271; without coverage 0.115, alignment 0.162, diversity 0.179, structure 0.193, specificity 0.196",
        verdict: Verdict::NotMeasured,
        evidence: "no reward ablation in the results".into(),
    };
    let by_seed = a.ablation_by_seed(METRIC);
    let Some(full) = by_seed.get("full") else {
        return shape;
    };
    // The drop of each ablation, full minus ablated, paired by seed.
    let mut drops: Vec<(String, Estimate, usize)> = by_seed
        .iter()
        .filter(|(n, _)| *n != "full")
        .filter_map(|(n, values)| {
            let diffs: Vec<f64> = values
                .iter()
                .filter_map(|(seed, v)| Some(full.get(seed)? - v))
                .collect();
            let hurt = diffs.iter().filter(|d| **d > 0.0).count();
            Some((n.clone(), Estimate::of(&diffs)?, hurt))
        })
        .collect();
    if drops.is_empty() {
        return shape;
    }
    drops.sort_by(|x, y| y.1.mean.total_cmp(&x.1.mean));
    let all_hurt = drops.iter().all(|(_, d, _)| d.mean > 0.0);
    let top = &drops[0].0;
    let top_is_key = top == "no_interest_coverage" || top == "no_retrieval_alignment";
    shape.verdict = match (all_hurt, top_is_key) {
        (true, true) => Verdict::Holds,
        (false, false) => Verdict::DoesNotHold,
        _ => Verdict::Partly,
    };
    let listed: Vec<String> = drops
        .iter()
        .map(|(n, d, hurt)| {
            let interval = if d.n > 1 {
                format!(" ± {:.4}", d.half_width)
            } else {
                String::new()
            };
            format!("{n} {:+.4}{interval} (lower on {hurt} of {})", d.mean, d.n)
        })
        .collect();
    let full_mean = full.values().sum::<f64>() / full.len() as f64;
    shape.evidence = format!(
        "R@10 full {full_mean:.4}; drop when removed, paired by seed (largest first): {}",
        listed.join(", ")
    );
    shape
}

/// Shape 3: the final policy's best-of-N curve rises, and its last doubling gains less than
/// its first.
fn best_of_n(a: &Analysis) -> Shape {
    let mut shape = Shape {
        claim: "Best-of-N improves monotonically with diminishing returns",
        paper: "R@10 0.271, 0.294, 0.301, 0.305, 0.307, 0.310 for N = 1..32",
        verdict: Verdict::NotMeasured,
        evidence: "no best-of-N curve in the results".into(),
    };
    let Some(policy) = a.final_policy() else {
        return shape;
    };
    let series = a.time_scaling(METRIC);
    let Some(curve) = series.iter().find(|s| s.label == label(&policy)) else {
        return shape;
    };
    let means: Vec<f64> = curve.points.iter().map(|(_, e)| e.mean).collect();
    let gains: Vec<f64> = means.windows(2).map(|w| w[1] - w[0]).collect();
    let monotone = gains.iter().all(|g| *g >= 0.0);
    let diminishing = gains.len() >= 2 && gains[0] > gains[gains.len() - 1];
    shape.verdict = match (monotone, diminishing) {
        (true, true) => Verdict::Holds,
        (true, false) | (false, true) => Verdict::Partly,
        (false, false) => Verdict::DoesNotHold,
    };
    let listed: Vec<String> = curve
        .points
        .iter()
        .map(|(n, e)| format!("N={n}: {:.4}", e.mean))
        .collect();
    shape.evidence = format!(
        "{} R@10 {}; monotone: {}; first doubling gains {:+.4}, last {:+.4}",
        label(&policy),
        listed.join(", "),
        if monotone { "yes" } else { "no" },
        gains.first().copied().unwrap_or(0.0),
        gains.last().copied().unwrap_or(0.0),
    );
    shape
}

/// Shape 4: the final policy's Recall@10 rises with parameters across presets.
fn model_size(a: &Analysis) -> Shape {
    let mut shape = Shape {
        claim: "Larger models do better",
        paper: "R@10 0.187, 0.193, 0.194, 0.201, 0.238, 0.257 for 0.5B..32B",
        verdict: Verdict::NotMeasured,
        evidence: "fewer than two presets in the results".into(),
    };
    let Some(policy) = a.final_policy() else {
        return shape;
    };
    let series = a.space_scaling(METRIC);
    let Some(curve) = series.iter().find(|s| s.label == label(&policy)) else {
        return shape;
    };
    if curve.points.len() < 2 {
        return shape;
    }
    let means: Vec<f64> = curve.points.iter().map(|(_, e)| e.mean).collect();
    let increasing = means.windows(2).all(|w| w[1] > w[0]);
    let ends_up = means[means.len() - 1] > means[0];
    shape.verdict = match (increasing, ends_up) {
        (true, _) => Verdict::Holds,
        (false, true) => Verdict::Partly,
        (false, false) => Verdict::DoesNotHold,
    };
    let listed: Vec<String> = curve
        .points
        .iter()
        .map(|(p, e)| format!("{}: {}", super::plots::human(*p), e.show(4)))
        .collect();
    shape.evidence = format!(
        "{} R@10 by parameters: {}",
        label(&policy),
        listed.join(", ")
    );
    shape
}

/// What shapes 5 and 6 say without distillation cells.
const NO_DISTILLATION: &str = "distillation is not in this experiment";

/// Shape 5, each link paired by seed on sampled Recall@10. The teacher bounds the on-policy
/// student from above or meets it (the reading: a student may match its teacher); the
/// claim fails when the on-policy student does not beat both baselines, its substance.
fn distillation_order(a: &Analysis) -> Shape {
    let mut shape = Shape {
        claim: "Teacher > on-policy student > supervised student > student trained with RL alone",
        paper: "R@10 0.271 > 0.261 > 0.245 > 0.187",
        verdict: Verdict::NotMeasured,
        evidence: NO_DISTILLATION.into(),
    };
    let Some(d) = Distillation::of(a) else {
        return shape;
    };
    if d.row(Role::OnPolicy).is_none() {
        shape.evidence = "no on-policy student in the results".into();
        return shape;
    }
    let chain = [
        Role::Teacher,
        Role::OnPolicy,
        Role::Supervised,
        Role::NoDistillation,
    ];
    let means: Vec<String> = chain
        .iter()
        .map(|role| match d.row(*role).and_then(|r| r.estimate(METRIC)) {
            Some(e) => format!("{} {}", role.label(), e.show(4)),
            None => format!("{}: not in the results", role.label()),
        })
        .collect();
    // (higher, lower, whether a tie holds), each difference paired by seed.
    let links = [
        (Role::Teacher, Role::OnPolicy, true),
        (Role::OnPolicy, Role::Supervised, false),
        (Role::Supervised, Role::NoDistillation, false),
    ];
    let mut held = Vec::new();
    let mut listed = Vec::new();
    for (high, low, tie) in links {
        let diffs = d.paired(high, low, METRIC, |h, l| h - l);
        let Some(e) = Estimate::of(&diffs) else {
            held.push(false);
            continue;
        };
        let holds = |x: f64| if tie { x >= 0.0 } else { x > 0.0 };
        let seeds = diffs.iter().filter(|x| holds(**x)).count();
        held.push(holds(e.mean));
        listed.push(format!(
            "{} - {} {:+.4}{} ({} on {seeds} of {})",
            short(high),
            short(low),
            e.mean,
            if e.n > 1 {
                format!(" ± {:.4}", e.half_width)
            } else {
                String::new()
            },
            if tie { ">=" } else { ">" },
            e.n
        ));
    }
    let beats = |baseline: Role| {
        let diffs = d.paired(Role::OnPolicy, baseline, METRIC, |o, b| o - b);
        Estimate::of(&diffs).is_none_or(|e| e.mean > 0.0)
    };
    let best_student = beats(Role::Supervised) && beats(Role::NoDistillation);
    let every_row = chain.iter().all(|role| d.row(*role).is_some());
    shape.verdict = if !best_student {
        Verdict::DoesNotHold
    } else if every_row && held.iter().all(|h| *h) {
        Verdict::Holds
    } else {
        Verdict::Partly
    };
    shape.evidence = format!(
        "sampled R@10 {}; paired by seed: {}",
        means.join(", "),
        if listed.is_empty() {
            "no seed has two of them".to_string()
        } else {
            listed.join(", ")
        }
    );
    shape
}

/// A role's name inside a list of differences.
fn short(role: Role) -> &'static str {
    match role {
        Role::Teacher => "teacher",
        Role::OnPolicy => "on-policy",
        Role::Supervised => "supervised",
        Role::NoDistillation => "none",
        Role::StudentWarmStart => "student warm start",
    }
}

/// "Many times" read as at least this: the paper's student is 33x faster with 64x fewer
/// parameters; a CPU-scale student a few times smaller than its teacher cannot approach that,
/// but twice as fast is not "many times".
const MANY: f64 = 3.0;

/// Shape 6: the student's users/s over the teacher's, paired by seed. The paper's student is the
/// on-policy one; the students share a preset, so another stands in where it is missing.
fn student_speed(a: &Analysis) -> Shape {
    let mut shape = Shape {
        claim: "The student serves many times more users per second than the teacher",
        paper: "67 vs 2 users/s (about 33x)",
        verdict: Verdict::NotMeasured,
        evidence: NO_DISTILLATION.into(),
    };
    let Some(d) = Distillation::of(a) else {
        return shape;
    };
    let student = [Role::OnPolicy, Role::Supervised, Role::NoDistillation]
        .into_iter()
        .find(|role| d.row(*role).is_some_and(|r| r.estimate(SPEED).is_some()));
    let (Some(student), Some(teacher)) = (student, d.row(Role::Teacher)) else {
        return shape;
    };
    let ratios = d.paired(student, Role::Teacher, SPEED, |s, t| s / t);
    let (Some(ratio), Some(s), Some(t)) = (
        Estimate::of(&ratios),
        d.row(student).and_then(|r| r.estimate(SPEED)),
        teacher.estimate(SPEED),
    ) else {
        shape.evidence = "no users/s for the teacher".into();
        return shape;
    };
    let faster = ratios.iter().filter(|x| **x > 1.0).count();
    shape.verdict = if ratio.mean >= MANY && faster == ratios.len() {
        Verdict::Holds
    } else if ratio.mean > 1.0 {
        Verdict::Partly
    } else {
        Verdict::DoesNotHold
    };
    let model = |role: Role| {
        d.row(role)
            .map(|r| {
                let params = r.params.map(super::plots::human).unwrap_or_default();
                format!("{}, {params}", r.preset)
            })
            .unwrap_or_default()
    };
    let interval = if ratio.n > 1 {
        format!(" ± {:.2}", ratio.half_width)
    } else {
        String::new()
    };
    shape.evidence = format!(
        "sampled lists per second: teacher ({}) {}, {} student ({}) {}; student / teacher paired \
         by seed {:.2}x{interval} over {}, faster on {faster} of them (\"many times\" read as \
         {MANY}x or more)",
        model(Role::Teacher),
        t.show(1),
        short(student),
        model(student),
        s.show(1),
        ratio.mean,
        super::count(ratio.n, "seed"),
    );
    shape
}
