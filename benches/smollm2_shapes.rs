//! The policy at SmolLM2-135M-Instruct's shapes (30 blocks, width 576, 9 query and 3 key/value
//! heads, MLP 1536, vocabulary 49,152, tied embeddings), randomly initialised: what a
//! pretrained checkpoint policy costs on two cores, beside `benches/smollm2_shapes_pytorch.py`
//! (PyTorch eager, fp32, the same workloads). Run with
//! `cargo bench -p quill --bench smollm2_shapes`; `QUILL_BENCH_FASTEST=n` runs (default 3)
//! after one warm-up, the fastest reported, as in `benches/policy.rs` (each step takes seconds,
//! too long for Criterion's sampling); `QUILL_BENCH_WORKLOADS=train_all,sample` picks workloads.
//!
//! Workloads:
//! - `train_all`, `train_lora`, `train_top4`: one AdamW step on 8 rows x 128 tokens, with every
//!   weight trainable; with rank-8 adapters (alpha 16) on all seven projections of every block;
//!   with only the last four blocks trainable;
//! - `sample`: 32 sequences x 32 new tokens after 64-token prompts, with the KV cache;
//! - `grpo_step`: the compute of one GRPO step of 8 prompts x 4 lists: sampling the 32 lists
//!   (64-token prompts, 32 new tokens), then one policy-gradient update of every weight on
//!   their log-probabilities with fixed advantages (one update per batch, so the ratio is 1 and
//!   no old-policy pass is needed, as in TRL's default).
//!
//! Peak memory: each workload again in a child process (`QUILL_BENCH_MEMORY=workload`), which
//! resets the kernel's peak-RSS counter after building the model and reads VmHWM after the
//! workload (Linux only).

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use quill::policy::{
    Decoder, DecoderConfig, Generation, LoraSpec, Projection, RopeLayout, SamplingConfig,
    completion_logprobs, generate,
};
use quill::train::grpo::freeze_all_but_last_blocks;
use std::hint::black_box;
use std::time::Instant;

#[path = "peak_memory.rs"]
mod peak_memory;

const TRAIN_ROWS: usize = 8;
const TRAIN_TOKENS: usize = 128;
const SAMPLE_ROWS: usize = 32;
const PROMPT_TOKENS: usize = 64;
const NEW_TOKENS: usize = 32;
const GRPO_PROMPTS: usize = 8;
const GRPO_GROUP: usize = 4;
const MEMORY_CHILD: &str = "QUILL_BENCH_MEMORY";
const WORKLOADS: [&str; 5] = [
    "train_all",
    "train_lora",
    "train_top4",
    "sample",
    "grpo_step",
];

fn smollm2() -> DecoderConfig {
    DecoderConfig {
        vocab_size: 49_152,
        hidden_size: 576,
        layers: 30,
        heads: 9,
        kv_heads: 3,
        intermediate_size: 1536,
        max_positions: 2048,
        rope_theta: 100_000.0,
        rope_layout: RopeLayout::Halves,
        rms_eps: 1e-5,
        qkv_bias: false,
        tie_embeddings: true,
    }
}

/// Deterministic token ids below `vocab`.
fn ids(n: usize, salt: usize, vocab: usize) -> Vec<u32> {
    (0..n)
        .map(|i| ((i * 7919 + salt * 104_729) % vocab) as u32)
        .collect()
}

/// A model ready for `workload`, and its optimiser.
struct Bench {
    model: Option<Decoder>,
    optim: ModuleOptimizer,
    cfg: DecoderConfig,
}

impl Bench {
    fn new(workload: &str) -> Self {
        let cfg = smollm2();
        let device = Device::flex().autodiff();
        let model = Decoder::new(&cfg, 1, &device);
        let model = match workload {
            "train_lora" => {
                let spec = LoraSpec {
                    rank: 8,
                    alpha: 16.0,
                    targets: Projection::ALL.to_vec(),
                    blocks: Vec::new(),
                };
                model.with_lora(&spec, &cfg, 1).expect("adapters fit")
            }
            "train_top4" => freeze_all_but_last_blocks(model, 4).expect("4 of 30 blocks"),
            _ => model,
        };
        Bench {
            model: Some(model),
            optim: AdamWConfig::new().init(),
            cfg,
        }
    }

    fn run(&mut self, workload: &str) {
        match workload {
            "sample" => {
                let model = self.model.as_ref().expect("model").valid();
                let prompts: Vec<Vec<u32>> = (0..SAMPLE_ROWS)
                    .map(|r| ids(PROMPT_TOKENS, r, self.cfg.vocab_size))
                    .collect();
                black_box(sample(&model, &prompts));
            }
            "grpo_step" => self.grpo_step(),
            _ => {
                let prompts: Vec<Vec<u32>> = (0..TRAIN_ROWS)
                    .map(|r| ids(1, r, self.cfg.vocab_size))
                    .collect();
                let completions: Vec<Vec<u32>> = (0..TRAIN_ROWS)
                    .map(|r| ids(TRAIN_TOKENS - 1, r, self.cfg.vocab_size))
                    .collect();
                self.update(&prompts, &completions, None);
            }
        }
    }

