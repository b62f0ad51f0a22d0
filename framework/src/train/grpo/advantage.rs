//! Group-relative advantages: each user's G sampled lists are compared only with each other, so
//! the group mean stands in for the value baseline PPO would learn (Shao et al. 2024,
//! DeepSeekMath, §4.1). Rewards are laid out group by group: group g is
//! `rewards[g * G..(g + 1) * G]`, and the advantages come back in the same order.

use super::config::AdvantageKind;
use crate::error::{Error, Result};
use crate::reward::Scored;

/// Added to the group's standard deviation before dividing, as DeepSeekMath and TRL do, so a
/// near-unanimous group does not blow its advantages up to infinity.
const GRPO_STD_EPSILON: f64 = 1e-4;

/// The advantage of every scored list (laid out group by group).
///
/// Dr.GRPO and GRPO compare the composite rewards ([`group_advantages`]). GDPO compares each
/// reward on its own and sums the weighted results ([`decoupled_advantages`]), so it needs the
/// per-reward values and the composite's weights (in `Scored::per_reward` order).
pub fn advantages(
    scored: &[Scored],
    weights: &[f32],
    group_size: usize,
    kind: AdvantageKind,
) -> Result<Vec<f32>> {
    match kind {
        AdvantageKind::DrGrpo | AdvantageKind::Grpo => {
            let composite: Vec<f32> = scored.iter().map(|s| s.composite).collect();
            group_advantages(&composite, group_size, kind)
        }
        AdvantageKind::Gdpo => {
            let columns: Vec<Vec<f32>> = (0..weights.len())
                .map(|k| scored.iter().map(|s| s.per_reward[k]).collect())
                .collect();
            decoupled_advantages(&columns, weights, group_size)
        }
    }
}

/// GDPO (Liu et al. 2026, arXiv 2601.05242): `Σ_k w_k · grpo(column_k)`, divided by the
/// standard deviation of that sum over the whole batch (+1e-4).
///
/// Each column holds one reward's value for every list. A reward that is unanimous within a
/// group contributes nothing to that group, whatever its scale; the batch division keeps the
/// advantages' size independent of how many rewards there are. Errors as
/// [`group_advantages`] does, naming the column of a bad value, and when `weights` and
/// `columns` differ in number.
pub fn decoupled_advantages(
    columns: &[Vec<f32>],
    weights: &[f32],
    group_size: usize,
) -> Result<Vec<f32>> {
    if columns.len() != weights.len() {
        let msg = format!(
            "{} reward columns for {} weights",
            columns.len(),
            weights.len()
        );
        return Err(Error::model("gdpo advantages", msg));
    }
    let rows = columns.first().map_or(0, Vec::len);
    let mut sum = vec![0.0f64; rows];
    for (k, (column, &w)) in columns.iter().zip(weights).enumerate() {
        if column.len() != rows {
            let msg = format!(
                "reward column {k} has {} values, column 0 {rows}",
                column.len()
            );
            return Err(Error::model("gdpo advantages", msg));
        }
        let adv = group_advantages(column, group_size, AdvantageKind::Grpo)
            .map_err(|e| Error::model(format!("gdpo reward column {k}"), e.to_string()))?;
        for (total, a) in sum.iter_mut().zip(adv) {
            *total += f64::from(w) * f64::from(a);
        }
    }
    Ok(batch_standardise(&sum))
}

