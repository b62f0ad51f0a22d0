//! The interest gate: an opt-in factor for the rewards that judge a list's shape without
//! reading the user (intra-list diversity, query specificity), so that a query counts only
//! insofar as it is about the user.
//!
//! Why: those two rewards, as the paper defines them, score a query the same whoever the
//! user is. The paper's instruct models stay on the user's topics anyway; Quill's small
//! from-scratch policies do not — they half-copy names from the prompt and invent the rest,
//! and an invented name is as specific as a copied one and farther from the other queries.
//! Under GRPO both rewards can then pull towards invention (`rewards/<name>/logp_cov` logs
//! each reward's pull on the policy's log-likelihood). With the gate, a query's relevance —
//! the cosine between its embedding and the nearest interest centroid of the signals the
//! prompt shows, clamped to [0, 1] — scales its specificity and each of its pairs'
//! diversity. No future click is read.

use super::interests::InterestItem;
use crate::retrieval::cosine;
use serde::Deserialize;

/// The parameters of a gated reward's `[rewards.<name>]` table (besides `weight`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateParams {
    /// Scale each query by its relevance to the user's interests (default false: the paper's
    /// form, which reads only the list).
    #[serde(default)]
    pub interest_gate: bool,
}

/// How much a query is about the user: the largest cosine between `query_vector` and an
/// interest centroid, clamped to [0, 1]. No interests (a user with no interpretable history),
/// or a query the embedder cannot place, give 0.
pub fn interest_relevance(interests: &[InterestItem], query_vector: &[f32]) -> f32 {
    interests
        .iter()
        .map(|i| cosine(query_vector, &i.centroid))
        .fold(0.0f32, f32::max)
        .clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interest(centroid: Vec<f32>) -> InterestItem {
        InterestItem {
            terms: vec![],
            examples: vec![],
            centroid,
            weight: 0.5,
        }
    }

    #[test]
    fn relevance_is_the_nearest_interests_cosine_clamped() {
        let interests = [interest(vec![1.0, 0.0]), interest(vec![0.0, 1.0])];
        let r = interest_relevance(&interests, &[3.0, 4.0]);
        assert!((r - 0.8).abs() < 1e-6, "{r}");
        assert_eq!(interest_relevance(&interests, &[-1.0, -1.0]), 0.0);
        assert_eq!(interest_relevance(&interests, &[0.0, 0.0]), 0.0);
        assert_eq!(interest_relevance(&[], &[1.0, 0.0]), 0.0);
        assert!((interest_relevance(&interests, &[0.0, 2.0]) - 1.0).abs() < 1e-6);
    }
}