    /// One AdamW step on the mean negative log-likelihood of `completions` (each row weighted
    /// by its advantage, when given).
    fn update(&mut self, prompts: &[Vec<u32>], completions: &[Vec<u32>], adv: Option<&[f32]>) {
        let m = self.model.take().expect("model");
        let (logp, mask) = completion_logprobs(&m, prompts, completions, 0).unwrap();
        let weighted = match adv {
            Some(adv) => {
                let rows = adv.len();
                let data = TensorData::new(adv.to_vec(), [rows, 1]);
                logp * Tensor::<2>::from_data(data, &m.embed_tokens.weight.device())
            }
            None => logp,
        };
        let loss = -(weighted.sum() / mask.sum());
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        self.model = Some(self.optim.step(1e-5, m, grads));
    }

    fn grpo_step(&mut self) {
        let vocab = self.cfg.vocab_size;
        let prompts: Vec<Vec<u32>> = (0..GRPO_PROMPTS * GRPO_GROUP)
            .map(|r| ids(PROMPT_TOKENS, r / GRPO_GROUP, vocab))
            .collect();
        let lists = sample(&self.model.as_ref().expect("model").valid(), &prompts);
        // Group-normalised advantages of made-up rewards: +1 and -1 alternately.
        let adv: Vec<f32> = (0..lists.len())
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        self.update(&prompts, &lists, Some(&adv));
    }
}

/// `prompts` sampled with the KV cache at temperature 1, no stop token: every row makes all
/// `NEW_TOKENS` tokens.
fn sample(model: &Decoder, prompts: &[Vec<u32>]) -> Vec<Vec<u32>> {
    let seeds: Vec<u64> = (0..prompts.len() as u64).collect();
    let sampler = SamplingConfig::default();
    let how = Generation {
        sampler: &sampler,
        max_new_tokens: NEW_TOKENS,
        stop_tokens: &[],
        pad_id: 0,
    };
    let out = generate(model, prompts, &seeds, &how).unwrap();
    out.into_iter().map(|c| c.tokens).collect()
}

/// Tokens one run of `workload` processes (trained, or sampled).
fn tokens(workload: &str) -> usize {
    match workload {
        "sample" => SAMPLE_ROWS * NEW_TOKENS,
        "grpo_step" => GRPO_PROMPTS * GRPO_GROUP * NEW_TOKENS,
        _ => TRAIN_ROWS * TRAIN_TOKENS,
    }
}

/// The child: the model built, then two runs (the first allocates AdamW's moments; sampling
/// runs once) between a reset of the peak-RSS counter and a read of it.
fn memory_child(workload: &str) {
    let mut bench = Bench::new(workload);
    let line = peak_memory::measure("of the model", || {
        bench.run(workload);
        if workload != "sample" {
            bench.run(workload);
        }
    });
    println!("{line}");
}

fn memory(workload: &str) -> String {
    let exe = std::env::current_exe().expect("the bench binary");
    let out = std::process::Command::new(exe)
        .env(MEMORY_CHILD, workload)
        .output()
        .expect("running the memory child");
    match out.status.success() {
        true => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        false => format!(
            "unavailable ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    }
}

fn main() {
    if let Ok(workload) = std::env::var(MEMORY_CHILD) {
        memory_child(&workload);
        return;
    }
    // `cargo bench` passes `--bench`; this harness takes no arguments of its own.
    let runs: usize = std::env::var("QUILL_BENCH_FASTEST")
        .map(|n| n.parse().expect("QUILL_BENCH_FASTEST: a number of runs"))
        .unwrap_or(3);
    let chosen = std::env::var("QUILL_BENCH_WORKLOADS").unwrap_or_else(|_| WORKLOADS.join(","));
    for workload in chosen.split(',').map(str::trim) {
        assert!(
            WORKLOADS.contains(&workload),
            "unknown workload {workload}: one of {WORKLOADS:?}"
        );
        let mut bench = Bench::new(workload);
        bench.run(workload); // warm-up
        let times: Vec<f64> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                bench.run(workload);
                t.elapsed().as_secs_f64()
            })
            .collect();
        let best = times.iter().copied().fold(f64::INFINITY, f64::min);
        let each: Vec<String> = times.iter().map(|t| format!("{t:.2}")).collect();
        println!(
            "smollm2 {workload}: {:.0} tokens/s ({best:.2} s, fastest of {runs}: {}); {}",
            tokens(workload) as f64 / best,
            each.join(" "),
            memory(workload)
        );
    }
}
