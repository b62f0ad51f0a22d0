//! The paper's six shapes (docs/paper.md, "Shapes to reproduce"), each judged on
//! the test rows of a results table with the numbers behind it. Every comparison a shape
//! claims is judged by the 95% interval of a paired difference (`super::paired`): a shape
//! holds ("yes") only where those intervals exclude zero on the paper's side; an interval that
//! includes zero reads "within noise", and a single seed with nothing to pair reads "one seed:
//! no interval", never "yes".

use super::analysis::{Analysis, label};
use super::distill::{Distillation, Role, SPEED};
use super::paired::{Difference, Side};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Holds,
    Partly,
    /// The claimed effect's interval includes zero: not shown, and not refuted.
    WithinNoise,
    DoesNotHold,
    /// One seed and no draws to pair: no interval, so nothing is shown.
    NoInterval,
    NotMeasured,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Holds => "yes",
            Verdict::Partly => "partly",
            Verdict::WithinNoise => "within noise",
            Verdict::DoesNotHold => "no",
            Verdict::NoInterval => "one seed: no interval",
            Verdict::NotMeasured => "not measured",
        }
    }

    /// The verdict on a single claimed effect, from where its interval lies.
    fn of(side: Side) -> Verdict {
        match side {
            Side::Above => Verdict::Holds,
            Side::Below => Verdict::DoesNotHold,
            Side::Straddles => Verdict::WithinNoise,
            Side::NoInterval => Verdict::NoInterval,
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
    let mut shapes = vec![
        rl_beats_prompt_only(a),
        ablation(a),
        best_of_n(a),
        model_size(a),
        distillation_order(a),
        student_speed(a),
    ];
    // The draws of one seed measure the evaluation's sampling noise, not training's from seed to
    // seed: an effect shown only against them may be one training run's luck.
    if a.seed_count() < 2 {
        for shape in shapes.iter_mut().filter(|s| s.verdict == Verdict::Holds) {
            shape.verdict = Verdict::Partly;
            shape.evidence.push_str(
                "; one seed: its interval covers sampling noise only, not training's from \
                 seed to seed",
            );
        }
    }
    shapes
}

/// The sampled rows (every draw averaged) of `policy`.
fn sampled(policy: &str) -> [(&str, &str); 3] {
    [
        ("policy", policy),
        ("decoding", "sampled"),
        ("best_of_n", "1"),
    ]
}

/// `higher - lower`, judged against 0.
fn minus(higher: &super::paired::Sample, lower: &super::paired::Sample) -> Option<Difference> {
    Difference::between(higher, lower, |h, l| h - l)
}

/// Shape 1: the final policy's sampled Recall@10 minus the model's before RL, paired: the
/// checkpoint prompted as it is (`prompt_only`) where the results have it, else the warm start
/// (a from-scratch preset has no prompt-only form). With a prompt-only row, GRPO's gain over
/// its own starting point, the warm start, is stated beside it.
fn rl_beats_prompt_only(a: &Analysis) -> Shape {
    let mut shape = Shape {
        claim: "The RL-trained policy beats the same model before RL (prompt-only) on held-out recall",
        paper: "R@10 0.194 (prompt-only 32B) -> 0.271 (RL)",
        verdict: Verdict::NotMeasured,
        evidence: "no GRPO policy in the results".into(),
    };
    let Some(rl) = a
        .final_policy()
        .filter(|p| p != "warm_start" && p != "prompt_only")
    else {
        return shape;
    };
    let after = a.sample(&[], &sampled(&rl), METRIC);
    let prompt_only = a.sample(&[], &sampled("prompt_only"), METRIC);
    let warm_start = a.sample(&[], &sampled("warm_start"), METRIC);
    let (base, before) = match prompt_only.estimate() {
        Some(_) => ("prompt_only", &prompt_only),
        None => ("warm_start", &warm_start),
    };
    let Some(main) = paired_change(before, &after, base, &rl) else {
        return shape;
    };
    shape.verdict = Verdict::of(main.0);
    shape.evidence = main.1;
    if base == "prompt_only"
        && let Some((_, own)) = paired_change(&warm_start, &after, "warm_start", &rl)
    {
        shape.evidence = format!("{}; against its own starting point: {own}", shape.evidence);
    }
    shape
}

/// `before` -> `after` in words, with the paired difference and its side of zero.
fn paired_change(
    before: &super::paired::Sample,
    after: &super::paired::Sample,
    before_policy: &str,
    after_policy: &str,
) -> Option<(Side, String)> {
    let d = minus(after, before)?;
    let (b, r) = (before.estimate()?, after.estimate()?);
    let text = format!(
        "sampled R@10 {} ({}) -> {} ({}); paired difference {}, higher on {} of {}",
        b.show(4),
        label(before_policy),
        r.show(4),
        label(after_policy),
        d.show(4),
        d.count(|x| x > 0.0),
        d.estimate.n,
    );
    Some((d.side(0.0), text))
}

/// Shape 2: every `no_<reward>` below `full`; coverage or alignment the largest drop, beyond
/// noise of every other reward's.
fn ablation(a: &Analysis) -> Shape {
    let mut shape = Shape {
        claim: "Removing any reward hurts; removing coverage or alignment hurts most",
        paper: "R@10 full 0.271; without coverage 0.115, alignment 0.162, diversity 0.179, structure 0.193, specificity 0.196",
        verdict: Verdict::NotMeasured,
        evidence: "no reward ablation in the results".into(),
    };
    let Some(policy) = a.final_policy() else {
        return shape;
    };
    let of = |name: &str| {
        let mut filter = sampled(&policy).to_vec();
        filter.push(("ablation", name));
        a.sample(&["ablation"], &filter, METRIC)
    };
    let full = of("full");
    let Some(full_mean) = full.estimate().map(|e| e.mean) else {
        return shape;
    };
    // The drop of each ablation, full minus ablated, paired.
    let mut drops: Vec<(String, Difference)> = a
        .ablation(METRIC)
        .into_iter()
        .filter(|(name, _)| name != "full")
        .filter_map(|(name, _)| Some((name.clone(), minus(&full, &of(&name))?)))
        .collect();
    if drops.is_empty() {
        return shape;
    }
    drops.sort_by(|x, y| y.1.estimate.mean.total_cmp(&x.1.estimate.mean));
    let is_key = |n: &str| n == "no_interest_coverage" || n == "no_retrieval_alignment";
    let top = drops[0].0.clone();
    // The largest drop exceeds every other reward's: removing the top one leaves less.
    let top_beats: Vec<Side> = drops
        .iter()
        .filter(|(n, _)| !is_key(n))
        .filter_map(|(n, _)| minus(&of(n), &of(&top)).map(|d| d.side(0.0)))
        .collect();
    let most = is_key(&top) && top_beats.iter().all(|s| *s == Side::Above);
    let sides: Vec<Side> = drops.iter().map(|(_, d)| d.side(0.0)).collect();
    let all_hurt = sides.iter().all(|s| *s == Side::Above);
    // Partly: one of the two claims shown in full. No: a reward whose removal helps beyond
    // noise, against "any reward hurts".
    shape.verdict = if sides.iter().all(|s| *s == Side::NoInterval) {
        Verdict::NoInterval
    } else if all_hurt && most {
        Verdict::Holds
    } else if all_hurt || most {
        Verdict::Partly
    } else if sides.contains(&Side::Below) {
        Verdict::DoesNotHold
    } else {
        Verdict::WithinNoise
    };
    let listed: Vec<String> = drops
        .iter()
        .map(|(n, d)| {
            let lower = d.count(|x| x > 0.0);
            format!("{n} {} (lower on {lower} of {})", d.show(4), d.estimate.n)
        })
        .collect();
    let largest = if !is_key(&top) {
        format!("the largest drop is {top}'s, not coverage's or alignment's")
    } else if most {
        format!("{top}'s drop exceeds every other reward's beyond noise")
    } else {
        format!("{top}'s drop is the largest, but not beyond noise of every other reward's")
    };
    shape.evidence = format!(
        "R@10 full {full_mean:.4}; drop when removed, paired (largest first): {}; {largest}",
        listed.join(", ")
    );
    shape
}

/// Shape 3: the final policy's best-of-N curve rises from N = 1 to the largest N beyond noise,
/// no doubling lowers it beyond noise, and its first doubling gains more than its last.
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
    let curve = a.best_of_n_samples(&policy, METRIC);
    if curve.len() < 2 {
        return shape;
    }
    let (first, last) = (&curve[0], &curve[curve.len() - 1]);
    let Some(overall) = minus(&last.1, &first.1) else {
        return shape;
    };
    let gains: Vec<_> = curve
        .windows(2)
        .map(|w| w[1].1.combine(&w[0].1, |h, l| h - l))
        .collect();
    let falls: Vec<u64> = curve
        .windows(2)
        .filter(|w| minus(&w[1].1, &w[0].1).is_some_and(|d| d.side(0.0) == Side::Below))
        .map(|w| w[1].0)
        .collect();
    let diminishing = (gains.len() >= 2)
        .then(|| minus(&gains[0], &gains[gains.len() - 1]))
        .flatten();
    let diminishes = diminishing
        .as_ref()
        .is_some_and(|d| d.side(0.0) == Side::Above);
    shape.verdict = match Verdict::of(overall.side(0.0)) {
        Verdict::Holds if falls.is_empty() && diminishes => Verdict::Holds,
        Verdict::Holds => Verdict::Partly,
        other => other,
    };
    let means: Vec<String> = curve
        .iter()
        .filter_map(|(n, s)| Some(format!("N={n}: {:.4}", s.estimate()?.mean)))
        .collect();
    let doublings = match falls.as_slice() {
        _ if overall.side(0.0) == Side::NoInterval => "no step can be judged".to_string(),
        [] => "no step lowers it beyond noise".to_string(),
        ns => format!("lower beyond noise at N = {ns:?}"),
    };
    shape.evidence = format!(
        "{} R@10 {}; N={} minus N={}: {}; {doublings}; first step's gain minus the last's: {}",
        label(&policy),
        means.join(", "),
        last.0,
        first.0,
        overall.show(4),
        diminishing.map_or("-".into(), |d| d.show(4)),
    );
    shape
}

