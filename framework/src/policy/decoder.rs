//! The Llama-family decoder as Burn modules, with seeded initialisation and one forward pass
//! that serves training (no cache), prefill and single-token decoding (with a `KvCache`).

use super::cache::{AttentionMask, KvCache};
use super::config::DecoderConfig;
use super::rope::Rotary;
use burn::module::{Module, Param};
use burn::nn::{Embedding, Linear, RmsNorm, RmsNormConfig};
use burn::tensor::activation::{silu, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

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
        mut cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        let start = cache.as_ref().map_or(0, |c| c.len());
        let mut x_bsh = self.embed_tokens.forward(tokens_bs);
        for (i, block) in self.blocks.iter().enumerate() {
            let layer_cache = cache.as_deref_mut().map(|c| c.layer(i));
            x_bsh = block.forward(x_bsh, start, mask, &self.rotary, layer_cache);
        }
        if let Some(c) = cache {
            c.advance(mask.new_columns());
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
        cache: Option<(&mut Option<Tensor<4>>, &mut Option<Tensor<4>>)>,
    ) -> Tensor<3> {
        let attended = self.attention.forward(
            self.input_norm.forward(x_bsh.clone()),
            start,
            mask,
            rotary,
            cache,
        );
        let x_bsh = x_bsh + attended;
        let mlp = &self.mlp;
        let normed = self.post_attention_norm.forward(x_bsh.clone());
        let gated = silu(mlp.gate_proj.forward(normed.clone())) * mlp.up_proj.forward(normed);
        x_bsh + mlp.down_proj.forward(gated)
    }
}

impl Attention {
    fn forward(
        &self,
        x_bsh: Tensor<3>,
        start: usize,
        mask: &AttentionMask,
        rotary: &Rotary,
        cache: Option<(&mut Option<Tensor<4>>, &mut Option<Tensor<4>>)>,
    ) -> Tensor<3> {
        let [b, s, h] = x_bsh.dims();
        let d = h / self.heads;
        let group = self.heads / self.kv_heads;
        let split = |t: Tensor<3>, heads: usize| t.reshape([b, s, heads, d]).swap_dims(1, 2);
        let q_bhsd = rotary.apply(split(self.q_proj.forward(x_bsh.clone()), self.heads), start);
        let k_new = rotary.apply(
            split(self.k_proj.forward(x_bsh.clone()), self.kv_heads),
            start,
        );
        let v_new = split(self.v_proj.forward(x_bsh), self.kv_heads);
        // The cache holds keys after rotation, so past positions are never rotated again.
        let (k_bktd, v_bktd) = match cache {
            Some((k_slot, v_slot)) => (append(k_slot, k_new), append(v_slot, v_new)),
            None => (k_new, v_new),
        };
        let t = k_bktd.dims()[2];
        // Each key/value head serves `group` consecutive query heads.
        let expand = |x: Tensor<4>| {
            x.unsqueeze_dim::<5>(2)
                .expand([b, self.kv_heads, group, t, d])
                .reshape([b, self.heads, t, d])
        };
        let scores_bhst = q_bhsd.matmul(expand(k_bktd).swap_dims(2, 3)) / (d as f64).sqrt();
        let hidden_bhst = mask.hidden_b1st().expand([b, self.heads, s, t]);
        // Finite, not -inf: `AttentionMask` never hides a whole row, but a -inf row would be
        // NaN where this stays uniform.
        let probs_bhst = softmax(scores_bhst.mask_fill(hidden_bhst, -1e9), 3);
        let context_bsh = probs_bhst
            .matmul(expand(v_bktd))
            .swap_dims(1, 2)
            .reshape([b, s, h]);
        self.o_proj.forward(context_bsh)
    }
}

/// Appends new columns to a cached `[batch, kv_heads, columns, head_dim]` tensor and returns
/// the whole.
fn append(slot: &mut Option<Tensor<4>>, new: Tensor<4>) -> Tensor<4> {
    let all = match slot.take() {
        Some(past) => Tensor::cat(vec![past, new], 2),
        None => new,
    };
    *slot = Some(all.clone());
    all
}
