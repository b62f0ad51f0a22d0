//! Offline evaluation of query lists: each query retrieves its top articles, the per-query
//! rankings are fused into one, and the ranking is scored against the user's held-out future
//! clicks (which nothing upstream ever sees).

use super::fusion::{Fusion, fuse};
use super::metrics::{MetricMeans, RankingMetrics, ranking_metrics};
use crate::data::{Corpus, UserRecord};
use crate::retrieval::Retriever;
use chrono::NaiveDate;
use std::sync::Arc;

/// Articles each query contributes to the fused ranking.
pub const PER_QUERY_DEPTH: usize = 20;
/// How deep a query searches before the freshness filter, so that enough fresh articles
/// survive (most of a corpus is older than the evaluation window).
const SEARCH_DEPTH: usize = 200;

/// Turns query lists into rankings over the corpus and scores them.
pub struct OfflineEvaluator {
    pub corpus: Arc<Corpus>,
    pub retriever: Arc<dyn Retriever>,
    pub fusion: Fusion,
    /// Only articles published on or after this date can be recommended: the recall path
    /// serves current news. It is the dataset's split date (`Dataset::split_date`), fixed
    /// before any label is read, so no held-out click decides what is a candidate.
    pub fresh_from: Option<NaiveDate>,
}

impl OfflineEvaluator {
    /// Each query's fresh top articles, best first.
    pub fn rank_per_query(&self, queries: &[String]) -> Vec<Vec<u32>> {
        let refs: Vec<&str> = queries.iter().map(String::as_str).collect();
        self.retriever
            .search_batch(&refs, SEARCH_DEPTH)
            .into_iter()
            .map(|hits| {
                hits.into_iter()
                    .map(|h| h.article)
                    .filter(|&a| self.is_fresh(a))
                    .take(PER_QUERY_DEPTH)
                    .collect()
            })
            .collect()
    }

    /// The fused ranking of one query list.
    pub fn rank(&self, queries: &[String]) -> Vec<u32> {
        fuse(&self.rank_per_query(queries), self.fusion)
    }

    /// True when `article` is in the evaluation window.
    pub fn is_fresh(&self, article: u32) -> bool {
        self.fresh_from
            .is_none_or(|d| self.corpus.item(article).date >= d)
    }

    /// Metrics of one user's ranking; `None` for a user without future clicks in the corpus.
    pub fn score(&self, user: &UserRecord, ranking: &[u32]) -> Option<RankingMetrics> {
        let relevant: Vec<u32> = user
            .future_clicks
            .iter()
            .filter_map(|id| self.corpus.index_of(id))
            .collect();
        ranking_metrics(ranking, &relevant)
    }

    /// Mean metrics of query lists, one per user.
    pub fn evaluate(&self, users: &[UserRecord], lists: &[Vec<String>]) -> MetricMeans {
        let per_user: Vec<Option<RankingMetrics>> = users
            .iter()
            .zip(lists)
            .map(|(u, queries)| self.score(u, &self.rank(queries)))
            .collect();
        MetricMeans::of(&per_user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reward::testing::{TableRetriever, corpus};

    #[test]
    fn rankings_fuse_fresh_articles_and_score_against_future_clicks() {
        let mut c = corpus(&["old", "fresh a", "fresh b", "fresh c"]);
        let mut items = c.items().to_vec();
        for (i, item) in items.iter_mut().enumerate() {
            item.date = chrono::NaiveDate::from_ymd_opt(2024, 1, 1 + i as u32).unwrap();
        }
        c = Corpus::new(items).unwrap();
        let retriever = TableRetriever(
            [
                ("q1".to_string(), vec![0, 2, 1]),
                ("q2".to_string(), vec![3, 1]),
            ]
            .into_iter()
            .collect(),
        );
        let mut user = crate::reward::testing::user(&[]);
        user.future_clicks = vec!["n1".into()];
        let eval = OfflineEvaluator {
            corpus: Arc::new(c),
            retriever: Arc::new(retriever),
            fusion: Fusion::Rrf,
            fresh_from: chrono::NaiveDate::from_ymd_opt(2024, 1, 2),
        };
        // "old" (n0) is filtered; q1 → [2, 1], q2 → [3, 1]; RRF: 1 has 1/62 + 1/62, the best.
        let ranking = eval.rank(&["q1".into(), "q2".into()]);
        assert_eq!(ranking, vec![1, 2, 3]);
        let m = eval.evaluate(&[user], &[vec!["q1".into(), "q2".into()]]);
        assert_eq!((m.mrr, m.recall_5, m.users), (1.0, 1.0, 1));
    }
}
