//! The tokenizer stored in a GGUF file's metadata, rebuilt with the `tokenizers` crate, and its
//! chat template (rendered by [`ChatTemplate`]).
//!
//! `tokenizer.ggml.model = "gpt2"` is byte-level BPE: `tokenizer.ggml.tokens` (id order, in
//! GPT-2's byte-to-unicode alphabet), `tokenizer.ggml.merges` ("a b", rank order) and
//! `tokenizer.ggml.token_type` (1 normal, 3 control, 4 user-defined, ...). The pre-tokenizer is
//! not stored, only named by `tokenizer.ggml.pre`; the ones built here mirror llama.cpp's
//! `llama-vocab.cpp`:
//!
//! - `smollm` (and `starcoder`, `refact`, `codeshell`, `command-r`, `exaone`, `minerva`, which
//!   share it): every digit alone (`\p{N}`), then the GPT-2 regex — the Hugging Face tokenizer's
//!   `Digits(individual_digits) + ByteLevel`;
//! - `gpt-2` / `default` / absent: the GPT-2 regex alone.
//!
//! Other pre-tokenizers (llama3, qwen2, ...) split differently and are refused rather than
//! approximated. Control tokens become special added tokens, user-defined ones plain added
//! tokens, so `<|im_start|>` in text is one id.

use super::reader::GgufFile;
use crate::error::{Error, Result};
use crate::policy::ChatTemplate;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper, Tokenizer};

/// llama.cpp's token types (`tokenizer.ggml.token_type`).
const TOKEN_CONTROL: i64 = 3;
const TOKEN_USER_DEFINED: i64 = 4;

/// Pre-tokenizers that split every digit off before the GPT-2 regex.
const DIGIT_SPLITTING_PRE: [&str; 7] = [
    "smollm",
    "starcoder",
    "refact",
    "codeshell",
    "command-r",
    "exaone",
    "minerva",
];
const GPT2_PRE: [&str; 2] = ["gpt-2", "default"];

/// A GGUF model's tokenizer with its special ids and chat template.
#[derive(Debug, Clone)]
pub struct GgufTokenizer {
    pub tokenizer: Tokenizer,
    pub bos_id: Option<u32>,
    pub eos_id: Option<u32>,
    pub pad_id: Option<u32>,
    /// Whether the model expects BOS before every sequence (`tokenizer.ggml.add_bos_token`;
    /// llama.cpp's default for BPE vocabularies is false).
    pub add_bos: bool,
    /// `tokenizer.chat_template`, when present (Jinja source).
    pub chat_template: Option<String>,
    vocab_size: usize,
}

