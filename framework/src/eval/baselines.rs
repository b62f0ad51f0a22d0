//! Baselines that need no model, so every learned policy has a floor to beat:
//! random articles, the most popular articles, and the user's own history used as queries.
//! Each is judged by ranking metrics over the corpus and, where users carry impression
//! candidates (MIND, the simulator), by MIND's impression metrics.

use super::impressions::{ImpressionMetrics, candidate_scores, impression_metrics};
use super::metrics::{MetricMeans, RankingMetrics};
use super::offline::OfflineEvaluator;
use super::oracle::{Oracle, OracleMetrics};
use crate::data::{Corpus, SignalKind, UserRecord};
use crate::retrieval::Embedder;
use crate::reward::Scored;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

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
    /// MIND impression metrics, when test users carry candidates (see `impression_baselines`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impressions: Option<ImpressionMetrics>,
    /// Mean rewards of the method's query lists, for methods that have query lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewards: Option<RewardMeans>,
}

/// Mean rewards of a set of scored query lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardMeans {
    /// Mean composite reward (on the composite's own scale: [0, Σ weight] for `sum`).
    pub composite: f64,
    /// Mean of each reward in [0, 1], by registered name.
    pub per_reward: BTreeMap<String, f64>,
    /// Lists scored (one per user).
    pub lists: usize,
    /// Lists cut to the format's `max_queries` before scoring.
    pub truncated: usize,
}

impl RewardMeans {
    /// Means of `scored`, whose `per_reward` values follow `names`' order.
    pub fn of(names: &[&str], scored: &[Scored], truncated: usize) -> RewardMeans {
        let n = scored.len().max(1) as f64;
        let per_reward = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let sum: f64 = scored.iter().map(|s| s.per_reward[i] as f64).sum();
                (name.to_string(), sum / n)
            })
            .collect();
        RewardMeans {
            composite: scored.iter().map(|s| s.composite as f64).sum::<f64>() / n,
            per_reward,
            lists: scored.len(),
            truncated,
        }
    }
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
        .filter(|&a| eval.is_fresh(a))
        .collect();

    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xba5e_11e5);
    let random: Vec<Option<RankingMetrics>> = users
        .iter()
        .map(|u| {
            let pool: Vec<u32> = fresh.sample(&mut rng, 100).copied().collect();
            eval.score(u, &pool)
        })
        .collect();

    let counts = click_counts(&eval.corpus, popularity_users);
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
            impressions: None,
            rewards: None,
        },
        BaselineResult {
            name: "popularity",
            description: "fresh articles most clicked by train-split users",
            metrics: MetricMeans::of(&popularity),
            oracle: None,
            impressions: None,
            rewards: None,
        },
        BaselineResult {
            name: "history_as_queries",
            description: "the newest 8 distinct cleaned history texts as queries",
            metrics: eval.evaluate(users, &lists),
            oracle: oracle.and_then(|o| mean_oracle(eval, o, users, &lists)),
            impressions: None,
            rewards: None,
        },
    ]
}

/// How often each article was clicked (held-out clicks) by `users`.
fn click_counts(corpus: &Corpus, users: &[UserRecord]) -> HashMap<u32, usize> {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for u in users {
        for id in &u.future_clicks {
            if let Some(a) = corpus.index_of(id) {
                *counts.entry(a).or_default() += 1;
            }
        }
    }
    counts
}

/// Impression metrics of the baselines, with how many users had no candidates at all.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImpressionBaselines {
    /// Users without impression candidates (none given, or none in the corpus).
    pub without_candidates: usize,
    /// Per baseline name; each `skipped` counts every user left out: those without candidates
    /// and those whose candidates are all clicked or all unclicked (AUC is undefined there).
    pub metrics: Vec<(&'static str, ImpressionMetrics)>,
}

