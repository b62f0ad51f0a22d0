//! The policy: a Llama-family decoder in Burn (`decoder`), its presets (`config`), rotary
//! positions, the KV cache and attention mask, samplers, and batched generation and
//! completion log-probabilities over the `Policy` trait.
//!
//! `gguf` loads llama-architecture GGUF files (SmolLM2-135M-Instruct) and `hf` Hugging Face
//! Qwen2/Llama safetensors checkpoints into the same decoder. Still to come (issue 4): sharded
//! safetensors, Hugging Face tokenizers for those checkpoints, and the training-speed work.

mod cache;
mod checkpoint;
mod config;
mod decoder;
mod generate;
pub mod gguf;
pub mod hf;
pub mod hf_tokenizer;
mod rope;
mod sampler;

pub use cache::{AttentionMask, KvCache};
pub use checkpoint::{POLICY_FILE, TOKENIZER_FILE, WEIGHTS_FILE, load_checkpoint, save_checkpoint};
pub use config::{DecoderConfig, Preset, RopeLayout, find_preset, presets};
pub use decoder::{Attention, Block, Decoder, Mlp};
pub use generate::{Completion, Generation, Policy, completion_logprobs, generate};
pub use sampler::{Sampler, SamplingConfig, argmax};