impl GgufTokenizer {
    /// Builds the tokenizer from `file`'s metadata.
    pub fn from_gguf(file: &GgufFile) -> Result<GgufTokenizer> {
        let fail = |msg: String| Error::in_file(file.path(), msg);
        let model = file.require_str("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(fail(format!(
                "tokenizer.ggml.model is {model:?}: only \"gpt2\" (byte-level BPE) is supported"
            )));
        }
        let pre = match file.get("tokenizer.ggml.pre") {
            None => "default",
            Some(_) => file.require_str("tokenizer.ggml.pre")?,
        };
        let pre_tokenizer = pre_tokenizer(pre).ok_or_else(|| {
            let known: Vec<&str> = DIGIT_SPLITTING_PRE
                .iter()
                .chain(&GPT2_PRE)
                .copied()
                .collect();
            fail(format!(
                "tokenizer.ggml.pre is {pre:?}: supported pre-tokenizers are {}",
                known.join(", ")
            ))
        })?;

        let tokens = strings(file, "tokenizer.ggml.tokens")?;
        if tokens.is_empty() {
            return Err(fail("tokenizer.ggml.tokens is empty".into()));
        }
        let mut vocab = Vocab::default();
        for (id, token) in tokens.iter().enumerate() {
            if vocab.insert(token.to_string(), id as u32).is_some() {
                return Err(fail(format!(
                    "tokenizer.ggml.tokens has {token:?} twice (again at id {id})"
                )));
            }
        }
        let merges = strings(file, "tokenizer.ggml.merges")?
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                // Byte-level symbols never contain a space, so the first space after the first
                // character separates the pair (a merge may start with a space symbol only in
                // non-byte-level vocabularies).
                m.char_indices()
                    .skip(1)
                    .find(|&(_, c)| c == ' ')
                    .map(|(at, _)| (m[..at].to_string(), m[at + 1..].to_string()))
                    .ok_or_else(|| {
                        fail(format!(
                            "tokenizer.ggml.merges[{i}] is {m:?}: expected \"a b\""
                        ))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| fail(format!("building the BPE from tokens and merges: {e}")))?;

        let mut tokenizer = Tokenizer::new(bpe);
        tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
        tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
        let (special, user_defined) = added_tokens(file, &tokens)?;
        tokenizer.add_special_tokens(&special);
        tokenizer.add_tokens(&user_defined);

        let id = |key: &str| -> Result<Option<u32>> {
            match file.get(key) {
                None => Ok(None),
                Some(_) => {
                    let id = file.require_u64(key)?;
                    if id as usize >= tokens.len() {
                        return Err(fail(format!(
                            "{key} is {id}: valid ids are 0 ..= {}",
                            tokens.len() - 1
                        )));
                    }
                    Ok(Some(id as u32))
                }
            }
        };
        let add_bos = match file.get("tokenizer.ggml.add_bos_token") {
            None => false,
            Some(v) => v.as_bool().ok_or_else(|| {
                fail(format!(
                    "tokenizer.ggml.add_bos_token is a {}, expected a bool",
                    v.type_name()
                ))
            })?,
        };
        let chat_template = match file.get("tokenizer.chat_template") {
            None => None,
            Some(_) => Some(file.require_str("tokenizer.chat_template")?.to_string()),
        };
        Ok(GgufTokenizer {
            tokenizer,
            bos_id: id("tokenizer.ggml.bos_token_id")?,
            eos_id: id("tokenizer.ggml.eos_token_id")?,
            pad_id: id("tokenizer.ggml.padding_token_id")?,
            add_bos,
            chat_template,
            vocab_size: tokens.len(),
        })
    }

    /// Token ids of `text`, special-token strings (`<|im_end|>`) recognised, with BOS in front
    /// when the model asks for it (`add_bos`).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| Error::model("GGUF tokenizer", format!("encoding {text:?}: {e}")))?;
        let bos = self.bos_id.filter(|_| self.add_bos);
        Ok(bos
            .into_iter()
            .chain(encoding.get_ids().iter().copied())
            .collect())
    }

    /// The text of `ids`, special tokens included.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer
            .decode(ids, false)
            .map_err(|e| Error::model("GGUF tokenizer", format!("decoding {ids:?}: {e}")))
    }

    /// The id of a token string (`"<|im_end|>"`, `"ĠParis"`).
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.tokenizer.token_to_id(token)
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The tokenizer as Hugging Face `tokenizer.json` (for checkpoints).
    pub fn to_json(&self) -> Result<String> {
        self.tokenizer
            .to_string(false)
            .map_err(|e| Error::model("GGUF tokenizer", format!("serialising: {e}")))
    }

    /// The model's chat template, compiled with the texts of its BOS and EOS tokens; an error
    /// when the file has none or it does not compile.
    pub fn chat(&self) -> Result<ChatTemplate> {
        let origin = "GGUF tokenizer.chat_template";
        let template = self.chat_template.as_deref().ok_or_else(|| {
            Error::model("GGUF tokenizer", "the file has no tokenizer.chat_template")
        })?;
        ChatTemplate::for_tokenizer(origin, template, &self.tokenizer, self.bos_id, self.eos_id)
    }
}

fn pre_tokenizer(name: &str) -> Option<PreTokenizerWrapper> {
    let byte_level = ByteLevel::new(false, true, true);
    if DIGIT_SPLITTING_PRE.contains(&name) {
        Some(Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into())
    } else if GPT2_PRE.contains(&name) {
        Some(byte_level.into())
    } else {
        None
    }
}

fn strings<'a>(file: &'a GgufFile, key: &str) -> Result<Vec<&'a str>> {
    file.require_array(key)?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str().ok_or_else(|| {
                let msg = format!("{key}[{i}] is a {}, expected a string", v.type_name());
                Error::in_file(file.path(), msg)
            })
        })
        .collect()
}