/// Ranks each user's impression candidates (one impression per user: the loaders merge a
/// user's impressions; a candidate is positive when it is among the user's held-out clicks)
/// three model-free ways:
/// * `random`: uniform random scores (seeded);
/// * `popularity`: how often train-split users (`popularity_users`) clicked the candidate;
/// * `history_as_queries`: the candidate's best cosine with a history query (`candidate_scores`).
///
/// `None` when no user has candidates, so datasets without impressions print nothing.
pub fn impression_baselines(
    corpus: &Corpus,
    users: &[UserRecord],
    popularity_users: &[UserRecord],
    embedder: &dyn Embedder,
    article_vectors: &[Vec<f32>],
    seed: u64,
) -> Option<ImpressionBaselines> {
    // Per user: candidate article indices and their click labels; empty = no candidates, which
    // `impression_metrics` skips like an impression without a click.
    let shown: Vec<(Vec<u32>, Vec<bool>)> = users
        .iter()
        .map(|u| {
            let candidates: Vec<u32> = u
                .candidates
                .iter()
                .flatten()
                .filter_map(|id| corpus.index_of(id))
                .collect();
            let labels = candidates
                .iter()
                .map(|&a| {
                    u.future_clicks
                        .iter()
                        .any(|c| corpus.index_of(c) == Some(a))
                })
                .collect();
            (candidates, labels)
        })
        .collect();
    let without_candidates = shown.iter().filter(|(c, _)| c.is_empty()).count();
    if without_candidates == users.len() {
        return None;
    }
    let judge = |score: &mut dyn FnMut(&UserRecord, &[u32]) -> Vec<f64>| {
        let impressions: Vec<(Vec<bool>, Vec<f64>)> = users
            .iter()
            .zip(&shown)
            .map(|(u, (candidates, labels))| (labels.clone(), score(u, candidates)))
            .collect();
        impression_metrics(&impressions)
    };

    // A different stream from the ranking baseline's, so adding candidates to a dataset does
    // not change the random ranking metrics.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1a9e_55ed);
    let random = judge(&mut |_, c| c.iter().map(|_| rng.random::<f64>()).collect());
    let counts = click_counts(corpus, popularity_users);
    let popularity = judge(&mut |_, c| {
        c.iter()
            .map(|a| counts.get(a).copied().unwrap_or(0) as f64)
            .collect()
    });
    let history = judge(&mut |u, c| {
        if c.is_empty() {
            return Vec::new(); // skipped anyway: do not embed the user's history for nothing
        }
        let queries = history_queries(u);
        let refs: Vec<&str> = queries.iter().map(String::as_str).collect();
        candidate_scores(c, &embedder.embed(&refs), article_vectors)
    });
    Some(ImpressionBaselines {
        without_candidates,
        metrics: vec![
            ("random", random),
            ("popularity", popularity),
            ("history_as_queries", history),
        ],
    })
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

    fn with_impression(
        history: &[&str],
        candidates: Option<&[&str]>,
        clicks: &[&str],
    ) -> UserRecord {
        let mut u = user(history);
        u.candidates = candidates.map(|c| c.iter().map(|s| s.to_string()).collect());
        u.future_clicks = clicks.iter().map(|s| s.to_string()).collect();
        u
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn impression_baselines_match_hand_worked_rankings() {
        use crate::reward::testing::{TableEmbedder, corpus};
        // Articles n0..n3 at unit vectors; history "alpha" embeds like n0, "beta" like n1.
        let c = corpus(&["alpha", "beta", "gamma", "delta"]);
        let articles = vec![
            vec![1.0, 0.0],
            vec![0.0, 1.0],
            vec![0.6, 0.8],
            vec![-1.0, 0.0],
        ];
        let emb = TableEmbedder::new(2, &[("alpha", vec![1.0, 0.0]), ("beta", vec![0.0, 1.0])]);
        let users = vec![
            // Scores by history: n0 1, n1 0, n2 0.6, n3 0 (cosine −1, floored at 0).
            with_impression(&["alpha"], Some(&["n0", "n1", "n2", "n3"]), &["n2"]),
            with_impression(&["alpha"], None, &["n0"]), // no candidates
            with_impression(&["alpha"], Some(&["n0", "n1"]), &[]), // no positive candidate
            // Scores by history: n0 0, n1 1, n3 0.
            with_impression(&["beta"], Some(&["n0", "n1", "n3"]), &["n1", "n3"]),
        ];
        // Train users clicked n2 twice and n0 once.
        let train = vec![
            with_impression(&[], None, &["n2", "n0"]),
            with_impression(&[], None, &["n2"]),
        ];
        let got = impression_baselines(&c, &users, &train, &emb, &articles, 7).unwrap();
        assert_eq!(got.without_candidates, 1);
        let by_name: HashMap<&str, &ImpressionMetrics> =
            got.metrics.iter().map(|(n, m)| (*n, m)).collect();
        let inv = |x: f64| 1.0 / x.log2();

        // History. User 1: ranking n0 n2 n1 n3, the click (n2) at rank 2; it beats n1 and n3
        // but not n0: AUC 2/3, MRR 1/2, nDCG 1/log2(3). User 4: ranking n1 n0 n3 (tie kept in
        // candidate order), clicks at ranks 1 and 3; n1 beats n0, n3 ties n0: AUC 1.5/2;
        // MRR (1 + 1/3)/2; nDCG (1 + 1/log2 4) / (1 + 1/log2 3).
        let h = by_name["history_as_queries"];
        let ideal2 = 1.0 + inv(3.0);
        assert_eq!((h.impressions, h.skipped), (2, 2));
        assert!(close(h.auc, (2.0 / 3.0 + 0.75) / 2.0), "{h:?}");
        assert!(close(h.mrr, (0.5 + 2.0 / 3.0) / 2.0), "{h:?}");
        assert!(
            close(h.ndcg_5, (inv(3.0) + (1.0 + 0.5) / ideal2) / 2.0),
            "{h:?}"
        );
        assert_eq!(h.ndcg_5, h.ndcg_10);

        // Popularity (n2: 2, n0: 1, others 0). User 1: n2 first: AUC 1, MRR 1, nDCG 1.
        // User 4: ranking n0 n1 n3, clicks at ranks 2 and 3 below the unclicked n0: AUC 0,
        // MRR (1/2 + 1/3)/2, nDCG (1/log2 3 + 1/log2 4) / (1 + 1/log2 3).
        let p = by_name["popularity"];
        assert_eq!((p.impressions, p.skipped), (2, 2));
        assert!(close(p.auc, 0.5), "{p:?}");
        assert!(close(p.mrr, (1.0 + 5.0 / 12.0) / 2.0), "{p:?}");
        assert!(
            close(p.ndcg_5, (1.0 + (inv(3.0) + 0.5) / ideal2) / 2.0),
            "{p:?}"
        );

        // Random: the same users are judged, and the same seed gives the same metrics.
        let r = by_name["random"];
        assert_eq!((r.impressions, r.skipped), (2, 2));
        assert!((0.0..=1.0).contains(&r.auc));
        let again = impression_baselines(&c, &users, &train, &emb, &articles, 7).unwrap();
        assert_eq!(&again.metrics[0].1, r);

        // Without any candidates there is nothing to report.
        assert!(impression_baselines(&c, &users[1..2], &train, &emb, &articles, 7).is_none());
    }

    #[test]
    fn reward_means_average_each_reward_and_the_composite() {
        let scored = vec![
            Scored {
                composite: 1.5,
                per_reward: vec![1.0, 0.5],
            },
            Scored {
                composite: 0.5,
                per_reward: vec![0.0, 0.5],
            },
        ];
        let m = RewardMeans::of(&["a", "b"], &scored, 1);
        assert_eq!((m.composite, m.lists, m.truncated), (1.0, 2, 1));
        assert_eq!((m.per_reward["a"], m.per_reward["b"]), (0.5, 0.5));
    }
}