/// Divides by the batch's (unbiased) standard deviation + 1e-4 after centring on the batch mean
/// (already ~0 for group-centred values): GDPO's last step.
fn batch_standardise(values: &[f64]) -> Vec<f32> {
    if values.is_empty() {
        return Vec::new();
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var = if values.len() < 2 {
        0.0
    } else {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64
    };
    let scale = 1.0 / (var.sqrt() + GRPO_STD_EPSILON);
    values.iter().map(|v| ((v - mean) * scale) as f32).collect()
}

/// One advantage per reward, in the rewards' order.
///
/// - [`AdvantageKind::DrGrpo`] (Liu et al. 2025, "Understanding R1-Zero-Like Training"):
///   `r - mean(group)`.
/// - [`AdvantageKind::Grpo`] (Shao et al. 2024): `(r - mean(group)) / (std(group) + 1e-4)` with
///   the unbiased (n - 1) standard deviation, as TRL computes it (`torch.std`).
/// - [`AdvantageKind::Gdpo`] on a single reward: GRPO's advantages, then divided by their
///   standard deviation over the batch (what [`decoupled_advantages`] gives for one column).
///
/// Sums run in f64 so that groups of rewards that differ only in the last bits of an f32 still
/// centre on an exact zero mean.
///
/// Errors when `group_size < 2` (one list has nothing to be compared with), when the number of
/// rewards is not a multiple of `group_size`, or when a reward is NaN or infinite (naming its
/// index and value: one bad reward would silently poison its whole group).
pub fn group_advantages(
    rewards: &[f32],
    group_size: usize,
    kind: AdvantageKind,
) -> Result<Vec<f32>> {
    check_layout(rewards, group_size)?;
    if kind == AdvantageKind::Gdpo {
        return decoupled_advantages(&[rewards.to_vec()], &[1.0], group_size);
    }
    let mut out = Vec::with_capacity(rewards.len());
    for group in rewards.chunks(group_size) {
        let mean = mean(group);
        let scale = match kind {
            AdvantageKind::Grpo => 1.0 / (unbiased_std(group, mean) + GRPO_STD_EPSILON),
            AdvantageKind::DrGrpo | AdvantageKind::Gdpo => 1.0,
        };
        out.extend(group.iter().map(|&r| ((r as f64 - mean) * scale) as f32));
    }
    Ok(out)
}

/// Each group's unbiased (n - 1) standard deviation, one value per group.
///
/// Unbiased, because that is what TRL's `frac_reward_zero_std` and GRPO's advantage use, so a
/// group dropped here is exactly one whose GRPO advantages would be all zero. (Whether the spread
/// is zero does not depend on the choice; only the scale a nonzero `tolerance` is compared
/// against does.)
///
/// Meant for input that [`group_advantages`] accepts; on other input it does not fail but
/// degrades: a trailing partial group gets its own spread (0 when it has one reward),
/// `group_size == 0` gives no groups, and a non-finite reward gives a NaN spread.
pub fn group_spread(rewards: &[f32], group_size: usize) -> Vec<f32> {
    if group_size == 0 {
        return Vec::new();
    }
    rewards
        .chunks(group_size)
        .map(|group| unbiased_std(group, mean(group)) as f32)
        .collect()
}

/// Which groups to train on: `false` for a group whose spread is at most `tolerance`.
///
/// Such a group has (near-)identical rewards, so every advantage in it is ~0 under either kind
/// and it only dilutes the batch (DAPO's "dynamic sampling", Yu et al. 2025, drops the same
/// groups). A negative `tolerance` keeps every group. A NaN spread is kept, so that the error
/// from [`group_advantages`] surfaces rather than the group silently vanishing.
pub fn keep_groups(spread: &[f32], tolerance: f64) -> Vec<bool> {
    spread
        .iter()
        .map(|&s| tolerance < 0.0 || s.is_nan() || s as f64 > tolerance)
        .collect()
}

fn check_layout(rewards: &[f32], group_size: usize) -> Result<()> {
    const FIELD: &str = "grpo.group_size";
    if group_size < 2 {
        let msg = format!(
            "a group needs at least 2 sampled lists to compare, got group_size {group_size}"
        );
        return Err(Error::field(FIELD, msg));
    }
    if !rewards.len().is_multiple_of(group_size) {
        let msg = format!(
            "{} rewards do not split into groups of {group_size} (one group per user)",
            rewards.len()
        );
        return Err(Error::field(FIELD, msg));
    }
    if let Some((i, r)) = rewards.iter().enumerate().find(|(_, r)| !r.is_finite()) {
        let msg = format!(
            "reward {i} (group {}) is {r}; every composite reward must be a finite number",
            i / group_size
        );
        return Err(Error::model("grpo advantages", msg));
    }
    Ok(())
}

fn mean(group: &[f32]) -> f64 {
    group.iter().map(|&r| r as f64).sum::<f64>() / group.len() as f64
}

/// Bessel-corrected standard deviation; 0 for a single value (nothing to spread).
fn unbiased_std(group: &[f32], mean: f64) -> f64 {
    if group.len() < 2 {
        return 0.0;
    }
    let squares: f64 = group.iter().map(|&r| (r as f64 - mean).powi(2)).sum();
    (squares / (group.len() - 1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: &[f32], want: &[f32], tol: f32) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= tol, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn dr_grpo_subtracts_the_group_mean_only() {
        // Mean 3: no division, so the advantages keep the reward scale.
        let adv = group_advantages(&[1.0, 2.0, 3.0, 6.0], 4, AdvantageKind::DrGrpo).unwrap();
        close(&adv, &[-2.0, -1.0, 0.0, 3.0], 1e-6);
    }

    #[test]
    fn grpo_divides_by_the_unbiased_std_plus_epsilon() {
        // Squares 4 + 1 + 0 + 9 = 14 over n - 1 = 3: std sqrt(14/3) = 2.160247.
        let adv = group_advantages(&[1.0, 2.0, 3.0, 6.0], 4, AdvantageKind::Grpo).unwrap();
        let d = 2.160_247 + 1e-4;
        close(&adv, &[-2.0 / d, -1.0 / d, 0.0, 3.0 / d], 1e-4);
        close(&adv, &[-0.925_777, -0.462_889, 0.0, 1.388_666], 1e-5);
    }

    #[test]
    fn groups_are_independent_and_kept_in_order() {
        // The second group's large rewards must not shift the first group's baseline.
        let rewards = [0.0, 1.0, 10.0, 30.0, 0.5, 0.5];
        let adv = group_advantages(&rewards, 2, AdvantageKind::DrGrpo).unwrap();
        close(&adv, &[-0.5, 0.5, -10.0, 10.0, 0.0, 0.0], 1e-6);
        // G = 2: unbiased std of {a, b} is |a - b| / sqrt 2, so advantages are ±1/sqrt 2.
        let adv = group_advantages(&rewards[..4], 2, AdvantageKind::Grpo).unwrap();
        let s = std::f32::consts::FRAC_1_SQRT_2;
        close(&adv, &[-s, s, -s, s], 1e-4);
    }

    #[test]
    fn zero_spread_group_gets_zero_advantages_under_both_kinds() {
        for kind in [AdvantageKind::DrGrpo, AdvantageKind::Grpo] {
            let adv = group_advantages(&[0.7; 4], 4, kind).unwrap();
            close(&adv, &[0.0; 4], 0.0);
        }
    }

    #[test]
    fn spread_is_the_unbiased_std_per_group() {
        let spread = group_spread(&[1.0, 2.0, 3.0, 6.0, 5.0, 5.0, 5.0, 5.0], 4);
        close(&spread, &[(14.0f32 / 3.0).sqrt(), 0.0], 1e-6);
        assert!(group_spread(&[1.0, 2.0], 0).is_empty());
        // A trailing lone reward has nothing to spread against.
        close(
            &group_spread(&[1.0, 3.0, 9.0], 2),
            &[2.0f32.sqrt(), 0.0],
            1e-6,
        );
    }

    #[test]
    fn keep_groups_drops_spread_at_or_below_the_tolerance() {
        let spread = [0.0, 1e-7, 1e-6, 0.5, f32::NAN];
        assert_eq!(
            keep_groups(&spread, 1e-6),
            vec![false, false, false, true, true]
        );
        assert_eq!(
            keep_groups(&spread, 0.0),
            vec![false, true, true, true, true]
        );
        assert_eq!(keep_groups(&spread, -1.0), vec![true; 5]);
        // frac_reward_zero_std of a real batch: one of two groups is unanimous.
        let keep = keep_groups(&group_spread(&[1.0, 0.0, 0.3, 0.3], 2), 1e-6);
        assert_eq!(keep, vec![true, false]);
    }

    #[test]
    fn bad_layout_and_non_finite_rewards_are_errors() {
        let err = group_advantages(&[1.0, 2.0, 3.0], 2, AdvantageKind::DrGrpo).unwrap_err();
        assert!(err.to_string().contains("3 rewards"), "{err}");
        let err = group_advantages(&[1.0, 2.0], 1, AdvantageKind::Grpo).unwrap_err();
        assert!(err.to_string().contains("group_size 1"), "{err}");
        assert!(group_advantages(&[], 0, AdvantageKind::Grpo).is_err());
        let err = group_advantages(&[1.0, 2.0, f32::NAN, 0.0], 2, AdvantageKind::Grpo).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("reward 2") && msg.contains("NaN"), "{msg}");
        let err = group_advantages(&[f32::INFINITY, 0.0], 2, AdvantageKind::DrGrpo).unwrap_err();
        assert!(err.to_string().contains("inf"), "{err}");
    }

    #[test]
    fn gdpo_normalises_each_reward_in_its_group_then_the_sum_over_the_batch() {
        // G = 2: each reward's GRPO advantages are ±1/√2 = ±s wherever it has a spread.
        // Group 0: reward 0 favours list 0 (+s, -s), reward 1 (weight 2) list 1 (-2s, +2s).
        // Group 1: reward 0 is unanimous (0, 0); reward 1 favours list 1 (-2s, +2s).
        // Sums [-s, s, -2s, 2s]; their unbiased batch std is s·√(10/3), so the advantages
        // are [-1, 1, -2, 2] / √(10/3) (the 1e-4 epsilons shift them by < 1e-3).
        let columns = vec![vec![1.0, 0.0, 0.5, 0.5], vec![0.0, 0.2, 0.1, 0.3]];
        let adv = decoupled_advantages(&columns, &[1.0, 2.0], 2).unwrap();
        let d = (10.0f32 / 3.0).sqrt();
        close(&adv, &[-1.0 / d, 1.0 / d, -2.0 / d, 2.0 / d], 1e-3);
        // The composite of the same lists is [1, 0.4, 0.7, 1.1]: Dr.GRPO ranks list 0 first
        // in group 0, because reward 0's spread (1) is five times reward 1's (0.2).
        let composite = [1.0, 0.4, 0.7, 1.1];
        let dr = group_advantages(&composite, 2, AdvantageKind::DrGrpo).unwrap();
        assert!(dr[0] > dr[1] && adv[0] < adv[1], "{dr:?} vs {adv:?}");
    }

    #[test]
    fn gdpo_ignores_each_reward_scale_and_matches_its_single_reward_form() {
        let a = vec![0.1, 0.4, 0.9, 0.3, 0.2, 0.2];
        let b = vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0];
        let base = decoupled_advantages(&[a.clone(), b.clone()], &[1.0, 1.0], 3).unwrap();
        let a10: Vec<f32> = a.iter().map(|v| v * 10.0).collect();
        let scaled = decoupled_advantages(&[a10, b], &[1.0, 1.0], 3).unwrap();
        close(&base, &scaled, 1e-3);
        // One reward: group_advantages(Gdpo) is that column's GRPO advantages over their std.
        let one = group_advantages(&a, 3, AdvantageKind::Gdpo).unwrap();
        close(&one, &decoupled_advantages(&[a], &[1.0], 3).unwrap(), 0.0);
        let mean = one.iter().sum::<f32>() / 6.0;
        let var = one.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 5.0;
        assert!(
            mean.abs() < 1e-6 && (var.sqrt() - 1.0).abs() < 1e-3,
            "{one:?}"
        );
    }

    #[test]
    fn advantages_dispatch_on_the_kind() {
        let scored: Vec<Scored> = [[1.0, 0.0], [0.0, 0.2], [0.5, 0.1], [0.5, 0.3]]
            .iter()
            .map(|r| Scored {
                composite: r[0] + 2.0 * r[1],
                per_reward: r.to_vec(),
            })
            .collect();
        let weights = [1.0, 2.0];
        let composite: Vec<f32> = scored.iter().map(|s| s.composite).collect();
        for kind in [AdvantageKind::DrGrpo, AdvantageKind::Grpo] {
            let want = group_advantages(&composite, 2, kind).unwrap();
            close(&advantages(&scored, &weights, 2, kind).unwrap(), &want, 0.0);
        }
        let columns = vec![vec![1.0, 0.0, 0.5, 0.5], vec![0.0, 0.2, 0.1, 0.3]];
        let want = decoupled_advantages(&columns, &weights, 2).unwrap();
        let got = advantages(&scored, &weights, 2, AdvantageKind::Gdpo).unwrap();
        close(&got, &want, 0.0);
    }

    #[test]
    fn gdpo_bad_input_is_an_error_naming_the_column() {
        let err = decoupled_advantages(&[vec![0.0, 1.0]], &[1.0, 1.0], 2).unwrap_err();
        assert!(
            err.to_string().contains("1 reward columns for 2 weights"),
            "{err}"
        );
        let err = decoupled_advantages(&[vec![0.0, 1.0], vec![0.0]], &[1.0, 1.0], 2).unwrap_err();
        assert!(err.to_string().contains("column 1 has 1 values"), "{err}");
        let cols = [vec![0.0, 1.0], vec![0.0, f32::NAN]];
        let err = decoupled_advantages(&cols, &[1.0, 1.0], 2).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("column 1") && msg.contains("NaN"), "{msg}");
        assert!(decoupled_advantages(&[], &[], 2).unwrap().is_empty());
    }

    #[test]
    fn empty_batch_has_no_advantages() {
        let adv = group_advantages(&[], 4, AdvantageKind::DrGrpo).unwrap();
        assert!(adv.is_empty());
    }
}
