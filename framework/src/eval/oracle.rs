//! Simulator-only diagnostics against the hidden truth: how many of the user's true interest
//! facets a query list reaches, and how many of its queries reach one. Never used by rewards
//! or training; they explain *why* recall moves.

use crate::data::UserRecord;
use crate::data::world::FacetSet;
use serde::Serialize;
use std::collections::HashMap;

/// Oracle coverage and precision of one list.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OracleMetrics {
    /// Share of the user's true facets that some query retrieves an article of.
    pub coverage: f64,
    /// Share of queries that retrieve an article of one of the user's true facets.
    pub precision: f64,
}

/// The facet of every article of the simulator's corpus.
pub struct Oracle {
    facet_of: Vec<Option<u32>>,
    index_of: HashMap<String, u32>,
}

impl Oracle {
    pub fn new(corpus_len: usize, facets: &FacetSet) -> Oracle {
        let mut facet_of = vec![None; corpus_len];
        let mut index_of = HashMap::new();
        for (f, facet) in facets.facets.iter().enumerate() {
            index_of.insert(facet.id.clone(), f as u32);
            for &a in facet.past.iter().chain(&facet.future) {
                facet_of[a as usize] = Some(f as u32);
            }
        }
        Oracle { facet_of, index_of }
    }

    /// Metrics of a list given each query's retrieved articles; `None` when the user carries
    /// no ground truth (not simulated) or the list is empty.
    pub fn score(&self, user: &UserRecord, per_query: &[Vec<u32>]) -> Option<OracleMetrics> {
        let truth: Vec<u32> = user
            .interests
            .as_ref()?
            .iter()
            .filter_map(|i| self.index_of.get(&i.facet).copied())
            .collect();
        if truth.is_empty() || per_query.is_empty() {
            return None;
        }
        let reached = |hits: &Vec<u32>| -> Vec<u32> {
            hits.iter()
                .filter_map(|&a| self.facet_of.get(a as usize).copied().flatten())
                .filter(|f| truth.contains(f))
                .collect()
        };
        let per_query_reached: Vec<Vec<u32>> = per_query.iter().map(reached).collect();
        let covered = truth
            .iter()
            .filter(|f| per_query_reached.iter().any(|r| r.contains(f)))
            .count();
        let precise = per_query_reached.iter().filter(|r| !r.is_empty()).count();
        Some(OracleMetrics {
            coverage: covered as f64 / truth.len() as f64,
            precision: precise as f64 / per_query.len() as f64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Interest;
    use crate::data::world::Facet;

    fn facet(id: &str, articles: Vec<u32>) -> Facet {
        Facet {
            id: id.into(),
            category: "c".into(),
            label: id.into(),
            keywords: vec![],
            entities: vec![],
            past: articles,
            future: vec![],
        }
    }

    #[test]
    fn coverage_and_precision_by_hand() {
        let facets = FacetSet::new(vec![
            facet("a", vec![0, 1]),
            facet("b", vec![2]),
            facet("c", vec![3]),
        ]);
        let oracle = Oracle::new(4, &facets);
        let mut user = crate::reward::testing::user(&[]);
        user.interests = Some(vec![
            Interest {
                facet: "a".into(),
                weight: 0.5,
            },
            Interest {
                facet: "b".into(),
                weight: 0.5,
            },
        ]);
        // Query 1 reaches a; query 2 reaches only c (not the user's); query 3 nothing.
        let m = oracle.score(&user, &[vec![1, 3], vec![3], vec![]]).unwrap();
        assert_eq!(m.coverage, 0.5);
        assert!((m.precision - 1.0 / 3.0).abs() < 1e-12);
        user.interests = None;
        assert!(oracle.score(&user, &[vec![0]]).is_none());
    }
}
