//! LoRA adapters (Hu et al., 2021): beside a frozen linear layer `W` (`[in, out]`), a trainable
//! low-rank update `x·A·B·(alpha / rank)` with `A` `[in, rank]` and `B` `[rank, out]`. `B`
//! starts at zero, so a fresh adapter leaves the model's output unchanged; `A` starts uniform in
//! ±1/√in (PyTorch's `kaiming_uniform_(a=√5)`, PEFT's default), drawn from Quill's own seeded
//! stream. A decoder with adapters trains only them: the base weights are frozen through Burn's
//! `no_grad`, so they hold no gradient and no optimiser state.
//!
//! `merged` folds the update into `W` for saving, serving and export; `peft` reads and writes
//! adapters in PEFT's files.

use super::config::DecoderConfig;
use super::decoder::{Block, Decoder};
use crate::error::{Error, Result};
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

crate::config_enum! {
    /// A linear layer of a decoder block that can carry an adapter (PEFT's module names).
    pub enum Projection {
        Q = "q_proj",
        K = "k_proj",
        V = "v_proj",
        O = "o_proj",
        Gate = "gate_proj",
        Up = "up_proj",
        Down = "down_proj",
    }
}

impl Projection {
    pub const ALL: [Projection; 7] = [
        Projection::Q,
        Projection::K,
        Projection::V,
        Projection::O,
        Projection::Gate,
        Projection::Up,
        Projection::Down,
    ];

    /// The sub-module of a Llama block that holds it (PEFT's key path).
    pub fn parent(self) -> &'static str {
        match self {
            Projection::Q | Projection::K | Projection::V | Projection::O => "self_attn",
            _ => "mlp",
        }
    }

    pub(crate) fn linear(self, block: &Block) -> &Linear {
        let (a, m) = (&block.attention, &block.mlp);
        match self {
            Projection::Q => &a.q_proj,
            Projection::K => &a.k_proj,
            Projection::V => &a.v_proj,
            Projection::O => &a.o_proj,
            Projection::Gate => &m.gate_proj,
            Projection::Up => &m.up_proj,
            Projection::Down => &m.down_proj,
        }
    }

    fn linear_mut(self, block: &mut Block) -> &mut Linear {
        let (a, m) = (&mut block.attention, &mut block.mlp);
        match self {
            Projection::Q => &mut a.q_proj,
            Projection::K => &mut a.k_proj,
            Projection::V => &mut a.v_proj,
            Projection::O => &mut a.o_proj,
            Projection::Gate => &mut m.gate_proj,
            Projection::Up => &mut m.up_proj,
            Projection::Down => &mut m.down_proj,
        }
    }
}

/// Where adapters go and how large they are.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoraSpec {
    pub rank: usize,
    pub alpha: f64,
    /// The projections adapted in every chosen block.
    pub targets: Vec<Projection>,
    /// The blocks adapted, by index from 0; empty: all.
    pub blocks: Vec<usize>,
}

impl LoraSpec {
    /// The factor of the low-rank update (PEFT's `scaling`, without rsLoRA).
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }

    /// Whether block `i` of a decoder of `layers` blocks is adapted.
    pub fn adapts_block(&self, i: usize) -> bool {
        self.blocks.is_empty() || self.blocks.contains(&i)
    }

    /// An error naming the bad field unless this spec fits a decoder of shape `cfg`.
    pub fn check(&self, cfg: &DecoderConfig, origin: &str) -> Result<()> {
        if self.rank == 0 {
            return Err(Error::field(origin, "rank 0: an adapter needs rank >= 1"));
        }
        if self.targets.is_empty() {
            let msg = format!(
                "no target projection: name some of {}",
                names(&Projection::ALL)
            );
            return Err(Error::field(origin, msg));
        }
        if let Some(b) = self.blocks.iter().find(|&&b| b >= cfg.layers) {
            let msg = format!(
                "block {b} does not exist: the decoder has blocks 0..{}",
                cfg.layers
            );
            return Err(Error::field(origin, msg));
        }
        if !self.alpha.is_finite() || self.alpha <= 0.0 {
            let msg = format!("alpha {} must be a positive number", self.alpha);
            return Err(Error::field(origin, msg));
        }
        Ok(())
    }
}

