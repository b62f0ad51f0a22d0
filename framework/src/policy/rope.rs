//! Rotary position embeddings with precomputed cos/sin tables, in either pairing layout.
//!
//! Not Burn's `RotaryEncoding`: it supports only the adjacent-pairs layout (Hugging Face
//! Llama/Qwen checkpoints rotate halves) and rotates with a small matrix product per call; here
//! the rotation is elementwise on slices of the tables.

use super::config::RopeLayout;
use burn::tensor::{Device, Tensor, TensorData};

/// cos/sin of every (position, frequency) up to `max_positions`.
#[derive(Debug, Clone)]
pub struct Rotary {
    /// `[max_positions, head_dim / 2]`.
    cos_pf: Tensor<2>,
    sin_pf: Tensor<2>,
    layout: RopeLayout,
}

impl Rotary {
    pub fn new(
        head_dim: usize,
        max_positions: usize,
        theta: f64,
        layout: RopeLayout,
        device: &Device,
    ) -> Self {
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(max_positions * half);
        let mut sin = Vec::with_capacity(max_positions * half);
        for p in 0..max_positions {
            for i in 0..half {
                // Angles in f64: at position 1000 an f32 angle would already be off by ~1e-4.
                let freq = theta.powf(-((2 * i) as f64) / head_dim as f64);
                let angle = p as f64 * freq;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        let shape = [max_positions, half];
        // Constants, so never on the autodiff device: combined with a tracked tensor they act
        // as constants anyway, and a model made `valid()` for sampling (its parameters moved
        // off autodiff, these skipped fields not) must not be dragged back through autodiff.
        let device = &device.clone().inner();
        Rotary {
            cos_pf: Tensor::from_data(TensorData::new(cos, shape), device),
            sin_pf: Tensor::from_data(TensorData::new(sin, shape), device),
            layout,
        }
    }

    /// Longest sequence covered.
    pub fn max_positions(&self) -> usize {
        self.cos_pf.dims()[0]
    }

    /// Rotates `[batch, heads, seq, head_dim]` whose rows sit at positions `start..start+seq`.
    pub fn apply(&self, x_bhsd: Tensor<4>, start: usize) -> Tensor<4> {
        let [b, h, s, d] = x_bhsd.dims();
        let half = d / 2;
        let cos = self
            .cos_pf
            .clone()
            .narrow(0, start, s)
            .reshape([1, 1, s, half]);
        let sin = self
            .sin_pf
            .clone()
            .narrow(0, start, s)
            .reshape([1, 1, s, half]);
        match self.layout {
            RopeLayout::Halves => {
                let x1 = x_bhsd.clone().narrow(3, 0, half);
                let x2 = x_bhsd.narrow(3, half, half);
                let r1 = x1.clone() * cos.clone() - x2.clone() * sin.clone();
                let r2 = x1 * sin + x2 * cos;
                Tensor::cat(vec![r1, r2], 3)
            }
            RopeLayout::AdjacentPairs => {
                let pairs = x_bhsd.reshape([b, h, s, half, 2]);
                let x1 = pairs.clone().narrow(4, 0, 1).reshape([b, h, s, half]);
                let x2 = pairs.narrow(4, 1, 1).reshape([b, h, s, half]);
                let r1 = x1.clone() * cos.clone() - x2.clone() * sin.clone();
                let r2 = x1 * sin + x2 * cos;
                let r1 = r1.reshape([b, h, s, half, 1]);
                let r2 = r2.reshape([b, h, s, half, 1]);
                Tensor::cat(vec![r1, r2], 4).reshape([b, h, s, d])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// One head of dimension 4 at position 1 with theta 10000: frequencies 1 and 0.01.
    #[test]
    fn both_layouts_rotate_the_pairs_they_name() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 1, 4]),
            &device,
        );
        let (c0, s0, c1, s1) = (1f32.cos(), 1f32.sin(), 0.01f32.cos(), 0.01f32.sin());

        let halves = Rotary::new(4, 8, 10_000.0, RopeLayout::Halves, &device);
        // Pairs (x0, x2) at frequency 1 and (x1, x3) at 0.01.
        let want = [
            1.0 * c0 - 3.0 * s0,
            2.0 * c1 - 4.0 * s1,
            1.0 * s0 + 3.0 * c0,
            2.0 * s1 + 4.0 * c1,
        ];
        for (g, w) in values(halves.apply(x.clone(), 1)).iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }

        let pairs = Rotary::new(4, 8, 10_000.0, RopeLayout::AdjacentPairs, &device);
        // Pairs (x0, x1) at frequency 1 and (x2, x3) at 0.01.
        let want = [
            1.0 * c0 - 2.0 * s0,
            1.0 * s0 + 2.0 * c0,
            3.0 * c1 - 4.0 * s1,
            3.0 * s1 + 4.0 * c1,
        ];
        for (g, w) in values(pairs.apply(x.clone(), 1)).iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }

        // Position 0 is the identity.
        assert_eq!(values(halves.apply(x.clone(), 0)), vec![1.0, 2.0, 3.0, 4.0]);
    }
}
