//! Group-relative advantages: each user's G sampled lists are compared only with each other, so
//! the group mean stands in for the value baseline PPO would learn (Shao et al. 2024,
//! DeepSeekMath, §4.1). Rewards are laid out group by group: group g is
//! `rewards[g * G..(g + 1) * G]`, and the advantages come back in the same order.

use super::config::AdvantageKind;
use crate::error::{Error, Result};

/// Added to the group's standard deviation before dividing, as DeepSeekMath and TRL do, so a
/// near-unanimous group does not blow its advantages up to infinity.
const GRPO_STD_EPSILON: f64 = 1e-4;

/// One advantage per reward, in the rewards' order.
///
/// - [`AdvantageKind::DrGrpo`] (Liu et al. 2025, "Understanding R1-Zero-Like Training"):
///   `r - mean(group)`.
/// - [`AdvantageKind::Grpo`] (Shao et al. 2024): `(r - mean(group)) / (std(group) + 1e-4)` with
///   the unbiased (n - 1) standard deviation, as TRL computes it (`torch.std`).
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
    let mut out = Vec::with_capacity(rewards.len());
    for group in rewards.chunks(group_size) {
        let mean = mean(group);
        let scale = match kind {
            AdvantageKind::DrGrpo => 1.0,
            AdvantageKind::Grpo => 1.0 / (unbiased_std(group, mean) + GRPO_STD_EPSILON),
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
    fn empty_batch_has_no_advantages() {
        let adv = group_advantages(&[], 4, AdvantageKind::DrGrpo).unwrap();
        assert!(adv.is_empty());
    }
}
