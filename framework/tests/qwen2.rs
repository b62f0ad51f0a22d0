//! Hugging Face Qwen2 checkpoints (config.json + model.safetensors, or sharded) in the Quill
//! decoder.
//!
//! The fixtures under `fixtures/qwen2-tiny*` are tiny random Qwen2 models written once by
//! `scripts/qwen2_reference.py` with Hugging Face `transformers` (float32, eager attention),
//! with the logits that implementation computes for two token sequences. The decoder must
//! reproduce every logit to 1e-4.

use burn::tensor::{Device, Int, Tensor, TensorData};
use quill::policy::hf::{SHARD_INDEX_FILE, load_hf_decoder, read_hf_config};
use quill::policy::{AttentionMask, RopeLayout};
use safetensors::SafeTensors;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct Expected {
    sequences: Vec<Sequence>,
}

#[derive(Deserialize)]
struct Sequence {
    tokens: Vec<i64>,
    logits: Vec<Vec<f32>>,
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// Loads the fixture `name`, runs both sequences and returns the largest logit difference.
fn max_logit_diff(name: &str) -> f32 {
    max_logit_diff_in(&fixture(name), name)
}

/// [`max_logit_diff`] of a checkpoint directory holding a fixture's `expected_logits.json`.
fn max_logit_diff_in(dir: &Path, name: &str) -> f32 {
    let device = Device::flex();
    let (decoder, config) = load_hf_decoder(dir, &device).unwrap();
    assert_eq!(config.rope_layout, RopeLayout::Halves);
    assert!(config.qkv_bias);
    let text = std::fs::read_to_string(dir.join("expected_logits.json")).unwrap();
    let expected: Expected = serde_json::from_str(&text).unwrap();
    assert_eq!(expected.sequences.len(), 2);
    let mut worst = 0f32;
    for seq in &expected.sequences {
        let s = seq.tokens.len();
        let tokens: Tensor<2, Int> =
            Tensor::from_data(TensorData::new(seq.tokens.clone(), [1, s]), &device);
        let logits = decoder.forward(tokens, &AttentionMask::causal(1, s, &device), None);
        assert_eq!(logits.dims(), [1, s, config.vocab_size]);
        let got = logits.into_data().try_to_vec::<f32>().unwrap();
        let want: Vec<f32> = seq.logits.iter().flatten().copied().collect();
        assert_eq!(got.len(), want.len());
        let diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!("{name}: {s} tokens, max |logit difference| {diff:.3e}");
        worst = worst.max(diff);
    }
    worst
}

#[test]
fn qwen2_tiny_matches_transformers_logits() {
    let diff = max_logit_diff("qwen2-tiny");
    assert!(diff <= 1e-4, "max logit difference {diff}");
}

#[test]
fn qwen2_tiny_tied_matches_transformers_logits() {
    let cfg = read_hf_config(&fixture("qwen2-tiny-tied").join("config.json")).unwrap();
    assert!(cfg.tie_embeddings);
    let diff = max_logit_diff("qwen2-tiny-tied");
    assert!(diff <= 1e-4, "max logit difference {diff}");
}

/// A scratch copy of the fixture directory whose config.json is edited by `edit`.
fn scratch(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quill-qwen2-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = fixture("qwen2-tiny");
    std::fs::copy(src.join("model.safetensors"), dir.join("model.safetensors")).unwrap();
    let text = std::fs::read_to_string(src.join("config.json")).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut config);
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    dir
}

