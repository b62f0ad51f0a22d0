//! Choosing the next token from logits: the `Sampler` extension point and the built-in
//! temperature / top-k / top-p sampler, configured by the `[sampling]` section, with the checks
//! that make its lists valid on-policy samples for training.

use crate::config::Check;
use crate::error::{Error, Result};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Picks one token id from a row of next-token logits.
pub trait Sampler: Send + Sync {
    fn pick(&self, logits: &[f32], rng: &mut ChaCha8Rng) -> u32;

    /// [`pick`](Sampler::pick) and the log-probability the picked token had under the
    /// distribution it was drawn from. The default is the softmax of the logits themselves,
    /// right for a sampler that draws from the model's own distribution.
    fn pick_with_logprob(&self, logits: &[f32], rng: &mut ChaCha8Rng) -> (u32, f32) {
        let token = self.pick(logits, rng);
        (token, log_softmax_at(logits, token as usize))
    }
}

crate::config_section! {
    /// The `[sampling]` section: how completions are drawn.
    pub struct SamplingConfig {
        /// Softmax temperature; 0 is greedy (argmax, the lowest id on ties). GRPO and
        /// distillation train on log-probs of the same temperature-scaled distribution
        /// (logits / temperature), so their updates stay on-policy; GRPO and on-policy
        /// distillation need a temperature above 0.
        pub temperature: f64 = 1.0, Check::Range { min: 0.0, max: 100.0 };
        /// Keep only the k most likely tokens (0 keeps all). GRPO and on-policy distillation
        /// need 0: their log-probs are of the whole distribution.
        pub top_k: u32 = 0, Check::Any;
        /// Keep the fewest most likely tokens whose probabilities sum to at least p (1 keeps
        /// all). GRPO and on-policy distillation need 1, as for `top_k`.
        pub top_p: f64 = 1.0, Check::Range { min: 0.0, max: 1.0 };
        /// Most tokens generated per completion (the stop token included).
        pub max_new_tokens: u32 = 128, Check::Range { min: 1.0, max: 4096.0 };
    }
}

impl SamplingConfig {
    /// The temperature that training log-probs are taken at, so that they are those of the
    /// distribution the lists were drawn from: `temperature`, or 1 for greedy decoding, whose
    /// point mass has no log-prob worth training on (the model's own is used instead, as
    /// [`Sampler::pick_with_logprob`] reports it).
    pub fn logprob_temperature(&self) -> f32 {
        if self.temperature > 0.0 {
            self.temperature as f32
        } else {
            1.0
        }
    }

    /// An error naming the `[sampling]` field, its value and what `trainer` accepts, unless
    /// lists drawn with these settings are on-policy samples for a trainer whose log-probs are
    /// those of logits / temperature (GRPO's ratio, on-policy distillation's KL): a truncated
    /// distribution (top-k, top-p) is not the one those log-probs describe, and greedy
    /// decoding draws one list per prompt, so a GRPO group would hold identical lists.
    pub fn check_on_policy(&self, trainer: &str) -> Result<()> {
        let t = self.temperature;
        if !(t.is_finite() && t > 0.0) {
            let what = if t == 0.0 {
                "greedy decoding"
            } else {
                "not a temperature"
            };
            let msg = format!(
                "{t} is {what}, but {trainer} trains on lists sampled from the policy's \
                 distribution: valid values are > 0 ..= 100 (1 = the model's own)"
            );
            return Err(Error::field("sampling.temperature", msg));
        }
        let truncated = |what: &str| {
            format!(
                "{what} truncates the distribution lists are drawn from, but {trainer}'s \
                 log-probs are of the whole (temperature-scaled) distribution, so its updates \
                 would be silently off-policy"
            )
        };
        if self.top_k != 0 {
            let msg = truncated(&self.top_k.to_string());
            return Err(Error::field(
                "sampling.top_k",
                format!("{msg}: the valid value for {trainer} is 0 (keep every token)"),
            ));
        }
        if self.top_p < 1.0 {
            let msg = truncated(&self.top_p.to_string());
            return Err(Error::field(
                "sampling.top_p",
                format!("{msg}: the valid value for {trainer} is 1 (keep every token)"),
            ));
        }
        Ok(())
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

/// log softmax(logits)[index]. The terms exp(x − top) ≤ 1 are exact to an f32 ulp, and f32's
/// exp is several times faster than f64's; the sum is kept in f64 for a stable log-sum-exp.
pub(crate) fn log_softmax_at(logits: &[f32], index: usize) -> f32 {
    let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&x| (x - top).exp() as f64).sum();
    (f64::from(logits[index] - top) - sum.ln()) as f32
}

impl Sampler for SamplingConfig {
    fn pick(&self, logits: &[f32], rng: &mut ChaCha8Rng) -> u32 {
        self.pick_with_logprob(logits, rng).0
    }

