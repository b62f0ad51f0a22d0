//! LoRA adapters: a fresh one is a no-op, merged weights compute what base + adapter compute,
//! only adapters learn, and PEFT's files round-trip.
//!
//! `fixtures/llama-tiny-lora` is a tiny random Llama with a PEFT adapter (rank 4, alpha 8, all
//! seven projections of block 1), written once by `scripts/peft_reference.py` with PEFT, with
//! the logits PEFT computes with the adapter and after `merge_and_unload()`.

use burn::module::Param;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use quill::policy::hf::load_hf_decoder;
use quill::policy::hf_export::save_hf_checkpoint;
use quill::policy::peft::{
    ADAPTER_CONFIG, ADAPTER_WEIGHTS, load_peft_adapter, read_adapter_config, save_peft_adapter,
};
use quill::policy::{
    AttentionMask, Decoder, DecoderConfig, LoraSpec, Projection, RopeLayout, find_preset,
};
use safetensors::SafeTensors;
use serde::Deserialize;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llama-tiny-lora")
}

const SEQUENCES: [&[i64]; 2] = [
    &[1, 17, 42, 5, 88, 63, 0],
    &[95, 3, 3, 60, 12, 77, 41, 8, 29, 50, 71, 2],
];

fn logits(decoder: &Decoder, tokens: &[i64]) -> Vec<f32> {
    let device = decoder.embed_tokens.weight.device();
    let s = tokens.len();
    let t: Tensor<2, Int> = Tensor::from_data(TensorData::new(tokens.to_vec(), [1, s]), &device);
    let out = decoder.forward(t, &AttentionMask::causal(1, s, &device), None);
    out.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn spec(targets: &[Projection], blocks: Vec<usize>) -> LoraSpec {
    LoraSpec {
        rank: 3,
        alpha: 6.0,
        targets: targets.to_vec(),
        blocks,
    }
}

/// `decoder`'s adapters with every `up` drawn at random, so that they change the output.
fn perturbed(mut decoder: Decoder) -> Decoder {
    let normal = Distribution::Normal(0.0, 0.3);
    for block in decoder.adapters.iter_mut() {
        let slots = [
            &mut block.q_proj,
            &mut block.k_proj,
            &mut block.v_proj,
            &mut block.o_proj,
            &mut block.gate_proj,
            &mut block.up_proj,
            &mut block.down_proj,
        ];
        for a in slots.into_iter().flatten() {
            let up = a.up.val();
            a.up = Param::from_tensor(Tensor::random(up.dims(), normal, &up.device()));
        }
    }
    decoder
}

fn micro() -> DecoderConfig {
    find_preset("nano").unwrap().with_vocab(64)
}

#[test]
fn a_fresh_adapter_leaves_the_logits_unchanged() {
    let cfg = micro();
    let base = Decoder::new(&cfg, 3, &Device::flex());
    let adapted = base
        .clone()
        .with_lora(&spec(&Projection::ALL, vec![]), &cfg, 1)
        .unwrap();
    assert!(adapted.has_adapters());
    for tokens in SEQUENCES {
        let tokens: Vec<i64> = tokens.iter().map(|t| t % 64).collect();
        assert_eq!(logits(&base, &tokens), logits(&adapted, &tokens));
    }
}

#[test]
fn merged_weights_give_the_adapted_logits() {
    let cfg = micro();
    let base = Decoder::new(&cfg, 3, &Device::flex());
    let targets = [Projection::Q, Projection::V, Projection::Down];
    let adapted = perturbed(
        base.clone()
            .with_lora(&spec(&targets, vec![1]), &cfg, 1)
            .unwrap(),
    );
    let merged = adapted.merged();
    assert!(!merged.has_adapters());
    let tokens: Vec<i64> = SEQUENCES[1].iter().map(|t| t % 64).collect();
    let (a, m, b) = (
        logits(&adapted, &tokens),
        logits(&merged, &tokens),
        logits(&base, &tokens),
    );
    assert!(
        max_diff(&a, &m) < 1e-5,
        "merged vs adapted: {}",
        max_diff(&a, &m)
    );
    assert!(
        max_diff(&a, &b) > 1e-3,
        "the perturbed adapter must change the logits"
    );
}

#[test]
fn only_the_adapters_receive_gradients() {
    let cfg = micro();
    let device = Device::flex().autodiff();
    let targets = [Projection::K, Projection::Up];
    let decoder = Decoder::new(&cfg, 3, &device)
        .with_lora(&spec(&targets, vec![0]), &cfg, 1)
        .unwrap();
    let decoder = perturbed(decoder);
    let tokens: Tensor<2, Int> =
        Tensor::from_data(TensorData::new(vec![1i64, 5, 9, 2], [1, 4]), &device);
    let out = decoder.forward(tokens, &AttentionMask::causal(1, 4, &device), None);
    let grads = out.powi_scalar(2).sum().backward();
    let adapters = &decoder.adapters[0];
    for a in [adapters.k_proj.as_ref(), adapters.up_proj.as_ref()] {
        let a = a.unwrap();
        assert!(a.down.val().grad(&grads).is_some(), "adapter down learns");
        assert!(a.up.val().grad(&grads).is_some(), "adapter up learns");
    }
    assert!(
        decoder.adapters[1].k_proj.is_none(),
        "block 1 is not adapted"
    );
    let block = &decoder.blocks[0];
    assert!(block.attention.k_proj.weight.val().grad(&grads).is_none());
    assert!(block.mlp.up_proj.weight.val().grad(&grads).is_none());
    assert!(decoder.embed_tokens.weight.val().grad(&grads).is_none());
}

#[derive(Deserialize)]
struct Expected {
    adapted: Vec<Sequence>,
    merged: Vec<Sequence>,
}

#[derive(Deserialize)]
struct Sequence {
    tokens: Vec<i64>,
    logits: Vec<Vec<f32>>,
}

#[test]
fn a_peft_adapter_loads_and_matches_peft_with_and_without_merging() {
    let dir = fixture();
    let device = Device::flex();
    let (base, cfg) = load_hf_decoder(&dir, &device).unwrap();
    let adapted = load_peft_adapter(&dir.join("adapter"), base.clone(), &cfg).unwrap();
    let merged = adapted.merged();
    let text = std::fs::read_to_string(dir.join("expected_logits.json")).unwrap();
    let expected: Expected = serde_json::from_str(&text).unwrap();
    for (model, want) in [(&adapted, &expected.adapted), (&merged, &expected.merged)] {
        for seq in want {
            let want: Vec<f32> = seq.logits.iter().flatten().copied().collect();
            let got = logits(model, &seq.tokens);
            assert!(
                max_diff(&got, &want) < 1e-4,
                "vs PEFT: {}",
                max_diff(&got, &want)
            );
        }
    }
    let plain = logits(&base, &expected.adapted[0].tokens);
    let want: Vec<f32> = expected.adapted[0]
        .logits
        .iter()
        .flatten()
        .copied()
        .collect();
    assert!(
        max_diff(&plain, &want) > 1e-3,
        "the fixture's adapter changes the logits"
    );
}

#[test]
fn a_saved_adapter_holds_pefts_keys_shapes_and_values() {
    let dir = fixture().join("adapter");
    let (base, cfg) = load_hf_decoder(&fixture(), &Device::flex()).unwrap();
    let adapted = load_peft_adapter(&dir, base, &cfg).unwrap();
    let spec = read_adapter_config(&dir).unwrap();
    assert_eq!(
        (spec.rank, spec.alpha, spec.blocks.clone()),
        (4, 8.0, vec![1])
    );
    let out = tempfile_dir("peft-roundtrip");
    save_peft_adapter(&out, &adapted, &cfg, &spec, "llama-tiny-lora").unwrap();
    let (a, b) = (
        read(&dir.join(ADAPTER_WEIGHTS)),
        read(&out.join(ADAPTER_WEIGHTS)),
    );
    let (a, b) = (
        SafeTensors::deserialize(&a).unwrap(),
        SafeTensors::deserialize(&b).unwrap(),
    );
    let mut names = a.names();
    names.sort();
    let mut saved = b.names();
    saved.sort();
    assert_eq!(names, saved);
    for name in names {
        let (x, y) = (a.tensor(name).unwrap(), b.tensor(name).unwrap());
        assert_eq!(x.shape(), y.shape(), "{name}");
        assert_eq!(x.data(), y.data(), "{name}");
    }
    assert_eq!(read_adapter_config(&out).unwrap(), spec);
}

#[test]
fn adapters_on_a_gguf_layout_decoder_export_in_hugging_faces_layout() {
    // The same function in both layouts: a GGUF-ordered decoder with an adapter, against its
    // Hugging Face export with the saved adapter loaded back.
    let cfg = DecoderConfig {
        rope_layout: RopeLayout::AdjacentPairs,
        ..micro()
    };
    let device = Device::flex();
    let base = Decoder::new(&cfg, 5, &device);
    let adapted = perturbed(
        base.clone()
            .with_lora(&spec(&[Projection::Q, Projection::K], vec![]), &cfg, 2)
            .unwrap(),
    );
    let out = tempfile_dir("peft-gguf");
    save_hf_checkpoint(&out.join("base"), &base, &cfg, None).unwrap();
    let spec = spec(&[Projection::Q, Projection::K], vec![]);
    save_peft_adapter(&out.join("adapter"), &adapted, &cfg, &spec, "base").unwrap();
    let (hf, hf_cfg) = load_hf_decoder(&out.join("base"), &device).unwrap();
    assert_eq!(hf_cfg.rope_layout, RopeLayout::Halves);
    let hf = load_peft_adapter(&out.join("adapter"), hf, &hf_cfg).unwrap();
    let tokens: Vec<i64> = SEQUENCES[1].iter().map(|t| t % 64).collect();
    let d = max_diff(&logits(&adapted, &tokens), &logits(&hf, &tokens));
    assert!(d < 1e-4, "GGUF layout vs Hugging Face layout: {d}");
    // The export merges the adapters (`scripts/peft_reference.py --check` loads these three
    // directories in PEFT and transformers).
    save_hf_checkpoint(&out.join("merged"), &adapted, &cfg, None).unwrap();
    let (merged, _) = load_hf_decoder(&out.join("merged"), &device).unwrap();
    // transformers loads a safetensors model file only when its `format` metadata names one.
    for file in [
        "merged/model.safetensors",
        "adapter/adapter_model.safetensors",
    ] {
        let bytes = read(&out.join(file));
        let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        let format = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("format").cloned());
        assert_eq!(format.as_deref(), Some("pt"), "{file}");
    }
    let d = max_diff(&logits(&adapted, &tokens), &logits(&merged, &tokens));
    assert!(d < 1e-4, "exported merged weights vs base + adapter: {d}");
}

