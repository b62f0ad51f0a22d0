//! Writes a decoder as a Hugging Face checkpoint directory that `transformers` loads
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
use burn::store::{BurnToPyTorchAdapter, SafetensorsStore};
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
    if config.rope_layout != RopeLayout::Halves {
        return Err(Error::model(
            "Hugging Face export",
            "the decoder's rotary layout is llama.cpp's (a GGUF checkpoint's): its Q/K rows \
             would need permuting back, which the exporter does not do; export a decoder \
             loaded from a Hugging Face checkpoint or one of Quill's own",
        ));
    }
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
    let store = SafetensorsStore::from_bytes(None).with_to_adapter(BurnToPyTorchAdapter);
    crate::policy::hf::remap_keys(store, false)
}