/// Shape 4: the final policy's Recall@10 rises with parameters across presets: the largest
/// above the smallest beyond noise, and each preset above the one before.
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
    let presets = a.space_samples(&policy, METRIC);
    if presets.len() < 2 {
        return shape;
    }
    let Some(ends) = minus(&presets[presets.len() - 1].1, &presets[0].1) else {
        return shape;
    };
    let steps: Vec<Option<Difference>> = presets
        .windows(2)
        .map(|w| minus(&w[1].1, &w[0].1))
        .collect();
    let every_step = steps
        .iter()
        .all(|d| d.as_ref().is_some_and(|d| d.side(0.0) == Side::Above));
    shape.verdict = match Verdict::of(ends.side(0.0)) {
        Verdict::Holds if every_step => Verdict::Holds,
        Verdict::Holds => Verdict::Partly,
        other => other,
    };
    let human = super::plots::human;
    let listed: Vec<String> = presets
        .iter()
        .filter_map(|(p, s)| Some(format!("{}: {}", human(*p), s.estimate()?.show(4))))
        .collect();
    let stepped: Vec<String> = presets
        .windows(2)
        .zip(&steps)
        .map(|(w, d)| {
            let shown = d.as_ref().map_or("-".into(), |d| d.show(4));
            format!("{} over {}: {shown}", human(w[1].0), human(w[0].0))
        })
        .collect();
    shape.evidence = format!(
        "{} R@10 by parameters: {}; paired: {}",
        label(&policy),
        listed.join(", "),
        stepped.join(", ")
    );
    shape
}

