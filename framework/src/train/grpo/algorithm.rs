//! What `[grpo] algorithm` means: each algorithm is an advantage and a loss aggregation taken
//! together, as its paper defines it, and `advantage` / `loss_aggregation` override one part
//! each. The two algorithms differ in both parts, so switching only the advantage (the old
//! `advantage = "grpo"`) gave neither of them.
//!
//! - `dr_grpo` (Liu et al. 2025): advantage `r - mean(group)`; loss = masked sum over the
//!   batch / (sequences × max_new_tokens).
//! - `grpo` (Shao et al. 2024, eq. 3): advantage `(r - mean(group)) / (std(group) + 1e-4)`;
//!   loss = mean over sequences of each sequence's token mean.

use super::config::{AdvantageKind, GrpoAlgorithm, GrpoConfig, LossAggregation};
use std::collections::BTreeMap;

impl GrpoAlgorithm {
    /// The advantage the algorithm's paper uses.
    pub fn advantage(self) -> AdvantageKind {
        match self {
            GrpoAlgorithm::DrGrpo => AdvantageKind::DrGrpo,
            GrpoAlgorithm::Grpo => AdvantageKind::Grpo,
        }
    }

    /// The loss aggregation the algorithm's paper uses.
    pub fn loss_aggregation(self) -> LossAggregation {
        match self {
            GrpoAlgorithm::DrGrpo => LossAggregation::ConstantLength,
            GrpoAlgorithm::Grpo => LossAggregation::SeqMeanTokenMean,
        }
    }
}

/// The advantage and loss aggregation a `[grpo]` section trains with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrpoVariant {
    pub advantage: AdvantageKind,
    pub loss_aggregation: LossAggregation,
}

impl GrpoConfig {
    /// The algorithm's advantage and loss aggregation, each replaced by its override when one
    /// is set.
    pub fn variant(&self) -> GrpoVariant {
        GrpoVariant {
            advantage: self.advantage.unwrap_or(self.algorithm.advantage()),
            loss_aggregation: self
                .loss_aggregation
                .unwrap_or(self.algorithm.loss_aggregation()),
        }
    }

