//! Which rewards push the policy's entropy up, and which down.
//!
//! Under a policy-gradient step the change of the policy's entropy is, to first order, minus
//! the covariance between the log-probability of what was sampled and its advantage (Cui et
//! al. 2025, "The Entropy Mechanism of Reinforcement Learning for Reasoning Language Models",
//! arXiv 2505.22617). Per reward, the within-group covariance between the reward and the
//! list's mean token log-probability says which way that reward pulls: positive, it prefers
//! lists the policy already finds likely and sharpens it; negative, it prefers unlikely lists
//! (at CPU scale: invented names) and raises the entropy. Logged as
//! `rewards/<name>/logp_cov` and `reward/logp_cov` (the composite).

use crate::policy::Completion;

/// Mean log-probability per sampled token of each completion (0 for an empty one).
pub fn mean_token_logprobs(completions: &[Completion]) -> Vec<f64> {
    completions
        .iter()
        .map(|c| {
            let sum: f64 = c.logprobs.iter().map(|&lp| f64::from(lp)).sum();
            sum / c.logprobs.len().max(1) as f64
        })
        .collect()
}

/// The covariance of `values` and `logp` within each group of `group_size` consecutive rows
/// (population form: centred on the group's means, divided by `group_size`), averaged over
/// the groups. Comparing lists of the same prompt, as the advantages do, keeps differences
/// between users (some prompts are easier to copy from) out of it.
pub fn within_group_covariance(values: &[f64], logp: &[f64], group_size: usize) -> f64 {
    let groups = values.len() / group_size.max(1);
    if groups == 0 || values.len() != logp.len() {
        return 0.0;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let total: f64 = (0..groups)
        .map(|g| {
            let range = g * group_size..(g + 1) * group_size;
            let (v, l) = (&values[range.clone()], &logp[range]);
            let (mv, ml) = (mean(v), mean(l));
            v.iter()
                .zip(l)
                .map(|(a, b)| (a - mv) * (b - ml))
                .sum::<f64>()
                / group_size as f64
        })
        .sum();
    total / groups as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(logprobs: &[f32]) -> Completion {
        Completion {
            tokens: vec![1; logprobs.len()],
            logprobs: logprobs.to_vec(),
            stopped: true,
        }
    }

    #[test]
    fn mean_log_probability_per_token() {
        let c = [
            completion(&[-1.0, -3.0]),
            completion(&[]),
            completion(&[-0.5]),
        ];
        assert_eq!(mean_token_logprobs(&c), vec![-2.0, 0.0, -0.5]);
    }

    #[test]
    fn hand_computed_within_group_covariance() {
        // Group 1: values (1, 3), logp (-2, -1), means 2 and -1.5:
        // ((-1)(-0.5) + (1)(0.5)) / 2 = 0.5. Group 2: values (2, 0), logp (-1, -3), means 1 and
        // -2: ((1)(1) + (-1)(-1)) / 2 = 1. Mean over the groups: 0.75.
        let cov = within_group_covariance(&[1.0, 3.0, 2.0, 0.0], &[-2.0, -1.0, -1.0, -3.0], 2);
        assert!((cov - 0.75).abs() < 1e-12, "{cov}");
        // A reward that prefers the less likely list of each pair: negative.
        let cov = within_group_covariance(&[0.0, 1.0, 1.0, 0.0], &[-1.0, -2.0, -3.0, -1.0], 2);
        assert!((cov - (-0.375)).abs() < 1e-12, "{cov}");
        // A shift between groups (one user's lists all likelier) does not count.
        let cov = within_group_covariance(&[0.0, 0.0, 5.0, 5.0], &[-1.0, -1.0, -9.0, -9.0], 2);
        assert_eq!(cov, 0.0);
        assert_eq!(within_group_covariance(&[], &[], 2), 0.0);
        assert_eq!(within_group_covariance(&[1.0], &[1.0, 2.0], 1), 0.0);
    }
}
