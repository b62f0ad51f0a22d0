//! `intra_list_diversity`: do the queries cover different ground?
//!
//! Paper: mean pairwise cosine distance between the queries' embeddings. Distance here is
//! 1 − cosine clamped to [0, 1] (opposite directions are no more diverse than orthogonal
//! ones). A query the embedder cannot place (a zero vector) is at distance 0 from everything:
//! gibberish must not look diverse. Fewer than two queries: 0, there is no pair to be diverse.

use quill::error::Result;
use quill::retrieval::cosine;
use quill::reward::{Reward, RewardContext, RewardPlugin, parameterless};
use quill::text::query_list::QueryList;

pub struct IntraListDiversity;

impl Reward for IntraListDiversity {
    fn name(&self) -> &'static str {
        "intra_list_diversity"
    }

    fn score(&self, ctx: &RewardContext<'_>, list: &QueryList) -> Result<f32> {
        let vectors: Vec<Option<&[f32]>> = list
            .queries
            .iter()
            .map(|q| ctx.cache.vector(q).filter(|v| v.iter().any(|x| *x != 0.0)))
            .collect();
        let n = vectors.len();
        if n < 2 {
            return Ok(0.0);
        }
        let mut total = 0.0;
        for i in 0..n {
            for j in i + 1..n {
                if let (Some(a), Some(b)) = (vectors[i], vectors[j]) {
                    total += (1.0 - cosine(a, b)).clamp(0.0, 1.0);
                }
            }
        }
        Ok(total / (n * (n - 1) / 2) as f32)
    }
}

fn build(params: &toml::Table) -> Result<Box<dyn Reward>> {
    parameterless("intra_list_diversity", params, Box::new(IntraListDiversity))
}

inventory::submit! {
    RewardPlugin {
        name: "intra_list_diversity",
        description: "mean pairwise cosine distance between the queries' embeddings",
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quill::reward::testing::{TableEmbedder, TableRetriever, corpus, env, score_one, user};
    use quill::text::query_list::QueryListFormat;

    fn score(text: &str) -> f32 {
        let emb = TableEmbedder::new(
            2,
            &[
                ("east", vec![1.0, 0.0]),
                ("north", vec![0.0, 1.0]),
                ("northeast", vec![1.0, 1.0]),
                ("west", vec![-1.0, 0.0]),
            ],
        );
        let env = env(corpus(&["x"]), emb, TableRetriever(Default::default()));
        score_one(
            &IntraListDiversity,
            &env,
            &user(&[]),
            &[],
            &QueryList::parse(text, &QueryListFormat::default()),
        )
    }

    #[test]
    fn hand_computed_diversity() {
        // Pairs: east-north 1, east-northeast 1−1/√2, north-northeast 1−1/√2.
        let expected = (1.0 + 2.0 * (1.0 - std::f32::consts::FRAC_1_SQRT_2)) / 3.0;
        assert!((score("- east\n- north\n- northeast\n<end>") - expected).abs() < 1e-6);
        // Opposite directions clamp to 1; unknown queries add distance 0.
        assert!((score("- east\n- west\n<end>") - 1.0).abs() < 1e-6);
        assert!((score("- east\n- north\n- gibberish\n<end>") - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(score("- east\n<end>"), 0.0);
    }

    #[test]
    fn duplicates_score_lower_and_order_does_not_matter() {
        // Replacing a query by a duplicate of another lowers diversity: 1 → 2/3.
        assert!((score("- east\n- north\n- west\n<end>") - 1.0).abs() < 1e-6);
        assert!(score("- east\n- north\n- east\n<end>") < score("- east\n- north\n- west\n<end>"));
        assert_eq!(
            score("- east\n- north\n- northeast\n<end>"),
            score("- northeast\n- east\n- north\n<end>")
        );
    }
}