fn names(projections: &[Projection]) -> String {
    let names: Vec<&str> = projections.iter().map(|p| p.as_str()).collect();
    names.join(", ")
}

/// One adapter: `x·down·up·scale`.
#[derive(Module, Debug)]
pub struct LoraAdapter {
    /// `[in, rank]` (PEFT's `lora_A.weight`, transposed).
    pub down: Param<Tensor<2>>,
    /// `[rank, out]` (PEFT's `lora_B.weight`, transposed).
    pub up: Param<Tensor<2>>,
    #[module(skip)]
    pub scale: f64,
}

impl LoraAdapter {
    /// The update `[b, s, out]` of inputs `[b, s, in]`.
    pub fn forward(&self, x_bsi: Tensor<3>) -> Tensor<3> {
        let [b, s, i] = x_bsi.dims();
        let up = self.up.val();
        let out = up.dims()[1];
        // Scaled at the rank, the narrowest point.
        x_bsi
            .reshape([b * s, i])
            .matmul(self.down.val())
            .mul_scalar(self.scale)
            .matmul(up)
            .reshape([b, s, out])
    }

    /// `down·up·scale`, `[in, out]`: what merging adds to the base weight.
    pub fn delta(&self) -> Tensor<2> {
        self.down.val().matmul(self.up.val()).mul_scalar(self.scale)
    }
}

/// The adapters of one block, by projection (`None`: not adapted).
#[derive(Module, Debug)]
pub struct BlockAdapters {
    pub q_proj: Option<LoraAdapter>,
    pub k_proj: Option<LoraAdapter>,
    pub v_proj: Option<LoraAdapter>,
    pub o_proj: Option<LoraAdapter>,
    pub gate_proj: Option<LoraAdapter>,
    pub up_proj: Option<LoraAdapter>,
    pub down_proj: Option<LoraAdapter>,
}

impl BlockAdapters {
    pub(crate) fn empty() -> Self {
        BlockAdapters {
            q_proj: None,
            k_proj: None,
            v_proj: None,
            o_proj: None,
            gate_proj: None,
            up_proj: None,
            down_proj: None,
        }
    }

    pub fn get(&self, p: Projection) -> Option<&LoraAdapter> {
        self.slot(p).as_ref()
    }

    fn slot(&self, p: Projection) -> &Option<LoraAdapter> {
        match p {
            Projection::Q => &self.q_proj,
            Projection::K => &self.k_proj,
            Projection::V => &self.v_proj,
            Projection::O => &self.o_proj,
            Projection::Gate => &self.gate_proj,
            Projection::Up => &self.up_proj,
            Projection::Down => &self.down_proj,
        }
    }

    pub(crate) fn slot_mut(&mut self, p: Projection) -> &mut Option<LoraAdapter> {
        match p {
            Projection::Q => &mut self.q_proj,
            Projection::K => &mut self.k_proj,
            Projection::V => &mut self.v_proj,
            Projection::O => &mut self.o_proj,
            Projection::Gate => &mut self.gate_proj,
            Projection::Up => &mut self.up_proj,
            Projection::Down => &mut self.down_proj,
        }
    }
}

/// `linear(x)`, plus the adapter's update when there is one.
pub fn project(linear: &Linear, adapter: Option<&LoraAdapter>, x_bsi: Tensor<3>) -> Tensor<3> {
    match adapter {
        Some(a) => linear.forward(x_bsi.clone()) + a.forward(x_bsi),
        None => linear.forward(x_bsi),
    }
}

