//! What rewards may use besides the list itself: shared retrieval resources (`RewardEnv`),
//! and per-batch caches so each distinct query is embedded and retrieved once.

use super::judge::Judge;
use super::judge_config::JudgeConfig;
use crate::data::Corpus;
use crate::error::Result;
use crate::retrieval::{Embedder, Hit, RetrievalStack, Retriever};
use crate::text::query_list::QueryList;
use crate::text::term_stats::TermStats;
use std::collections::HashMap;
use std::sync::Arc;

/// How many articles each query retrieves for rewards (the paper's top-10).
pub const REWARD_TOP_K: usize = 10;

/// Corpus-wide resources, built once per experiment and shared by every reward.
pub struct RewardEnv {
    pub corpus: Arc<Corpus>,
    pub embedder: Arc<dyn Embedder>,
    pub retriever: Arc<dyn Retriever>,
    /// Unit-length embedding of each article, by corpus index (`RetrievalStack::article_vectors`).
    pub article_vectors: Arc<Vec<Vec<f32>>>,
    pub stats: Arc<TermStats>,
    pub judge: Arc<dyn Judge>,
}

impl RewardEnv {
    /// The environment of one experiment: the retrieval stack already built over `corpus` (so
    /// rewards and evaluation share one embedder, one set of article vectors and one index),
    /// the corpus term statistics, and the judge the `[judge]` section selects. Fails only when
    /// the judge cannot be built (`judge.kind = "http"` without the feature, a bad endpoint).
    pub fn build(
        corpus: Arc<Corpus>,
        stack: &RetrievalStack,
        stats: Arc<TermStats>,
        judge: &JudgeConfig,
    ) -> Result<RewardEnv> {
        Ok(RewardEnv {
            judge: judge.build(stats.clone())?,
            corpus,
            embedder: stack.embedder.clone(),
            retriever: stack.retriever.clone(),
            article_vectors: stack.article_vectors.clone(),
            stats,
        })
    }
}

/// Embeddings and top-K hits of the distinct queries of a batch of lists.
#[derive(Default)]
pub struct QueryCache {
    index: HashMap<String, usize>,
    vectors: Vec<Vec<f32>>,
    hits: Vec<Vec<Hit>>,
}

impl QueryCache {
    /// Embeds and retrieves each distinct query of `lists` once.
    pub fn build(env: &RewardEnv, lists: &[&QueryList]) -> QueryCache {
        let mut index = HashMap::new();
        let mut distinct: Vec<&str> = Vec::new();
        for list in lists {
            for q in &list.queries {
                if !index.contains_key(q.as_str()) {
                    index.insert(q.clone(), distinct.len());
                    distinct.push(q.as_str());
                }
            }
        }
        let vectors = env.embedder.embed(&distinct);
        let hits = env.retriever.search_batch(&distinct, REWARD_TOP_K);
        QueryCache {
            index,
            vectors,
            hits,
        }
    }

    /// The query's unit embedding; `None` for a query not in the batch.
    pub fn vector(&self, query: &str) -> Option<&[f32]> {
        self.index.get(query).map(|&i| self.vectors[i].as_slice())
    }

    /// The query's top-K hits, best first (empty for a query not in the batch).
    pub fn hits(&self, query: &str) -> &[Hit] {
        self.index
            .get(query)
            .map_or(&[], |&i| self.hits[i].as_slice())
    }
}
