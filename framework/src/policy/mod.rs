//! The policy: a Llama-family decoder in Burn (`decoder`), its presets (`config`), rotary
//! positions, the KV cache and attention mask, samplers, and batched generation and
//! completion log-probabilities over the `Policy` trait.
//!
//! Still to come (issue 4): the BPE tokenizer wiring, warm start, and loading
//! SmolLM2 (GGUF) and Qwen2.5 (safetensors) weights.

mod cache;
mod checkpoint;
mod config;
mod decoder;
mod generate;
mod rope;
mod sampler;

pub use cache::{AttentionMask, KvCache};
pub use checkpoint::{POLICY_FILE, TOKENIZER_FILE, WEIGHTS_FILE, load_checkpoint, save_checkpoint};
pub use config::{DecoderConfig, Preset, RopeLayout, find_preset, presets};
pub use decoder::{Attention, Block, Decoder, Mlp};
pub use generate::{Completion, Generation, Policy, completion_logprobs, generate};
pub use sampler::{Sampler, SamplingConfig, argmax};
