//! `interest_coverage`: does the list cover the user's interests?
//!
//! Paper: rubric-as-reward by an LLM judge. The rubric items are the user's interests as seen
//! in the signals the policy's prompt shows — clusters of those signals weighted by salience
//! (frequency and recency; see `quill::reward::user_interests`) — never the simulator's hidden
//! truth, nor signals the prompt budget dropped. The
//! judge answers per item whether the list covers it; the score is covered weight / total
//! weight. A user with no interpretable history has nothing to cover: 0.

use quill::error::Result;
use quill::reward::{Reward, RewardContext, RewardPlugin, RubricItem, parameterless};
use quill::text::query_list::QueryList;

pub struct InterestCoverage;

impl Reward for InterestCoverage {
    fn name(&self) -> &'static str {
        "interest_coverage"
    }

    fn score(&self, ctx: &RewardContext<'_>, list: &QueryList) -> Result<f32> {
        if ctx.interests.is_empty() || list.queries.is_empty() {
            return Ok(0.0);
        }
        // Queries outside the batch cache (none, when scored through the composite) embed as
        // nothing and can still cover an interest lexically.
        let query_vectors: Vec<&[f32]> = list
            .queries
            .iter()
            .map(|q| ctx.cache.vector(q).unwrap_or(&[]))
            .collect();
        let items: Vec<RubricItem<'_>> = ctx
            .interests
            .iter()
            .map(|interest| RubricItem::Covers {
                interest,
                queries: &list.queries,
                query_vectors: &query_vectors,
            })
            .collect();
        let answers = ctx.env.judge.judge(&items)?;
        let total: f32 = ctx.interests.iter().map(|i| i.weight).sum();
        let covered: f32 = ctx
            .interests
            .iter()
            .zip(&answers)
            .map(|(i, a)| i.weight * a)
            .sum();
        Ok(if total > 0.0 { covered / total } else { 0.0 })
    }
}

fn build(params: &toml::Table) -> Result<Box<dyn Reward>> {
    parameterless("interest_coverage", params, Box::new(InterestCoverage))
}

inventory::submit! {
    RewardPlugin {
        name: "interest_coverage",
        description: "salience-weighted share of the history's interest clusters the judge finds covered",
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quill::reward::InterestItem;
    use quill::reward::testing::{TableEmbedder, TableRetriever, corpus, env, score_one, user};
    use quill::text::query_list::QueryListFormat;

    fn interest(term: &str, centroid: Vec<f32>, weight: f32) -> InterestItem {
        InterestItem {
            terms: vec![term.into()],
            examples: vec![term.into()],
            centroid,
            weight,
        }
    }

    #[test]
    fn covered_weight_over_total_weight() {
        let emb = TableEmbedder::new(2, &[("sourdough starter", vec![0.0, 1.0])]);
        // "hawks" and "sourdough" are rare in this corpus, so a shared term counts as covering.
        let mut titles: Vec<String> = (0..199).map(|i| format!("market report {i}")).collect();
        titles.push("hawks sourdough".into());
        let refs: Vec<&str> = titles.iter().map(String::as_str).collect();
        let env = env(corpus(&refs), emb, TableRetriever(Default::default()));
        let interests = vec![
            interest("hawks", vec![1.0, 0.0], 0.6),
            interest("sourdough", vec![0.0, 1.0], 0.4),
        ];
        let parse = |t: &str| QueryList::parse(t, &QueryListFormat::default());
        let score = |t: &str| {
            score_one(
                &InterestCoverage,
                &env,
                &user(&["x"]),
                &interests,
                &parse(t),
            )
        };
        assert!((score("- riverton hawks\n<end>") - 0.6).abs() < 1e-6);
        // Covered semantically (cosine 1 with the sourdough centroid), not lexically.
        assert!((score("- sourdough starter\n<end>") - 0.4).abs() < 1e-6);
        assert!((score("- riverton hawks\n- sourdough starter\n<end>") - 1.0).abs() < 1e-6);
        assert_eq!(score("- cooking tips\n<end>"), 0.0);
        assert_eq!(
            score_one(
                &InterestCoverage,
                &env,
                &user(&[]),
                &[],
                &parse("- hawks\n<end>")
            ),
            0.0
        );
    }
}
