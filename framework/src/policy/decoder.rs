//! The Llama-family decoder as Burn modules, with seeded initialisation and one forward pass
//! that serves training (no cache), prefill and single-token decoding (with a `KvCache`).

use super::cache::{AttentionMask, KvCache};
use super::config::DecoderConfig;
use super::lora::{BlockAdapters, Projection, project};
use super::rope::Rotary;
use burn::module::{Module, Param};
use burn::nn::{Embedding, Linear, RmsNorm, RmsNormConfig};
use burn::tensor::activation::{sigmoid, silu, softmax};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::ops::Range;

/// Grouped-query self-attention. Linear weights are `[in, out]` (Burn's layout).
#[derive(Module, Debug)]
pub struct Attention {
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub o_proj: Linear,
    #[module(skip)]
    heads: usize,
    #[module(skip)]
    kv_heads: usize,
}

/// SwiGLU: down(silu(gate(x)) * up(x)).
#[derive(Module, Debug)]
pub struct Mlp {
    pub gate_proj: Linear,
    pub up_proj: Linear,
    pub down_proj: Linear,
}

/// Pre-norm block: x + attn(norm(x)), then x + mlp(norm(x)).
#[derive(Module, Debug)]
pub struct Block {
    pub input_norm: RmsNorm,
    pub attention: Attention,
    pub post_attention_norm: RmsNorm,
    pub mlp: Mlp,
}

#[derive(Module, Debug)]
pub struct Decoder {
    pub embed_tokens: Embedding,
    pub blocks: Vec<Block>,
    pub norm: RmsNorm,
    /// `None` when the output projection is the transposed input embedding (tied).
    pub lm_head: Option<Linear>,
    /// LoRA adapters, one entry per block, or none (see `lora`).
    pub adapters: Vec<BlockAdapters>,
    #[module(skip)]
    rotary: Rotary,
}

/// Weights drawn from our own ChaCha stream, N(0, 0.02²) as in Llama's `initializer_range`,
/// biases zero. Not Burn's initialisers: they draw from one process-wide RNG, so any other
/// thread drawing numbers meanwhile would change the model (see `clean::model`).
/// `None` fills zeros: for weights about to be overwritten by a checkpoint, drawing 135M
/// normals (SmolLM2) would cost a second for nothing.
struct Init {
    draw: Option<(ChaCha8Rng, Normal<f32>)>,
}

impl Init {
    fn values(&mut self, n: usize) -> Vec<f32> {
        match &mut self.draw {
            Some((rng, normal)) => (0..n).map(|_| normal.sample(rng)).collect(),
            None => vec![0.0; n],
        }
    }

    fn linear(&mut self, d_in: usize, d_out: usize, bias: bool, device: &Device) -> Linear {
        let weight = self.values(d_in * d_out);
        Linear {
            weight: Param::from_data(TensorData::new(weight, [d_in, d_out]), device),
            bias: bias
                .then(|| Param::from_data(TensorData::new(vec![0f32; d_out], [d_out]), device)),
        }
    }
}

fn rms_norm(cfg: &DecoderConfig, device: &Device) -> RmsNorm {
    RmsNormConfig::new(cfg.hidden_size)
        .with_epsilon(cfg.rms_eps)
        .init(device)
}

impl Decoder {
    /// A freshly initialised decoder whose weights depend only on `seed`. `cfg` must validate.
    pub fn new(cfg: &DecoderConfig, seed: u64, device: &Device) -> Self {
        let normal = Normal::new(0.0, 0.02).expect("valid normal");
        let mut init = Init {
            draw: Some((ChaCha8Rng::seed_from_u64(seed), normal)),
        };
        Self::build(cfg, &mut init, device)
    }

    /// A decoder of `cfg`'s shapes with every weight zero (norm scales one), to be overwritten
    /// by loaded weights.
    pub fn zeroed(cfg: &DecoderConfig, device: &Device) -> Self {
        Self::build(cfg, &mut Init { draw: None }, device)
    }

