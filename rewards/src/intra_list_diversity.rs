//! `intra_list_diversity`: do the queries cover different ground?
//!
//! Paper: mean pairwise cosine distance between the queries' embeddings. Distance here is
//! 1 − cosine clamped to [0, 1] (opposite directions are no more diverse than orthogonal
//! ones). A query the embedder cannot place (a zero vector) is at distance 0 from everything:
//! gibberish must not look diverse. Fewer than two queries: 0, there is no pair to be diverse.
//!
//! `interest_gate = true` (see `quill::reward::GateParams`) weighs each pair by the product of
//! its two queries' relevance to the user's interests: ground between queries about the user
//! counts, distance to an invented name does not.

use quill::error::Result;
use quill::retrieval::cosine;
use quill::reward::plugin_params;
use quill::reward::{GateParams, Reward, RewardContext, RewardPlugin, interest_relevance};
use quill::text::query_list::QueryList;

#[derive(Debug, Clone, Copy, Default)]
pub struct IntraListDiversity {
    /// Weigh each pair by its queries' relevance to the user (`interest_gate`). Off by default,
    /// the paper's list-only form; the quickstart turns it on: on the validation split the
    /// gated composite picks lists of higher recall among a user's samples (docs/results.md).
    pub interest_gate: bool,
}

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
        let relevance: Vec<f32> = vectors
            .iter()
            .map(|v| match v {
                Some(v) if self.interest_gate => interest_relevance(ctx.interests, v),
                _ => 1.0,
            })
            .collect();
        let mut total = 0.0;
        for i in 0..n {
            for j in i + 1..n {
                if let (Some(a), Some(b)) = (vectors[i], vectors[j]) {
                    let distance = (1.0 - cosine(a, b)).clamp(0.0, 1.0);
                    total += relevance[i] * relevance[j] * distance;
                }
            }
        }
        Ok(total / (n * (n - 1) / 2) as f32)
    }
}

fn build(params: &toml::Table) -> Result<Box<dyn Reward>> {
    let p: GateParams = plugin_params("intra_list_diversity", params)?;
    Ok(Box::new(IntraListDiversity {
        interest_gate: p.interest_gate,
    }))
}

inventory::submit! {
    RewardPlugin {
        name: "intra_list_diversity",
        description: "mean pairwise cosine distance between the queries' embeddings (interest_gate = true: pairs weighed by relevance to the user)",
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quill::reward::InterestItem;
    use quill::reward::testing::{TableEmbedder, TableRetriever, corpus, env, score_one, user};
    use quill::text::query_list::QueryListFormat;

    fn score(text: &str) -> f32 {
        score_with(&IntraListDiversity::default(), &[], text)
    }

    fn score_with(reward: &IntraListDiversity, interests: &[InterestItem], text: &str) -> f32 {
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
        let list = QueryList::parse(text, &QueryListFormat::default());
        score_one(reward, &env, &user(&[]), interests, &list)
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

    #[test]
    fn the_interest_gate_weighs_pairs_by_relevance_to_the_user() {
        let gated = IntraListDiversity {
            interest_gate: true,
        };
        let interests = [InterestItem {
            terms: vec!["east".into()],
            examples: vec!["east".into()],
            centroid: vec![1.0, 0.0],
            weight: 1.0,
        }];
        // Relevance: east 1, north 0, northeast 1/√2. Only east-northeast counts:
        // 1 · (1/√2) · (1 − 1/√2), over 3 pairs.
        let r = std::f32::consts::FRAC_1_SQRT_2;
        let text = "- east\n- north\n- northeast\n<end>";
        let expected = r * (1.0 - r) / 3.0;
        assert!((score_with(&gated, &interests, text) - expected).abs() < 1e-6);
        // Ungated, the same list scores the paper's form; a user without interests gates to 0.
        let plain = score_with(&IntraListDiversity::default(), &interests, text);
        assert!((plain - score(text)).abs() < 1e-6);
        assert_eq!(score_with(&gated, &[], text), 0.0);
    }

    #[test]
    fn parameters_are_read_and_bad_ones_named() {
        let plugin = quill::reward::find_reward("intra_list_diversity").unwrap();
        let build = |src: &str| (plugin.build)(&toml::from_str(src).unwrap());
        let error = |src: &str| build(src).err().unwrap().to_string();
        assert!(build("interest_gate = true").is_ok());
        assert!(build("").is_ok());
        let err = error("interest_gate = \"yes\"");
        assert!(
            err.contains("rewards.intra_list_diversity") && err.contains("bool"),
            "{err}"
        );
        let err = error("gate = true");
        assert!(
            err.contains("unknown field `gate`") && err.contains("interest_gate"),
            "{err}"
        );
    }
}
