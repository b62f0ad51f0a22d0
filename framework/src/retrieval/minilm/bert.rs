//! A BERT encoder in Burn, shaped for all-MiniLM-L6-v2 (6 layers, 384 wide, 12 heads) but
//! read from the checkpoint's `config.json`, and its weights loaded with burn-store from the
//! Hugging Face safetensors file.
//!
//! Field names follow the checkpoint where Rust allows; the regexes in `load_weights` map the
//! rest (`attention.self.*`, `LayerNorm`, `encoder.layer.N`). burn-store's PyTorch adapter
//! transposes `Linear` weights (PyTorch stores `[out, in]`, Burn `[in, out]`) and reads
//! LayerNorm's `weight`/`bias` as `gamma`/`beta`.

use crate::error::{Error, Result};
use burn::module::Module;
use burn::nn::{
    Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig,
};
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Bool, Device, Int, Tensor};
use serde::Deserialize;
use std::path::Path;

/// The fields of Hugging Face's `config.json` that fix the encoder's shapes.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    /// Only `gelu` (the exact, erf-based one) is implemented.
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

fn default_act() -> String {
    "gelu".into()
}

impl BertConfig {
    /// Reads and checks `config.json`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let cfg: BertConfig = serde_json::from_str(&text)
            .map_err(|e| Error::in_file(path, format!("not a BERT config.json: {e}")))?;
        if cfg.hidden_act != "gelu" {
            let msg = format!(
                "hidden_act {:?} is not supported: valid is \"gelu\"",
                cfg.hidden_act
            );
            return Err(Error::in_file(path, msg));
        }
        if cfg.num_attention_heads == 0 || !cfg.hidden_size.is_multiple_of(cfg.num_attention_heads)
        {
            let msg = format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                cfg.hidden_size, cfg.num_attention_heads
            );
            return Err(Error::in_file(path, msg));
        }
        Ok(cfg)
    }
}

#[derive(Module, Debug)]
pub struct BertEmbeddings {
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    token_type_embeddings: Embedding,
    layer_norm: LayerNorm,
}

/// One post-norm transformer layer, as in BERT.
#[derive(Module, Debug)]
pub struct BertLayer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
    #[module(skip)]
    heads: usize,
}

#[derive(Module, Debug)]
pub struct BertEncoder {
    embeddings: BertEmbeddings,
    layers: Vec<BertLayer>,
}

/// Zero-initialised parts: every value is overwritten by the checkpoint, so drawing random
/// numbers (from Burn's process-wide RNG) would only cost time.
fn linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    LinearConfig::new(d_in, d_out)
        .with_initializer(Initializer::Zeros)
        .init(device)
}

fn embedding(n: usize, d: usize, device: &Device) -> Embedding {
    EmbeddingConfig::new(n, d)
        .with_initializer(Initializer::Zeros)
        .init(device)
}

fn norm(cfg: &BertConfig, device: &Device) -> LayerNorm {
    LayerNormConfig::new(cfg.hidden_size)
        .with_epsilon(cfg.layer_norm_eps)
        .init(device)
}

impl BertEncoder {
    /// An encoder of the config's shapes with all weights zero (see `load_weights`).
    pub fn new(cfg: &BertConfig, device: &Device) -> Self {
        let h = cfg.hidden_size;
        let layer = || BertLayer {
            query: linear(h, h, device),
            key: linear(h, h, device),
            value: linear(h, h, device),
            attention_output: linear(h, h, device),
            attention_norm: norm(cfg, device),
            intermediate: linear(h, cfg.intermediate_size, device),
            output: linear(cfg.intermediate_size, h, device),
            output_norm: norm(cfg, device),
            heads: cfg.num_attention_heads,
        };
        BertEncoder {
            embeddings: BertEmbeddings {
                word_embeddings: embedding(cfg.vocab_size, h, device),
                position_embeddings: embedding(cfg.max_position_embeddings, h, device),
                token_type_embeddings: embedding(cfg.type_vocab_size, h, device),
                layer_norm: norm(cfg, device),
            },
            layers: (0..cfg.num_hidden_layers).map(|_| layer()).collect(),
        }
    }

