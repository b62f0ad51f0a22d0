//! The RL stage's learning-rate schedule and global gradient-norm clipping.
//!
//! The schedule is a pure function of the step, so a resumed run needs no scheduler state to
//! continue exactly. Clipping is written here because Burn's `GradientClipping::Norm` clips each
//! parameter tensor on its own; GRPO (like TRL's `max_grad_norm`) rescales all gradients by one
//! factor from their joint L2 norm, which keeps the update's direction.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Linear warm-up from `peak / (warmup + 1)` to `peak` over `warmup` steps, then cosine decay
/// towards zero at `total`; steps count from 1.
pub fn learning_rate(step: u32, total: u32, warmup: u32, peak: f64) -> f64 {
    if step <= warmup {
        return peak * step as f64 / (warmup + 1) as f64;
    }
    let decay_steps = total.saturating_sub(warmup).max(1) as f64;
    let progress = ((step - warmup) as f64 / decay_steps).min(1.0);
    // Decays to zero only after the last step: step == total still gets a small, non-zero rate.
    let progress = progress * decay_steps / (decay_steps + 1.0);
    0.5 * peak * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// The joint L2 norm of every float parameter's gradient in `grads`.
pub fn grad_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    let mut sum = SquaredNorm { grads, sum: 0.0 };
    module.visit(&mut sum);
    sum.sum.sqrt()
}

/// Rescales every gradient so that their joint norm is at most `max_norm` (no-op when
/// `max_norm <= 0` or the norm is already below it); returns the norm before clipping.
pub fn clip_grad_norm<M: Module>(module: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    let norm = grad_norm(module, grads);
    if max_norm > 0.0 && norm > max_norm && norm.is_finite() {
        // The 1e-6 is PyTorch's clip_grad_norm_ guard against a zero norm.
        let factor = (max_norm / (norm + 1e-6)) as f32;
        let mut scale = Scale { grads, factor };
        module.visit(&mut scale);
    }
    norm
}

struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    sum: f64,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s: f32 = g.powi_scalar(2).sum().into_scalar();
            self.sum += s as f64;
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f32,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register::<D>(param.id, g * self.factor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_rises_linearly_then_cosine_decays() {
        let lr = |s| learning_rate(s, 10, 4, 1.0);
        assert!((lr(1) - 0.2).abs() < 1e-12 && (lr(4) - 0.8).abs() < 1e-12);
        assert!(lr(5) < 1.0 && lr(5) > lr(6));
        assert!(lr(10) > 0.0 && lr(10) < 0.1);
        // Without warm-up the first step is close to the peak.
        assert!(learning_rate(1, 100, 0, 1.0) > 0.99);
        // Past the end the rate stays at its final value, never negative.
        assert!(learning_rate(200, 100, 0, 1.0) >= 0.0);
    }
}