#[test]
fn bad_checkpoints_are_errors_naming_the_file() {
    let device = Device::flex();
    let err_of = |dir: &Path| {
        let err = load_hf_decoder(dir, &device).unwrap_err().to_string();
        eprintln!("{err}");
        err
    };

    let dir = scratch("gpt2", |c| c["model_type"] = "gpt2".into());
    let err = err_of(&dir);
    let config = dir.join("config.json").display().to_string();
    assert!(
        err.contains(&config) && err.contains("\"gpt2\"") && err.contains("\"qwen2\""),
        "{err}"
    );

    let dir = scratch("foreign", |c| {
        c.as_object_mut().unwrap().remove("model_type");
    });
    let err = err_of(&dir);
    assert!(
        err.contains("config.json") && err.contains("model_type"),
        "{err}"
    );

    let dir = scratch("layers", |c| c["num_hidden_layers"] = 3.into());
    let err = err_of(&dir);
    let weights = dir.join("model.safetensors").display().to_string();
    assert!(
        err.contains(&weights) && err.contains("blocks.2.attention.q_proj.weight"),
        "{err}"
    );

    let dir = scratch("width", |c| c["intermediate_size"] = 48.into());
    let err = err_of(&dir);
    assert!(
        err.contains(&weights.replace("layers", "width")) && err.contains("gate_proj"),
        "{err}"
    );

    let dir = scratch("tied", |c| c["tie_word_embeddings"] = true.into());
    // Tied: the file's lm_head.weight is ignored, the model loads (with other logits).
    load_hf_decoder(&dir, &device).unwrap();

    let dir = scratch("nofile", |_| {});
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    let err = err_of(&dir);
    assert!(
        err.contains(&dir.join("model.safetensors").display().to_string()),
        "{err}"
    );
    std::fs::remove_file(dir.join("config.json")).unwrap();
    let err = err_of(&dir);
    assert!(
        err.contains(&dir.join("config.json").display().to_string()),
        "{err}"
    );

    for name in ["gpt2", "foreign", "layers", "width", "tied", "nofile"] {
        let dir = std::env::temp_dir().join(format!("quill-qwen2-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The qwen2-tiny fixture as two shards and an index (embeddings and layer 0 in the first),
/// without the tensor `drop`, and with the index edited by `edit`.
fn sharded(name: &str, drop: Option<&str>, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("quill-qwen2-shards-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let src = fixture("qwen2-tiny");
    for file in ["config.json", "expected_logits.json"] {
        std::fs::copy(src.join(file), dir.join(file)).unwrap();
    }
    let bytes = std::fs::read(src.join("model.safetensors")).unwrap();
    let single = SafeTensors::deserialize(&bytes).unwrap();
    let files = [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ];
    let mut shards = [Vec::new(), Vec::new()];
    let mut weight_map = serde_json::Map::new();
    for (key, view) in single.tensors() {
        if Some(key.as_str()) == drop {
            continue;
        }
        let first = key.starts_with("model.embed_tokens.") || key.starts_with("model.layers.0.");
        let shard = usize::from(!first);
        weight_map.insert(key.clone(), files[shard].into());
        shards[shard].push((key, view));
    }
    for (file, tensors) in files.iter().zip(shards) {
        let data = safetensors::serialize(tensors, None).unwrap();
        std::fs::write(dir.join(file), data).unwrap();
    }
    let mut index = serde_json::json!({ "metadata": {}, "weight_map": weight_map });
    edit(&mut index);
    std::fs::write(dir.join(SHARD_INDEX_FILE), index.to_string()).unwrap();
    dir
}

#[test]
fn a_sharded_checkpoint_loads_to_the_same_logits() {
    let dir = sharded("ok", None, |_| {});
    assert!(!dir.join("model.safetensors").exists());
    let diff = max_logit_diff_in(&dir, "qwen2-tiny sharded");
    assert!(diff <= 1e-4, "max logit difference {diff}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_shard_indexes_are_errors_naming_the_file_and_value() {
    let device = Device::flex();
    let err_of = |dir: &Path| {
        let err = load_hf_decoder(dir, &device).unwrap_err().to_string();
        eprintln!("{err}");
        err
    };

    // A parameter no shard has: named, with the index's path.
    let dir = sharded("missing", Some("model.norm.weight"), |_| {});
    let err = err_of(&dir);
    let index = dir.join(SHARD_INDEX_FILE).display().to_string();
    assert!(err.contains(&index) && err.contains("norm.gamma"), "{err}");

    // A listed shard that is not there.
    let dir = sharded("absent", None, |_| {});
    std::fs::remove_file(dir.join("model-00002-of-00002.safetensors")).unwrap();
    let err = err_of(&dir);
    let path = dir.join("model-00002-of-00002.safetensors");
    assert!(
        err.contains(&path.display().to_string()) && err.contains("not found"),
        "{err}"
    );

    // An index pointing outside its directory.
    let dir = sharded("escape", None, |index| {
        index["weight_map"]["model.norm.weight"] = "../elsewhere.safetensors".into();
    });
    let err = err_of(&dir);
    assert!(
        err.contains(SHARD_INDEX_FILE) && err.contains("\"../elsewhere.safetensors\""),
        "{err}"
    );

    // Not an index at all.
    let dir = sharded("garbage", None, |index| *index = serde_json::json!([1, 2]));
    let err = err_of(&dir);
    assert!(
        err.contains(SHARD_INDEX_FILE) && err.contains("weight_map"),
        "{err}"
    );

    // Neither a single file nor an index.
    std::fs::remove_file(dir.join(SHARD_INDEX_FILE)).unwrap();
    let err = err_of(&dir);
    assert!(
        err.contains("model.safetensors") && err.contains(SHARD_INDEX_FILE),
        "{err}"
    );

    for name in ["missing", "absent", "escape", "garbage"] {
        let dir =
            std::env::temp_dir().join(format!("quill-qwen2-shards-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The exporter writes what the loader (and so `transformers`) reads: a fixture loaded,
/// exported and loaded again still gives `transformers`' logits, and its config.json keeps
/// every shape field.
#[test]
fn an_exported_checkpoint_reloads_to_transformers_logits() {
    use quill::policy::hf_export::save_hf_checkpoint;
    for name in ["qwen2-tiny", "qwen2-tiny-tied"] {
        let src = fixture(name);
        let (decoder, config) = load_hf_decoder(&src, &Device::flex()).unwrap();
        let out = std::env::temp_dir().join(format!("quill-export-{name}-{}", std::process::id()));
        save_hf_checkpoint(&out, &decoder, &config, None).unwrap();
        std::fs::copy(
            src.join("expected_logits.json"),
            out.join("expected_logits.json"),
        )
        .unwrap();
        assert_eq!(read_hf_config(&out.join("config.json")).unwrap(), config);
        let diff = max_logit_diff_in(&out, name);
        assert!(diff < 1e-4, "{name}: exported logits differ by {diff}");
        std::fs::remove_dir_all(&out).unwrap();
    }
}
