//! The noise classifier: hashed features → Linear → ReLU → Linear → {clean, noise} logits, and
//! its training loop (AdamW on cross-entropy).

use super::config::CleanerConfig;
use super::features::{SparseFeatures, dense_batch};
use crate::error::{Error, Result};
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Class index of noise in the two logits (clean is 0).
const NOISE: usize = 1;

/// A one-hidden-layer MLP over hashed features. Small on purpose: noise is a surface property
/// (see `features.rs`), and the cleaner must cost next to nothing beside the policy.
#[derive(Module, Debug)]
pub struct NoiseNet {
    /// `[buckets, hidden]`.
    pub hidden: Linear,
    /// `[hidden, 2]`.
    pub out: Linear,
}

impl NoiseNet {
    /// A freshly initialised net whose weights depend only on `seed`.
    ///
    /// Weights are drawn from our own ChaCha stream rather than Burn's initialisers: Burn's CPU
    /// RNG is one process-wide generator (`Device::seed` replaces it for everyone), so another
    /// thread drawing random numbers between seeding and init — parallel tests, a data loader —
    /// would silently change the model. The distribution matches Burn's `Linear` default,
    /// U(-1/√fan_in, 1/√fan_in) for weights and biases.
    pub fn new(buckets: usize, hidden: usize, seed: u64, device: &Device) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        NoiseNet {
            hidden: seeded_linear(buckets, hidden, &mut rng, device),
            out: seeded_linear(hidden, 2, &mut rng, device),
        }
    }

    /// `[batch, buckets]` features → `[batch, 2]` logits.
    pub fn forward(&self, x_bf: Tensor<2>) -> Tensor<2> {
        self.out.forward(relu(self.hidden.forward(x_bf)))
    }

    /// P(noise) of each row.
    pub fn noise_probabilities(&self, x_bf: Tensor<2>) -> Result<Vec<f32>> {
        let probs_b1 = softmax(self.forward(x_bf), 1).narrow(1, NOISE, 1);
        probs_b1
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| Error::model("cleaner", format!("reading probabilities: {e:?}")))
    }

    /// (buckets, hidden) read from the weight shapes.
    pub fn dims(&self) -> (usize, usize) {
        let [buckets, hidden] = self.hidden.weight.dims();
        (buckets, hidden)
    }
}

fn seeded_linear(d_in: usize, d_out: usize, rng: &mut ChaCha8Rng, device: &Device) -> Linear {
    let bound = 1.0 / (d_in.max(1) as f32).sqrt();
    let mut draw =
        |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..bound)).collect() };
    let weight = draw(d_in * d_out);
    let bias = draw(d_out);
    Linear {
        weight: Param::from_data(TensorData::new(weight, [d_in, d_out]), device),
        bias: Some(Param::from_data(TensorData::new(bias, [d_out]), device)),
    }
}

/// Trains `net` on labelled feature rows; returns the trained net (still on the autodiff
/// `device`) and the mean loss of each epoch. `on_batch` is told the rows of each finished batch
/// (drives the progress bar).
pub fn fit(
    mut net: NoiseNet,
    features: &[SparseFeatures],
    noise_labels: &[bool],
    cfg: &CleanerConfig,
    seed: u64,
    device: &Device,
    mut on_batch: impl FnMut(usize),
) -> Result<(NoiseNet, Vec<f32>)> {
    if features.len() != noise_labels.len() {
        return Err(Error::model(
            "cleaner",
            format!(
                "{} feature rows but {} labels",
                features.len(),
                noise_labels.len()
            ),
        ));
    }
    let buckets = cfg.buckets as usize;
    let batch_size = (cfg.batch_size as usize).max(1);
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut optim = AdamWConfig::new().init();
    // A separate stream from the init stream, so changing the init never reshuffles batches.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_C1EA_0000_0001);
    let mut order: Vec<usize> = (0..features.len()).collect();
    let mut epoch_losses = Vec::with_capacity(cfg.epochs as usize);

    for _ in 0..cfg.epochs {
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0f64;
        for chunk in order.chunks(batch_size) {
            let rows: Vec<&SparseFeatures> = chunk.iter().map(|&i| &features[i]).collect();
            let targets: Vec<i32> = chunk.iter().map(|&i| i32::from(noise_labels[i])).collect();
            let x_bf = dense_batch(&rows, buckets, device);
            let y_b = Tensor::<1, Int>::from_data(TensorData::new(targets, [chunk.len()]), device);
            let loss = loss_fn.forward(net.forward(x_bf), y_b);
            let value: f32 = loss
                .clone()
                .try_into_scalar::<f32>()
                .map_err(|e| Error::model("cleaner", format!("reading the loss: {e:?}")))?;
            if !value.is_finite() {
                return Err(Error::model(
                    "cleaner.learning_rate",
                    format!(
                        "training diverged (loss {value}); try a smaller learning_rate than {}",
                        cfg.learning_rate
                    ),
                ));
            }
            loss_sum += f64::from(value) * chunk.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(cfg.learning_rate, net, grads);
            on_batch(chunk.len());
        }
        epoch_losses.push((loss_sum / features.len().max(1) as f64) as f32);
    }
    Ok((net, epoch_losses))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_depends_only_on_the_seed() {
        let device = Device::flex();
        let a = NoiseNet::new(64, 8, 7, &device);
        let b = NoiseNet::new(64, 8, 7, &device);
        let c = NoiseNet::new(64, 8, 8, &device);
        let w = |n: &NoiseNet| {
            n.hidden
                .weight
                .val()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        assert_eq!(w(&a), w(&b));
        assert_ne!(w(&a), w(&c));
        assert_eq!(a.dims(), (64, 8));
        assert!(w(&a).iter().all(|v| v.abs() <= 1.0 / 8.0));
    }

    #[test]
    fn fit_learns_a_separable_toy_problem() {
        // Noise rows light bucket 0, clean rows bucket 1: any working loop separates them.
        let rows: Vec<SparseFeatures> = (0..64)
            .map(|i| SparseFeatures {
                indices: vec![(i % 2) as u32],
                values: vec![1.0],
            })
            .collect();
        let labels: Vec<bool> = (0..64).map(|i| i % 2 == 0).collect();
        let cfg = CleanerConfig {
            buckets: 64,
            hidden: 8,
            epochs: 30,
            batch_size: 16,
            learning_rate: 1e-2,
            ..Default::default()
        };
        let device = Device::flex().autodiff();
        let net = NoiseNet::new(64, 8, 1, &device);
        let mut seen = 0;
        let (net, losses) = fit(net, &rows, &labels, &cfg, 1, &device, |n| seen += n).unwrap();
        assert_eq!(seen, 64 * 30);
        assert!(losses.last().unwrap() < &(losses[0] * 0.5), "{losses:?}");
        let net = net.valid();
        let x = dense_batch(&[&rows[0], &rows[1]], 64, &Device::flex());
        let p = net.noise_probabilities(x).unwrap();
        assert!(p[0] > 0.9 && p[1] < 0.1, "{p:?}");
    }
}
