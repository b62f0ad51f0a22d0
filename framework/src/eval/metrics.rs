//! Ranking metrics with binary relevance: Recall@K, NDCG@K and MRR of one ranked list against a
//! user's held-out clicks, and their means over users.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The metrics of one user's ranking.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RankingMetrics {
    pub recall_5: f64,
    pub recall_10: f64,
    pub ndcg_5: f64,
    pub ndcg_10: f64,
    pub mrr: f64,
}

/// Recall@K: the share of the relevant items that appear in the top K.
fn recall_at(ranking: &[u32], relevant: &HashSet<u32>, k: usize) -> f64 {
    let hits = ranking
        .iter()
        .take(k)
        .filter(|a| relevant.contains(a))
        .count();
    hits as f64 / relevant.len() as f64
}

/// NDCG@K: DCG@K = Σ_{i=1..K} rel_i / log2(i + 1) over the ranking, divided by the DCG of an
/// ideal ranking (all relevant items first, min(K, |relevant|) of them).
fn ndcg_at(ranking: &[u32], relevant: &HashSet<u32>, k: usize) -> f64 {
    let gain = |i: usize| 1.0 / ((i + 2) as f64).log2();
    let dcg: f64 = ranking
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, a)| relevant.contains(a))
        .map(|(i, _)| gain(i))
        // Not `sum()`: an empty f64 sum is -0.0, which tables print as "-0.0000".
        .fold(0.0, |acc, g| acc + g);
    let ideal: f64 = (0..k.min(relevant.len())).map(gain).sum();
    dcg / ideal
}

/// MRR: 1 / rank of the first relevant item in the whole ranking, 0 if none is retrieved.
fn reciprocal_rank(ranking: &[u32], relevant: &HashSet<u32>) -> f64 {
    ranking
        .iter()
        .position(|a| relevant.contains(a))
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// Metrics of one ranking (article indices, best first; repeated articles count once, at their
/// first position) against the relevant set. `None` when the user has no relevant items: such
/// users have no defined recall and are counted, not averaged (see `MetricMeans`).
pub fn ranking_metrics(ranking: &[u32], relevant: &[u32]) -> Option<RankingMetrics> {
    let relevant: HashSet<u32> = relevant.iter().copied().collect();
    if relevant.is_empty() {
        return None;
    }
    let mut seen = HashSet::new();
    let ranking: Vec<u32> = ranking
        .iter()
        .copied()
        .filter(|a| seen.insert(*a))
        .collect();
    Some(RankingMetrics {
        recall_5: recall_at(&ranking, &relevant, 5),
        recall_10: recall_at(&ranking, &relevant, 10),
        ndcg_5: ndcg_at(&ranking, &relevant, 5),
        ndcg_10: ndcg_at(&ranking, &relevant, 10),
        mrr: reciprocal_rank(&ranking, &relevant),
    })
}

/// Means over users, with the number of users averaged and skipped (no relevant items).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricMeans {
    #[serde(rename = "recall@5")]
    pub recall_5: f64,
    #[serde(rename = "recall@10")]
    pub recall_10: f64,
    #[serde(rename = "ndcg@5")]
    pub ndcg_5: f64,
    #[serde(rename = "ndcg@10")]
    pub ndcg_10: f64,
    pub mrr: f64,
    pub users: usize,
    pub users_without_relevant: usize,
}

impl MetricMeans {
    /// Averages per-user results; `None` entries are users without relevant items.
    pub fn of(per_user: &[Option<RankingMetrics>]) -> Self {
        let scored: Vec<&RankingMetrics> = per_user.iter().flatten().collect();
        let n = scored.len().max(1) as f64;
        let mean = |f: fn(&RankingMetrics) -> f64| scored.iter().map(|m| f(m)).sum::<f64>() / n;
        MetricMeans {
            recall_5: mean(|m| m.recall_5),
            recall_10: mean(|m| m.recall_10),
            ndcg_5: mean(|m| m.ndcg_5),
            ndcg_10: mean(|m| m.ndcg_10),
            mrr: mean(|m| m.mrr),
            users: scored.len(),
            users_without_relevant: per_user.len() - scored.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn hand_computed_ranking() {
        // Relevant {3, 7}; ranking hits 3 at rank 2 and 7 at rank 6.
        let m = ranking_metrics(&[1, 3, 4, 5, 6, 7, 8], &[3, 7]).unwrap();
        assert!(close(m.recall_5, 0.5));
        assert!(close(m.recall_10, 1.0));
        let idcg5 = 1.0 + 1.0 / 3f64.log2();
        assert!(close(m.ndcg_5, (1.0 / 3f64.log2()) / idcg5));
        assert!(close(
            m.ndcg_10,
            (1.0 / 3f64.log2() + 1.0 / 7f64.log2()) / idcg5
        ));
        assert!(close(m.mrr, 0.5));
    }

    #[test]
    fn perfect_empty_and_missing() {
        let m = ranking_metrics(&[3, 7, 1], &[7, 3]).unwrap();
        assert!(close(m.ndcg_5, 1.0) && close(m.mrr, 1.0) && close(m.recall_5, 1.0));
        let m = ranking_metrics(&[], &[1]).unwrap();
        assert_eq!((m.recall_10, m.ndcg_10, m.mrr), (0.0, 0.0, 0.0));
        // No hit is +0.0, not -0.0 (which tables would print as "-0.0000").
        let miss = ranking_metrics(&[4, 5], &[1]).unwrap();
        assert!(miss.ndcg_5.is_sign_positive() && miss.ndcg_10.is_sign_positive());
        assert_eq!(format!("{:.4}", miss.ndcg_10), "0.0000");
        assert!(ranking_metrics(&[1, 2], &[]).is_none());
    }

    #[test]
    fn duplicates_in_a_ranking_count_once() {
        // Without dedup, the second 9 would push 3 out of the top 2.
        let m = ranking_metrics(&[9, 9, 3], &[3]).unwrap();
        assert!(close(m.mrr, 0.5));
    }

    #[test]
    fn means_skip_users_without_relevant_items() {
        let a = ranking_metrics(&[1], &[1]);
        let b = ranking_metrics(&[2], &[1]);
        let means = MetricMeans::of(&[a, b, None]);
        assert!(close(means.mrr, 0.5) && close(means.recall_5, 0.5));
        assert_eq!((means.users, means.users_without_relevant), (2, 1));
    }
}
