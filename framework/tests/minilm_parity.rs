//! Parity of Quill's Burn all-MiniLM-L6-v2 with sentence-transformers (PyTorch).
//!
//! `tests/fixtures/minilm_reference.json` was written by `scripts/minilm_reference.py` with
//! sentence-transformers 3.4.1 / torch 2.15 on CPU. The weights are fetched by
//! `scripts/fetch_minilm.sh` into `models/all-MiniLM-L6-v2` (or `$QUILL_MINILM_DIR`); without
//! them the parity tests print `skipped`, unless `QUILL_REQUIRE_MINILM=1` (CI sets it), which
//! turns an absent model into a failure so CI cannot pass by skipping.

use burn::tensor::Device;
use quill::retrieval::{Embedder, MINILM_DIR_ENV, MiniLm, cosine};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct Fixture {
    dim: usize,
    sentences: Vec<Sentence>,
    cosines: Vec<(usize, usize, f64)>,
}

#[derive(Deserialize)]
struct Sentence {
    text: String,
    token_count: usize,
    first_tokens: Vec<u32>,
    prefix: Vec<f64>,
}

/// Agreement in each coordinate of a unit vector. The reference ran in PyTorch's f32 with other
/// summation orders; observed differences are around 1e-6.
const COORD_TOL: f64 = 1e-4;
const COSINE_TOL: f64 = 1e-4;

fn model_dir() -> Option<PathBuf> {
    let dir = std::env::var_os(MINILM_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/all-MiniLM-L6-v2")
        });
    if dir.join("model.safetensors").is_file() {
        return Some(dir);
    }
    if std::env::var("QUILL_REQUIRE_MINILM").is_ok_and(|v| v == "1") {
        panic!(
            "QUILL_REQUIRE_MINILM=1 but {} has no model.safetensors: run scripts/fetch_minilm.sh",
            dir.display()
        );
    }
    eprintln!(
        "skipped: all-MiniLM-L6-v2 not in {} (run scripts/fetch_minilm.sh)",
        dir.display()
    );
    None
}

fn fixture() -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn embeddings_match_sentence_transformers() {
    let Some(dir) = model_dir() else { return };
    let fx = fixture();
    let model = MiniLm::load(&dir, &Device::flex()).unwrap();
    assert_eq!(model.dim(), fx.dim);

    for s in &fx.sentences {
        let ids = model.token_ids(&s.text).unwrap();
        assert_eq!(ids.len(), s.token_count, "token count of {:?}", s.text);
        assert_eq!(&ids[..s.first_tokens.len()], &s.first_tokens[..]);
    }

    // All sentences in one call: lengths 3 to 256 tokens share padded batches, so this also
    // checks that padding is masked out of attention and pooling.
    let texts: Vec<&str> = fx.sentences.iter().map(|s| s.text.as_str()).collect();
    let vectors = model.try_embed(&texts).unwrap();
    let mut worst = 0.0f64;
    for (s, v) in fx.sentences.iter().zip(&vectors) {
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm} for {:?}", s.text);
        for (k, (&got, &want)) in v.iter().zip(&s.prefix).enumerate() {
            let diff = (got as f64 - want).abs();
            worst = worst.max(diff);
            assert!(
                diff < COORD_TOL,
                "{:?} coordinate {k}: {got} vs reference {want}",
                s.text
            );
        }
    }
    eprintln!("largest coordinate difference from sentence-transformers: {worst:.2e}");
    for &(i, j, want) in &fx.cosines {
        let got = cosine(&vectors[i], &vectors[j]) as f64;
        assert!(
            (got - want).abs() < COSINE_TOL,
            "cosine({i},{j}) = {got}, reference {want}"
        );
    }

    // Alone or in a batch, a text embeds the same.
    for (text, batched) in texts.iter().zip(&vectors) {
        let alone = &model.embed(&[text])[0];
        let max_diff = alone
            .iter()
            .zip(batched)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_diff < 1e-5, "{text:?}: batched differs by {max_diff}");
    }
}

