//! How well the cleaner finds noise: precision, recall and F1 with noise as the positive class.

use serde::{Deserialize, Serialize};

/// Confusion counts and scores of a noise classifier over labelled records.
///
/// A score whose denominator is zero is 0, as scikit-learn's `zero_division=0`: a cleaner that
/// flags nothing has precision 0, not an undefined value that would poison an average. The
/// counts are kept so a reader can tell "0 because nothing was flagged" from "0 because wrong".
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct NoiseMetrics {
    /// Of the records flagged as noise, the share that are noise.
    pub precision: f64,
    /// Of the noise records, the share flagged.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Share of records classified correctly.
    pub accuracy: f64,
    pub true_positives: u64,
    pub false_positives: u64,
    pub true_negatives: u64,
    pub false_negatives: u64,
    /// Records that are noise (true positives + false negatives).
    pub noise_support: u64,
    /// Records that are clean (true negatives + false positives).
    pub clean_support: u64,
    /// Records skipped because they carry no ground-truth label.
    pub unlabelled: u64,
}

/// Metrics of `(predicted_noise, actual_noise)` pairs.
pub fn noise_metrics(pairs: impl IntoIterator<Item = (bool, bool)>) -> NoiseMetrics {
    let mut m = NoiseMetrics::default();
    for (predicted, actual) in pairs {
        match (predicted, actual) {
            (true, true) => m.true_positives += 1,
            (true, false) => m.false_positives += 1,
            (false, false) => m.true_negatives += 1,
            (false, true) => m.false_negatives += 1,
        }
    }
    m.noise_support = m.true_positives + m.false_negatives;
    m.clean_support = m.true_negatives + m.false_positives;
    m.precision = ratio(m.true_positives, m.true_positives + m.false_positives);
    m.recall = ratio(m.true_positives, m.noise_support);
    m.f1 = if m.precision + m.recall > 0.0 {
        2.0 * m.precision * m.recall / (m.precision + m.recall)
    } else {
        0.0
    };
    m.accuracy = ratio(
        m.true_positives + m.true_negatives,
        m.noise_support + m.clean_support,
    );
    m
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(tp: usize, fp: usize, tn: usize, fn_: usize) -> Vec<(bool, bool)> {
        let mut v = vec![(true, true); tp];
        v.extend(vec![(true, false); fp]);
        v.extend(vec![(false, false); tn]);
        v.extend(vec![(false, true); fn_]);
        v
    }

    #[test]
    fn hand_computed_case() {
        // tp=6 fp=2 tn=10 fn=2: precision 6/8, recall 6/8, f1 0.75, accuracy 16/20.
        let m = noise_metrics(pairs(6, 2, 10, 2));
        assert_eq!(
            (
                m.true_positives,
                m.false_positives,
                m.true_negatives,
                m.false_negatives
            ),
            (6, 2, 10, 2)
        );
        assert_eq!((m.noise_support, m.clean_support), (8, 12));
        assert!((m.precision - 0.75).abs() < 1e-12);
        assert!((m.recall - 0.75).abs() < 1e-12);
        assert!((m.f1 - 0.75).abs() < 1e-12);
        assert!((m.accuracy - 0.8).abs() < 1e-12);
    }

    #[test]
    fn asymmetric_case() {
        // tp=3 fp=1 tn=4 fn=2: p = 3/4, r = 3/5, f1 = 2·0.75·0.6/1.35 = 2/3, acc = 7/10.
        let m = noise_metrics(pairs(3, 1, 4, 2));
        assert!((m.precision - 0.75).abs() < 1e-12);
        assert!((m.recall - 0.6).abs() < 1e-12);
        assert!((m.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.accuracy - 0.7).abs() < 1e-12);
    }

    #[test]
    fn zero_divisions_are_zero() {
        let empty = noise_metrics(Vec::new());
        assert_eq!(empty, NoiseMetrics::default());

        // Nothing flagged: precision 0/0 -> 0, recall 0/3 = 0, f1 0; accuracy still counts.
        let none_flagged = noise_metrics(pairs(0, 0, 5, 3));
        assert_eq!(
            (none_flagged.precision, none_flagged.recall, none_flagged.f1),
            (0.0, 0.0, 0.0)
        );
        assert!((none_flagged.accuracy - 5.0 / 8.0).abs() < 1e-12);

        // No noise at all and none flagged: recall 0/0 -> 0, accuracy 1.
        let all_clean = noise_metrics(pairs(0, 0, 4, 0));
        assert_eq!(
            (all_clean.recall, all_clean.f1, all_clean.accuracy),
            (0.0, 0.0, 1.0)
        );

        // Everything flagged, all noise: perfect.
        let perfect = noise_metrics(pairs(5, 0, 0, 0));
        assert_eq!(
            (
                perfect.precision,
                perfect.recall,
                perfect.f1,
                perfect.accuracy
            ),
            (1.0, 1.0, 1.0, 1.0)
        );
    }
}