    /// The log-prob is of the distribution drawn from: softmax(logits / temperature),
    /// renormalised over the tokens top-k and top-p keep. Greedy decoding reports the model's
    /// own log-prob (temperature 1) instead of its point mass's 0.
    fn pick_with_logprob(&self, logits: &[f32], rng: &mut ChaCha8Rng) -> (u32, f32) {
        let greedy = |logits: &[f32]| {
            let token = argmax(logits);
            (token, log_softmax_at(logits, token as usize))
        };
        if self.temperature == 0.0 || logits.len() <= 1 {
            return greedy(logits);
        }
        // Candidates, most likely first; ties keep the lower id first so runs are reproducible.
        let mut order: Vec<u32> = (0..logits.len() as u32)
            .filter(|&i| logits[i as usize].is_finite())
            .collect();
        if order.is_empty() {
            return greedy(logits);
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
        // ln of each weight is exactly its scaled logit, so the log-prob needs no second pass.
        let scaled = |i: u32| (logits[i as usize] as f64 - top) / self.temperature;
        let weights: Vec<f64> = order.iter().map(|&i| scaled(i).exp()).collect();
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
        let mut picked = keep - 1;
        for (n, w) in weights[..keep].iter().enumerate() {
            if u < *w {
                picked = n;
                break;
            }
            u -= w;
        }
        let token = order[picked];
        (token, (scaled(token) - kept_total.ln()) as f32)
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

    #[test]
    fn reported_logprobs_are_of_the_distribution_drawn_from() {
        let logits = [0.3f32, -1.2, 2.0, 0.9, f32::NEG_INFINITY];
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        // Plain sampling at T: log softmax(logits / T) of the drawn token.
        for temperature in [1.0, 0.5, 1.7] {
            let cfg = SamplingConfig {
                temperature,
                ..SamplingConfig::default()
            };
            let scaled: Vec<f32> = logits.iter().map(|x| x / temperature as f32).collect();
            for _ in 0..20 {
                let (token, lp) = cfg.pick_with_logprob(&logits, &mut rng);
                let want = log_softmax_at(&scaled, token as usize);
                assert!((lp - want).abs() < 1e-5, "T {temperature}: {lp} vs {want}");
            }
        }
        // Truncated: renormalised over the kept tokens (top-2 at T 0.5 keeps ids 2 and 3).
        let cfg = SamplingConfig {
            temperature: 0.5,
            top_k: 2,
            ..SamplingConfig::default()
        };
        for _ in 0..20 {
            let (token, lp) = cfg.pick_with_logprob(&logits, &mut rng);
            let kept = [logits[2] / 0.5, logits[3] / 0.5];
            let want = log_softmax_at(&kept, if token == 2 { 0 } else { 1 });
            assert!(token == 2 || token == 3, "{token}");
            assert!((lp - want).abs() < 1e-5, "{lp} vs {want}");
        }
        // Greedy reports the model's own log-prob of the argmax.
        let greedy = SamplingConfig {
            temperature: 0.0,
            ..SamplingConfig::default()
        };
        let (token, lp) = greedy.pick_with_logprob(&logits, &mut rng);
        assert_eq!((token, lp), (2, log_softmax_at(&logits, 2)));
    }

    #[test]
    fn pick_draws_what_pick_with_logprob_draws() {
        let logits = [0.0, 2f32.ln(), 4f32.ln(), -0.5];
        let cfg = SamplingConfig {
            temperature: 0.8,
            top_p: 0.9,
            ..SamplingConfig::default()
        };
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(5), ChaCha8Rng::seed_from_u64(5));
        for _ in 0..50 {
            assert_eq!(
                cfg.pick(&logits, &mut a),
                cfg.pick_with_logprob(&logits, &mut b).0
            );
        }
    }

    #[test]
    fn on_policy_training_rejects_truncation_and_greedy_naming_the_field() {
        let ok = SamplingConfig {
            temperature: 0.7,
            ..SamplingConfig::default()
        };
        assert!(ok.check_on_policy("GRPO").is_ok());
        assert_eq!(ok.logprob_temperature(), 0.7);
        let cases = [
            (
                SamplingConfig {
                    top_k: 40,
                    ..ok.clone()
                },
                "sampling.top_k: 40 ",
                "is 0",
            ),
            (
                SamplingConfig {
                    top_p: 0.9,
                    ..ok.clone()
                },
                "sampling.top_p: 0.9 ",
                "is 1",
            ),
            (
                SamplingConfig {
                    temperature: 0.0,
                    ..ok.clone()
                },
                "sampling.temperature: 0 is greedy",
                "> 0 ..= 100",
            ),
            (
                SamplingConfig {
                    temperature: f64::NAN,
                    ..ok.clone()
                },
                "sampling.temperature: NaN",
                "> 0",
            ),
        ];
        for (cfg, head, valid) in cases {
            let msg = cfg.check_on_policy("GRPO").unwrap_err().to_string();
            assert!(msg.starts_with(head) && msg.contains(valid), "{msg}");
            assert!(msg.contains("GRPO"), "{msg}");
        }
        let greedy = SamplingConfig {
            temperature: 0.0,
            ..SamplingConfig::default()
        };
        assert_eq!(greedy.logprob_temperature(), 1.0);
    }
}
