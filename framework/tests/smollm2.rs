//! SmolLM2-135M-Instruct from its GGUF file (`scripts/fetch_smollm2.sh`): the file's layout,
//! the tokenizer rebuilt from its metadata, the chat template, and greedy completions.
//!
//! The expected token ids come from an independent byte-level BPE written in Python over the
//! same file's vocabulary and merges (the GPT-2 merge loop, with llama.cpp's `smollm`
//! pre-tokenizer: every digit alone, then the GPT-2 regex), not from the `tokenizers` crate.
//!
//! Without the model in `models/smollm2-135m-instruct` (or `$QUILL_SMOLLM2_DIR`) the tests
//! print `skipped`, unless `QUILL_REQUIRE_SMOLLM2=1`, which turns an absent model into a
//! failure.

use burn::tensor::Device;
use quill::policy::gguf::{
    GgufFile, GgufModel, GgufTokenizer, SMOLLM2_DIR, SMOLLM2_FILE, load_gguf_model, load_llama,
};
use quill::policy::{ChatMessage, Decoder, Generation, RopeLayout, SamplingConfig, generate};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

fn model_path() -> Option<PathBuf> {
    let dir = std::env::var_os("QUILL_SMOLLM2_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(SMOLLM2_DIR)
        });
    let path = dir.join(SMOLLM2_FILE);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("QUILL_REQUIRE_SMOLLM2").is_ok_and(|v| v == "1") {
        panic!(
            "QUILL_REQUIRE_SMOLLM2=1 but {} is missing: run scripts/fetch_smollm2.sh",
            path.display()
        );
    }
    eprintln!(
        "skipped: SmolLM2-135M-Instruct not at {} (run scripts/fetch_smollm2.sh)",
        path.display()
    );
    None
}

/// The model, loaded once for all tests of this binary.
fn model() -> Option<&'static GgufModel> {
    static MODEL: OnceLock<Option<GgufModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let path = model_path()?;
            let started = Instant::now();
            let model = load_gguf_model(&path, &Device::flex()).unwrap();
            eprintln!("loaded {} in {:.2?}", path.display(), started.elapsed());
            Some(model)
        })
        .as_ref()
}

fn greedy(model: &GgufModel, prompt: &[u32], max_new_tokens: usize) -> Vec<u32> {
    let sampler = SamplingConfig {
        temperature: 0.0,
        ..SamplingConfig::default()
    };
    let eos = model.tokenizer.eos_id.into_iter().collect::<Vec<_>>();
    let how = Generation {
        sampler: &sampler,
        max_new_tokens,
        stop_tokens: &eos,
        pad_id: model.tokenizer.pad_id.unwrap_or(0),
    };
    let out = generate(&model.decoder, &[prompt.to_vec()], &[0], &how).unwrap();
    out.into_iter().next().unwrap().tokens
}

#[test]
fn file_layout_and_decoder_shape() {
    let Some(path) = model_path() else { return };
    let file = GgufFile::open(&path).unwrap();
    assert_eq!((file.version(), file.alignment()), (3, 32));
    let mut types = BTreeMap::new();
    for t in file.tensors() {
        *types.entry(t.ggml_type.name).or_insert(0) += 1;
    }
    // Q4_1 projections (7 per block x 30), F32 norms (2 x 30 + 1), one Q8_0 tied embedding.
    let want = BTreeMap::from([("F32", 61), ("Q4_1", 210), ("Q8_0", 1)]);
    assert_eq!(types, want);
    assert_eq!(
        file.tensor("token_embd.weight").unwrap().ne,
        vec![576, 49152]
    );
    assert!(file.tensor("output.weight").is_none());

    let Some(model) = model() else { return };
    let c = &model.config;
    assert_eq!(
        (c.vocab_size, c.hidden_size, c.layers, c.heads, c.kv_heads),
        (49152, 576, 30, 9, 3)
    );
    assert_eq!((c.intermediate_size, c.max_positions), (1536, 2048));
    assert_eq!(
        (c.rope_theta, c.rope_layout),
        (100_000.0, RopeLayout::AdjacentPairs)
    );
    assert!((c.rms_eps - 1e-5).abs() < 1e-10);
    assert!(c.tie_embeddings && !c.qkv_bias);
    // SmolLM2-135M: 134.5M parameters.
    assert_eq!(c.param_count(), 134_515_008);
}

