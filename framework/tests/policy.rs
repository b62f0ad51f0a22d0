//! The decoder's invariants: the KV-cache path computes what the full forward pass computes,
//! batching with mixed prompt lengths changes nothing, sampled log-probs equal the batched
//! log-prob pass, and parameter counts match the presets' arithmetic.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use quill::policy::{
    AttentionMask, Decoder, DecoderConfig, Generation, Policy, RopeLayout, SamplingConfig,
    completion_logprobs, find_preset, generate, presets,
};

fn tiny(qkv_bias: bool, tie: bool, layout: RopeLayout) -> DecoderConfig {
    DecoderConfig {
        vocab_size: 61,
        hidden_size: 32,
        layers: 2,
        heads: 4,
        kv_heads: 2,
        intermediate_size: 48,
        max_positions: 64,
        rope_theta: 10_000.0,
        rope_layout: layout,
        rms_eps: 1e-5,
        qkv_bias,
        tie_embeddings: tie,
    }
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn ids(rows: &[Vec<u32>], device: &Device) -> Tensor<2, Int> {
    let width = rows[0].len();
    let flat: Vec<i64> = rows.iter().flatten().map(|&t| t as i64).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), width]), device)
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn kv_cache_steps_reproduce_the_full_forward_pass() {
    let device = Device::flex();
    for (bias, tie, layout) in [
        (false, true, RopeLayout::Halves),
        (true, false, RopeLayout::AdjacentPairs),
    ] {
        let model = Decoder::new(&tiny(bias, tie, layout), 11, &device);
        let seq: Vec<Vec<u32>> = vec![
            vec![3, 17, 5, 60, 2, 9, 41, 8, 33, 1],
            vec![7, 7, 12, 0, 59, 23, 4, 4, 18, 30],
        ];
        let full = values(model.forward(
            ids(&seq, &device),
            &AttentionMask::causal(2, 10, &device),
            None,
        ));

        // Prefill 4 columns, then one column at a time.
        let mut cache = model.new_cache();
        let valid = vec![vec![true; 4]; 2];
        let prefix: Vec<Vec<u32>> = seq.iter().map(|r| r[..4].to_vec()).collect();
        let mask = AttentionMask::new(&valid, 4, &device);
        let mut stepped = vec![Vec::new(); 2];
        let first = values(model.forward(ids(&prefix, &device), &mask, Some(&mut cache)));
        let v = model.vocab_size();
        for r in 0..2 {
            stepped[r].extend_from_slice(&first[r * 4 * v..(r + 1) * 4 * v]);
        }
        for col in 4..10 {
            let valid = vec![vec![true; col + 1]; 2];
            let step: Vec<Vec<u32>> = seq.iter().map(|r| vec![r[col]]).collect();
            let mask = AttentionMask::new(&valid, 1, &device);
            let out = values(model.forward(ids(&step, &device), &mask, Some(&mut cache)));
            for r in 0..2 {
                stepped[r].extend_from_slice(&out[r * v..(r + 1) * v]);
            }
        }
        assert_eq!(cache.len(), 10);
        let stepped: Vec<f32> = stepped.concat();
        let diff = max_diff(&full, &stepped);
        assert!(diff < 1e-4, "{layout:?}: cache path differs by {diff}");
    }
}

#[test]
fn batched_mixed_length_sampling_equals_one_prompt_at_a_time() {
    let device = Device::flex();
    let model = Decoder::new(&tiny(false, true, RopeLayout::Halves), 5, &device);
    let (a, b, c) = (
        vec![1, 2, 3],
        vec![9, 8, 7, 6, 5, 4, 3],
        vec![40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50],
    );
    // Repeated prompts (prefilled once, their cache rows copied) with seeds of their own.
    let prompts = vec![a.clone(), b.clone(), a.clone(), c, b, a];
    let seeds = [100, 200, 300, 400, 500, 600];
    for temperature in [0.0, 1.0] {
        let sampler = SamplingConfig {
            temperature,
            ..SamplingConfig::default()
        };
        let how = Generation {
            sampler: &sampler,
            max_new_tokens: 12,
            stop_tokens: &[60],
            pad_id: 0,
        };
        let batched = generate(&model, &prompts, &seeds, &how).unwrap();
        for (i, p) in prompts.iter().enumerate() {
            let alone = generate(&model, std::slice::from_ref(p), &seeds[i..=i], &how).unwrap();
            assert_eq!(
                batched[i].tokens, alone[0].tokens,
                "temperature {temperature}, prompt {i}"
            );
            assert!(max_diff(&batched[i].logprobs, &alone[0].logprobs) < 1e-4);
        }
        assert!(batched.iter().all(|c| c.stopped || c.tokens.len() == 12));
    }
}

