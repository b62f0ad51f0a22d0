//! Hugging Face checkpoints of the Qwen2 (Qwen2.5) and Llama families: a directory with
//! `config.json` and the weights — one `model.safetensors`, or shards listed by
//! `model.safetensors.index.json` (as Qwen2.5 from 1.5B up ships) — loaded into the same
//! `Decoder` as everything else. The tokenizer is in [`super::hf_tokenizer`].
//!
//! | Hugging Face key | Quill parameter |
//! |---|---|
//! | `model.embed_tokens.weight` `[vocab, hidden]` | `embed_tokens.weight` |
//! | `model.layers.N.self_attn.{q,k,v,o}_proj.{weight,bias}` | `blocks.N.attention.{q,k,v,o}_proj` |
//! | `model.layers.N.mlp.{gate,up,down}_proj.weight` | `blocks.N.mlp.{gate,up,down}_proj` |
//! | `model.layers.N.input_layernorm.weight` | `blocks.N.input_norm.gamma` |
//! | `model.layers.N.post_attention_layernorm.weight` | `blocks.N.post_attention_norm.gamma` |
//! | `model.norm.weight` | `norm.gamma` |
//! | `lm_head.weight` (absent or ignored when tied) | `lm_head.weight` |
//!
//! burn-store's PyTorch adapter transposes the `Linear` weights (PyTorch `[out, in]`, Burn
//! `[in, out]`) and reads the RMSNorm `weight` as `gamma`; a cast adapter brings bf16/f16
//! checkpoints to the decoder's float type. Hugging Face keeps Q/K in the `rotate_half`
//! layout, hence `RopeLayout::Halves`. Qwen2 has QKV biases, Llama none.

use crate::bounded_read::{JSON_BYTES, read_text_bounded};
use crate::error::{Error, Result};
use crate::policy::{Decoder, DecoderConfig, RopeLayout};
use burn::store::{
    FloatCastAdapter, ModuleAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore,
};
use burn::tensor::Device;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The config file of a Hugging Face checkpoint directory.
pub const CONFIG_FILE: &str = "config.json";
/// The (single, unsharded) weights file of a Hugging Face checkpoint directory.
pub const SAFETENSORS_FILE: &str = "model.safetensors";
/// The index of a sharded checkpoint: `{"weight_map": {tensor name: shard file}}`.
pub const SHARD_INDEX_FILE: &str = "model.safetensors.index.json";
/// The most positions a Hugging Face model gets (prompt + completion): Qwen2.5's 32k context
/// would only make the rotary tables and the KV cache larger than Quill's prompts need.
pub const MAX_POSITIONS_CAP: usize = 4096;
/// The `model_type`s this loader understands.
pub const MODEL_TYPES: [&str; 2] = ["qwen2", "llama"];

/// The fields of a Hugging Face `config.json` that fix the decoder's shape, plus those whose
/// unsupported values must be refused rather than silently ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct HfConfig {
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    /// Absent in older Llama configs: then equal to `num_attention_heads`.
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    pub rms_norm_eps: f64,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
    #[serde(default)]
    pub head_dim: Option<usize>,
    /// Llama: bias on all four attention projections (Quill's decoder has none on `o_proj`).
    #[serde(default)]
    pub attention_bias: Option<bool>,
    #[serde(default)]
    pub mlp_bias: Option<bool>,
    #[serde(default)]
    pub use_sliding_window: Option<bool>,
    #[serde(default)]
    pub sliding_window: Option<usize>,
}

fn default_rope_theta() -> f64 {
    10_000.0
}

fn default_act() -> String {
    "silu".into()
}

