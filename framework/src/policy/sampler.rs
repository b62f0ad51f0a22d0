//! Choosing the next token from logits: the `Sampler` extension point and the built-in
//! temperature / top-k / top-p sampler, configured by the `[sampling]` section.

use crate::config::Check;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Picks one token id from a row of next-token logits.
pub trait Sampler: Send + Sync {
    fn pick(&self, logits: &[f32], rng: &mut ChaCha8Rng) -> u32;
}

crate::config_section! {
    /// The `[sampling]` section: how completions are drawn.
    pub struct SamplingConfig {
        /// Softmax temperature; 0 is greedy (argmax, the lowest id on ties).
        pub temperature: f64 = 1.0, Check::Range { min: 0.0, max: 100.0 };
        /// Keep only the k most likely tokens (0 keeps all).
        pub top_k: u32 = 0, Check::Any;
        /// Keep the fewest most likely tokens whose probabilities sum to at least p (1 keeps all).
        pub top_p: f64 = 1.0, Check::Range { min: 0.0, max: 1.0 };
        /// Most tokens generated per completion (the stop token included).
        pub max_new_tokens: u32 = 128, Check::Range { min: 1.0, max: 4096.0 };
    }
}

/// Index of the largest finite value (lowest index on ties); 0 for an all-NaN row.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in logits.iter().enumerate() {
        if x > logits[best] || logits[best].is_nan() && !x.is_nan() {
            best = i;
        }
    }
    best as u32
}

impl Sampler for SamplingConfig {
    fn pick(&self, logits: &[f32], rng: &mut ChaCha8Rng) -> u32 {
        if self.temperature == 0.0 || logits.len() <= 1 {
            return argmax(logits);
        }
        // Candidates, most likely first; ties keep the lower id first so runs are reproducible.
        let mut order: Vec<u32> = (0..logits.len() as u32)
            .filter(|&i| logits[i as usize].is_finite())
            .collect();
        if order.is_empty() {
            return argmax(logits);
        }
        order.sort_by(|&a, &b| {
            logits[b as usize]
                .total_cmp(&logits[a as usize])
                .then(a.cmp(&b))
        });
        if self.top_k > 0 {
            order.truncate(self.top_k as usize);
        }
        let top = logits[order[0] as usize] as f64;
        let weights: Vec<f64> = order
            .iter()
            .map(|&i| ((logits[i as usize] as f64 - top) / self.temperature).exp())
            .collect();
        let total: f64 = weights.iter().sum();
        // Nucleus: the shortest prefix whose probability mass reaches top_p (at least one).
        let mut keep = weights.len();
        if self.top_p < 1.0 {
            let mut mass = 0.0;
            for (n, w) in weights.iter().enumerate() {
                mass += w / total;
                if mass >= self.top_p {
                    keep = n + 1;
                    break;
                }
            }
        }
        let kept_total: f64 = weights[..keep].iter().sum();
        let mut u = rng.random::<f64>() * kept_total;
        for (n, w) in weights[..keep].iter().enumerate() {
            if u < *w {
                return order[n];
            }
            u -= w;
        }
        order[keep - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn frequencies(cfg: &SamplingConfig, logits: &[f32], draws: usize) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut counts = vec![0usize; logits.len()];
        for _ in 0..draws {
            counts[cfg.pick(logits, &mut rng) as usize] += 1;
        }
        counts.iter().map(|&c| c as f64 / draws as f64).collect()
    }

    #[test]
    fn greedy_takes_the_lowest_id_of_the_maximum() {
        let cfg = SamplingConfig {
            temperature: 0.0,
            ..SamplingConfig::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(cfg.pick(&[0.1, 2.0, 2.0, -1.0], &mut rng), 1);
        assert_eq!(argmax(&[f32::NAN, 1.0, 0.5]), 1);
    }

    #[test]
    fn temperature_one_follows_the_softmax() {
        // Probabilities 1/7, 2/7, 4/7.
        let logits = [0.0, 2f32.ln(), 4f32.ln()];
        let f = frequencies(&SamplingConfig::default(), &logits, 70_000);
        for (got, want) in f.iter().zip([1.0 / 7.0, 2.0 / 7.0, 4.0 / 7.0]) {
            assert!((got - want).abs() < 0.01, "{f:?}");
        }
    }

    #[test]
    fn top_k_and_top_p_cut_the_tail() {
        let logits = [0.0, 2f32.ln(), 4f32.ln()];
        let k = SamplingConfig {
            top_k: 2,
            ..SamplingConfig::default()
        };
        let f = frequencies(&k, &logits, 30_000);
        assert_eq!(f[0], 0.0);
        assert!((f[2] - 2.0 / 3.0).abs() < 0.015, "{f:?}");
        // 4/7 < 0.6, so the nucleus needs the two most likely tokens.
        let p = SamplingConfig {
            top_p: 0.6,
            ..SamplingConfig::default()
        };
        let f = frequencies(&p, &logits, 30_000);
        assert_eq!(f[0], 0.0);
        assert!((f[1] - 1.0 / 3.0).abs() < 0.015, "{f:?}");
        let p = SamplingConfig {
            top_p: 0.5,
            ..SamplingConfig::default()
        };
        assert_eq!(frequencies(&p, &logits, 1_000)[2], 1.0);
    }
}
