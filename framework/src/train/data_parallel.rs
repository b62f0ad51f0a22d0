//! Data-parallel gradients on CPU threads: one training batch split by rows into shards, the
//! forward and backward pass of each shard on its own OS thread, the gradients summed.
//!
//! Why: burn-flex runs matrix products on rayon's pool but most elementwise and unary ops (exp,
//! silu, the pieces of rmsnorm and softmax) on the calling thread, so one training step keeps
//! only ~1.3 of 2 cores busy. Two shards run those single-threaded stretches side by side.
//!
//! Why every shard trains a *fork* of the decoder: burn-autodiff 0.22 files each op's backward
//! step in a graph found through the op's parents, and merges graphs that share a node. Every
//! op of a shard descends from the parameters' leaf nodes, so two shards on the same decoder
//! end up in one graph behind one mutex, which `backward` holds for the whole pass
//! (`runtime/graph.rs`, `GraphMutexClient::backward`): the shards' backward passes would run
//! one after the other, and a shard still recording its forward pass would wait for the other's
//! backward. `Module::fork` gives each shard fresh leaves over the same weight buffers (no
//! copy), keeping the parameter ids, so the graphs stay apart and only the short global lock
//! around each op's registration is shared. Gradients are keyed by parameter id, so the
//! forks' gradients add up as the decoder's.

use crate::error::{Error, Result};
use crate::policy::Decoder;
use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::Tensor;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Shards of every training step of this process; see [`set_training_shards`].
static TRAINING_SHARDS: AtomicUsize = AtomicUsize::new(1);

/// Sets how many row shards the training steps of this process split their batches into
/// (`[experiment] cpu_shards`, set once by the runner, like the size of rayon's pool). 1, the
/// library's default, is one pass over the whole batch. Results depend on the count (the
/// order of float sums), never on the machine or on which thread finishes first.
pub fn set_training_shards(shards: usize) {
    TRAINING_SHARDS.store(shards.max(1), Ordering::Relaxed);
}

/// The shard count [`set_training_shards`] set.
pub fn training_shards() -> usize {
    TRAINING_SHARDS.load(Ordering::Relaxed)
}

/// The mean negative log-likelihood of the completions' tokens and its gradients,
/// over [`training_shards`] shards: the step of every supervised stage.
pub fn mean_nll_grads(
    decoder: &Decoder,
    prompts: &[Vec<u32>],
    completions: &[Vec<u32>],
    pad: u32,
) -> Result<(f32, GradientsParams)> {
    // The whole batch's token count (what `completion_logprobs`'s mask sums to), taken on
    // the host so that each shard divides by it.
    let tokens = completions.iter().map(Vec::len).sum::<usize>().max(1);
    sharded_grads(decoder, training_shards(), prompts.len(), |d, rows| {
        let (logp, _) =
            crate::policy::completion_logprobs(d, &prompts[rows.clone()], &completions[rows], pad)?;
        Ok(-(logp.sum() / tokens as f32))
    })
}

/// The value and gradients of a loss computed in one piece (a stage that does not shard).
pub fn grads_of(decoder: &Decoder, loss: Tensor<1>) -> Result<(f32, GradientsParams)> {
    let value = loss
        .clone()
        .try_into_scalar::<f32>()
        .map_err(|e| Error::model("training step", format!("reading the loss: {e:?}")))?;
    Ok((value, GradientsParams::from_grads(loss.backward(), decoder)))
}

/// `rows` split into at most `shards` contiguous, non-empty ranges, in order, whose lengths
/// differ by at most one (the first ones are the longer). No rows, no ranges.
pub fn shard_ranges(rows: usize, shards: usize) -> Vec<Range<usize>> {
    let shards = shards.clamp(1, rows.max(1)).min(rows);
    let (base, extra) = (rows / shards.max(1), rows % shards.max(1));
    let mut start = 0;
    (0..shards)
        .map(|s| {
            let len = base + usize::from(s < extra);
            start += len;
            start - len..start
        })
        .collect()
}