impl HfConfig {
    /// Reads `path` (a `config.json`) and checks that it is a Qwen2 or Llama config.
    pub fn load(path: &Path) -> Result<Self> {
        let text = read_text_bounded(path, JSON_BYTES, "a config.json")?;
        let fail = |msg: String| Error::in_file(path, msg);
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| fail(format!("not a JSON config.json: {e}")))?;
        let valid = MODEL_TYPES.map(|t| format!("{t:?}")).join(", ");
        let model_type = match value.get("model_type") {
            Some(serde_json::Value::String(t)) => t.clone(),
            _ => {
                return Err(fail(format!(
                    "has no \"model_type\": not a Hugging Face config.json (valid model types \
                     are {valid})"
                )));
            }
        };
        if !MODEL_TYPES.contains(&model_type.as_str()) {
            return Err(fail(format!(
                "model_type {model_type:?} is not supported: valid are {valid}"
            )));
        }
        let cfg: HfConfig = serde_json::from_value(value)
            .map_err(|e| fail(format!("not a {model_type} config.json: {e}")))?;
        cfg.check().map_err(fail)?;
        Ok(cfg)
    }

    /// Refuses the features the decoder does not implement.
    fn check(&self) -> std::result::Result<(), String> {
        if self.hidden_act != "silu" {
            return Err(format!(
                "hidden_act {:?} is not supported: valid is \"silu\"",
                self.hidden_act
            ));
        }
        if let Some(scaling) = &self.rope_scaling
            && !scaling.is_null()
        {
            let kind = scaling
                .get("rope_type")
                .or_else(|| scaling.get("type"))
                .and_then(|t| t.as_str());
            if kind != Some("default") {
                return Err(format!(
                    "rope_scaling {scaling}: Quill's rotary embedding has no scaling"
                ));
            }
        }
        if self.num_attention_heads > 0
            && let Some(d) = self.head_dim
            && d * self.num_attention_heads != self.hidden_size
        {
            return Err(format!(
                "head_dim {d} is not hidden_size {} / num_attention_heads {}: not supported",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.model_type == "llama" && self.attention_bias == Some(true) {
            return Err("attention_bias true is not supported (no bias on o_proj)".into());
        }
        if self.mlp_bias == Some(true) {
            return Err("mlp_bias true is not supported".into());
        }
        if self.use_sliding_window == Some(true)
            && let Some(window) = self.sliding_window
            && window < self.max_positions()
        {
            return Err(format!(
                "use_sliding_window with sliding_window {window} < {} positions is not supported",
                self.max_positions()
            ));
        }
        Ok(())
    }

    fn max_positions(&self) -> usize {
        self.max_position_embeddings.min(MAX_POSITIONS_CAP)
    }

    /// The decoder shape of this config: rotary in `rotate_half` layout, QKV biases for Qwen2,
    /// at most `MAX_POSITIONS_CAP` positions.
    pub fn decoder_config(&self) -> DecoderConfig {
        DecoderConfig {
            vocab_size: self.vocab_size,
            hidden_size: self.hidden_size,
            layers: self.num_hidden_layers,
            heads: self.num_attention_heads,
            kv_heads: self.num_key_value_heads.unwrap_or(self.num_attention_heads),
            intermediate_size: self.intermediate_size,
            max_positions: self.max_positions(),
            rope_theta: self.rope_theta,
            rope_layout: RopeLayout::Halves,
            rms_eps: self.rms_norm_eps,
            qkv_bias: self.model_type == "qwen2",
            tie_embeddings: self.tie_word_embeddings,
        }
    }
}

/// The decoder shape of the Hugging Face `config.json` at `path`, validated.
pub fn read_hf_config(path: &Path) -> Result<DecoderConfig> {
    let cfg = HfConfig::load(path)?.decoder_config();
    cfg.validate(&path.display().to_string())?;
    Ok(cfg)
}

/// Loads the checkpoint directory `dir` (`config.json` and its weights) on `device`.
pub fn load_hf_decoder(dir: &Path, device: &Device) -> Result<(Decoder, DecoderConfig)> {
    let config = read_hf_config(&dir.join(CONFIG_FILE))?;
    let files = weight_files(dir)?;
    let mut decoder = Decoder::zeroed(&config, device);
    load_hf_weights(&mut decoder, &files)?;
    Ok((decoder, config))
}

#[derive(Deserialize)]
struct ShardIndex {
    weight_map: BTreeMap<String, String>,
}

/// The safetensors files of a checkpoint directory: `model.safetensors`, or else every shard
/// the index names (each once, in name order), checked to exist inside `dir`.
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let single = dir.join(SAFETENSORS_FILE);
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join(SHARD_INDEX_FILE);
    if !index.is_file() {
        return Err(Error::in_file(
            &single,
            format!(
                "not found: a Hugging Face checkpoint directory has {CONFIG_FILE} and \
                 {SAFETENSORS_FILE}, or {SHARD_INDEX_FILE} and its shards"
            ),
        ));
    }
    let text = read_text_bounded(&index, JSON_BYTES, "a safetensors index")?;
    let parsed: ShardIndex = serde_json::from_str(&text).map_err(|e| {
        Error::in_file(
            &index,
            format!("not a safetensors index ({{\"weight_map\": ...}}): {e}"),
        )
    })?;
    let shards: BTreeSet<&String> = parsed.weight_map.values().collect();
    if shards.is_empty() {
        return Err(Error::in_file(&index, "weight_map lists no tensors"));
    }
    shards
        .into_iter()
        .map(|name| {
            // A shard is a plain file name: an index must not point outside its directory.
            let plain = Path::new(name).file_name().is_some_and(|f| f == name.as_str());
            if !plain {
                let msg = format!("weight_map names {name:?}: a shard must be a file name in the checkpoint directory");
                return Err(Error::in_file(&index, msg));
            }
            let path = dir.join(name);
            if !path.is_file() {
                let msg = format!("not found: a shard that {SHARD_INDEX_FILE} lists");
                return Err(Error::in_file(&path, msg));
            }
            Ok(path)
        })
        .collect()
}

/// Overwrites every parameter of `decoder` from the safetensors `files` (one file, or the
/// shards of one checkpoint). Every parameter must be found, with its shape, in some file, and
/// every tensor of every file must be used, except `lm_head.weight` when the embeddings are
/// tied and rotary `inv_freq` buffers. Errors name the file (the index, for what no shard has).
pub fn load_hf_weights(decoder: &mut Decoder, files: &[PathBuf]) -> Result<()> {
    let first = files
        .first()
        .ok_or_else(|| Error::model("Hugging Face checkpoint", "no weight files"))?;
    let tied = decoder.lm_head.is_none();
    let mut applied: BTreeSet<String> = BTreeSet::new();
    let mut missing: BTreeSet<String> = BTreeSet::new();
    for path in files {
        let fail = |msg: String| Error::in_file(path, msg);
        let result = decoder
            .load_from(&mut store(path, decoder))
            .map_err(|e| fail(format!("the weights do not fit config.json: {e}")))?;
        let unused: Vec<&str> = result
            .unused
            .iter()
            .map(String::as_str)
            .filter(|k| !(k.ends_with("rotary_emb.inv_freq") || (tied && *k == "lm_head.weight")))
            .collect();
        if !result.errors.is_empty() || !unused.is_empty() {
            let errors: Vec<String> = result.errors.iter().map(|e| e.to_string()).collect();
            return Err(fail(format!(
                "the weights do not fit config.json: unused {unused:?}, errors {errors:?}"
            )));
        }
        applied.extend(result.applied);
        missing.extend(result.missing.into_iter().map(|(k, _)| k));
    }
    // A sharded checkpoint misses most parameters in each shard: what counts is what no shard had.
    let missing: Vec<&String> = missing.difference(&applied).collect();
    if !missing.is_empty() {
        let (origin, msg) = match files {
            [single] => (single.clone(), "the weights do not fit config.json"),
            _ => (
                first.with_file_name(SHARD_INDEX_FILE),
                "no shard it lists has these parameters of config.json's model",
            ),
        };
        return Err(Error::in_file(
            &origin,
            format!("{msg}: missing {missing:?}"),
        ));
    }
    Ok(())
}

/// The key prefixes of Hugging Face and of Quill that name the same module (module docs);
/// `N` stands for a block's number. The loader maps one way, the exporter the other.
const KEY_PREFIXES: [(&str, &str); 6] = [
    ("model.embed_tokens.", "embed_tokens."),
    ("model.layers.N.self_attn.", "blocks.N.attention."),
    ("model.layers.N.mlp.", "blocks.N.mlp."),
    ("model.layers.N.input_layernorm.", "blocks.N.input_norm."),
    (
        "model.layers.N.post_attention_layernorm.",
        "blocks.N.post_attention_norm.",
    ),
    ("model.norm.", "norm."),
];

/// `store` with every prefix of [`KEY_PREFIXES`] remapped, Hugging Face → Quill when
/// `to_quill`, else Quill → Hugging Face.
pub(crate) fn remap_keys(mut store: SafetensorsStore, to_quill: bool) -> SafetensorsStore {
    for (hf, quill) in KEY_PREFIXES {
        let (from, to) = if to_quill { (hf, quill) } else { (quill, hf) };
        let pattern = format!("^{}", from.replace('.', r"\.").replace('N', r"(\d+)"));
        store = store.with_key_remapping(pattern, to.replace('N', "$1"));
    }
    store
}

/// A store over one safetensors file with the Hugging Face → Quill key mapping (module docs).
fn store(path: &Path, decoder: &Decoder) -> SafetensorsStore {
    let dtype = decoder.embed_tokens.weight.val().dtype();
    let store = SafetensorsStore::from_file(path)
        .with_from_adapter(PyTorchToBurnAdapter.chain(FloatCastAdapter::to(dtype)));
    remap_keys(store, true).allow_partial(true)
}
