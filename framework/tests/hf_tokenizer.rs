//! A Hugging Face checkpoint's tokenizer: `tokenizer.json` (+ `tokenizer_config.json`).
//!
//! The `tokenizer.json` here is one the `tokenizers` crate wrote for a BPE trained on a few
//! sentences (Quill's policy tokenizer), the format Hugging Face checkpoints ship.

use quill::policy::hf_tokenizer::{HfTokenizer, TOKENIZER_CONFIG, TOKENIZER_JSON};
use quill::text::PolicyTokenizer;
use std::path::PathBuf;

/// A scratch checkpoint directory with a tokenizer.json and, when given, a tokenizer_config.json.
fn checkpoint(name: &str, config: Option<serde_json::Value>) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quill-hf-tok-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let texts = [
        "The Riverton Hawks won the playoff game",
        "Sourdough starters need flour and water",
        "Maria Okafor signed a transfer to the Hawks",
    ];
    let tokenizer = PolicyTokenizer::train(texts.iter().copied().cycle().take(60), 300).unwrap();
    std::fs::write(dir.join(TOKENIZER_JSON), tokenizer.to_json().unwrap()).unwrap();
    if let Some(config) = config {
        std::fs::write(dir.join(TOKENIZER_CONFIG), config.to_string()).unwrap();
    }
    dir
}

#[test]
fn tokenizer_json_round_trips_text_and_finds_the_special_tokens() {
    let template = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
    let dir = checkpoint(
        "ok",
        Some(serde_json::json!({
            "bos_token": "<bos>",
            "eos_token": { "content": "<end>", "special": true },
            "chat_template": template,
        })),
    );
    let t = HfTokenizer::load(&dir).unwrap();
    let text = "Maria Okafor and the Hawks";
    let ids = t.encode(text).unwrap();
    assert!(!ids.is_empty());
    assert_eq!(t.decode(&ids).unwrap(), text);
    assert_eq!(t.bos_id, t.tokenizer.token_to_id("<bos>"));
    assert_eq!(t.eos_id, t.tokenizer.token_to_id("<end>"));
    assert!(t.bos_id.is_some() && t.eos_id.is_some() && t.bos_id != t.eos_id);
    assert!(t.vocab_size() > 256);
    assert!(t.chat().is_ok());

    // Without tokenizer_config.json: no special ids, no template, still a tokenizer.
    let bare_dir = checkpoint("bare", None);
    let bare = HfTokenizer::load(&bare_dir).unwrap();
    assert_eq!((bare.bos_id, bare.eos_id), (None, None));
    assert_eq!(bare.encode(text).unwrap(), ids);
    assert!(
        bare.chat()
            .unwrap_err()
            .to_string()
            .contains("chat_template")
    );
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(bare_dir).unwrap();
}

#[test]
fn bad_tokenizer_files_are_errors_naming_the_file_field_and_value() {
    let err_of = |name: &str, config: serde_json::Value| {
        let dir = checkpoint(name, Some(config));
        let err = HfTokenizer::load(&dir).unwrap_err().to_string();
        assert!(err.contains(TOKENIZER_CONFIG), "{err}");
        let _ = std::fs::remove_dir_all(dir);
        err
    };
    let err = err_of(
        "unknown",
        serde_json::json!({ "eos_token": "<|endoftext|>" }),
    );
    assert!(
        err.contains("eos_token") && err.contains("\"<|endoftext|>\""),
        "{err}"
    );
    let err = err_of("number", serde_json::json!({ "bos_token": 7 }));
    assert!(err.contains("bos_token is 7"), "{err}");
    let err = err_of(
        "list",
        serde_json::json!({ "chat_template": [{ "name": "default" }] }),
    );
    assert!(err.contains("chat_template"), "{err}");

    let dir = checkpoint("corrupt", None);
    std::fs::write(dir.join(TOKENIZER_JSON), "{ not json").unwrap();
    let err = HfTokenizer::load(&dir).unwrap_err().to_string();
    assert!(
        err.contains(&dir.join(TOKENIZER_JSON).display().to_string()),
        "{err}"
    );
    std::fs::remove_file(dir.join(TOKENIZER_JSON)).unwrap();
    let err = HfTokenizer::load(&dir).unwrap_err().to_string();
    assert!(err.contains("not found"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
