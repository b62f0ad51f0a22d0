//! Policy throughput and memory per preset: training tokens/s (forward + backward + AdamW,
//! batch 16 x 128 tokens), KV-cache sampling tokens/s (128 parallel sequences x 64 new tokens),
//! and the peak memory of each. Run with `cargo bench -p quill --bench policy`;
//! `QUILL_BENCH_PRESETS=nano,micro,small` picks presets (default nano,micro: the larger ones
//! take minutes per sample on two cores); `QUILL_BENCH_FASTEST=n` reports the fastest of n runs
//! instead (see `fastest`); `QUILL_BENCH_DEVICE=wgpu|cuda` runs on a GPU backend (build with
//! that cargo feature). `benches/policy_pytorch.py` measures the same with PyTorch.
//! `QUILL_BENCH_SHARDS=1,2` (the default) lists the shard counts training is measured with:
//! 1 is the plain step (`train_step_16x128`), n > 1 splits the batch into n row shards whose
//! forward and backward passes run on their own threads (`quill::train::data_parallel`), as
//! `train_step_16x128_{n}shards`; the first count is the one the memory child uses.
//!
//! Peak memory is measured in a fresh child process per preset and workload (this binary run
//! again with `QUILL_BENCH_MEMORY=preset:train|sample`): in the benchmarking process itself
//! the allocator keeps what earlier workloads freed, so the resident size would say more about
//! them than about the workload measured. The child builds the model, resets the kernel's
//! peak-RSS counter (writing 5 to /proc/self/clear_refs; Linux only), runs two training steps
//! (the first allocates AdamW's moments) or one sampling call, and reads VmHWM from
//! /proc/self/status. It reports that peak and the peak minus the resident size just before:
//! the memory the workload itself needs (activations, gradients, optimizer state, cache).
//! On a GPU backend the host's RSS says nothing about device memory, so the bench reports
//! instead what the device's allocator has reserved after the workloads (its pools keep pages,
//! so this is their peak).

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use criterion::{Criterion, Throughput};
use quill::device::{DeviceKind, device};
use quill::policy::{
    Decoder, DecoderConfig, Generation, SamplingConfig, completion_logprobs, find_preset, generate,
};
use quill::train::data_parallel::sharded_grads;
use std::hint::black_box;

#[path = "peak_memory.rs"]
mod peak_memory;

const TRAIN_BATCH: usize = 16;
const TRAIN_TOKENS: usize = 128;
const SAMPLE_SEQUENCES: usize = 128;
const SAMPLE_PROMPT: usize = 16;
const SAMPLE_NEW: usize = 64;
const MEMORY_CHILD: &str = "QUILL_BENCH_MEMORY";

/// The device `QUILL_BENCH_DEVICE` names (default cpu).
fn bench_device() -> Device {
    let name = std::env::var("QUILL_BENCH_DEVICE").unwrap_or_else(|_| "cpu".into());
    let kind: DeviceKind = name
        .parse()
        .unwrap_or_else(|e| panic!("QUILL_BENCH_DEVICE={e}"));
    device(kind).unwrap_or_else(|e| panic!("QUILL_BENCH_DEVICE={name}: {e}"))
}

/// Deterministic token ids below `vocab`.
fn ids(n: usize, salt: usize, vocab: usize) -> Vec<u32> {
    (0..n)
        .map(|i| ((i * 7919 + salt * 104_729) % vocab) as u32)
        .collect()
}

/// `QUILL_BENCH_SHARDS`: the shard counts training is measured with (default 1 and 2).
fn shard_counts() -> Vec<usize> {
    let list = std::env::var("QUILL_BENCH_SHARDS").unwrap_or_else(|_| "1,2".into());
    let counts: Vec<usize> = list
        .split(',')
        .filter(|n| !n.trim().is_empty())
        .map(|n| match n.trim().parse() {
            Ok(n) if n > 0 => n,
            _ => panic!("QUILL_BENCH_SHARDS={list}: shard counts from 1 up, comma-separated"),
        })
        .collect();
    assert!(!counts.is_empty(), "QUILL_BENCH_SHARDS={list}: no count");
    counts
}

/// The name of the training measurement with `shards` shards.
fn train_name(shards: usize) -> String {
    match shards {
        1 => "train_step_16x128".into(),
        n => format!("train_step_16x128_{n}shards"),
    }
}

/// A model, its optimizer and the fixed batch of one training step.
struct Training {
    model: Option<Decoder>,
    optim: ModuleOptimizer,
    prompts: Vec<Vec<u32>>,
    completions: Vec<Vec<u32>>,
    device: Device,
    /// Row shards whose forward and backward passes run on threads of their own.
    shards: usize,
}

