//! A tiny random Llama instruct checkpoint, written in seconds with no download: the
//! stand-in for SmolLM2 or Qwen2.5 wherever a test or a smoke run needs a pretrained policy.
//! It has everything a real one has (a Hugging Face directory with `config.json`, weights, a
//! byte-level BPE `tokenizer.json` trained on the given texts, and a ChatML chat template with
//! `<|im_end|>` as its end of turn), only random weights.

use crate::error::Result;
use crate::policy::hf_export::{TokenizerFiles, save_hf_checkpoint};
use crate::policy::{Decoder, DecoderConfig, RopeLayout};
use crate::text::tokenizer::train_byte_level_bpe;
use serde_json::json;
use std::path::Path;

/// ChatML, as SmolLM2 and Qwen2.5 write it (without their default system prompts).
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{ '<|im_start|>' + \
message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if \
add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// The special tokens, ids 0, 1, 2 as in SmolLM2.
const SPECIALS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/// Writes the checkpoint into `dir`: a BPE of at most `vocab_size` tokens trained on `texts`,
/// and a Llama decoder (width 32, 2 blocks, 4 query and 2 key/value heads, tied embeddings)
/// with weights drawn from `seed`.
pub fn write_tiny_checkpoint<I, S>(dir: &Path, texts: I, vocab_size: usize, seed: u64) -> Result<()>
where
    I: IntoIterator<Item = S>,
    I::IntoIter: Send,
    S: AsRef<str> + Send,
{
    let tokenizer = train_byte_level_bpe(texts, vocab_size, &SPECIALS)?;
    let config = DecoderConfig {
        vocab_size: tokenizer.get_vocab_size(true),
        hidden_size: 32,
        layers: 2,
        heads: 4,
        kv_heads: 2,
        intermediate_size: 64,
        max_positions: 1024,
        rope_theta: 10_000.0,
        rope_layout: RopeLayout::Halves,
        rms_eps: 1e-5,
        qkv_bias: false,
        tie_embeddings: true,
    };
    let decoder = Decoder::new(&config, seed, &Default::default());
    let tokenizer_json = tokenizer
        .to_string(false)
        .map_err(|e| crate::error::Error::model("tiny checkpoint", e.to_string()))?;
    let files = TokenizerFiles {
        tokenizer_json: &tokenizer_json,
        tokenizer_config: json!({
            "bos_token": null,
            "eos_token": "<|im_end|>",
            "pad_token": "<|endoftext|>",
            "chat_template": CHATML_TEMPLATE,
        }),
    };
    save_hf_checkpoint(dir, &decoder, &config, Some(files))
}
