//! The policy: a Llama-family decoder in Burn (`decoder`, `config`), its from-scratch presets
//! (`presets`, one file each), rotary positions, the KV cache and attention mask, samplers, and
//! batched generation and completion log-probabilities over the `Policy` trait, and the models'
//! Jinja chat templates (`ChatTemplate`, rendered with minijinja).
//!
//! `gguf` loads llama-architecture GGUF files (SmolLM2-135M-Instruct) and `hf` Hugging Face
//! Qwen2/Llama safetensors checkpoints (single-file or sharded) into the same decoder;
//! `hf_tokenizer` reads their `tokenizer.json` and `tokenizer_config.json`.

mod cache;
mod chat_template;
mod checkpoint;
mod config;
mod decoder;
mod generate;
pub mod gguf;
pub mod hf;
pub mod hf_export;
pub mod hf_tokenizer;
mod lora;
pub mod peft;
mod presets;
mod pretrained;
mod prune;
mod rope;
mod sampler;
pub mod tiny_checkpoint;

pub use cache::{AttentionMask, KvCache};
pub use chat_template::{ChatMessage, ChatTemplate};
pub use checkpoint::{
    POLICY_FILE, TOKENIZER_FILE, WEIGHTS_FILE, first_non_finite, load_checkpoint, save_checkpoint,
};
pub use config::{DecoderConfig, RopeLayout};
pub use decoder::{Attention, Block, Decoder, Mlp};
pub use generate::{
    Completion, Generation, Policy, completion_logits, completion_logits_at, completion_logprobs,
    completion_logprobs_at, generate, generate_chunked,
};
pub use lora::{BlockAdapters, LoraAdapter, LoraSpec, Projection};
pub use presets::{Preset, PresetPlugin, PresetShape, find_preset, presets};
pub use pretrained::{
    Pretrained, PretrainedText, check_pretrained_path, load_policy, load_pretrained,
    load_pretrained_shape, load_pretrained_text,
};
pub use prune::evenly_spaced_blocks;
pub use sampler::{Sampler, SamplingConfig, argmax};
