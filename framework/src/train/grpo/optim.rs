//! The RL stage's learning-rate schedule, which parameters learn, and global gradient-norm
//! clipping.
//!
//! The schedule is a pure function of the step, so a resumed run needs no scheduler state to
//! continue exactly. Clipping is written here because Burn's `GradientClipping::Norm` clips each
//! parameter tensor on its own; GRPO (like TRL's `max_grad_norm`) rescales all gradients by one
//! factor from their joint L2 norm, which keeps the update's direction.

use crate::error::{Error, Result};
use crate::policy::Decoder;
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

/// Drops every gradient but those of the decoder's last `blocks` blocks (`0` keeps them all), so
/// the optimiser leaves the embeddings, earlier blocks, final norm and output head as the warm
/// start left them. At this scale GRPO's update noise, not its rewards, costs recall (a run
/// with advantages shuffled within groups loses it too); fewer trainable weights give that
/// noise fewer directions to drift in. An error when `blocks` exceeds the decoder's blocks.
pub fn keep_last_blocks(decoder: &Decoder, grads: &mut GradientsParams, blocks: u32) -> Result<()> {
    let n = decoder.blocks.len();
    if blocks == 0 {
        return Ok(());
    }
    if blocks as usize > n {
        let msg =
            format!("{blocks}, but the policy has {n} blocks; use 0 (every parameter) to {n}");
        return Err(Error::field("grpo.trainable_blocks", msg));
    }
    let mut frozen = DropGradients { grads };
    decoder.embed_tokens.visit(&mut frozen);
    for block in &decoder.blocks[..n - blocks as usize] {
        block.visit(&mut frozen);
    }
    decoder.norm.visit(&mut frozen);
    if let Some(head) = &decoder.lm_head {
        head.visit(&mut frozen);
    }
    Ok(())
}

struct DropGradients<'a> {
    grads: &'a mut GradientsParams,
}

impl ModuleVisitor for DropGradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.grads.remove::<D>(param.id);
    }
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
    use crate::policy::{completion_logprobs, find_preset};
    use burn::module::ParamId;
    use burn::tensor::Device;

    struct Ids(Vec<ParamId>);

    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.id);
        }
    }

    fn ids<M: Module>(module: &M) -> Vec<ParamId> {
        let mut ids = Ids(Vec::new());
        module.visit(&mut ids);
        ids.0
    }

    #[test]
    fn only_the_last_blocks_keep_their_gradients() {
        let cfg = find_preset("nano").unwrap().config;
        let decoder = Decoder::new(&cfg, 7, &Device::flex().autodiff());
        let grads = || {
            let (logp, _) =
                completion_logprobs(&decoder, &[vec![1, 2]], &[vec![3, 4, 5]], 0).unwrap();
            GradientsParams::from_grads(logp.sum().backward(), &decoder)
        };
        let all = grads();
        assert_eq!(
            all.len(),
            ids(&decoder).len(),
            "every parameter has a gradient"
        );

        let mut kept = grads();
        keep_last_blocks(&decoder, &mut kept, 0).unwrap();
        assert_eq!(kept.len(), all.len());

        let mut kept = grads();
        keep_last_blocks(&decoder, &mut kept, 1).unwrap();
        assert_eq!(kept.len(), ids(&decoder.blocks[cfg.layers - 1]).len());
        let norm_of = |b: usize| decoder.blocks[b].input_norm.gamma.id;
        assert!(
            kept.get::<1>(norm_of(cfg.layers - 1)).is_some(),
            "the last block learns"
        );
        assert!(
            kept.get::<1>(norm_of(0)).is_none(),
            "the first block is frozen"
        );
        assert!(kept.get::<2>(decoder.embed_tokens.weight.id).is_none());
        assert!(kept.get::<1>(decoder.norm.gamma.id).is_none());

        let mut kept = grads();
        let err = keep_last_blocks(&decoder, &mut kept, 3)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("trainable_blocks") && err.contains("has 2 blocks"),
            "{err}"
        );
    }

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