    fn build(cfg: &DecoderConfig, init: &mut Init, device: &Device) -> Self {
        keep_freed_memory();
        let (h, kv) = (cfg.hidden_size, cfg.kv_heads * cfg.head_dim());
        let embed = init.values(cfg.vocab_size * h);
        let embed_tokens = Embedding {
            weight: Param::from_data(TensorData::new(embed, [cfg.vocab_size, h]), device),
        };
        let blocks = (0..cfg.layers)
            .map(|_| Block {
                input_norm: rms_norm(cfg, device),
                attention: Attention {
                    q_proj: init.linear(h, h, cfg.qkv_bias, device),
                    k_proj: init.linear(h, kv, cfg.qkv_bias, device),
                    v_proj: init.linear(h, kv, cfg.qkv_bias, device),
                    o_proj: init.linear(h, h, false, device),
                    heads: cfg.heads,
                    kv_heads: cfg.kv_heads,
                },
                post_attention_norm: rms_norm(cfg, device),
                mlp: Mlp {
                    gate_proj: init.linear(h, cfg.intermediate_size, false, device),
                    up_proj: init.linear(h, cfg.intermediate_size, false, device),
                    down_proj: init.linear(cfg.intermediate_size, h, false, device),
                },
            })
            .collect();
        let lm_head = (!cfg.tie_embeddings).then(|| init.linear(h, cfg.vocab_size, false, device));
        Decoder {
            embed_tokens,
            blocks,
            norm: rms_norm(cfg, device),
            lm_head,
            adapters: Vec::new(),
            rotary: Rotary::new(
                cfg.head_dim(),
                cfg.max_positions,
                cfg.rope_theta,
                cfg.rope_layout,
                device,
            ),
        }
    }

    /// Longest sequence (prompt + completion, padding included) the model accepts.
    pub fn max_positions(&self) -> usize {
        self.rotary.max_positions()
    }

    /// Logits `[batch, seq, vocab]` of `tokens_bs`, whose columns sit at positions
    /// `cache.len()..` (0 without a cache). `mask` says which keys each query may see. With a
    /// cache, the new keys and values are appended to it.
    pub fn forward(
        &self,
        tokens_bs: Tensor<2, Int>,
        mask: &AttentionMask,
        cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        let columns = 0..tokens_bs.dims()[1];
        self.forward_columns(tokens_bs, mask, cache, columns)
    }

    /// `forward`'s logits of the given columns only: the final norm and the output projection
    /// (`[.., hidden] x [hidden, vocab]`, the largest product for small models) run on them
    /// alone. Sampling needs the last column of a prefill, a log-probability pass the
    /// completion's columns, not the prompt's.
    pub fn forward_columns(
        &self,
        tokens_bs: Tensor<2, Int>,
        mask: &AttentionMask,
        mut cache: Option<&mut KvCache>,
        columns: Range<usize>,
    ) -> Tensor<3> {
        let start = cache.as_ref().map_or(0, |c| c.len());
        let mut x_bsh = self.embed_tokens.forward(tokens_bs);
        for (i, block) in self.blocks.iter().enumerate() {
            let layer_cache = cache.as_deref_mut().map(|c| (c, i));
            let adapters = self.adapters.get(i);
            x_bsh = block.forward(x_bsh, start, mask, &self.rotary, layer_cache, adapters);
        }
        if let Some(c) = cache {
            c.advance(mask.new_columns());
        }
        if columns.len() < x_bsh.dims()[1] {
            x_bsh = x_bsh.narrow(1, columns.start, columns.len());
        }
        let x_bsh = self.norm.forward(x_bsh);
        match &self.lm_head {
            Some(head) => head.forward(x_bsh),
            None => {
                let [b, s, h] = x_bsh.dims();
                let weight_vh = self.embed_tokens.weight.val();
                let vocab = weight_vh.dims()[0];
                x_bsh
                    .reshape([b * s, h])
                    .matmul(weight_vh.transpose())
                    .reshape([b, s, vocab])
            }
        }
    }
}