    /// The resolved settings a run records beside its results: the algorithm and the
    /// advantage and loss aggregation it trained with.
    pub fn resolved_settings(&self) -> BTreeMap<String, String> {
        let v = self.variant();
        BTreeMap::from([
            ("algorithm".into(), self.algorithm.to_string()),
            ("advantage".into(), v.advantage.to_string()),
            ("loss_aggregation".into(), v.loss_aggregation.to_string()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::grpo::{ObjectiveConfig, group_advantages, policy_loss};
    use burn::tensor::{Device, Tensor, TensorData};

    fn section(toml_src: &str) -> GrpoConfig {
        toml::from_str(toml_src).unwrap()
    }

    #[test]
    fn the_algorithm_gives_both_parts_and_an_override_replaces_only_its_own() {
        use AdvantageKind as A;
        use LossAggregation as L;
        let cases = [
            ("", A::DrGrpo, L::ConstantLength),
            ("algorithm = \"dr_grpo\"", A::DrGrpo, L::ConstantLength),
            ("algorithm = \"grpo\"", A::Grpo, L::SeqMeanTokenMean),
            // The old spelling keeps its old meaning: the advantage alone.
            ("advantage = \"dr_grpo\"", A::DrGrpo, L::ConstantLength),
            ("advantage = \"grpo\"", A::Grpo, L::ConstantLength),
            ("advantage = \"gdpo\"", A::Gdpo, L::ConstantLength),
            (
                "algorithm = \"grpo\"\nadvantage = \"gdpo\"",
                A::Gdpo,
                L::SeqMeanTokenMean,
            ),
            (
                "algorithm = \"grpo\"\nloss_aggregation = \"token_mean\"",
                A::Grpo,
                L::TokenMean,
            ),
            (
                "loss_aggregation = \"seq_mean_token_mean\"",
                A::DrGrpo,
                L::SeqMeanTokenMean,
            ),
        ];
        for (src, advantage, loss_aggregation) in cases {
            let want = GrpoVariant {
                advantage,
                loss_aggregation,
            };
            assert_eq!(section(src).variant(), want, "{src:?}");
        }
        let settings = section("algorithm = \"grpo\"\nadvantage = \"gdpo\"").resolved_settings();
        let got: Vec<(&str, &str)> = settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let want = [
            ("advantage", "gdpo"),
            ("algorithm", "grpo"),
            ("loss_aggregation", "seq_mean_token_mean"),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn unset_overrides_stay_out_of_the_saved_config_and_read_back_the_same() {
        for src in ["", "algorithm = \"grpo\"\nadvantage = \"gdpo\""] {
            let cfg = section(src);
            let text = toml::to_string(&cfg).unwrap();
            assert_eq!(section(&text), cfg, "{text}");
        }
        let text = toml::to_string(&GrpoConfig::default()).unwrap();
        assert!(text.contains("algorithm = \"dr_grpo\""), "{text}");
        assert!(!text.contains("advantage") && !text.contains("loss_aggregation"));
        let err = toml::from_str::<GrpoConfig>("algorithm = \"ppo\"").unwrap_err();
        assert!(err.to_string().contains("dr_grpo") && err.to_string().contains("grpo"));
    }

    /// Two groups of G = 2 with rewards [1, 0] and [0.2, 0.6]; completions of 3, 1, 2 and 3
    /// tokens (T = 3, max_new_tokens 4). Old log-probs are -1 on every real token; the
    /// current ones make these ratios, row by row: [1, 1.1, 1.5], [0.9], [1, 0.5], [1, 1, 0.7].
    /// Padding holds values the loss must ignore.
    fn hand_batch_loss(cfg: &GrpoConfig) -> f32 {
        let d = Device::flex();
        let ratios: [f32; 12] = [1.0, 1.1, 1.5, 0.9, 0.0, 0.0, 1.0, 0.5, 0.0, 1.0, 1.0, 0.7];
        let mask: [f32; 12] = [1., 1., 1., 1., 0., 0., 1., 1., 0., 1., 1., 1.];
        let logp: Vec<f32> = ratios
            .iter()
            .zip(&mask)
            .map(|(r, m)| if *m == 1.0 { -1.0 + r.ln() } else { -9.0 })
            .collect();
        let old: Vec<f32> = mask.iter().map(|m| -m).collect();
        let t = |v: &[f32]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [4, 3]), &d);
        let variant = cfg.variant();
        let advantages = group_advantages(&[1.0, 0.0, 0.2, 0.6], 2, variant.advantage).unwrap();
        let objective = ObjectiveConfig::from_grpo(cfg, 4);
        let parts = policy_loss(t(&logp), t(&old), None, &advantages, t(&mask), &objective);
        parts.unwrap().loss.into_scalar::<f32>()
    }

    /// Per token the loss is `-min(r A, clamp(r, 0.8, 1.2) A)`. With these signs the min takes
    /// the clipped ratio at r = 1.5, A > 0 (1.2) and r = 0.5, A < 0 (0.8), the raw one
    /// elsewhere, so each row's loss is `-A` times its effective ratios' sum:
    /// 1 + 1.1 + 1.2 = 3.3, 0.9, 1 + 0.8 = 1.8, 1 + 1 + 0.7 = 2.7.
    const EFFECTIVE_RATIO_SUMS: [f64; 4] = [3.3, 0.9, 1.8, 2.7];
    const LENGTHS: [f64; 4] = [3.0, 1.0, 2.0, 3.0];

    /// GRPO's advantages of the two groups: ±0.5 / (std + 1e-4) with the unbiased std of
    /// {1, 0}, √0.5, and ±0.2 / (std + 1e-4) with that of {0.2, 0.6}, √0.08.
    fn grpo_advantages() -> [f64; 4] {
        let a0 = 0.5 / (0.5f64.sqrt() + 1e-4);
        let a1 = 0.2 / (0.08f64.sqrt() + 1e-4);
        [a0, -a0, -a1, a1]
    }

    fn constant_length(advantages: [f64; 4]) -> f64 {
        // Every token of the batch summed, over 4 sequences × max_new_tokens 4.
        let sum: f64 = (0..4)
            .map(|i| -advantages[i] * EFFECTIVE_RATIO_SUMS[i])
            .sum();
        sum / 16.0
    }

    fn seq_mean_token_mean(advantages: [f64; 4]) -> f64 {
        let row_means = (0..4).map(|i| -advantages[i] * EFFECTIVE_RATIO_SUMS[i] / LENGTHS[i]);
        row_means.sum::<f64>() / 4.0
    }

    fn assert_loss(src: &str, want: f64) {
        let got = hand_batch_loss(&section(src));
        assert!(
            (f64::from(got) - want).abs() < 1e-6,
            "{src:?}: {got} vs {want}"
        );
    }

    #[test]
    fn each_algorithm_gives_its_papers_loss_on_a_hand_computed_batch() {
        let dr = [0.5, -0.5, -0.2, 0.2];
        // Dr.GRPO: (-1.65 + 0.45 + 0.36 - 0.54) / 16 = -1.38 / 16.
        assert!((constant_length(dr) - -0.08625).abs() < 1e-12);
        assert_loss("algorithm = \"dr_grpo\"", -0.08625);
        assert_loss("", -0.08625);
        // GRPO: row means -1.1 a0, 0.9 a0, 0.9 a1, -0.9 a1; their mean is -0.05 a0.
        let grpo = grpo_advantages();
        let want = seq_mean_token_mean(grpo);
        assert!((want - -0.05 * grpo[0]).abs() < 1e-12 && (want - -0.035_350).abs() < 1e-6);
        assert_loss("algorithm = \"grpo\"", want);
        // GRPO's advantage alone keeps Dr.GRPO's normaliser: (-2.4 a0 - 0.9 a1) / 16.
        let mixed = constant_length(grpo);
        assert!((mixed - (-2.4 * grpo[0] - 0.9 * grpo[2].abs()) / 16.0).abs() < 1e-12);
        assert_loss("advantage = \"grpo\"", mixed);
        assert_loss(
            "algorithm = \"grpo\"\nloss_aggregation = \"constant_length\"",
            mixed,
        );
        // Dr.GRPO's advantage with GRPO's aggregation: (-0.55 + 0.45 + 0.18 - 0.18) / 4.
        assert!((seq_mean_token_mean(dr) - -0.025).abs() < 1e-12);
        assert_loss("algorithm = \"grpo\"\nadvantage = \"dr_grpo\"", -0.025);
    }
}
