//! Inference-time sampling ("time scaling" in the paper): draw N lists per user and keep the
//! one with the highest composite reward. Label-free: the choice reads the rewards only, never
//! a future click.
//!
//! Evaluation draws `draws` lists per user once, laid out draw-major (list `k * users + u` is
//! draw `k` of user `u`), and best-of-N for every N ≤ `draws` picks among each user's first N
//! draws. Nested choices make the curve in N monotone in the reward by construction and keep
//! its noise low: the same draws serve every N.

/// The N of the curve: 1, 2, 4, ... up to `draws` (and `draws` itself when it is not a power
/// of two).
pub fn best_of_n_sizes(draws: usize) -> Vec<usize> {
    let mut sizes: Vec<usize> = std::iter::successors(Some(1usize), |n| n.checked_mul(2))
        .take_while(|&n| n <= draws)
        .collect();
    if draws > 0 && sizes.last() != Some(&draws) {
        sizes.push(draws);
    }
    sizes
}

/// For each of `users` users, the index (into the draw-major `rewards`) of the highest-reward
/// list among its first `n` draws; the earliest draw wins a tie, so the pick is deterministic.
/// `rewards.len()` must be a multiple of `users` with at least `n` draws each.
pub fn pick_best_of_n(rewards: &[f32], users: usize, n: usize) -> Vec<usize> {
    assert!(
        users > 0 && n >= 1 && rewards.len() >= n * users,
        "too few draws"
    );
    (0..users)
        .map(|u| {
            (0..n).map(|k| k * users + u).fold(
                u,
                |best, i| if rewards[i] > rewards[best] { i } else { best },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_double_up_to_the_draws() {
        assert_eq!(best_of_n_sizes(16), vec![1, 2, 4, 8, 16]);
        assert_eq!(best_of_n_sizes(6), vec![1, 2, 4, 6]);
        assert_eq!(best_of_n_sizes(1), vec![1]);
        assert!(best_of_n_sizes(0).is_empty());
    }

    #[test]
    fn picks_the_best_of_each_users_first_n_draws() {
        // 2 users, 3 draws, draw-major: draw 0 = [u0 1.0, u1 5.0], draw 1 = [u0 3.0, u1 5.0],
        // draw 2 = [u0 2.0, u1 9.0].
        let rewards = [1.0, 5.0, 3.0, 5.0, 2.0, 9.0];
        assert_eq!(pick_best_of_n(&rewards, 2, 1), vec![0, 1]);
        // u0: 3.0 (index 2) beats 1.0; u1: a tie at 5.0 keeps the earlier draw (index 1).
        assert_eq!(pick_best_of_n(&rewards, 2, 2), vec![2, 1]);
        assert_eq!(pick_best_of_n(&rewards, 2, 3), vec![2, 5]);
    }
}