impl Block {
    fn forward(
        &self,
        x_bsh: Tensor<3>,
        start: usize,
        mask: &AttentionMask,
        rotary: &Rotary,
        cache: Option<(&mut KvCache, usize)>,
        adapters: Option<&BlockAdapters>,
    ) -> Tensor<3> {
        let attended = self.attention.forward(
            self.input_norm.forward(x_bsh.clone()),
            start,
            mask,
            rotary,
            cache,
            adapters,
        );
        let x_bsh = x_bsh + attended;
        let mlp = &self.mlp;
        let adapter = |p: Projection| adapters.and_then(|a| a.get(p));
        let normed = self.post_attention_norm.forward(x_bsh.clone());
        let gate = project(&mlp.gate_proj, adapter(Projection::Gate), normed.clone());
        let up = project(&mlp.up_proj, adapter(Projection::Up), normed);
        let gated = silu_tracked(gate) * up;
        x_bsh + project(&mlp.down_proj, adapter(Projection::Down), gated)
    }
}

impl Attention {
    fn forward(
        &self,
        x_bsh: Tensor<3>,
        start: usize,
        mask: &AttentionMask,
        rotary: &Rotary,
        cache: Option<(&mut KvCache, usize)>,
        adapters: Option<&BlockAdapters>,
    ) -> Tensor<3> {
        let [b, s, h] = x_bsh.dims();
        let d = h / self.heads;
        let split = |t: Tensor<3>, heads: usize| t.reshape([b, s, heads, d]).swap_dims(1, 2);
        let adapter = |p: Projection| adapters.and_then(|a| a.get(p));
        let q = project(&self.q_proj, adapter(Projection::Q), x_bsh.clone());
        let q_bhsd = rotary.apply(split(q, self.heads), start);
        let k = project(&self.k_proj, adapter(Projection::K), x_bsh.clone());
        let k_new = rotary.apply(split(k, self.kv_heads), start);
        let v_new = split(
            project(&self.v_proj, adapter(Projection::V), x_bsh),
            self.kv_heads,
        );
        // The cache holds keys after rotation, so past positions are never rotated again.
        let (k_bktd, v_bktd) = match cache {
            Some((cache, layer)) => cache.append(layer, k_new, v_new),
            None => (k_new, v_new),
        };
        let context_bhsd = grouped_attention(q_bhsd, k_bktd, v_bktd, mask.hidden_b1st());
        let context = context_bhsd.swap_dims(1, 2).reshape([b, s, h]);
        project(&self.o_proj, adapter(Projection::O), context)
    }
}

/// silu(x) = x·σ(x). Under autodiff Burn's sigmoid recomputes σ (one libm exp per element on
/// the CPU backend) in the backward pass, so silu cost two exps per element of the MLP's widest
/// tensor. Here σ is computed once on a constant copy, which also gives the slope
/// σ + x·σ·(1 − σ) = σ·(1 − silu) + silu, and the gradient flows through
/// (x − x)·slope + silu, whose value is exactly silu(x).
fn silu_tracked<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !x.is_tracked() {
        return silu(x);
    }
    let constant = x.clone().inner();
    let sig = sigmoid(constant.clone());
    let value = constant * sig.clone();
    let slope = sig * (value.clone().neg() + 1.0) + value.clone();
    (x.clone() - x.detach()) * slope + value
}

