//! Fusing the rankings of a list's queries into one ranking.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How per-query rankings become one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fusion {
    /// Reciprocal-rank fusion (Cormack et al., 2009): score(d) = Σ_q 1 / (k + rank_q(d)),
    /// k = 60. Rewards articles that several queries retrieve.
    Rrf,
    /// Take each query's first article in list order, then each second, ... skipping repeats.
    /// Every query gets equal say, however many articles it retrieves.
    RoundRobin,
}

/// The RRF constant from the original paper; it damps the head of each ranking.
const RRF_K: f64 = 60.0;

/// One ranking of distinct article indices from per-query rankings (each best first).
/// Deterministic: RRF ties go to the better best rank, then the lower article index.
pub fn fuse(rankings: &[Vec<u32>], fusion: Fusion) -> Vec<u32> {
    match fusion {
        Fusion::Rrf => {
            let mut scores: HashMap<u32, (f64, usize)> = HashMap::new();
            for ranking in rankings {
                for (rank, &a) in ranking.iter().enumerate() {
                    let e = scores.entry(a).or_insert((0.0, usize::MAX));
                    e.0 += 1.0 / (RRF_K + (rank + 1) as f64);
                    e.1 = e.1.min(rank);
                }
            }
            let mut all: Vec<(u32, f64, usize)> = scores
                .into_iter()
                .map(|(a, (s, best))| (a, s, best))
                .collect();
            all.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.2.cmp(&y.2)).then(x.0.cmp(&y.0)));
            all.into_iter().map(|(a, _, _)| a).collect()
        }
        Fusion::RoundRobin => {
            let mut out = Vec::new();
            let mut seen = std::collections::HashSet::new();
            let depth = rankings.iter().map(Vec::len).max().unwrap_or(0);
            for rank in 0..depth {
                for ranking in rankings {
                    if let Some(&a) = ranking.get(rank)
                        && seen.insert(a)
                    {
                        out.push(a);
                    }
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_rewards_agreement_and_breaks_ties_deterministically() {
        // 5 is ranked 2nd by both queries: 2/62 beats 1/61 for either query's top article.
        let fused = fuse(&[vec![1, 5, 2], vec![3, 5, 4]], Fusion::Rrf);
        assert_eq!(fused, vec![5, 1, 3, 2, 4]);
    }

    #[test]
    fn round_robin_interleaves_and_skips_repeats() {
        let fused = fuse(&[vec![1, 2, 3], vec![1, 4], vec![5]], Fusion::RoundRobin);
        assert_eq!(fused, vec![1, 5, 2, 4, 3]);
        assert!(fuse(&[], Fusion::RoundRobin).is_empty());
        assert!(fuse(&[vec![]], Fusion::Rrf).is_empty());
    }
}
