//! Small deterministic stand-ins for reward tests: an embedder and a retriever that answer from
//! tables, so plugin tests can check scores against hand-computed values.

use super::env::{QueryCache, RewardEnv};
use super::interests::InterestItem;
use super::judge::RuleJudge;
use super::registry::RewardContext;
use crate::data::{Corpus, NewsItem, Signal, SignalKind, UserRecord};
use crate::retrieval::{Embedder, Hit, Retriever};
use crate::text::query_list::QueryList;
use crate::text::term_stats::TermStats;
use std::collections::HashMap;
use std::sync::Arc;

/// Embeds texts by table lookup (vectors normalised); unknown texts embed to zeros.
pub struct TableEmbedder {
    pub dim: usize,
    pub table: HashMap<String, Vec<f32>>,
}

impl TableEmbedder {
    pub fn new(dim: usize, entries: &[(&str, Vec<f32>)]) -> Self {
        TableEmbedder {
            dim,
            table: entries
                .iter()
                .map(|(t, v)| (t.to_string(), v.clone()))
                .collect(),
        }
    }
}

impl Embedder for TableEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }
    fn embed(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        texts
            .iter()
            .map(|t| match self.table.get(*t) {
                Some(v) => {
                    let n = v
                        .iter()
                        .map(|x| x * x)
                        .sum::<f32>()
                        .sqrt()
                        .max(f32::MIN_POSITIVE);
                    v.iter().map(|x| x / n).collect()
                }
                None => vec![0.0; self.dim],
            })
            .collect()
    }
}

/// Retrieves by table lookup; unknown queries retrieve nothing.
pub struct TableRetriever(pub HashMap<String, Vec<u32>>);

impl Retriever for TableRetriever {
    fn search(&self, query: &str, k: usize) -> Vec<Hit> {
        self.0.get(query).map_or(Vec::new(), |ids| {
            ids.iter()
                .take(k)
                .enumerate()
                .map(|(r, &a)| Hit {
                    article: a,
                    score: 1.0 / (r + 1) as f32,
                })
                .collect()
        })
    }
}

/// A corpus of articles with the given titles (ids "n0", "n1", ...).
pub fn corpus(titles: &[&str]) -> Corpus {
    let items = titles
        .iter()
        .enumerate()
        .map(|(i, t)| NewsItem {
            id: format!("n{i}"),
            title: t.to_string(),
            summary: String::new(),
            category: "news".into(),
            subcategory: String::new(),
            date: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("valid date"),
            entities: Vec::new(),
            url: None,
        })
        .collect();
    Corpus::new(items).expect("ids are unique")
}

/// A reward environment over a corpus whose article vectors come from the same table embedder.
pub fn env(corpus: Corpus, embedder: TableEmbedder, retriever: TableRetriever) -> RewardEnv {
    let embedder: Arc<dyn Embedder> = Arc::new(embedder);
    let article_vectors = Arc::new(crate::retrieval::embed_articles(&corpus, embedder.as_ref()));
    let stats = Arc::new(TermStats::build(&corpus));
    let judge = Arc::new(RuleJudge::new(stats.clone()));
    RewardEnv {
        corpus: Arc::new(corpus),
        embedder,
        retriever: Arc::new(retriever),
        article_vectors,
        stats,
        judge,
    }
}

/// A user whose history is searches with these texts, one hour apart.
pub fn user(texts: &[&str]) -> UserRecord {
    let history = texts
        .iter()
        .enumerate()
        .map(|(i, t)| Signal {
            user: "u".into(),
            timestamp: 1_700_000_000 + 3600 * i as i64,
            kind: SignalKind::Search,
            text: t.to_string(),
            url: None,
            domain: None,
            noise: None,
        })
        .collect();
    UserRecord {
        id: "u".into(),
        history,
        future_clicks: Vec::new(),
        candidates: None,
        interests: None,
    }
}

/// Scores one list with a reward, building the cache as the composite would.
pub fn score_one(
    reward: &dyn super::Reward,
    env: &RewardEnv,
    user: &UserRecord,
    interests: &[InterestItem],
    list: &QueryList,
) -> f32 {
    let cache = QueryCache::build(env, &[list]);
    let ctx = RewardContext {
        signals: &user.history,
        env,
        cache: &cache,
        interests,
    };
    reward
        .score(&ctx, list)
        .expect("table-backed rewards do not fail")
}
