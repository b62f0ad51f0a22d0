//! `query_specificity`: are the queries content-rich and non-generic?
//!
//! Paper: rubric-as-reward by an LLM judge. Here each query is one rubric item answered by the
//! experiment's `Judge` (the built-in rule judge checks: a content word, i.e. a word of the
//! corpus; an entity or a rare term by corpus IDF; not only generic words like "latest news";
//! 2 to 8 words — each worth a quarter). The reward is the mean over queries; an empty list
//! scores 0.

use quill::error::Result;
use quill::reward::{Reward, RewardContext, RewardPlugin, RubricItem, parameterless};
use quill::text::query_list::QueryList;

pub struct QuerySpecificity;

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
        let answers = ctx.env.judge.judge(&items)?;
        Ok(answers.iter().sum::<f32>() / answers.len() as f32)
    }
}

fn build(params: &toml::Table) -> Result<Box<dyn Reward>> {
    parameterless("query_specificity", params, Box::new(QuerySpecificity))
}

inventory::submit! {
    RewardPlugin {
        name: "query_specificity",
        description: "rubric per query, asked of the judge: content-rich, names something, not generic",
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
        let score = |t: &str| score_one(&QuerySpecificity, &env, &user(&[]), &[], &parse(t));
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
}