impl Training {
    fn new(cfg: &DecoderConfig, device: &Device, shards: usize) -> Self {
        let vocab = cfg.vocab_size;
        // Every token but the first of each row is a target.
        Training {
            model: Some(Decoder::new(cfg, 1, &device.clone().autodiff())),
            optim: AdamWConfig::new().init(),
            prompts: (0..TRAIN_BATCH).map(|r| ids(1, r, vocab)).collect(),
            completions: (0..TRAIN_BATCH)
                .map(|r| ids(TRAIN_TOKENS - 1, r, vocab))
                .collect(),
            device: device.clone(),
            shards,
        }
    }

    fn step(&mut self) {
        let m = self.model.take().expect("model");
        let (prompts, completions) = (&self.prompts, &self.completions);
        let grads = if self.shards == 1 {
            // The plain step, as the training loops take it.
            let (logp, mask) = completion_logprobs(&m, prompts, completions, 0).unwrap();
            let loss = -(logp.sum() / mask.sum());
            GradientsParams::from_grads(loss.backward(), &m)
        } else {
            // Each shard's term is divided by the whole batch's token count, so the terms sum
            // to the plain step's loss.
            let tokens: usize = completions.iter().map(Vec::len).sum();
            let (_, grads) = sharded_grads(&m, self.shards, prompts.len(), |d, rows| {
                let (logp, _) =
                    completion_logprobs(d, &prompts[rows.clone()], &completions[rows], 0)?;
                Ok(-(logp.sum() / tokens as f32))
            })
            .unwrap();
            grads
        };
        let m = self.optim.step(1e-3, m, grads);
        // A GPU queues the work: wait for it, or the timer stops before the step has run.
        self.device.sync().expect("the training step");
        self.model = Some(m);
    }
}

/// 128 prompts sampled with the KV cache, no stop token, so every row makes all 64 tokens.
fn sample(model: &Decoder, vocab: usize) -> usize {
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
    let out = generate(model, &prompts, &seeds, &how).unwrap();
    black_box(out.iter().map(|c| c.tokens.len()).sum())
}

fn policy(c: &mut Criterion, presets: &[String], device: &Device) {
    for name in presets {
        let cfg = find_preset(name).expect("a preset name").config;
        let mut group = c.benchmark_group(format!("policy_{name}"));
        group.sample_size(10);

        group.throughput(Throughput::Elements((TRAIN_BATCH * TRAIN_TOKENS) as u64));
        let mut inference = None;
        for shards in shard_counts() {
            let mut training = Training::new(&cfg, device, shards);
            group.bench_function(train_name(shards), |b| b.iter(|| training.step()));
            inference.get_or_insert_with(|| training.model.take().expect("model").valid());
        }
        let inference = inference.expect("a shard count");
        group.throughput(Throughput::Elements((SAMPLE_SEQUENCES * SAMPLE_NEW) as u64));
        group.bench_function("sample_128x64", |b| {
            b.iter(|| sample(&inference, cfg.vocab_size))
        });
        group.finish();
        if is_cpu(device) {
            for workload in ["train", "sample"] {
                report_memory(name, workload);
            }
        } else {
            report_device_memory(name, device);
        }
    }
}

/// Runs the memory child for `preset` and `workload` and prints its line.
fn report_memory(preset: &str, workload: &str) {
    let exe = std::env::current_exe().expect("the bench binary");
    let out = std::process::Command::new(exe)
        .env(MEMORY_CHILD, format!("{preset}:{workload}"))
        .output()
        .expect("running the memory child");
    let line = String::from_utf8_lossy(&out.stdout);
    let line = line.trim();
    if out.status.success() && !line.is_empty() {
        println!("policy_{preset}/{workload} peak memory: {line}");
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        println!(
            "policy_{preset}/{workload} peak memory: unavailable ({})",
            err.trim()
        );
    }
}

fn is_cpu(device: &Device) -> bool {
    *device == Device::flex()
}

/// What a GPU backend's allocator holds after the preset's workloads.
fn report_device_memory(preset: &str, device: &Device) {
    match device.memory_pool_usage() {
        Some(u) => println!(
            "policy_{preset} device memory: {:.0} MiB reserved, {:.0} MiB in use",
            u.bytes_reserved as f64 / (1 << 20) as f64,
            u.bytes_in_use as f64 / (1 << 20) as f64
        ),
        None => println!("policy_{preset} device memory: not reported by this backend"),
    }
}

/// The child: one workload between a reset of the peak-RSS counter and a read of it.
fn memory_child(spec: &str) {
    let (preset, workload) = spec.split_once(':').expect("preset:workload");
    let cfg = find_preset(preset).expect("a preset name").config;
    let mut training = Training::new(&cfg, &Device::flex(), shard_counts()[0]);
    let inference = (workload == "sample").then(|| training.model.take().unwrap().valid());
    let line = peak_memory::measure(
        &format!("before the {workload} workload"),
        || match &inference {
            Some(model) => {
                sample(model, cfg.vocab_size);
            }
            None => {
                training.step();
                training.step();
            }
        },
    );
    println!("{line}");
}