    /// Loads a Hugging Face `BertModel` safetensors file. Every parameter of the encoder must
    /// be found with the right shape; the pooler and `position_ids` buffer are ignored.
    pub fn load_weights(&mut self, path: &Path) -> Result<()> {
        let layer = r"^encoder\.layer\.(\d+)\.";
        let mut store = SafetensorsStore::from_file(path)
            .with_from_adapter(PyTorchToBurnAdapter)
            .with_key_remapping(
                format!(r"{layer}attention\.self\.(query|key|value)\."),
                "layers.$1.$2.",
            )
            .with_key_remapping(
                format!(r"{layer}attention\.output\.dense\."),
                "layers.$1.attention_output.",
            )
            .with_key_remapping(
                format!(r"{layer}attention\.output\.LayerNorm\."),
                "layers.$1.attention_norm.",
            )
            .with_key_remapping(
                format!(r"{layer}intermediate\.dense\."),
                "layers.$1.intermediate.",
            )
            .with_key_remapping(format!(r"{layer}output\.dense\."), "layers.$1.output.")
            .with_key_remapping(
                format!(r"{layer}output\.LayerNorm\."),
                "layers.$1.output_norm.",
            )
            .with_key_remapping(r"^embeddings\.LayerNorm\.", "embeddings.layer_norm.")
            .allow_partial(true);
        let result = self
            .load_from(&mut store)
            .map_err(|e| Error::model(path.display().to_string(), format!("{e}")))?;
        if !result.errors.is_empty() || !result.missing.is_empty() {
            let missing: Vec<&str> = result.missing.iter().map(|(k, _)| k.as_str()).collect();
            let msg = format!(
                "not an all-MiniLM-style BertModel checkpoint: missing {missing:?}, errors {:?}",
                result.errors
            );
            return Err(Error::model(path.display().to_string(), msg));
        }
        Ok(())
    }

    /// `[batch, seq]` token ids and a `[batch, seq]` mask (true = real token) → the last
    /// layer's hidden states `[batch, seq, hidden]`. Token type ids are all 0 (single texts).
    pub fn forward(&self, ids_bs: Tensor<2, Int>, mask_bs: Tensor<2, Bool>) -> Tensor<3> {
        let [batch, seq] = ids_bs.dims();
        let device = ids_bs.device();
        let positions_bs = Tensor::<1, Int>::arange(0..seq as i64, &device)
            .unsqueeze_dim::<2>(0)
            .repeat_dim(0, batch);
        let types_bs = Tensor::<2, Int>::zeros([batch, seq], &device);
        let e = &self.embeddings;
        let x_bsh = e.word_embeddings.forward(ids_bs)
            + e.position_embeddings.forward(positions_bs)
            + e.token_type_embeddings.forward(types_bs);
        let mut x_bsh = e.layer_norm.forward(x_bsh);
        // Padding keys are hidden from every query: [batch, 1, 1, seq], broadcast over heads
        // and query positions.
        let pad_b11s = mask_bs.bool_not().unsqueeze_dims::<4>(&[1, 2]);
        for layer in &self.layers {
            x_bsh = layer.forward(x_bsh, pad_b11s.clone());
        }
        x_bsh
    }
}

impl BertLayer {
    fn forward(&self, x_bsh: Tensor<3>, pad_b11s: Tensor<4, Bool>) -> Tensor<3> {
        let [batch, seq, hidden] = x_bsh.dims();
        let head_dim = hidden / self.heads;
        let split = |t: Tensor<3>| -> Tensor<4> {
            t.reshape([batch, seq, self.heads, head_dim])
                .swap_dims(1, 2)
        };
        let q_bnsd = split(self.query.forward(x_bsh.clone()));
        let k_bnsd = split(self.key.forward(x_bsh.clone()));
        let v_bnsd = split(self.value.forward(x_bsh.clone()));
        let scores_bnss = q_bnsd.matmul(k_bnsd.swap_dims(2, 3)) / (head_dim as f64).sqrt();
        // A large finite negative rather than -inf: a row is never fully masked ([CLS] is
        // always real), but -inf would turn an all-masked row into NaN instead of uniform.
        let pad_bnss = pad_b11s.expand([batch, self.heads, seq, seq]);
        let scores_bnss = scores_bnss.mask_fill(pad_bnss, -1e9);
        let context_bsh = softmax(scores_bnss, 3)
            .matmul(v_bnsd)
            .swap_dims(1, 2)
            .reshape([batch, seq, hidden]);
        let x_bsh = self
            .attention_norm
            .forward(x_bsh + self.attention_output.forward(context_bsh));
        let ff_bsh = self
            .output
            .forward(gelu(self.intermediate.forward(x_bsh.clone())));
        self.output_norm.forward(x_bsh + ff_bsh)
    }
}
