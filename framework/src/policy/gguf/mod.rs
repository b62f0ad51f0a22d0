//! GGUF models (llama.cpp's format): the container reader, dequantisation, the `llama`
//! architecture mapped onto Quill's `Decoder`, and the tokenizer and chat template from the
//! file's metadata. SmolLM2-135M-Instruct (`scripts/fetch_smollm2.sh`) is the model it serves.
//!
//! Why a reader of our own, not a crate (checked on crates.io with `cargo info`):
//! - `candle-core`'s `quantized` module reads and dequantises GGUF well, but pulls candle's
//!   whole tensor library (gemm, safetensors, zip, ...) into a build that already has Burn;
//! - `ggus` 0.5.1 (with `ggml-quants`) is light and dequantises, but reads only version 3 and
//!   panics on truncated input (unchecked slicing and `unwrap` in its tensor-info parser), and
//!   Quill must turn every bad model file into an error;
//! - `gguf` 0.1.2 and `gguf-rs` 0.1.8 parse the container only (no dequantisation); `gguf-rs`
//!   also depends on clap, comfy-table and a logger unconditionally.
//!
//! The format is small (a header, typed key/values, tensor infos, aligned data) and the block
//! layouts Quill needs are five structs, so the reader is ~500 lines with every read
//! bounds-checked and no new dependency.

mod dequant;
mod llama;
mod reader;
#[cfg(test)]
mod test_file;
mod tokenizer;
mod value;

pub use dequant::{GgmlType, bf16_to_f32, dequantize, f16_to_f32};
pub use llama::{GgufModel, MAX_POSITIONS_CAP, llama_config, load_gguf_model, load_llama};
pub use reader::{GgufFile, TensorInfo};
pub use tokenizer::GgufTokenizer;
pub use value::Value;

/// Where `scripts/fetch_smollm2.sh` puts SmolLM2-135M-Instruct, relative to the repository
/// root, and the file's name.
pub const SMOLLM2_DIR: &str = "models/smollm2-135m-instruct";
pub const SMOLLM2_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