impl Decoder {
    /// This decoder with fresh adapters of `spec` (the output unchanged: every `up` is zero)
    /// and its base frozen. Errors when `spec` does not fit `cfg` or adapters are present.
    pub fn with_lora(self, spec: &LoraSpec, cfg: &DecoderConfig, seed: u64) -> Result<Decoder> {
        spec.check(cfg, "policy.lora")?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4C6F_5241_0000_0001);
        let adapters = (0..self.blocks.len())
            .map(|i| {
                let mut out = BlockAdapters::empty();
                if spec.adapts_block(i) {
                    for &p in &spec.targets {
                        let [d_in, d_out] = p.linear(&self.blocks[i]).weight.dims();
                        let device = p.linear(&self.blocks[i]).weight.device();
                        let bound = 1.0 / (d_in as f32).sqrt();
                        let down: Vec<f32> = (0..d_in * spec.rank)
                            .map(|_| rng.random_range(-bound..bound))
                            .collect();
                        *out.slot_mut(p) = Some(LoraAdapter {
                            down: param(down, [d_in, spec.rank], &device),
                            up: param(vec![0.0; spec.rank * d_out], [spec.rank, d_out], &device),
                            scale: spec.scale(),
                        });
                    }
                }
                out
            })
            .collect();
        self.with_adapters(adapters)
    }

    /// This decoder with the given adapters (one entry per block) and its base frozen.
    pub fn with_adapters(self, adapters: Vec<BlockAdapters>) -> Result<Decoder> {
        if !self.adapters.is_empty() {
            let msg = "the decoder already has adapters: merge them first";
            return Err(Error::model("policy.lora", msg));
        }
        if adapters.len() != self.blocks.len() {
            let msg = format!(
                "{} blocks of adapters for a decoder of {} blocks",
                adapters.len(),
                self.blocks.len()
            );
            return Err(Error::model("policy.lora", msg));
        }
        let mut out = self;
        out.adapters = adapters;
        Ok(out.freeze_base())
    }

    /// Whether this decoder carries adapters (then only they train).
    pub fn has_adapters(&self) -> bool {
        !self.adapters.is_empty()
    }

    /// Parameters in its adapters (0 without).
    pub fn adapter_param_count(&self) -> usize {
        self.adapters.iter().map(Module::num_params).sum()
    }

    /// Freezes the base of a decoder with adapters again (`require_grad` is not saved with a
    /// checkpoint); the adapters stay trainable. A no-op without adapters.
    pub fn freeze_base(self) -> Decoder {
        if self.adapters.is_empty() {
            return self;
        }
        let mut out = self;
        let adapters = std::mem::take(&mut out.adapters);
        let mut out = out.no_grad();
        out.adapters = adapters;
        out
    }

    /// This decoder as saved: with any adapters merged into the base weights, so that every
    /// checkpoint holds a plain decoder whatever trained it.
    pub fn for_saving(&self) -> std::borrow::Cow<'_, Decoder> {
        match self.has_adapters() {
            true => std::borrow::Cow::Owned(self.merged()),
            false => std::borrow::Cow::Borrowed(self),
        }
    }

    /// The plain decoder whose weights are `W + down·up·scale`: the same function, without
    /// adapters.
    pub fn merged(&self) -> Decoder {
        let mut out = self.clone();
        let adapters = std::mem::take(&mut out.adapters);
        for (block, adapters) in out.blocks.iter_mut().zip(&adapters) {
            for p in Projection::ALL {
                if let Some(a) = adapters.get(p) {
                    let linear = p.linear_mut(block);
                    let merged = linear.weight.val() + a.delta().to_device(&linear.weight.device());
                    linear.weight = Param::from_tensor(merged.detach());
                }
            }
        }
        out
    }
}

fn param(values: Vec<f32>, shape: [usize; 2], device: &Device) -> Param<Tensor<2>> {
    Param::from_data(TensorData::new(values, shape), device)
}
