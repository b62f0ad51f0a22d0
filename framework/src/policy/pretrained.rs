//! A pretrained checkpoint as a policy: a GGUF file (`*.gguf`, e.g. SmolLM2-135M-Instruct) or
//! a Hugging Face Qwen2/Llama directory (`config.json`, safetensors weights, `tokenizer.json`,
//! `tokenizer_config.json` with the chat template). Either gives the decoder, the tokenizer
//! with its end-of-turn token as the stop token, and the chat template.

use crate::error::{Error, Result};
use crate::policy::gguf::{GgufFile, GgufTokenizer, load_gguf_model};
use crate::policy::hf::{CONFIG_FILE, load_hf_decoder};
use crate::policy::hf_tokenizer::{HfTokenizer, TOKENIZER_JSON};
use crate::policy::{ChatTemplate, Decoder, DecoderConfig, POLICY_FILE, load_checkpoint};
use crate::text::PolicyTokenizer;
use burn::tensor::Device;
use std::path::Path;

/// What a checkpoint's prompts and replies are written with.
#[derive(Debug, Clone)]
pub struct PretrainedText {
    pub tokenizer: PolicyTokenizer,
    pub chat: ChatTemplate,
    /// The chat template's Jinja source, for an exported `tokenizer_config.json`.
    pub chat_template: String,
    /// The tokenizer as `tokenizer.json`, saved beside fine-tuned weights.
    pub tokenizer_json: String,
}

/// A loaded checkpoint.
#[derive(Debug)]
pub struct Pretrained {
    pub decoder: Decoder,
    pub config: DecoderConfig,
    pub text: PretrainedText,
}

/// Which of the two formats `path` is; an error naming the path and what is valid otherwise.
enum Format {
    Gguf,
    HuggingFace,
}

fn format_of(path: &Path) -> Result<Format> {
    let valid = "a GGUF file (*.gguf) or a Hugging Face directory with config.json, \
                 model.safetensors (or sharded weights), tokenizer.json and \
                 tokenizer_config.json";
    if path.is_file()
        && path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
    {
        return Ok(Format::Gguf);
    }
    if path.is_dir() && path.join(CONFIG_FILE).is_file() {
        return Ok(Format::HuggingFace);
    }
    let what = if !path.exists() {
        "does not exist"
    } else if path.is_dir() {
        "is a directory without config.json"
    } else {
        "is not a .gguf file"
    };
    Err(Error::in_file(
        path,
        format!("{what}: a pretrained checkpoint is {valid}"),
    ))
}

/// `Ok` when `path` is in one of the two formats (a `.gguf` file, or a directory with
/// `config.json`); otherwise the error loading it would give, naming the path. Reads nothing.
pub fn check_pretrained_path(path: &Path) -> Result<()> {
    format_of(path).map(drop)
}

/// The tokenizer and chat template of the checkpoint at `path` (weights are not read for a
/// Hugging Face directory; a GGUF file is parsed whole).
pub fn load_pretrained_text(path: &Path) -> Result<PretrainedText> {
    match format_of(path)? {
        Format::Gguf => gguf_text(&GgufTokenizer::from_gguf(&GgufFile::open(path)?)?, path),
        Format::HuggingFace => hf_text(&HfTokenizer::load(path)?, path),
    }
}

/// The checkpoint at `path`, its decoder on `device`. Weights holding NaN or infinities are
/// refused, as in Quill's own checkpoints.
pub fn load_pretrained(path: &Path, device: &Device) -> Result<Pretrained> {
    let model = load_any_pretrained(path, device)?;
    if let Some(module) = crate::policy::checkpoint::first_non_finite(&model.decoder) {
        let msg = format!("the weights of {module} hold NaN or infinite values");
        return Err(Error::in_file(path, msg));
    }
    Ok(model)
}

fn load_any_pretrained(path: &Path, device: &Device) -> Result<Pretrained> {
    match format_of(path)? {
        Format::Gguf => {
            let model = load_gguf_model(path, device)?;
            let text = gguf_text(&model.tokenizer, path)?;
            Ok(Pretrained {
                decoder: model.decoder,
                config: model.config,
                text,
            })
        }
        Format::HuggingFace => {
            let text = hf_text(&HfTokenizer::load(path)?, path)?;
            let (decoder, config) = load_hf_decoder(path, device)?;
            let vocab = text.tokenizer.vocab_size();
            if vocab > config.vocab_size {
                let msg = format!(
                    "{TOKENIZER_JSON} has {vocab} tokens but {CONFIG_FILE} says vocab_size {}",
                    config.vocab_size
                );
                return Err(Error::in_file(path, msg));
            }
            Ok(Pretrained {
                decoder,
                config,
                text,
            })
        }
    }
}

/// The decoder shape of the checkpoint at `path`, without loading its weights.
pub fn load_pretrained_shape(path: &Path) -> Result<DecoderConfig> {
    match format_of(path)? {
        Format::Gguf => crate::policy::gguf::llama_config(&GgufFile::open(path)?),
        Format::HuggingFace => crate::policy::hf::read_hf_config(&path.join(CONFIG_FILE)),
    }
}

/// The decoder saved at `path`: a Quill checkpoint directory (with `policy.json`) or a
/// pretrained checkpoint, evaluated as it is.
pub fn load_policy(path: &Path, device: &Device) -> Result<(Decoder, DecoderConfig)> {
    if path.join(POLICY_FILE).is_file() {
        return load_checkpoint(path, device);
    }
    let model = load_pretrained(path, device)?;
    Ok((model.decoder, model.config))
}

fn gguf_text(t: &GgufTokenizer, path: &Path) -> Result<PretrainedText> {
    let end = stop_token(t.eos_id, path)?;
    Ok(PretrainedText {
        tokenizer: PolicyTokenizer::pretrained(t.tokenizer.clone(), end, t.pad_id),
        chat: t.chat()?,
        chat_template: t.chat_template.clone().unwrap_or_default(),
        tokenizer_json: t.to_json()?,
    })
}

fn hf_text(t: &HfTokenizer, path: &Path) -> Result<PretrainedText> {
    let end = stop_token(t.eos_id, path)?;
    let json = t
        .tokenizer
        .to_string(false)
        .map_err(|e| Error::in_file(path, format!("serialising {TOKENIZER_JSON}: {e}")))?;
    Ok(PretrainedText {
        tokenizer: PolicyTokenizer::pretrained(t.tokenizer.clone(), end, None),
        chat: t.chat()?,
        chat_template: t.chat_template.clone().unwrap_or_default(),
        tokenizer_json: json,
    })
}

/// The EOS token ends the assistant's turn (`<|im_end|>` for SmolLM2 and Qwen2.5 Instruct):
/// sampling stops on it, so a checkpoint without one cannot be a policy.
fn stop_token(eos: Option<u32>, path: &Path) -> Result<u32> {
    eos.ok_or_else(|| {
        Error::in_file(
            path,
            "the tokenizer names no EOS token (tokenizer_config.json eos_token, or GGUF \
             tokenizer.ggml.eos_token_id): a policy needs it to end its list",
        )
    })
}