#[test]
fn truncated_copies_of_the_file_are_errors() {
    let Some(path) = model_path() else { return };
    let bytes = std::fs::read(&path).unwrap();
    let data_offset = GgufFile::parse(&path, bytes.clone()).unwrap().data_offset();
    // In the header, inside the vocabulary array, in the tensor infos' padding, in the data.
    for cut in [
        10,
        1_000_000,
        data_offset - 1,
        data_offset + 10,
        bytes.len() - 1,
    ] {
        let err = GgufFile::parse(&path, bytes[..cut].to_vec())
            .unwrap_err()
            .to_string();
        assert!(err.contains("SmolLM2-135M-Instruct.Q4_1.gguf: "), "{err}");
        assert!(err.contains("truncat"), "cut at {cut}: {err}");
    }
}

#[test]
fn tokenizer_ids_match_an_independent_bpe_and_round_trip() {
    let Some(model) = model() else { return };
    let t = &model.tokenizer;
    assert_eq!(
        (t.bos_id, t.eos_id, t.pad_id, t.add_bos),
        (Some(1), Some(2), Some(2), false)
    );
    assert_eq!(t.token_id("<|im_start|>"), Some(1));
    assert_eq!(t.token_id("ĠParis"), Some(7042));
    let cases: [(&str, &[u32]); 5] = [
        ("The capital of France is", &[504, 3575, 282, 4649, 314]),
        (" Paris", &[7042]),
        (
            "Hello, world! 12345 café 東京 🚀\n\tx  y",
            &[
                19556, 28, 905, 17, 216, 33, 34, 35, 36, 37, 37366, 17097, 247, 126, 16736, 122,
                15107, 244, 218, 198, 197, 104, 216, 329,
            ],
        ),
        (
            "don't you're 3.14159 <|im_end|>",
            &[
                12420, 982, 346, 2316, 216, 35, 30, 33, 36, 33, 37, 41, 216, 2,
            ],
        ),
        (
            "  leading and trailing spaces   ",
            &[216, 2899, 284, 35079, 5600, 333],
        ),
    ];
    for (text, ids) in cases {
        assert_eq!(t.encode(text).unwrap(), ids, "{text:?}");
        assert_eq!(t.decode(ids).unwrap(), text);
    }
    let text = "Zürich, 2024: naïve coöperation — ‘quotes’ &amp; <tags>\r\n    indented\ttab";
    let ids = t.encode(text).unwrap();
    assert_eq!(
        ids,
        [
            74, 7170, 5130, 28, 216, 34, 32, 34, 36, 42, 15486, 46494, 857, 7466, 456, 309, 1841,
            1551, 385, 2346, 417, 1456, 1613, 43, 2067, 15951, 46, 3136, 641, 6574, 197, 15999
        ]
    );
    assert_eq!(t.decode(&ids).unwrap(), text);
}

#[test]
fn chat_template_from_the_file_renders_chatml() {
    let Some(model) = model() else { return };
    let chat = model.tokenizer.chat().unwrap();
    let system = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
    let question = [ChatMessage::user("What is the capital of France?")];
    let text = chat.render(&question, true).unwrap();
    assert_eq!(
        text,
        format!(
            "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\nWhat is the capital of \
             France?<|im_end|>\n<|im_start|>assistant\n"
        )
    );
    let ids = model.tokenizer.encode(&text).unwrap();
    let want: &[u32] = &[
        1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411,
        407, 19712, 8182, 2, 198, 1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1,
        520, 9531, 198,
    ];
    assert_eq!(ids, want);

    // The instruct model answers through the template and stops on <|im_end|>.
    let answer = greedy(model, &ids, 24);
    let reply = model.tokenizer.decode(&answer).unwrap();
    eprintln!("chat reply: {reply:?}");
    assert!(reply.contains("Paris"), "{reply:?}");
}

#[test]
fn greedy_completion_of_the_capital_of_france_is_paris() {
    let Some(model) = model() else { return };
    // No BOS: SmolLM2's file says tokenizer.ggml.add_bos_token = false.
    let prompt = model.tokenizer.encode("The capital of France is").unwrap();
    assert_eq!(prompt, [504, 3575, 282, 4649, 314]);
    let completion = greedy(model, &prompt, 8);
    let text = model.tokenizer.decode(&completion).unwrap();
    eprintln!("completion: {text:?} {completion:?}");
    assert!(text.starts_with(" Paris"), "{text:?}");
}

