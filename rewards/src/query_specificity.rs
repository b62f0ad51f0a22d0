//! `query_specificity`: are the queries content-rich and non-generic?
//!
//! Paper: rubric-as-reward by an LLM judge. Here each query is one rubric item answered by the
//! experiment's `Judge` (the built-in rule judge checks: a content word, i.e. a word of the
//! corpus; an entity or a rare term by corpus IDF; not only generic words like "latest news";
//! 2 to 8 words — each worth a quarter). The reward is the mean over queries; an empty list
//! scores 0.
//!
//! `interest_gate = true` (see `quill::reward::GateParams`) scales each query's answer by its
//! relevance to the user's interests: an invented name is not a specific query *for this
//! user*.

use quill::error::Result;
use quill::reward::{GateParams, Reward, RewardContext, RewardPlugin, RubricItem};
use quill::reward::{interest_relevance, plugin_params};
use quill::text::query_list::QueryList;

#[derive(Debug, Clone, Copy, Default)]
pub struct QuerySpecificity {
    /// Scale each query by its relevance to the user (`interest_gate`). Off by default,
    /// the paper's list-only form; the quickstart turns it on: on the validation split the
    /// gated composite picks lists of higher recall among a user's samples (docs/results.md).
    pub interest_gate: bool,
}

impl Reward for QuerySpecificity {
    fn name(&self) -> &'static str {
        "query_specificity"
    }

    fn score(&self, ctx: &RewardContext<'_>, list: &QueryList) -> Result<f32> {
        if list.queries.is_empty() {
            return Ok(0.0);
        }
        let items: Vec<RubricItem<'_>> = list
            .queries
            .iter()
            .map(|q| RubricItem::Specific { query: q })
            .collect();
        let mut answers = ctx.env.judge.judge(&items)?;
        if self.interest_gate {
            for (answer, q) in answers.iter_mut().zip(&list.queries) {
                let vector = ctx.cache.vector(q).unwrap_or(&[]);
                *answer *= interest_relevance(ctx.interests, vector);
            }
        }
        Ok(answers.iter().sum::<f32>() / answers.len() as f32)
    }
}

fn build(params: &toml::Table) -> Result<Box<dyn Reward>> {
    let p: GateParams = plugin_params("query_specificity", params)?;
    Ok(Box::new(QuerySpecificity {
        interest_gate: p.interest_gate,
    }))
}

inventory::submit! {
    RewardPlugin {
        name: "query_specificity",
        description: "rubric per query, asked of the judge: content-rich, names something, not generic (interest_gate = true: scaled by relevance to the user)",
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quill::reward::testing::{TableEmbedder, TableRetriever, corpus, env, score_one, user};
    use quill::text::query_list::QueryListFormat;

    #[test]
    fn specific_queries_beat_generic_ones() {
        // 200 articles so that a term in one of them is rare (IDF of a ≤1% share).
        let mut titles: Vec<String> = (0..199).map(|i| format!("market report {i}")).collect();
        titles.push("riverton hawks playoff".into());
        let refs: Vec<&str> = titles.iter().map(String::as_str).collect();
        let env = env(
            corpus(&refs),
            TableEmbedder::new(2, &[]),
            TableRetriever(Default::default()),
        );
        let parse = |t: &str| QueryList::parse(t, &QueryListFormat::default());
        let score = |t: &str| {
            score_one(
                &QuerySpecificity::default(),
                &env,
                &user(&[]),
                &[],
                &parse(t),
            )
        };
        // "hawks playoff": content, rare, not generic, 2 words → 1.
        assert_eq!(score("- hawks playoff\n<end>"), 1.0);
        // "latest news": no content word ("news" is a stopword, "latest" too) → only length → 0.25.
        assert_eq!(score("- latest news\n<end>"), 0.25);
        // "market": content, not rare, not generic, 1 word → 0.5.
        assert_eq!(score("- market\n<end>"), 0.5);
        assert_eq!(score("- hawks playoff\n- latest news\n<end>"), 0.625);
        assert_eq!(score("<end>"), 0.0);
        // Coined words are in no article, so they are not content, let alone rare: only the
        // length check passes. Beside a real rare word they add nothing.
        assert_eq!(score("- todayoin multiplayion\n<end>"), 0.25);
        assert_eq!(score("- hawks todayoin\n<end>"), 1.0);
    }

    #[test]
    fn the_interest_gate_scales_each_query_by_relevance_to_the_user() {
        let mut titles: Vec<String> = (0..199).map(|i| format!("market report {i}")).collect();
        titles.push("riverton hawks playoff".into());
        let refs: Vec<&str> = titles.iter().map(String::as_str).collect();
        let emb = TableEmbedder::new(
            2,
            &[
                ("hawks playoff", vec![1.0, 0.0]),
                ("market", vec![0.6, 0.8]),
            ],
        );
        let env = env(corpus(&refs), emb, TableRetriever(Default::default()));
        let interests = [quill::reward::InterestItem {
            terms: vec!["hawks".into()],
            examples: vec!["hawks playoff".into()],
            centroid: vec![1.0, 0.0],
            weight: 1.0,
        }];
        let gated = QuerySpecificity {
            interest_gate: true,
        };
        let list = QueryList::parse(
            "- hawks playoff\n- market\n- latest news\n<end>",
            &QueryListFormat::default(),
        );
        // 1 · 1 (on the interest) + 0.5 · 0.6 + 0.25 · 0 (no vector), over 3 queries.
        let s = score_one(&gated, &env, &user(&[]), &interests, &list);
        assert!((s - 1.3 / 3.0).abs() < 1e-6, "{s}");
        let plain = score_one(
            &QuerySpecificity::default(),
            &env,
            &user(&[]),
            &interests,
            &list,
        );
        assert!((plain - 1.75 / 3.0).abs() < 1e-6, "{plain}");
        assert_eq!(score_one(&gated, &env, &user(&[]), &[], &list), 0.0);
    }
}