#[test]
fn bad_adapters_are_refused_naming_the_field_or_tensor() {
    let (base, cfg) = load_hf_decoder(&fixture(), &Device::flex()).unwrap();
    let src = fixture().join("adapter");
    let config: serde_json::Value =
        serde_json::from_slice(&read(&src.join(ADAPTER_CONFIG))).unwrap();
    let weights = read(&src.join(ADAPTER_WEIGHTS));
    let try_with = |name: &str, edit: &dyn Fn(&mut serde_json::Value), weights: &[u8]| {
        let dir = tempfile_dir(name);
        let mut c = config.clone();
        edit(&mut c);
        std::fs::write(dir.join(ADAPTER_CONFIG), c.to_string()).unwrap();
        std::fs::write(dir.join(ADAPTER_WEIGHTS), weights).unwrap();
        load_peft_adapter(&dir, base.clone(), &cfg)
            .unwrap_err()
            .to_string()
    };
    let err = try_with("rslora", &|c| c["use_rslora"] = true.into(), &weights);
    assert!(err.contains("use_rslora = true is not supported"), "{err}");
    let replicate =
        |c: &mut serde_json::Value| c["layer_replication"] = serde_json::json!([[0, 2]]);
    let err = try_with("replicate", &replicate, &weights);
    assert!(
        err.contains("layer_replication = [[0,2]] is not supported"),
        "{err}"
    );
    let err = try_with(
        "regex",
        &|c| c["target_modules"] = ".*proj".into(),
        &weights,
    );
    assert!(
        err.contains("target_modules") && err.contains("q_proj"),
        "{err}"
    );
    let err = try_with(
        "negative",
        &|c| c["layers_to_transform"] = (-1).into(),
        &weights,
    );
    assert!(
        err.contains("layers_to_transform = -1 is not supported"),
        "{err}"
    );
    let err = try_with(
        "block",
        &|c| c["layers_to_transform"] = serde_json::json!([2]),
        &weights,
    );
    assert!(err.contains("block 2 does not exist"), "{err}");
    // Rank 4 on file, 2 in the config: the first tensor read names its shapes.
    let err = try_with("rank", &|c| c["r"] = 2.into(), &weights);
    assert!(err.contains("has shape [4, 32], expected [2, 32]"), "{err}");
    // Block 0 named too: its tensors are missing.
    let err = try_with(
        "missing",
        &|c| c["layers_to_transform"] = serde_json::json!([0, 1]),
        &weights,
    );
    assert!(
        err.contains("no tensor base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"),
        "{err}"
    );
    let err = try_with("garbage", &|_| {}, b"not safetensors");
    assert!(err.contains("not a safetensors file"), "{err}");
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

fn tempfile_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quill-lora-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