/// What shapes 5 and 6 say without distillation cells.
const NO_DISTILLATION: &str = "distillation is not in this experiment";

/// Shape 5, each link paired on sampled Recall@10. The teacher bounds the on-policy student
/// from above or meets it (the reading: a student may match its teacher), so that link
/// fails only where the student is above it beyond noise; the others must exclude zero. The
/// claim fails when the on-policy student is below either baseline beyond noise, its substance.
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
    // (higher, lower, whether a tie holds).
    let links = [
        (Role::Teacher, Role::OnPolicy, true),
        (Role::OnPolicy, Role::Supervised, false),
        (Role::Supervised, Role::NoDistillation, false),
    ];
    let judged: Vec<Option<(Side, bool, String)>> = links
        .iter()
        .map(|&(high, low, tie)| link(&d, high, low, tie))
        .collect();
    let sides: Vec<Side> = judged.iter().flatten().map(|(side, _, _)| *side).collect();
    let held: Vec<bool> = judged
        .iter()
        .map(|j| j.as_ref().is_some_and(|j| j.1))
        .collect();
    let listed: Vec<&str> = judged
        .iter()
        .flatten()
        .map(|(_, _, s)| s.as_str())
        .collect();
    let against = |baseline: Role| {
        d.difference(Role::OnPolicy, baseline, METRIC, |o, b| o - b)
            .map(|diff| diff.side(0.0))
    };
    let baselines = [against(Role::Supervised), against(Role::NoDistillation)];
    let below_a_baseline = baselines.contains(&Some(Side::Below));
    let best_student = baselines.iter().all(|s| s.is_none_or(|s| s == Side::Above));
    let every_row = chain.iter().all(|role| d.row(*role).is_some());
    shape.verdict = if !sides.is_empty() && sides.iter().all(|s| *s == Side::NoInterval) {
        Verdict::NoInterval
    } else if below_a_baseline {
        Verdict::DoesNotHold
    } else if best_student && every_row && held.iter().all(|h| *h) {
        Verdict::Holds
    } else if best_student {
        Verdict::Partly
    } else {
        Verdict::WithinNoise
    };
    shape.evidence = format!(
        "sampled R@10 {}; paired: {}",
        means.join(", "),
        if listed.is_empty() {
            "no seed has two of them".to_string()
        } else {
            listed.join(", ")
        }
    );
    shape
}