/// softmax(q·kᵀ/√d, hiding `hidden`)·v for `[b, heads, s, d]` queries and `[b, kv_heads, t, d]`
/// keys and values, in the order of operations that costs least on the CPU backend:
/// - the query is scaled, not the (t/d times larger) scores;
/// - the `group` query heads of one key/value head are stacked as `group·s` query rows, so one
///   matmul serves them and keys and values are never copied `group` times;
/// - the probabilities come from the fused softmax kernel on a constant copy of the scores,
///   masked there only; when gradients are wanted, `softmax_grad` supplies them.
///
/// Burn's fused `attention` was measured slower than this (with `keep_freed_memory`) both for
/// 16 x 128 prefills and for single-token decoding steps, and it has no backward of its own:
/// under autodiff it falls back to separate ops with the softmax decomposed into five, each
/// recorded, and exp recomputed in the backward pass.
fn grouped_attention(
    q_bhsd: Tensor<4>,
    k_bktd: Tensor<4>,
    v_bktd: Tensor<4>,
    hidden_b1st: Tensor<4, Bool>,
) -> Tensor<4> {
    let [b, heads, s, d] = q_bhsd.dims();
    let [_, kv_heads, t, _] = k_bktd.dims();
    let group = heads / kv_heads;
    // Query heads kv·group .. kv·group + group - 1 share key head kv: a plain reshape.
    let q_bkrd = (q_bhsd * (1.0 / (d as f64).sqrt())).reshape([b, kv_heads, group * s, d]);
    let scores_bkrt = q_bkrd.matmul(k_bktd.swap_dims(2, 3));
    let hidden = hidden_b1st
        .unsqueeze_dim::<5>(1)
        .expand([b, kv_heads, group, s, t]);
    // -inf, not a large negative number: glibc's expf returns 0 for -inf at once but takes a
    // slow path (it sets errno) for every other underflow. `AttentionMask` never hides a
    // whole row, so no row is all -inf.
    // Without gradients the scores are not kept, so the mask is written in place.
    let (constant, tracked) = match scores_bkrt.is_tracked() {
        true => (scores_bkrt.clone().inner(), Some(scores_bkrt)),
        false => (scores_bkrt.inner(), None),
    };
    let masked = constant
        .reshape([b, kv_heads, group, s, t])
        .mask_fill(hidden, f32::NEG_INFINITY)
        .reshape([b, kv_heads, group * s, t]);
    let probs_bkrt = softmax(masked, 3);
    let probs_bkrt = match tracked {
        Some(scores) => softmax_grad(probs_bkrt, scores),
        None => probs_bkrt,
    };
    probs_bkrt.matmul(v_bktd).reshape([b, heads, s, d])
}

/// `probs` (a constant: softmax over the last dimension of `scores`, masked entries 0) with the
/// gradient of softmax with respect to `scores`: for an upstream gradient g,
/// p ⊙ (g − Σ p ⊙ g). Built as p + p ⊙ z − p ⊙ Σ(p ⊙ z) with z = scores − scores (value 0,
/// gradient the identity), so its value is exactly `probs` and its backward is four cheap
/// passes, where the decomposed softmax recomputes exp (scalar libm on the CPU backend) and
/// divides. Masked entries need no care: their p is 0, so their gradient is 0 as well.
fn softmax_grad(probs: Tensor<4>, scores: Tensor<4>) -> Tensor<4> {
    let zero = scores.clone() - scores.detach();
    let pz = probs.clone() * zero;
    let row = pz.clone().sum_dim(3);
    (pz - probs.clone() * row) + probs
}