#[test]
fn sampled_logprobs_match_the_batched_logprob_pass() {
    let device = Device::flex();
    let model = Decoder::new(&tiny(true, true, RopeLayout::Halves), 3, &device);
    let prompts = vec![vec![5, 6], vec![10, 11, 12, 13, 14], vec![20, 21, 22, 23]];
    let sampler = SamplingConfig::default();
    // A frequent stop token, so completions end at different lengths.
    let stops: Vec<u32> = (50..61).collect();
    let how = Generation {
        sampler: &sampler,
        max_new_tokens: 16,
        stop_tokens: &stops,
        pad_id: 0,
    };
    let sampled = generate(&model, &prompts, &[1, 2, 3], &how).unwrap();
    let completions: Vec<Vec<u32>> = sampled.iter().map(|c| c.tokens.clone()).collect();
    let (logp, mask) = completion_logprobs(&model, &prompts, &completions, 0).unwrap();
    let longest = completions.iter().map(Vec::len).max().unwrap();
    assert_eq!(logp.dims(), [3, longest]);
    let (logp, mask) = (values(logp), values(mask));
    for (i, c) in sampled.iter().enumerate() {
        for j in 0..longest {
            let at = i * longest + j;
            if j < c.tokens.len() {
                assert_eq!(mask[at], 1.0);
                let d = (logp[at] - c.logprobs[j]).abs();
                assert!(
                    d < 1e-4,
                    "row {i} token {j}: {} vs {}",
                    logp[at],
                    c.logprobs[j]
                );
            } else {
                assert_eq!((mask[at], logp[at]), (0.0, 0.0));
            }
        }
    }
}

#[test]
fn parameter_counts_match_the_built_modules() {
    let device = Device::flex();
    for cfg in [
        tiny(true, false, RopeLayout::Halves),
        tiny(false, true, RopeLayout::Halves),
    ] {
        assert_eq!(
            Decoder::new(&cfg, 0, &device).num_params(),
            cfg.param_count()
        );
    }
    let nano = find_preset("nano").unwrap().config;
    assert_eq!(
        Decoder::new(&nano, 0, &device).num_params(),
        nano.param_count()
    );
    assert!(presets().len() >= 4);
}

#[test]
fn same_seed_same_weights_and_bad_inputs_are_errors() {
    let device = Device::flex();
    let cfg = tiny(false, true, RopeLayout::Halves);
    let a = Decoder::new(&cfg, 9, &device);
    let b = Decoder::new(&cfg, 9, &device);
    assert_eq!(
        values(a.embed_tokens.weight.val()),
        values(b.embed_tokens.weight.val())
    );

    let sampler = SamplingConfig::default();
    let how = Generation {
        sampler: &sampler,
        max_new_tokens: 8,
        stop_tokens: &[],
        pad_id: 0,
    };
    let err = generate(&a, &[vec![1; 60]], &[0], &how)
        .unwrap_err()
        .to_string();
    assert!(err.contains("exceeds the model's 64 positions"), "{err}");
    let err = generate(&a, &[vec![1, 99]], &[0], &how)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("token id 99") && err.contains("0 ..= 60"),
        "{err}"
    );
    let err = generate(&a, &[vec![]], &[0], &how).unwrap_err().to_string();
    assert!(err.contains("prompt 0 is empty"), "{err}");
    let err = completion_logprobs(&a, &[vec![1]], &[vec![]], 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("every completion is empty"), "{err}");
}

#[test]
fn checkpoints_round_trip_exactly_and_refuse_mismatches() {
    use quill::policy::{POLICY_FILE, load_checkpoint, save_checkpoint};
    let device = Device::flex();
    let dir = std::env::temp_dir().join(format!("quill-policy-ckpt-{}", std::process::id()));
    for cfg in [
        tiny(true, false, RopeLayout::AdjacentPairs),
        tiny(false, true, RopeLayout::Halves),
    ] {
        let model = Decoder::new(&cfg, 21, &device);
        let tokens = ids(&[vec![4, 8, 15, 16, 23, 42]], &device);
        let mask = AttentionMask::causal(1, 6, &device);
        let before = values(model.forward(tokens.clone(), &mask, None));
        save_checkpoint(
            &dir,
            &model,
            &cfg,
            Some(b"{}"),
            serde_json::json!({"preset": "test"}),
        )
        .unwrap();
        let (loaded, loaded_cfg) = load_checkpoint(&dir, &device).unwrap();
        assert_eq!(loaded_cfg, cfg);
        assert_eq!(values(loaded.forward(tokens, &mask, None)), before);
        assert_eq!(std::fs::read(dir.join("tokenizer.json")).unwrap(), b"{}");
    }
    // A config that disagrees with the weights is refused with the file named.
    let text = std::fs::read_to_string(dir.join(POLICY_FILE)).unwrap();
    std::fs::write(
        dir.join(POLICY_FILE),
        text.replace("\"intermediate_size\": 48", "\"intermediate_size\": 40"),
    )
    .unwrap();
    let err = load_checkpoint(&dir, &device).err().unwrap().to_string();
    assert!(err.contains("weights.safetensors"), "{err}");
    std::fs::write(dir.join(POLICY_FILE), "{\"format\": \"other\"}").unwrap();
    let err = load_checkpoint(&dir, &device).err().unwrap().to_string();
    assert!(err.contains("policy.json"), "{err}");
    // A directory that is not a checkpoint is never replaced.
    let other = dir.join("not-a-checkpoint");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let cfg = tiny(false, true, RopeLayout::Halves);
    let err = save_checkpoint(
        &other,
        &Decoder::new(&cfg, 1, &device),
        &cfg,
        None,
        serde_json::Value::Null,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("refusing to replace"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
