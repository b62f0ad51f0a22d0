//! Baselines that need no model, so every learned policy has a floor to beat:
//! random articles, the most popular articles, and the user's own history used as queries.

use super::metrics::{MetricMeans, RankingMetrics};
use super::offline::OfflineEvaluator;
use super::oracle::{Oracle, OracleMetrics};
use crate::data::{SignalKind, UserRecord};
use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::HashMap;

/// Most recent distinct history texts used as queries by the history baseline (the policy's
/// query lists are at most 8 long by default, so the baseline gets the same budget).
pub const HISTORY_QUERIES: usize = 8;

/// One baseline's metrics.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineResult {
    pub name: &'static str,
    pub description: &'static str,
    pub metrics: MetricMeans,
    /// Simulator only, for query-based methods: mean oracle coverage and precision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oracle: Option<OracleMetrics>,
}

/// Mean oracle metrics of query lists (users without ground truth are skipped).
pub fn mean_oracle(
    eval: &OfflineEvaluator,
    oracle: &Oracle,
    users: &[UserRecord],
    lists: &[Vec<String>],
) -> Option<OracleMetrics> {
    let scored: Vec<OracleMetrics> = users
        .iter()
        .zip(lists)
        .filter_map(|(u, l)| oracle.score(u, &eval.rank_per_query(l)))
        .collect();
    let n = scored.len() as f64;
    (n > 0.0).then(|| OracleMetrics {
        coverage: scored.iter().map(|m| m.coverage).sum::<f64>() / n,
        precision: scored.iter().map(|m| m.precision).sum::<f64>() / n,
    })
}

/// The history-as-queries list: the newest distinct search queries and clicked or browsed
/// titles of the cleaned history, newest first.
pub fn history_queries(user: &UserRecord) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in user.history.iter().rev() {
        let relevant = matches!(
            s.kind,
            SignalKind::Search | SignalKind::NewsClick | SignalKind::Browse
        );
        if relevant && !out.iter().any(|q| q.eq_ignore_ascii_case(&s.text)) {
            out.push(s.text.clone());
        }
        if out.len() == HISTORY_QUERIES {
            break;
        }
    }
    out
}

/// Runs the three baselines on `users` (cleaned). Popularity counts the future clicks of
/// `popularity_users` — other users (the train split), as a "trending now" list would.
pub fn run_baselines(
    eval: &OfflineEvaluator,
    users: &[UserRecord],
    popularity_users: &[UserRecord],
    oracle: Option<&Oracle>,
    seed: u64,
) -> Vec<BaselineResult> {
    let fresh: Vec<u32> = (0..eval.corpus.len() as u32)
        .filter(|&a| {
            eval.fresh_from
                .is_none_or(|d| eval.corpus.item(a).date >= d)
        })
        .collect();

    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xba5e_11e5);
    let random: Vec<Option<RankingMetrics>> = users
        .iter()
        .map(|u| {
            let pool: Vec<u32> = fresh.sample(&mut rng, 100).copied().collect();
            eval.score(u, &pool)
        })
        .collect();

    let mut counts: HashMap<u32, usize> = HashMap::new();
    for u in popularity_users {
        for id in &u.future_clicks {
            if let Some(a) = eval.corpus.index_of(id) {
                *counts.entry(a).or_default() += 1;
            }
        }
    }
    let mut popular: Vec<u32> = fresh.clone();
    popular.sort_by_key(|a| (std::cmp::Reverse(counts.get(a).copied().unwrap_or(0)), *a));
    popular.truncate(100);
    let popularity: Vec<Option<RankingMetrics>> =
        users.iter().map(|u| eval.score(u, &popular)).collect();

    let lists: Vec<Vec<String>> = users.iter().map(history_queries).collect();
    vec![
        BaselineResult {
            name: "random",
            description: "100 random fresh articles",
            metrics: MetricMeans::of(&random),
            oracle: None,
        },
        BaselineResult {
            name: "popularity",
            description: "fresh articles most clicked by train-split users",
            metrics: MetricMeans::of(&popularity),
            oracle: None,
        },
        BaselineResult {
            name: "history_as_queries",
            description: "the newest 8 distinct cleaned history texts as queries",
            metrics: eval.evaluate(users, &lists),
            oracle: oracle.and_then(|o| mean_oracle(eval, o, users, &lists)),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reward::testing::user;

    #[test]
    fn history_queries_are_newest_first_and_distinct() {
        let u = user(&["a", "b", "A", "c"]);
        assert_eq!(history_queries(&u), vec!["c", "A", "b"]);
    }
}