/// `QUILL_BENCH_FASTEST=n`: instead of Criterion's statistics, the fastest of `n` timed runs
/// of each workload, for a machine shared with other jobs: their interference only ever adds
/// time, so the minimum is the estimate least disturbed by it. Also printed: the least CPU
/// time (all threads) of a run, which waiting for a core does not inflate; with
/// `RAYON_NUM_THREADS=1` it measures the work done, whatever the load.
fn fastest(presets: &[String], runs: usize, device: &Device) {
    let time = |f: &mut dyn FnMut()| {
        let (start, start_cpu) = (std::time::Instant::now(), cpu_seconds());
        f();
        (start.elapsed().as_secs_f64(), cpu_seconds() - start_cpu)
    };
    let least = |times: &[(f64, f64)]| {
        times
            .iter()
            .fold((f64::INFINITY, f64::INFINITY), |(w, c), &(tw, tc)| {
                (w.min(tw), c.min(tc))
            })
    };
    let counts = shard_counts();
    for name in presets {
        let cfg = find_preset(name).expect("a preset name").config;
        let mut trainings: Vec<Training> = counts
            .iter()
            .map(|&shards| Training::new(&cfg, device, shards))
            .collect();
        // The shard counts take turns, run by run, so that a load which comes and goes on a
        // shared machine falls on all of them alike.
        let mut train_runs = vec![Vec::with_capacity(runs); counts.len()];
        for training in &mut trainings {
            training.step(); // warm-up
        }
        for _ in 0..runs {
            for (training, times) in trainings.iter_mut().zip(&mut train_runs) {
                times.push(time(&mut || training.step()));
            }
        }
        let inference = trainings[0].model.take().expect("model").valid();
        sample(&inference, cfg.vocab_size); // warm-up
        let sample_runs: Vec<(f64, f64)> = (0..runs)
            .map(|_| {
                time(&mut || {
                    sample(&inference, cfg.vocab_size);
                })
            })
            .collect();
        let (train, train_cpu) = least(&train_runs[0]);
        let (sampling, sampling_cpu) = least(&sample_runs);
        let (train_tokens, sample_tokens) = (
            (TRAIN_BATCH * TRAIN_TOKENS) as f64,
            (SAMPLE_SEQUENCES * SAMPLE_NEW) as f64,
        );
        println!(
            "{name}: train {:.0} tokens/s ({:.0} ms/step, {:.0} ms CPU), sample {:.0} \
             tokens/s ({:.2} s for 128 x 64, {:.2} s CPU); fastest of {runs}; per CPU-second: \
             train {:.0}, sample {:.0} tokens",
            train_tokens / train,
            train * 1e3,
            train_cpu * 1e3,
            sample_tokens / sampling,
            sampling,
            sampling_cpu,
            train_tokens / train_cpu,
            sample_tokens / sampling_cpu,
        );
        for (&shards, times) in counts.iter().zip(&train_runs) {
            let (wall, cpu) = least(times);
            let each: Vec<String> = times
                .iter()
                .map(|(w, _)| format!("{:.0}", w * 1e3))
                .collect();
            println!(
                "{name}: {}: {:.0} tokens/s ({:.0} ms/step, {:.0} ms CPU), {:.2}x {}; \
                 per CPU-second {:.0} tokens; runs (ms, interleaved): {}",
                train_name(shards),
                train_tokens / wall,
                wall * 1e3,
                cpu * 1e3,
                train / wall,
                train_name(counts[0]),
                train_tokens / cpu,
                each.join(" "),
            );
        }
        if !is_cpu(device) {
            report_device_memory(name, device);
        }
    }
}

/// CPU time of the whole process (all threads), in seconds.
fn cpu_seconds() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, out: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `t` is a valid, writable timespec for the duration of the call.
    let ok = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut t) } == 0;
    if ok {
        t.sec as f64 + t.nsec as f64 * 1e-9
    } else {
        f64::NAN
    }
}

fn main() {
    if let Ok(spec) = std::env::var(MEMORY_CHILD) {
        memory_child(&spec);
        return;
    }
    let presets: Vec<String> = std::env::var("QUILL_BENCH_PRESETS")
        .unwrap_or_else(|_| "nano,micro".into())
        .split(',')
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    let device = bench_device();
    if let Ok(runs) = std::env::var("QUILL_BENCH_FASTEST") {
        fastest(
            &presets,
            runs.parse().expect("QUILL_BENCH_FASTEST: a number of runs"),
            &device,
        );
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    policy(&mut c, &presets, &device);
    c.final_summary();
}