/// Load time and greedy decoding speed (not a timed test: it prints, run it on purpose with
/// `cargo test -p quill --test smollm2 -- --ignored --nocapture`).
#[test]
#[ignore]
fn measure_load_and_greedy_tokens_per_second() {
    let Some(path) = model_path() else { return };
    let device = Device::flex();
    let t0 = Instant::now();
    let file = GgufFile::open(&path).unwrap();
    let t1 = Instant::now();
    let tokenizer = GgufTokenizer::from_gguf(&file).unwrap();
    let t2 = Instant::now();
    let (decoder, config) = load_llama(&file, &device).unwrap();
    let t3 = Instant::now();
    eprintln!(
        "load: read + parse {:.2?}, tokenizer {:.2?}, dequantise + build decoder {:.2?}, total \
         {:.2?}",
        t1 - t0,
        t2 - t1,
        t3 - t2,
        t3 - t0
    );
    drop(file);
    // The part of the build that is Decoder::new's seeded random initialisation, which the
    // loader overwrites (Decoder has no constructor without it).
    let t4 = Instant::now();
    drop(Decoder::new(&config, 0, &device));
    eprintln!("of which Decoder::new's random init ~{:.2?}", t4.elapsed());
    let model = GgufModel {
        decoder,
        config,
        tokenizer,
    };

    let prompt = model.tokenizer.encode("The capital of France is").unwrap();
    greedy(&model, &prompt, 4); // warm-up
    let new_tokens = 64;
    let sampler = SamplingConfig {
        temperature: 0.0,
        ..SamplingConfig::default()
    };
    let how = Generation {
        sampler: &sampler,
        max_new_tokens: new_tokens,
        stop_tokens: &[],
        pad_id: 0,
    };
    for batch in [1usize, 8] {
        let prompts = vec![prompt.clone(); batch];
        let seeds: Vec<u64> = (0..batch as u64).collect();
        let started = Instant::now();
        let out = generate(&model.decoder, &prompts, &seeds, &how).unwrap();
        let secs = started.elapsed().as_secs_f64();
        let tokens: usize = out.iter().map(|c| c.tokens.len()).sum();
        eprintln!(
            "batch {batch}: {tokens} tokens in {secs:.2} s = {:.1} tokens/s (prompt of {} \
             tokens, {new_tokens} new per row)",
            tokens as f64 / secs,
            prompt.len()
        );
    }
}

/// A checkpoint policy's prompt is what rendering the chat template and encoding the text at
/// once gives (as `apply_chat_template(..., tokenize=True)` does), though Quill encodes the
/// template's text and the signals apart (so that signal text cannot forge special tokens).
#[test]
fn a_policy_prompt_is_the_template_rendered_and_encoded_at_once() {
    use quill::data::{Signal, SignalKind};
    use quill::text::query_list::QueryListFormat;
    use quill::text::{ChatLayout, DEFAULT_INSTRUCTION, PromptBuilder};
    let Some(path) = model_path() else { return };
    let text = quill::policy::load_pretrained_text(&path).unwrap();
    let format = QueryListFormat::default();
    let layout =
        ChatLayout::new(&text.chat, DEFAULT_INSTRUCTION, &format, &text.tokenizer).unwrap();
    let instruction = layout.instruction.clone();
    let builder = PromptBuilder::chat(text.tokenizer.clone(), layout, 1000, format).unwrap();
    let signal = |kind, text: &str| Signal {
        user: "u".into(),
        timestamp: 0,
        kind,
        text: text.into(),
        url: None,
        domain: None,
        noise: None,
    };
    let history = [
        signal(SignalKind::Search, "riverton hawks"),
        signal(
            SignalKind::NewsClick,
            "Hawks win the playoff opener in Zürich",
        ),
        signal(SignalKind::Browse, "Cobalt X5 - Encyclopedia"),
    ];
    let content = "Recent activity, oldest first:\nsearch: riverton hawks\nnews click: Hawks win \
                   the playoff opener in Zürich\nbrowse: Cobalt X5 - Encyclopedia";
    let messages = [
        ChatMessage::system(&instruction),
        ChatMessage::user(content),
    ];
    let rendered = text.chat.render(&messages, true).unwrap();
    let model = model().expect("the model is present");
    assert_eq!(
        builder.build(&history).ids,
        model.tokenizer.encode(&rendered).unwrap()
    );
}
