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

/// Stops gradients for every parameter but those of the decoder's last `blocks` blocks (`0`
/// leaves every parameter trainable), so the optimiser leaves the embeddings, earlier blocks,
/// final norm and output head as the warm start left them. At this scale GRPO's update noise,
/// not its rewards, costs recall (a run with advantages shuffled within groups loses it too);
/// fewer trainable weights give that noise fewer directions to drift in.
///
/// Frozen through Burn's `no_grad`, not by dropping gradients after the fact: the autodiff graph
/// then never records the frozen embedding and early blocks, so the backward pass stops at the
/// first trainable block (the update runs through one block instead of all of them).
/// `require_grad` is not saved with a checkpoint: apply this again after loading one. An error
/// when `blocks` exceeds the decoder's blocks.
pub fn freeze_all_but_last_blocks(decoder: Decoder, blocks: u32) -> Result<Decoder> {
    let n = decoder.blocks.len();
    if blocks == 0 {
        return Ok(decoder);
    }
    if blocks as usize > n {
        let msg =
            format!("{blocks}, but the policy has {n} blocks; use 0 (every parameter) to {n}");
        return Err(Error::field("grpo.trainable_blocks", msg));
    }
    let mut decoder = decoder;
    let first_trainable = n - blocks as usize;
    decoder.embed_tokens = decoder.embed_tokens.no_grad();
    decoder.blocks = (decoder.blocks.into_iter().enumerate())
        .map(|(i, b)| if i < first_trainable { b.no_grad() } else { b })
        .collect();
    decoder.norm = decoder.norm.no_grad();
    decoder.lm_head = decoder.lm_head.map(Module::no_grad);
    Ok(decoder)
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
    fn only_the_last_blocks_get_gradients() {
        let cfg = find_preset("nano").unwrap().config;
        let grads = |decoder: &Decoder| {
            let (logp, _) =
                completion_logprobs(decoder, &[vec![1, 2]], &[vec![3, 4, 5]], 0).unwrap();
            GradientsParams::from_grads(logp.sum().backward(), decoder)
        };
        let fresh = || Decoder::new(&cfg, 7, &Device::flex().autodiff());
        let decoder = fresh();
        let all = grads(&decoder);
        assert_eq!(
            all.len(),
            ids(&decoder).len(),
            "every parameter has a gradient"
        );
        let same = freeze_all_but_last_blocks(fresh(), 0).unwrap();
        assert_eq!(grads(&same).len(), all.len());

        let frozen = freeze_all_but_last_blocks(fresh(), 1).unwrap();
        let kept = grads(&frozen);
        let last = &frozen.blocks[cfg.layers - 1];
        assert_eq!(kept.len(), ids(last).len());
        assert!(
            kept.get::<1>(last.input_norm.gamma.id).is_some(),
            "the last block learns"
        );
        assert!(
            kept.get::<1>(frozen.blocks[0].input_norm.gamma.id)
                .is_none(),
            "the first block is frozen"
        );
        assert!(kept.get::<2>(frozen.embed_tokens.weight.id).is_none());
        assert!(kept.get::<1>(frozen.norm.gamma.id).is_none());
        // Freezing changes no weight, so the trainable block's gradient is the one it had
        // with every parameter trainable (same seed, same input).
        let unfrozen_id = decoder.blocks[cfg.layers - 1].input_norm.gamma.id;
        let want = all.get::<1>(unfrozen_id).unwrap().into_data();
        let got = kept.get::<1>(last.input_norm.gamma.id).unwrap().into_data();
        got.assert_approx_eq::<f32>(&want, Default::default());

        let err = freeze_all_but_last_blocks(fresh(), 3)
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
