//! Writes a decoder (Quill's own, or one loaded from a Hugging Face or GGUF checkpoint) as a
//! Hugging Face checkpoint directory that `transformers` loads
//! (`AutoModelForCausalLM.from_pretrained`) and that [`crate::policy::load_pretrained`] reads
//! back: `config.json` (model type `llama`, or `qwen2` for a decoder with QKV biases),
//! `model.safetensors` in the Hugging Face key names and `[out, in]` linear layout, and, when
//! given, `tokenizer.json` and `tokenizer_config.json`. Written atomically.

use crate::error::{Error, Result};
use crate::io::{save_dir_atomic, write_synced};
use crate::policy::checkpoint::write_safetensors;
use crate::policy::hf::CONFIG_FILE;
use crate::policy::hf_tokenizer::{TOKENIZER_CONFIG, TOKENIZER_JSON};
use crate::policy::{Decoder, DecoderConfig, RopeLayout};
use burn::module::Param;
use burn::store::{BurnToPyTorchAdapter, SafetensorsStore};
use burn::tensor::{Int, Tensor, TensorData};
use serde_json::{Value, json};
use std::path::Path;

/// The weights file of a single-file Hugging Face checkpoint.
pub const MODEL_FILE: &str = "model.safetensors";

/// A tokenizer to save beside the weights: `tokenizer.json` text and the
/// `tokenizer_config.json` object (special tokens, `chat_template`).
pub struct TokenizerFiles<'a> {
    pub tokenizer_json: &'a str,
    pub tokenizer_config: Value,
}

/// Saves `decoder` (of shape `config`) into `dir` as a Hugging Face checkpoint.
pub fn save_hf_checkpoint(
    dir: &Path,
    decoder: &Decoder,
    config: &DecoderConfig,
    tokenizer: Option<TokenizerFiles>,
) -> Result<()> {
    let decoder = &*decoder.for_saving();
    // A GGUF checkpoint's Q/K columns are in llama.cpp's adjacent-pairs order; Hugging Face
    // keeps the halves order, so they are permuted back first.
    let halves;
    let (decoder, config) = match config.rope_layout {
        RopeLayout::Halves => (decoder, config.clone()),
        RopeLayout::AdjacentPairs => {
            halves = to_halves_layout(decoder, config);
            let config = DecoderConfig {
                rope_layout: RopeLayout::Halves,
                ..config.clone()
            };
            (&halves, config)
        }
    };
    let config = &config;
    save_dir_atomic(dir, CONFIG_FILE, "a Hugging Face checkpoint", |staging| {
        write_safetensors(decoder, hf_store(), &staging.join(MODEL_FILE))?;
        if let Some(t) = tokenizer {
            write_synced(&staging.join(TOKENIZER_JSON), t.tokenizer_json.as_bytes())?;
            write_synced(
                &staging.join(TOKENIZER_CONFIG),
                &pretty(&t.tokenizer_config)?,
            )?;
        }
        // Written last: its presence marks a complete checkpoint.
        write_synced(&staging.join(CONFIG_FILE), &pretty(&hf_config(config))?)
    })
}

/// `decoder`'s weights with every head's Q/K output columns moved from adjacent rotary pairs
/// (`2i`, `2i + 1`) back to halves (`i`, `i + d/2`): the inverse of llama.cpp's converter.
/// Burn stores a linear layer `[in, out]`, so a head's rows in PyTorch are columns here.
pub fn to_halves_layout(decoder: &Decoder, config: &DecoderConfig) -> Decoder {
    let d = config.head_dim();
    let order = |heads: usize| halves_order(heads, d);
    let mut out = decoder.clone();
    for block in out.blocks.iter_mut() {
        let a = &mut block.attention;
        for (proj, heads) in [
            (&mut a.q_proj, config.heads),
            (&mut a.k_proj, config.kv_heads),
        ] {
            let w = proj.weight.val();
            let idx = order(heads);
            let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [heads * d]), &w.device());
            proj.weight = Param::from_tensor(w.select(1, idx.clone()));
            if let Some(bias) = &proj.bias {
                proj.bias = Some(Param::from_tensor(bias.val().select(0, idx)));
            }
        }
    }
    out
}

/// For `heads` heads of `d` columns: column `j` of the halves layout (head, half t, i) is
/// column `order[j]` of the adjacent-pairs layout.
pub(crate) fn halves_order(heads: usize, d: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(heads * d);
    for head in 0..heads {
        for t in 0..2 {
            for i in 0..d / 2 {
                out.push((head * d + 2 * i + t) as i64);
            }
        }
    }
    out
}

/// The `config.json` of a decoder shape.
pub fn hf_config(c: &DecoderConfig) -> Value {
    let (model_type, architecture) = if c.qkv_bias {
        ("qwen2", "Qwen2ForCausalLM")
    } else {
        ("llama", "LlamaForCausalLM")
    };
    let mut out = json!({
        "architectures": [architecture],
        "model_type": model_type,
        "vocab_size": c.vocab_size,
        "hidden_size": c.hidden_size,
        "intermediate_size": c.intermediate_size,
        "num_hidden_layers": c.layers,
        "num_attention_heads": c.heads,
        "num_key_value_heads": c.kv_heads,
        "max_position_embeddings": c.max_positions,
        "rope_theta": c.rope_theta,
        "rms_norm_eps": c.rms_eps,
        "tie_word_embeddings": c.tie_embeddings,
        "hidden_act": "silu",
        "torch_dtype": "float32",
    });
    if !c.qkv_bias {
        out["attention_bias"] = json!(false);
        out["mlp_bias"] = json!(false);
    }
    out
}

fn pretty(value: &Value) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(|e| Error::model("Hugging Face export", e.to_string()))
}

/// A store in memory with the Quill → Hugging Face key mapping (the inverse of the loader's).
fn hf_store() -> SafetensorsStore {
    // transformers refuses a safetensors file whose `format` metadata is not one of its
    // frameworks'; burn-store writes "safetensors" by default.
    let store = SafetensorsStore::from_bytes(None)
        .with_to_adapter(BurnToPyTorchAdapter)
        .metadata("format", "pt");
    crate::policy::hf::remap_keys(store, false)
}
