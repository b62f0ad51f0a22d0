//! Policy throughput per preset: training tokens/s (forward + backward + AdamW, batch 16 x 128
//! tokens) and KV-cache sampling tokens/s (128 parallel sequences x 64 new tokens). Run with
//! `cargo bench -p quill --bench policy`; `QUILL_BENCH_PRESETS=nano,micro,small` picks presets
//! (default nano,micro: the larger ones take minutes per sample on two cores).

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quill::policy::{
    Decoder, Generation, SamplingConfig, completion_logprobs, find_preset, generate,
};
use std::hint::black_box;

const TRAIN_BATCH: usize = 16;
const TRAIN_TOKENS: usize = 128;
const SAMPLE_SEQUENCES: usize = 128;
const SAMPLE_PROMPT: usize = 16;
const SAMPLE_NEW: usize = 64;

/// Deterministic token ids below `vocab`.
fn ids(n: usize, salt: usize, vocab: usize) -> Vec<u32> {
    (0..n)
        .map(|i| ((i * 7919 + salt * 104_729) % vocab) as u32)
        .collect()
}

fn policy(c: &mut Criterion) {
    let presets = std::env::var("QUILL_BENCH_PRESETS").unwrap_or_else(|_| "nano,micro".into());
    for name in presets.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let cfg = find_preset(name).expect("a preset name").config;
        let vocab = cfg.vocab_size;
        let mut group = c.benchmark_group(format!("policy_{name}"));
        group.sample_size(10);

        // One training step: every token but the first of each row is a target.
        let prompts: Vec<Vec<u32>> = (0..TRAIN_BATCH).map(|r| ids(1, r, vocab)).collect();
        let completions: Vec<Vec<u32>> = (0..TRAIN_BATCH)
            .map(|r| ids(TRAIN_TOKENS - 1, r, vocab))
            .collect();
        let mut model = Some(Decoder::new(&cfg, 1, &Device::flex().autodiff()));
        let mut optim: ModuleOptimizer = AdamWConfig::new().init();
        group.throughput(Throughput::Elements((TRAIN_BATCH * TRAIN_TOKENS) as u64));
        group.bench_function("train_step_16x128", |b| {
            b.iter(|| {
                let m = model.take().expect("model");
                let (logp, mask) = completion_logprobs(&m, &prompts, &completions, 0).unwrap();
                let loss = -(logp.sum() / mask.sum());
                let grads = GradientsParams::from_grads(loss.backward(), &m);
                model = Some(optim.step(1e-3, m, grads));
            })
        });

        // Sampling with the KV cache, no stop token, so every row makes all 64 tokens.
        let inference = model.take().expect("model").valid();
        let prompts: Vec<Vec<u32>> = (0..SAMPLE_SEQUENCES)
            .map(|r| ids(SAMPLE_PROMPT, r, vocab))
            .collect();
        let seeds: Vec<u64> = (0..SAMPLE_SEQUENCES as u64).collect();
        let sampler = SamplingConfig::default();
        let how = Generation {
            sampler: &sampler,
            max_new_tokens: SAMPLE_NEW,
            stop_tokens: &[],
            pad_id: 0,
        };
        group.throughput(Throughput::Elements((SAMPLE_SEQUENCES * SAMPLE_NEW) as u64));
        group.bench_function("sample_128x64", |b| {
            b.iter(|| black_box(generate(&inference, &prompts, &seeds, &how).unwrap()))
        });
        group.finish();
    }
}

criterion_group!(benches, policy);
criterion_main!(benches);
