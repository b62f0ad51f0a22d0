//! `retrieval_alignment`: do the queries retrieve articles about what they say?
//!
//! Paper: for each query, its top-10 articles from the ANN index; the mean cosine similarity
//! between the query's embedding and those articles'; averaged over the list. Here the
//! articles come from the experiment's retriever (BM25 or dense) and the embeddings from its
//! embedder. Mapping into [0, 1]: a query's mean cosine is clamped at 0 — articles pointing
//! away from a query are as useless as none — so the score is mean over queries of
//! max(0, mean cosine). A query that retrieves nothing scores 0; an empty list scores 0.

use quill::error::Result;
use quill::retrieval::cosine;
use quill::reward::{Reward, RewardContext, RewardPlugin, parameterless};
use quill::text::query_list::QueryList;

pub struct RetrievalAlignment;

impl Reward for RetrievalAlignment {
    fn name(&self) -> &'static str {
        "retrieval_alignment"
    }

    fn score(&self, ctx: &RewardContext<'_>, list: &QueryList) -> Result<f32> {
        if list.queries.is_empty() {
            return Ok(0.0);
        }
        let per_query = list.queries.iter().map(|q| {
            let (Some(v), hits) = (ctx.cache.vector(q), ctx.cache.hits(q)) else {
                return 0.0;
            };
            if hits.is_empty() {
                return 0.0;
            }
            let mean = hits
                .iter()
                .map(|h| cosine(v, &ctx.env.article_vectors[h.article as usize]))
                .sum::<f32>()
                / hits.len() as f32;
            mean.max(0.0)
        });
        Ok(per_query.sum::<f32>() / list.queries.len() as f32)
    }
}

fn build(params: &toml::Table) -> Result<Box<dyn Reward>> {
    parameterless("retrieval_alignment", params, Box::new(RetrievalAlignment))
}

inventory::submit! {
    RewardPlugin {
        name: "retrieval_alignment",
        description: "mean cosine between each query and its top-10 retrieved articles, clamped at 0",
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quill::reward::testing::{TableEmbedder, TableRetriever, corpus, env, score_one, user};
    use quill::text::query_list::QueryListFormat;

    #[test]
    fn hand_computed_alignment() {
        let emb = TableEmbedder::new(
            2,
            &[
                ("a0", vec![1.0, 0.0]),
                ("a1", vec![0.0, 1.0]),
                ("a2", vec![-1.0, 0.0]),
                ("hawks", vec![1.0, 0.0]),
                ("mixed", vec![1.0, 1.0]),
                ("away", vec![1.0, 0.0]),
            ],
        );
        let ret = TableRetriever(
            [("hawks", vec![0]), ("mixed", vec![0, 1]), ("away", vec![2])]
                .iter()
                .map(|(q, v)| (q.to_string(), v.clone()))
                .collect(),
        );
        let env = env(corpus(&["a0", "a1", "a2"]), emb, ret);
        let parse = |t: &str| QueryList::parse(t, &QueryListFormat::default());
        let u = user(&[]);
        // hawks → a0: cos 1. mixed → a0, a1: cos 1/√2 each. away → a2: cos −1 → 0. unknown → 0.
        let s = score_one(
            &RetrievalAlignment,
            &env,
            &u,
            &[],
            &parse("- hawks\n- mixed\n- away\n- unknown\n<end>"),
        );
        let expected = (1.0 + std::f32::consts::FRAC_1_SQRT_2 + 0.0 + 0.0) / 4.0;
        assert!((s - expected).abs() < 1e-6, "{s} vs {expected}");
        assert_eq!(
            score_one(&RetrievalAlignment, &env, &u, &[], &parse("<end>")),
            0.0
        );
    }
}