/// The loss of a batch of `rows` rows and its gradients, computed in `shards` row shards at
/// once (one OS thread each, the first on the calling thread), the shard gradients summed in
/// shard order whatever order the threads finish in, so the result is deterministic.
///
/// `loss_of_rows(decoder, range)` returns the scalar `[1]` loss term of those rows, **already
/// normalised by whole-batch quantities** (e.g. `-logp.sum() / tokens_in_the_whole_batch`, with
/// the count taken on the host before the call), so that the batch's loss is the sum of its
/// shards' terms and the summed gradient is the full batch's up to float rounding. A per-shard
/// mean (`mask.sum()` of the shard) would weight the shards' tokens unequally.
///
/// `shards <= 1` (or a single row) is today's path unchanged: one call over `0..rows` on
/// `decoder` itself, on this thread. Returns the loss value and the gradients for `decoder`.
pub fn sharded_grads<F>(
    decoder: &Decoder,
    shards: usize,
    rows: usize,
    loss_of_rows: F,
) -> Result<(f32, GradientsParams)>
where
    F: Fn(&Decoder, Range<usize>) -> Result<Tensor<1>> + Sync,
{
    let ranges = shard_ranges(rows, shards);
    if ranges.len() <= 1 {
        return shard_grads(decoder, 0..rows, &loss_of_rows);
    }
    let device = decoder
        .devices()
        .into_iter()
        .next()
        .ok_or_else(|| Error::model("data parallel", "the decoder has no parameters"))?;
    let run = |range: Range<usize>| {
        let fork = decoder.clone().fork(&device);
        shard_grads(&fork, range, &loss_of_rows)
    };
    let results: Vec<Result<(f32, GradientsParams)>> = std::thread::scope(|scope| {
        let run = &run;
        let others: Vec<_> = ranges[1..]
            .iter()
            .map(|range| {
                let range = range.clone();
                scope.spawn(move || run(range))
            })
            .collect();
        let first = run(ranges[0].clone());
        std::iter::once(first)
            .chain(others.into_iter().map(|handle| {
                // A panic in a shard is a bug, not bad input: let it propagate as one.
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }))
            .collect()
    });
    let mut loss = 0f32;
    let mut sum = GradientsAccumulator::<Decoder>::new();
    for result in results {
        let (value, grads) = result?;
        loss += value;
        sum.accumulate(decoder, grads);
    }
    Ok((loss, sum.grads()))
}

/// Forward and backward pass of one shard on `decoder`: its loss value and gradients.
fn shard_grads<F>(
    decoder: &Decoder,
    rows: Range<usize>,
    loss_of_rows: &F,
) -> Result<(f32, GradientsParams)>
where
    F: Fn(&Decoder, Range<usize>) -> Result<Tensor<1>>,
{
    grads_of(decoder, loss_of_rows(decoder, rows)?)
}

/// Test helpers of sharded training steps, shared with the GRPO and distillation tests: a tiny
/// decoder, a batch of unequal rows, and gradient comparison.
#[cfg(test)]
pub(crate) mod testing {
    use crate::policy::{Decoder, find_preset};
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::optim::GradientsParams;
    use burn::tensor::{Device, Tensor};

    /// The `pico` preset on the autodiff CPU device (or the inference one).
    pub fn pico(seed: u64, autodiff: bool) -> Decoder {
        let cfg = find_preset("pico").unwrap().config;
        let device = if autodiff {
            Device::flex().autodiff()
        } else {
            Device::flex()
        };
        Decoder::new(&cfg, seed, &device)
    }

