//! The tokenizer of a Hugging Face checkpoint directory: `tokenizer.json`, read by the
//! `tokenizers` crate (the format is that crate's own), and, when present,
//! `tokenizer_config.json` for the BOS/EOS tokens and the chat template.

use crate::bounded_read::{JSON_BYTES, read_text_bounded};
use crate::error::{Error, Result};
use crate::policy::ChatTemplate;
use serde_json::Value;
use std::path::Path;
use tokenizers::Tokenizer;

/// The tokenizer file of a Hugging Face checkpoint directory.
pub const TOKENIZER_JSON: &str = "tokenizer.json";
/// The optional tokenizer settings of a Hugging Face checkpoint directory.
pub const TOKENIZER_CONFIG: &str = "tokenizer_config.json";

/// A Hugging Face checkpoint's tokenizer with its special ids and chat template.
#[derive(Debug, Clone)]
pub struct HfTokenizer {
    pub tokenizer: Tokenizer,
    pub bos_id: Option<u32>,
    pub eos_id: Option<u32>,
    /// `chat_template` of `tokenizer_config.json`, when present (Jinja source).
    pub chat_template: Option<String>,
}

impl HfTokenizer {
    /// Reads `dir/tokenizer.json` and, when present, `dir/tokenizer_config.json`.
    pub fn load(dir: &Path) -> Result<HfTokenizer> {
        let path = dir.join(TOKENIZER_JSON);
        if !path.is_file() {
            return Err(Error::in_file(&path, "not found"));
        }
        let tokenizer = Tokenizer::from_file(&path)
            .map_err(|e| Error::in_file(&path, format!("not a tokenizers tokenizer.json: {e}")))?;
        let mut out = HfTokenizer {
            tokenizer,
            bos_id: None,
            eos_id: None,
            chat_template: None,
        };
        let config = dir.join(TOKENIZER_CONFIG);
        if config.is_file() {
            out.read_config(&config)?;
        }
        Ok(out)
    }

    fn read_config(&mut self, path: &Path) -> Result<()> {
        let text = read_text_bounded(path, JSON_BYTES, "a tokenizer config")?;
        let json: Value = serde_json::from_str(&text)
            .map_err(|e| Error::in_file(path, format!("not JSON: {e}")))?;
        self.bos_id = self.special(path, &json, "bos_token")?;
        self.eos_id = self.special(path, &json, "eos_token")?;
        self.chat_template = match json.get("chat_template") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(other) => {
                let msg = format!(
                    "chat_template is {other}: Quill reads a single template string (not a list of named templates)"
                );
                return Err(Error::in_file(path, msg));
            }
        };
        Ok(())
    }

    /// The id of a special token given as `"<|im_end|>"` or `{"content": "<|im_end|>", ...}`;
    /// `null` or absent is none.
    fn special(&self, path: &Path, json: &Value, field: &str) -> Result<Option<u32>> {
        let token = match json.get(field) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(t)) => t.as_str(),
            Some(Value::Object(o)) => match o.get("content") {
                Some(Value::String(t)) => t.as_str(),
                _ => {
                    let msg = format!("{field} is an object without a \"content\" string");
                    return Err(Error::in_file(path, msg));
                }
            },
            Some(other) => {
                let msg = format!("{field} is {other}: expected a token string or null");
                return Err(Error::in_file(path, msg));
            }
        };
        match self.tokenizer.token_to_id(token) {
            Some(id) => Ok(Some(id)),
            None => {
                let msg = format!("{field} {token:?} is not in the vocabulary of {TOKENIZER_JSON}");
                Err(Error::in_file(path, msg))
            }
        }
    }

    /// Token ids of `text` as `transformers` encodes it by default (the tokenizer's
    /// post-processor adds its special tokens, if it has any; Qwen2.5's adds none).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self.tokenizer.encode(text, true).map_err(|e| {
            Error::model("Hugging Face tokenizer", format!("encoding {text:?}: {e}"))
        })?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The text of `ids`, special tokens included.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer
            .decode(ids, false)
            .map_err(|e| Error::model("Hugging Face tokenizer", format!("decoding {ids:?}: {e}")))
    }

    /// Tokens, added ones included.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// The chat template, compiled with the texts of the BOS and EOS tokens; an error when there
    /// is none or it does not compile. Any Jinja template renders, Qwen2.5's tool-aware one
    /// included (see [`ChatTemplate`]).
    pub fn chat(&self) -> Result<ChatTemplate> {
        let template = self.chat_template.as_deref().ok_or_else(|| {
            Error::model(
                "Hugging Face tokenizer",
                "tokenizer_config.json has no chat_template",
            )
        })?;
        let origin = format!("{TOKENIZER_CONFIG}: chat_template");
        ChatTemplate::for_tokenizer(origin, template, &self.tokenizer, self.bos_id, self.eos_id)
    }
}