/// (special, user-defined) added tokens from `tokenizer.ggml.token_type`.
fn added_tokens(file: &GgufFile, tokens: &[&str]) -> Result<(Vec<AddedToken>, Vec<AddedToken>)> {
    let key = "tokenizer.ggml.token_type";
    let (mut special, mut user_defined) = (Vec::new(), Vec::new());
    if file.get(key).is_none() {
        return Ok((special, user_defined));
    }
    let types = file.require_array(key)?;
    if types.len() != tokens.len() {
        let msg = format!(
            "{key} has {} entries for {} tokens",
            types.len(),
            tokens.len()
        );
        return Err(Error::in_file(file.path(), msg));
    }
    for (i, (ty, token)) in types.iter().zip(tokens).enumerate() {
        match ty.as_i64() {
            Some(TOKEN_CONTROL) => special.push(AddedToken::from(token.to_string(), true)),
            Some(TOKEN_USER_DEFINED) => {
                user_defined.push(AddedToken::from(token.to_string(), false))
            }
            Some(_) => {}
            None => {
                let msg = format!("{key}[{i}] is a {}, expected an integer", ty.type_name());
                return Err(Error::in_file(file.path(), msg));
            }
        }
    }
    Ok((special, user_defined))
}

#[cfg(test)]
mod tests {
    use super::super::test_file::{Builder, put_str};
    use super::*;
    use std::path::Path;

    fn string_array(items: &[&str]) -> Vec<u8> {
        let mut v = 8u32.to_le_bytes().to_vec();
        v.extend((items.len() as u64).to_le_bytes());
        for s in items {
            put_str(&mut v, s);
        }
        v
    }

    fn int_array(items: &[i32]) -> Vec<u8> {
        let mut v = 5u32.to_le_bytes().to_vec();
        v.extend((items.len() as u64).to_le_bytes());
        for i in items {
            v.extend(i.to_le_bytes());
        }
        v
    }

    /// A vocabulary of the bytes "a", "b", "Ġ", "1", "2", the merges a+b and Ġ+ab, and a
    /// control token.
    fn tiny(pre: &str) -> GgufFile {
        let tokens = ["<|end|>", "a", "b", "Ġ", "1", "2", "ab", "Ġab"];
        let bytes = Builder::new()
            .kv_str("tokenizer.ggml.model", "gpt2")
            .kv_str("tokenizer.ggml.pre", pre)
            .kv("tokenizer.ggml.tokens", 9, &string_array(&tokens))
            .kv("tokenizer.ggml.merges", 9, &string_array(&["a b", "Ġ ab"]))
            .kv(
                "tokenizer.ggml.token_type",
                9,
                &int_array(&[3, 1, 1, 1, 1, 1, 1, 1]),
            )
            .kv_u32("tokenizer.ggml.eos_token_id", 0)
            .build();
        GgufFile::parse(Path::new("t.gguf"), bytes).unwrap()
    }

    #[test]
    fn builds_byte_level_bpe_with_special_tokens() {
        let t = GgufTokenizer::from_gguf(&tiny("smollm")).unwrap();
        assert_eq!(t.encode("ab ab<|end|>").unwrap(), vec![6, 7, 0]);
        assert_eq!(t.decode(&[6, 7, 0]).unwrap(), "ab ab<|end|>");
        // Digits are split one by one before BPE (a "12" token could never be used).
        assert_eq!(t.encode("12").unwrap(), vec![4, 5]);
        assert_eq!((t.eos_id, t.bos_id, t.add_bos), (Some(0), None, false));
        assert!(t.to_json().unwrap().contains("\"Ġab\""));
    }

    #[test]
    fn unsupported_tokenizers_are_errors() {
        let err = GgufTokenizer::from_gguf(&tiny("llama-bpe"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("tokenizer.ggml.pre is \"llama-bpe\""), "{err}");
        let bytes = Builder::new()
            .kv_str("tokenizer.ggml.model", "llama")
            .build();
        let f = GgufFile::parse(Path::new("t.gguf"), bytes).unwrap();
        let err = GgufTokenizer::from_gguf(&f).unwrap_err().to_string();
        assert!(
            err.starts_with("t.gguf: tokenizer.ggml.model is \"llama\""),
            "{err}"
        );
    }
}