    /// 6 rows of unequal lengths (5 to 20 tokens), so shards hold unequal token counts and
    /// widths.
    pub fn batch(vocab: u32) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
        let prompts = (0..6u32)
            .map(|r| {
                (0..2 + r % 3)
                    .map(|i| (r * 7 + i * 5 + 1) % vocab)
                    .collect()
            })
            .collect();
        let lengths = [9u32, 5, 20, 7, 14, 11];
        let completions = lengths
            .iter()
            .enumerate()
            .map(|(r, &n)| {
                let r = r as u32;
                (0..n).map(|i| (r * 31 + i * 17 + 2) % vocab).collect()
            })
            .collect();
        (prompts, completions)
    }

    /// Every parameter's gradient, flattened, in the decoder's visiting order (empty for a
    /// parameter without one).
    pub fn flat(decoder: &Decoder, grads: &GradientsParams) -> Vec<Vec<f32>> {
        struct Collect<'a> {
            grads: &'a GradientsParams,
            out: Vec<Vec<f32>>,
        }
        impl ModuleVisitor for Collect<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let g = self.grads.get::<D>(param.id);
                let g = g.map(|g| g.into_data().try_to_vec::<f32>().unwrap());
                self.out.push(g.unwrap_or_default());
            }
        }
        let mut collect = Collect {
            grads,
            out: Vec::new(),
        };
        decoder.visit(&mut collect);
        collect.out
    }

    /// Asserts that two sets of gradients of `decoder` agree within `1e-5` of each
    /// parameter's largest gradient, and that some gradient is non-zero.
    pub fn assert_same_grads(decoder: &Decoder, got: &GradientsParams, want: &GradientsParams) {
        let (got, want) = (flat(decoder, got), flat(decoder, want));
        assert_eq!(got.len(), want.len());
        let mut any = false;
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert_eq!(a.len(), b.len(), "parameter {i}");
            let scale = b.iter().fold(0f32, |m, x| m.max(x.abs()));
            any |= scale > 0.0;
            let diff = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(
                diff <= 1e-5 * scale.max(1e-12),
                "parameter {i}: {diff} vs scale {scale}"
            );
        }
        assert!(any, "every gradient is zero");
    }

    /// `a` and `b` agree within `1e-5` relative.
    pub fn assert_close(a: f32, b: f32, what: &str) {
        assert!(
            (a - b).abs() <= 1e-5 * b.abs().max(1e-6),
            "{what}: {a} vs {b}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{assert_close, assert_same_grads, batch, flat, pico};
    use super::*;
    use crate::policy::completion_logprobs;

    fn grads_of(decoder: &Decoder, shards: usize) -> (f32, GradientsParams) {
        let vocab = decoder.embed_tokens.weight.dims()[0] as u32;
        let (prompts, completions) = batch(vocab);
        let tokens: usize = completions.iter().map(Vec::len).sum();
        sharded_grads(decoder, shards, prompts.len(), |d, rows| {
            let (logp, _) =
                completion_logprobs(d, &prompts[rows.clone()], &completions[rows.clone()], 0)?;
            Ok(-(logp.sum() / tokens as f32))
        })
        .unwrap()
    }

    #[test]
    fn ranges_are_contiguous_balanced_and_never_empty() {
        assert_eq!(shard_ranges(5, 2), vec![0..3, 3..5]);
        assert_eq!(shard_ranges(6, 3), vec![0..2, 2..4, 4..6]);
        assert_eq!(shard_ranges(2, 4), vec![0..1, 1..2]);
        assert_eq!(shard_ranges(4, 0), vec![0..4]);
        assert!(shard_ranges(0, 2).is_empty());
    }

    #[test]
    fn sharded_loss_and_gradients_equal_the_whole_batch() {
        let decoder = pico(3, true);
        let (loss1, g1) = grads_of(&decoder, 1);
        for shards in [2, 3] {
            let (loss, g) = grads_of(&decoder, shards);
            assert_close(loss, loss1, &format!("{shards} shards' loss"));
            assert_same_grads(&decoder, &g, &g1);
        }
    }

    #[test]
    fn sharded_gradients_are_deterministic() {
        let decoder = pico(3, true);
        let (la, ga) = grads_of(&decoder, 2);
        let (lb, gb) = grads_of(&decoder, 2);
        assert_eq!(la.to_bits(), lb.to_bits());
        assert_eq!(flat(&decoder, &ga), flat(&decoder, &gb));
    }

    #[test]
    fn the_decoder_crosses_threads() {
        // Shards share the decoder by reference and send their gradients back.
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Decoder>();
        send::<GradientsParams>();
    }
}
