//! A Hugging Face checkpoint's tokenizer: `tokenizer.json` (+ `tokenizer_config.json`).
//!
//! The `tokenizer.json` here is one the `tokenizers` crate wrote for a BPE trained on a few
//! sentences (Quill's policy tokenizer), the format Hugging Face checkpoints ship.

use quill::policy::ChatMessage;
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
    let chat = t.chat().unwrap();
    let messages = [
        ChatMessage::system("Be brief."),
        ChatMessage::user("Hawks?"),
    ];
    assert_eq!(
        chat.render(&messages, true).unwrap(),
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHawks?<|im_end|>\n\
         <|im_start|>assistant\n"
    );

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

#[test]
fn the_chat_template_sees_the_special_tokens_and_reports_its_errors() {
    // The template writes BOS itself and closes assistant turns with EOS. As in `transformers`,
    // `trim_blocks` drops the newline after a block tag and `lstrip_blocks` the indentation
    // before one; the newline after a `{{ ... }}` stays.
    let template = "{{ bos_token }}\n\
                    {% for message in messages %}\n\
                    \x20 {% if message['role'] == 'user' %}\n\
                    U: {{ message['content'] }}\n\
                    \x20 {% else %}\n\
                    A: {{ message['content'] }}{{ eos_token }}\n\
                    \x20 {% endif %}\n\
                    {% endfor %}";
    let dir = checkpoint(
        "special",
        Some(serde_json::json!({
            "bos_token": "<bos>",
            "eos_token": "<end>",
            "chat_template": template,
        })),
    );
    let chat = HfTokenizer::load(&dir).unwrap().chat().unwrap();
    let messages = [ChatMessage::user("Hi"), ChatMessage::assistant("Hello")];
    assert_eq!(
        chat.render(&messages, false).unwrap(),
        "<bos>\nU: Hi\nA: Hello<end>\n"
    );
    std::fs::remove_dir_all(dir).unwrap();

    let dir = checkpoint(
        "syntax",
        Some(serde_json::json!({ "chat_template": "{% if messages %}unclosed" })),
    );
    let err = HfTokenizer::load(&dir)
        .unwrap()
        .chat()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "tokenizer_config.json: chat_template: the chat template does not compile: syntax error"
        ),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
