//! The user's interests as seen in the signals rewards may read (by default what the prompt
//! shows) — the rubric items of the coverage reward. Never the simulator's hidden truth: only
//! what the policy could see.
//!
//! Signals are clustered greedily in time order: a signal joins the existing cluster whose
//! centroid is most similar (cosine ≥ `JOIN_COSINE`), else starts one. A cluster's salience is
//! the sum of its members' recency weights, so a topic read often and lately weighs most.

use crate::data::Signal;
use crate::retrieval::{Embedder, cosine};
use crate::text::terms::content_terms;
use std::collections::HashMap;

/// Similarity at which a signal joins a cluster; below it, it starts a new interest.
const JOIN_COSINE: f32 = 0.5;
/// Recency half-life: a signal this old counts half as much as one from the last moment.
const HALF_LIFE_SECS: f64 = 14.0 * 86_400.0;
/// At most this many interests (the most salient) become rubric items.
pub const MAX_INTERESTS: usize = 8;

/// One interest of a user, as a rubric item.
#[derive(Debug, Clone, PartialEq)]
pub struct InterestItem {
    /// Most frequent content terms of the member signals, most frequent first.
    pub terms: Vec<String>,
    /// The members' texts, newest last (what an LLM judge is shown).
    pub examples: Vec<String>,
    /// Unit-length centroid of the members' embeddings.
    pub centroid: Vec<f32>,
    /// Normalised salience; the weights of one user sum to 1.
    pub weight: f32,
}

/// Clusters a user's (cleaned, visible) signals, oldest first, into at most `MAX_INTERESTS`
/// weighted interests.
pub fn user_interests(signals: &[Signal], embedder: &dyn Embedder) -> Vec<InterestItem> {
    let texts: Vec<&str> = signals.iter().map(|s| s.text.as_str()).collect();
    if texts.is_empty() {
        return Vec::new();
    }
    let vectors = embedder.embed(&texts);
    let newest = signals.iter().map(|s| s.timestamp).max().unwrap_or(0);
    struct Cluster {
        sum: Vec<f32>,
        members: Vec<usize>,
        salience: f64,
    }
    let mut clusters: Vec<Cluster> = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        if v.iter().all(|x| *x == 0.0) {
            continue; // nothing the embedder knows: no evidence of an interest
        }
        let age = (newest - signals[i].timestamp).max(0) as f64;
        let recency = 0.5f64.powf(age / HALF_LIFE_SECS);
        let best = clusters
            .iter()
            .enumerate()
            .map(|(c, cl)| (c, cosine(&cl.sum, v)))
            .filter(|(_, s)| *s >= JOIN_COSINE)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        match best {
            Some((c, _)) => {
                let cl = &mut clusters[c];
                cl.sum.iter_mut().zip(v).for_each(|(s, x)| *s += x);
                cl.members.push(i);
                cl.salience += recency;
            }
            None => clusters.push(Cluster {
                sum: v.clone(),
                members: vec![i],
                salience: recency,
            }),
        }
    }
    clusters.sort_by(|a, b| {
        b.salience
            .total_cmp(&a.salience)
            .then(a.members[0].cmp(&b.members[0]))
    });
    clusters.truncate(MAX_INTERESTS);
    let total: f64 = clusters.iter().map(|c| c.salience).sum();
    clusters
        .into_iter()
        .map(|c| {
            let mut counts: HashMap<String, usize> = HashMap::new();
            for &m in &c.members {
                for t in content_terms(texts[m]) {
                    *counts.entry(t).or_default() += 1;
                }
            }
            let mut terms: Vec<(String, usize)> = counts.into_iter().collect();
            terms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let norm = c
                .sum
                .iter()
                .map(|x| x * x)
                .sum::<f32>()
                .sqrt()
                .max(f32::MIN_POSITIVE);
            InterestItem {
                terms: terms.into_iter().take(8).map(|(t, _)| t).collect(),
                examples: c.members.iter().map(|&m| texts[m].to_string()).collect(),
                centroid: c.sum.iter().map(|x| x / norm).collect(),
                weight: (c.salience / total) as f32,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reward::testing::{TableEmbedder, user};

    #[test]
    fn history_clusters_by_similarity_and_weighs_by_recency() {
        let emb = TableEmbedder::new(
            2,
            &[
                ("hawks win", vec![1.0, 0.0]),
                ("hawks playoff", vec![0.9, 0.1]),
                ("sourdough", vec![0.0, 1.0]),
            ],
        );
        // One hour apart: recency barely differs, so two hawks signals outweigh one sourdough.
        let u = user(&["hawks win", "sourdough", "hawks playoff", "unknown words"]);
        let items = user_interests(&u.history, &emb);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].examples, vec!["hawks win", "hawks playoff"]);
        assert_eq!(items[0].terms[0], "hawks");
        assert!(
            items[0].weight > 0.6 && items[0].weight < 0.7,
            "{}",
            items[0].weight
        );
        assert!((items.iter().map(|i| i.weight).sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(user_interests(&[], &emb).is_empty());
    }
}
