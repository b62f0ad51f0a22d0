//! MIND-style impression ranking: each impression's candidates are scored (e.g. by similarity
//! to the user's query list) and judged by AUC, MRR, nDCG@5 and nDCG@10 per impression,
//! averaged — the definitions of the MIND benchmark's evaluation script.

use serde::Serialize;

/// Impression metrics, means over impressions that have both a click and a non-click (AUC is
/// undefined otherwise; such impressions are counted in `skipped`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImpressionMetrics {
    pub auc: f64,
    pub mrr: f64,
    #[serde(rename = "ndcg@5")]
    pub ndcg_5: f64,
    #[serde(rename = "ndcg@10")]
    pub ndcg_10: f64,
    pub impressions: usize,
    pub skipped: usize,
}

/// Candidate order by score, best first; ties keep candidate order (MIND's script leaves ties
/// to numpy's sort, so we fix them to be reproducible).
fn order(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    idx
}

/// AUC: the probability that a random clicked candidate outscores a random unclicked one,
/// ties counting one half (equal to the ROC area that scikit-learn computes).
fn auc(labels: &[bool], scores: &[f64]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (i, &li) in labels.iter().enumerate() {
        for (j, &lj) in labels.iter().enumerate() {
            if li && !lj {
                pairs += 1.0;
                wins += match scores[i].total_cmp(&scores[j]) {
                    std::cmp::Ordering::Greater => 1.0,
                    std::cmp::Ordering::Equal => 0.5,
                    std::cmp::Ordering::Less => 0.0,
                };
            }
        }
    }
    wins / pairs
}

/// MIND's MRR: Σ over clicked candidates of 1/rank, divided by the number of clicks.
fn mrr(labels: &[bool], ranked: &[usize]) -> f64 {
    let clicks = labels.iter().filter(|&&l| l).count() as f64;
    ranked
        .iter()
        .enumerate()
        .filter(|(_, c)| labels[**c])
        .map(|(r, _)| 1.0 / (r + 1) as f64)
        .sum::<f64>()
        / clicks
}

/// MIND's nDCG@k with binary gains (2^rel − 1 = rel).
fn ndcg(labels: &[bool], ranked: &[usize], k: usize) -> f64 {
    let gain = |r: usize| 1.0 / ((r + 2) as f64).log2();
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, c)| labels[**c])
        .map(|(r, _)| gain(r))
        // Not `sum()`: an empty f64 sum is -0.0, which tables print as "-0.0000".
        .fold(0.0, |acc, g| acc + g);
    let clicks = labels.iter().filter(|&&l| l).count();
    let ideal: f64 = (0..k.min(clicks)).map(gain).sum();
    dcg / ideal
}

/// Scores impression candidates for a query list: each candidate's best cosine with any query
/// (both unit vectors), so a candidate close to one interest ranks high even if the list has
/// others. Candidates without a vector score 0.
pub fn candidate_scores(
    candidates: &[u32],
    query_vectors: &[Vec<f32>],
    article_vectors: &[Vec<f32>],
) -> Vec<f64> {
    candidates
        .iter()
        .map(|&c| {
            let Some(a) = article_vectors.get(c as usize) else {
                return 0.0;
            };
            query_vectors
                .iter()
                .map(|q| crate::retrieval::cosine(q, a) as f64)
                .fold(0.0, f64::max)
        })
        .collect()
}

/// Averages the metrics over impressions, each given as (clicked?, score) per candidate.
pub fn impression_metrics(impressions: &[(Vec<bool>, Vec<f64>)]) -> ImpressionMetrics {
    let mut out = ImpressionMetrics::default();
    for (labels, scores) in impressions {
        let clicks = labels.iter().filter(|&&l| l).count();
        if clicks == 0 || clicks == labels.len() || labels.len() != scores.len() {
            out.skipped += 1;
            continue;
        }
        let ranked = order(scores);
        out.auc += auc(labels, scores);
        out.mrr += mrr(labels, &ranked);
        out.ndcg_5 += ndcg(labels, &ranked, 5);
        out.ndcg_10 += ndcg(labels, &ranked, 10);
        out.impressions += 1;
    }
    let n = out.impressions.max(1) as f64;
    out.auc /= n;
    out.mrr /= n;
    out.ndcg_5 /= n;
    out.ndcg_10 /= n;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_worked_impression() {
        // Candidates a..e with scores; clicked: b and d.
        let labels = vec![false, true, false, true, false];
        let scores = vec![0.9, 0.8, 0.7, 0.1, 0.5];
        // Ranked: a(0.9) b(0.8) c(0.7) e(0.5) d(0.1): clicks at ranks 2 and 5.
        let m = impression_metrics(&[(labels, scores)]);
        // AUC: b beats c, e (2 of 3); d beats none (0 of 3) → 2/6.
        assert!((m.auc - 2.0 / 6.0).abs() < 1e-12);
        assert!((m.mrr - (1.0 / 2.0 + 1.0 / 5.0) / 2.0).abs() < 1e-12);
        let ideal = 1.0 + 1.0 / 3f64.log2();
        assert!((m.ndcg_5 - (1.0 / 3f64.log2() + 1.0 / 6f64.log2()) / ideal).abs() < 1e-12);
        assert_eq!(m.ndcg_5, m.ndcg_10);
        assert_eq!((m.impressions, m.skipped), (1, 0));
        // A click ranked below k scores +0.0 at k, not -0.0.
        assert!(ndcg(&[false, false, true], &[0, 1, 2], 2).is_sign_positive());
    }

    #[test]
    fn candidates_score_by_their_best_query() {
        let articles = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![-1.0, 0.0]];
        let queries = vec![vec![1.0, 0.0], vec![0.6, 0.8]];
        let s = candidate_scores(&[0, 1, 2, 9], &queries, &articles);
        assert!((s[0] - 1.0).abs() < 1e-6 && (s[1] - 0.8).abs() < 1e-6);
        assert_eq!((s[2], s[3]), (0.0, 0.0));
    }

    #[test]
    fn ties_count_half_and_degenerate_impressions_are_skipped() {
        let m = impression_metrics(&[
            (vec![true, false], vec![0.5, 0.5]),
            (vec![true, true], vec![1.0, 0.0]),
        ]);
        assert!((m.auc - 0.5).abs() < 1e-12);
        assert_eq!((m.impressions, m.skipped), (1, 1));
    }
}
