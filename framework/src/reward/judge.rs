//! The `Judge` trait: answers the rubric items of the rubric-as-reward plugins (interest
//! coverage, query specificity), as the paper's LLM judge does. The built-in rule judge is
//! deterministic and needs no server.

use super::interests::InterestItem;
use crate::error::Result;
use crate::retrieval::cosine;
use crate::text::term_stats::TermStats;
use crate::text::terms::{content_terms, words};
use std::sync::Arc;

/// One rubric question.
#[derive(Debug, Clone, Copy)]
pub enum RubricItem<'a> {
    /// Does this query list cover this interest of the user? `query_vectors` are the queries'
    /// unit embeddings, in order (from the batch's query cache, so no judge embeds again).
    Covers {
        interest: &'a InterestItem,
        queries: &'a [String],
        query_vectors: &'a [&'a [f32]],
    },
    /// Is this query specific: content-rich, naming something, not generic, of sensible length?
    Specific { query: &'a str },
}

/// Answers rubric items with a score in [0, 1] each (1 = fully satisfied).
pub trait Judge: Send + Sync {
    fn name(&self) -> &'static str;
    fn judge(&self, items: &[RubricItem<'_>]) -> Result<Vec<f32>>;
}

/// Words that make a query generic rather than about something.
const GENERIC: &[&str] = &[
    "news",
    "latest",
    "today",
    "update",
    "updates",
    "breaking",
    "headlines",
    "stories",
    "trending",
    "top",
    "world",
    "local",
    "recent",
    "daily",
    "live",
    "stuff",
    "things",
    "information",
    "info",
    "online",
    "story",
    "article",
    "articles",
    "2024",
    "2025",
    "now",
    "current",
    "events",
];

/// The deterministic rule judge.
///
/// * Covers: yes when some query's embedding has cosine ≥ 0.6 with the interest's centroid, or
///   the query shares one of its salient terms (IDF at least that of a term in 1% of articles).
/// * Specific: the mean of four checks — it has a content word; it names an entity or a rare
///   term (IDF of a term in at most 1% of articles); it is not only generic words; it has 2 to 8
///   words. Content words are words of the corpus: a coined word is not specific.
pub struct RuleJudge {
    stats: Arc<TermStats>,
    cover_cosine: f32,
}

impl RuleJudge {
    pub fn new(stats: Arc<TermStats>) -> Self {
        RuleJudge {
            stats,
            cover_cosine: 0.6,
        }
    }

    fn covers(&self, interest: &InterestItem, queries: &[String], query_vectors: &[&[f32]]) -> f32 {
        let salient = self.stats.idf_of_share(100.0);
        let interest_terms: Vec<&String> = interest
            .terms
            .iter()
            .filter(|t| self.stats.idf(t) >= salient)
            .collect();
        let lexical = queries
            .iter()
            .any(|q| content_terms(q).iter().any(|t| interest_terms.contains(&t)));
        if lexical {
            return 1.0;
        }
        let semantic = query_vectors
            .iter()
            .any(|v| cosine(v, &interest.centroid) >= self.cover_cosine);
        if semantic { 1.0 } else { 0.0 }
    }

    fn specific(&self, query: &str) -> f32 {
        // Only words of the corpus count: an unseen word has the highest IDF of all, and a
        // policy under RL learns to coin words ("todayoin") that would pass as rare terms.
        // An LLM judge does not call a made-up word specific.
        let terms: Vec<String> = content_terms(query)
            .into_iter()
            .filter(|t| self.stats.occurs(t))
            .collect();
        let all_words = words(query);
        let rare = self.stats.idf_of_share(100.0);
        let has_content = !terms.is_empty();
        let names_something = terms
            .iter()
            .any(|t| self.stats.is_entity_word(t) || self.stats.idf(t) >= rare);
        let not_generic = terms.iter().any(|t| !GENERIC.contains(&t.as_str()));
        let length_ok = (2..=8).contains(&all_words.len());
        [has_content, names_something, not_generic, length_ok]
            .iter()
            .filter(|&&b| b)
            .count() as f32
            / 4.0
    }
}

impl Judge for RuleJudge {
    fn name(&self) -> &'static str {
        "rules"
    }
    fn judge(&self, items: &[RubricItem<'_>]) -> Result<Vec<f32>> {
        Ok(items
            .iter()
            .map(|item| match item {
                RubricItem::Covers {
                    interest,
                    queries,
                    query_vectors,
                } => self.covers(interest, queries, query_vectors),
                RubricItem::Specific { query } => self.specific(query),
            })
            .collect())
    }
}

fn build_rules(table: &toml::Table, stats: Arc<TermStats>) -> Result<Arc<dyn Judge>> {
    super::judge_config::no_settings(table, "judge.rules")?;
    Ok(Arc::new(RuleJudge::new(stats)))
}

inventory::submit! {
    super::judge_config::JudgePlugin {
        name: "rules",
        description: "The deterministic built-in rule judge (no server, no network).",
        missing_feature: None,
        fields: Vec::new,
        check: super::judge_config::no_settings,
        build: build_rules,
    }
}