/// One link of the distillation chain, `high` above `low` (or meeting it, where `tie`): where
/// its paired interval lies, whether the link holds, and how it reads.
fn link(d: &Distillation, high: Role, low: Role, tie: bool) -> Option<(Side, bool, String)> {
    let diff = d.difference(high, low, METRIC, |h, l| h - l)?;
    let side = diff.side(0.0);
    let held = if tie {
        side != Side::Below
    } else {
        side == Side::Above
    };
    let holding = diff.count(|x| if tie { x >= 0.0 } else { x > 0.0 });
    let shown = format!(
        "{} - {} {} ({} on {holding} of {})",
        short(high),
        short(low),
        diff.show(4),
        if tie { ">=" } else { ">" },
        diff.estimate.n
    );
    Some((side, held, shown))
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

/// Shape 6: the student's users/s over the teacher's, paired by seed: "yes" where the ratio's
/// interval lies above `MANY`. The paper's student is the on-policy one; the students share a
/// preset, so another stands in where it is missing.
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
    let (Some(ratio), Some(s), Some(t)) = (
        d.difference(student, Role::Teacher, SPEED, |s, t| s / t),
        d.row(student).and_then(|r| r.estimate(SPEED)),
        teacher.estimate(SPEED),
    ) else {
        shape.evidence = "no users/s for the teacher".into();
        return shape;
    };
    shape.verdict = match (ratio.side(MANY), ratio.side(1.0)) {
        (Side::Above, _) => Verdict::Holds,
        (_, Side::Above) => Verdict::Partly,
        (_, side) => Verdict::of(side),
    };
    let model = |role: Role| {
        d.row(role)
            .map(|r| {
                let params = r.params.map(super::plots::human).unwrap_or_default();
                format!("{}, {params}", r.preset)
            })
            .unwrap_or_default()
    };
    shape.evidence = format!(
        "sampled lists per second: teacher ({}) {}, {} student ({}) {}; student / teacher paired \
         {}, faster on {} (\"many times\" read as {MANY}x or more)",
        model(Role::Teacher),
        t.show(1),
        short(student),
        model(student),
        s.show(1),
        ratio.show_ratio(),
        ratio.count(|x| x > 1.0),
    );
    shape
}