#[test]
fn a_truncated_checkpoint_is_a_clear_error() {
    let Some(dir) = model_dir() else { return };
    let tmp = std::env::temp_dir().join(format!("quill-minilm-bad-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for name in ["config.json", "tokenizer.json"] {
        std::fs::copy(dir.join(name), tmp.join(name)).unwrap();
    }
    let head = std::fs::read(dir.join("model.safetensors")).unwrap();
    std::fs::write(tmp.join("model.safetensors"), &head[..4096]).unwrap();
    let err = MiniLm::load(&tmp, &Device::flex())
        .err()
        .unwrap()
        .to_string();
    std::fs::remove_dir_all(&tmp).unwrap();
    eprintln!("{err}");
    assert!(err.contains("model.safetensors"), "{err}");
}

/// Runs without the weights: the checks made before any weight is read.
#[test]
fn missing_or_bad_model_files_are_named() {
    let tmp = std::env::temp_dir().join(format!("quill-minilm-files-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let load_err = || {
        MiniLm::load(&tmp, &Device::flex())
            .err()
            .expect("must fail")
            .to_string()
    };

    let err = load_err();
    assert!(
        err.contains("config.json is missing") && err.contains("scripts/fetch_minilm.sh"),
        "{err}"
    );

    std::fs::write(tmp.join("tokenizer.json"), "{}").unwrap();
    std::fs::write(tmp.join("model.safetensors"), "").unwrap();
    let config = r#"{"vocab_size": 8, "hidden_size": 6, "num_hidden_layers": 1,
        "num_attention_heads": 4, "intermediate_size": 8, "max_position_embeddings": 16,
        "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}"#;
    std::fs::write(tmp.join("config.json"), config).unwrap();
    let err = load_err();
    assert!(
        err.contains("config.json") && err.contains("not a multiple of num_attention_heads 4"),
        "{err}"
    );

    std::fs::write(
        tmp.join("config.json"),
        config.replace("\"gelu\"", "\"relu\""),
    )
    .unwrap();
    let err = load_err();
    assert!(
        err.contains("hidden_act \"relu\" is not supported"),
        "{err}"
    );

    std::fs::write(tmp.join("config.json"), config.replace("6,", "8,")).unwrap();
    let err = load_err();
    assert!(
        err.contains("tokenizer.json") && err.contains("unreadable tokenizer"),
        "{err}"
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// The `[retrieval]` path end to end: `embedder = "minilm"` with dense retrieval finds an
/// article from a paraphrase-free query (its own title) on a procedural corpus.
#[test]
fn dense_retrieval_over_minilm_finds_articles_by_title() {
    use quill::data::{DataConfig, world::World};
    use quill::retrieval::{EmbedderKind, RetrievalConfig, RetrieverKind};
    let Some(dir) = model_dir() else { return };
    let mut data = DataConfig::default();
    data.corpus.articles = 600;
    let world = World::build(&data, 7, Path::new(".")).unwrap();
    let cfg = RetrievalConfig {
        retriever: RetrieverKind::Dense,
        embedder: EmbedderKind::Minilm,
        minilm_dir: dir,
        ..RetrievalConfig::default()
    };
    let stack = cfg.build(&world.corpus, 7).unwrap();
    assert_eq!(stack.embedder.dim(), 384);
    assert_eq!(stack.article_vectors.len(), world.corpus.len());
    let items = world.corpus.items();
    let mut found = 0;
    for item in items.iter().step_by(20) {
        let hits = stack.retriever.search(&item.title, 10);
        found += usize::from(hits.iter().any(|h| items[h.article as usize].id == item.id));
    }
    let asked = items.len().div_ceil(20);
    // Procedural titles repeat story templates, so a title can tie with its siblings; most
    // must still come back in the top 10.
    assert!(found * 10 >= asked * 8, "found {found} of {asked}");
}

#[test]
fn minilm_config_names_a_missing_model_directory() {
    use quill::data::{DataConfig, world::World};
    use quill::retrieval::{EmbedderKind, RetrievalConfig};
    if std::env::var_os(MINILM_DIR_ENV).is_some() {
        return; // the override would replace the directory under test
    }
    let mut data = DataConfig::default();
    data.corpus.articles = 50;
    let world = World::build(&data, 7, Path::new(".")).unwrap();
    let cfg = RetrievalConfig {
        embedder: EmbedderKind::Minilm,
        minilm_dir: PathBuf::from("no/such/minilm"),
        ..RetrievalConfig::default()
    };
    let err = cfg.build(&world.corpus, 7).err().unwrap().to_string();
    assert!(
        err.contains("no/such/minilm") && err.contains("fetch_minilm.sh"),
        "{err}"
    );
}