/// Tells glibc's allocator to keep freed memory for reuse. By default it returns every freed
/// block over 128 KiB (or over the largest such block freed so far, at most 32 MiB) to the
/// kernel, and the next tensor of that size is mapped afresh: one page fault per 4 KiB, and
/// Burn's CPU backend zero-fills and copies each new buffer, touching every page. A training
/// step frees and allocates scores, logits and their gradients by the dozen (4 MiB each for
/// `nano`), so this took a third of its time. The cost: the process keeps its peak heap size.
/// Idempotent; a no-op outside glibc.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            unsafe extern "C" {
                fn mallopt(param: i32, value: i32) -> i32;
            }
            // From glibc's malloc.h. 32 MiB is the largest mmap threshold glibc accepts.
            const M_TRIM_THRESHOLD: i32 = -1;
            const M_MMAP_THRESHOLD: i32 = -3;
            // SAFETY: mallopt only sets allocator parameters; it is safe to call at any time.
            unsafe {
                mallopt(M_MMAP_THRESHOLD, 32 << 20);
                mallopt(M_TRIM_THRESHOLD, i32::MAX);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    fn assert_close(got: Vec<f32>, want: Vec<f32>, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() < 1e-5, "{what}[{i}]: {g} vs {w}");
        }
    }

    /// The textbook attention, differentiated by Burn op by op.
    fn reference(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, hidden: Tensor<4, Bool>) -> Tensor<4> {
        let [b, heads, s, d] = q.dims();
        let [_, kv_heads, t, _] = k.dims();
        let expand = |x: Tensor<4>| {
            x.unsqueeze_dim::<5>(2)
                .expand([b, kv_heads, heads / kv_heads, t, d])
                .reshape([b, heads, t, d])
        };
        let scores = q.matmul(expand(k).swap_dims(2, 3)) / (d as f64).sqrt();
        let scores = scores.mask_fill(hidden.expand([b, heads, s, t]), -1e9);
        softmax(scores, 3).matmul(expand(v))
    }

    #[test]
    fn grouped_attention_and_its_gradients_match_the_textbook_form() {
        let device = Device::flex().autodiff();
        let normal = Distribution::Normal(0.0, 1.0);
        let q = Tensor::<4>::random([2, 4, 3, 8], normal, &device);
        let k = Tensor::<4>::random([2, 2, 3, 8], normal, &device);
        let v = Tensor::<4>::random([2, 2, 3, 8], normal, &device);
        let weights = Tensor::<4>::random([2, 4, 3, 8], normal, &device);
        // Row 0 starts with a padding column.
        let mask = AttentionMask::new(&[vec![false, true, true], vec![true; 3]], 3, &device);
        let run = |fast: bool| {
            let (q, k, v) = (
                q.clone().require_grad(),
                k.clone().require_grad(),
                v.clone().require_grad(),
            );
            let out = match fast {
                true => grouped_attention(q.clone(), k.clone(), v.clone(), mask.hidden_b1st()),
                false => reference(q.clone(), k.clone(), v.clone(), mask.hidden_b1st()),
            };
            let grads = (out.clone() * weights.clone()).sum().backward();
            let grad = |x: &Tensor<4>| values(x.grad(&grads).unwrap());
            [values(out), grad(&q), grad(&k), grad(&v)]
        };
        for (what, (got, want)) in ["output", "dq", "dk", "dv"]
            .iter()
            .zip(run(true).into_iter().zip(run(false)))
        {
            assert_close(got, want, what);
        }
        // Without autodiff: the same values.
        let plain = |x: &Tensor<4>| x.clone().inner();
        let out = grouped_attention(plain(&q), plain(&k), plain(&v), mask.hidden_b1st());
        assert_close(values(out), run(false)[0].clone(), "untracked output");
    }

    #[test]
    fn silu_with_its_gradient_from_one_sigmoid_matches_burns() {
        let device = Device::flex().autodiff();
        let x = Tensor::<2>::random([3, 5], Distribution::Normal(0.0, 3.0), &device);
        let run = |fast: bool| {
            let x = x.clone().require_grad();
            let y = if fast {
                silu_tracked(x.clone())
            } else {
                silu(x.clone())
            };
            let grads = (y.clone() * y.clone()).sum().backward();
            [values(y), values(x.grad(&grads).unwrap())]
        };
        for (what, (got, want)) in ["silu", "gradient"]
            .iter()
            .zip(run(true).into_iter().zip(run(false)))
        {
            assert_close(got, want, what);
        }
    }
}
