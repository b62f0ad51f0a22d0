//! One GRPO step per preset (16 prompts x G = 8 lists x 32 new tokens), split into sampling,
//! reward scoring and the update. It runs `train_grpo` itself, so it times the real code path,
//! and reads the per-step split from the run's own `scalars.jsonl` (`time/sampling`,
//! `time/scoring`, `time/update`), dropping the warm-up step.
//!
//! Run with `cargo bench -p quill-experiments --bench grpo_step`. `--profile dev` reuses the
//! dev build (fast when it is fresh), but Quill's own code is at opt-level 1 there, so steps
//! took ~1.4x longer in one run: report the release figures. `QUILL_BENCH_PRESETS=nano,micro,small`
//! picks presets (default nano,micro), `QUILL_BENCH_STEPS` the measured steps (default 3, after
//! 1 warm-up), `QUILL_BENCH_DEVICE=wgpu|cuda` a GPU backend (build with that cargo feature),
//! `QUILL_BENCH_SHARDS` the update's row shards (default 2 on the CPU, as `quill run` uses).
//!
//! The decoders are freshly initialised (no warm start: timing does not depend on the weights,
//! only on how long completions are). A random decoder rarely emits the end token, so nearly
//! every completion runs the full 32 tokens: this is the worst case for sampling and the update.
//! Its lists hold no queries, though, so the rewards return at once and the logged scoring time
//! is a floor; the bench therefore also times the same composite on 128 valid lists.

use anyhow::{Context, Result};
use quill::data::{Split, UserRecord, load_dataset};
use quill::device::{DeviceKind, training_device};
use quill::log::read_scalars;
use quill::policy::{Decoder, find_preset};
use quill::reward::{CompositeReward, RewardView};
use quill::text::bootstrap::{Bootstrap, target_format};
use quill::text::query_list::{QueryList, QueryListFormat};
use quill::text::term_stats::TermStats;
use quill::text::tokenizer::training_texts;
use quill::text::{PolicyTokenizer, PromptBuilder};
use quill::train::grpo::{GrpoRun, train_grpo};
use quill_experiments::config;
use quill_experiments::scoring::{as_query_list, composite_reward, reward_view, scoring};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

const PROMPTS: u32 = 16;
const GROUP: u32 = 8;
const NEW_TOKENS: u32 = 32;
const WARMUP: u32 = 1;
/// Simulated users: enough for 16 distinct training prompts per step, small enough that the
/// dataset, retrieval index and tokenizer build in seconds.
const USERS: u64 = 600;

fn main() -> Result<()> {
    let measured: u32 = std::env::var("QUILL_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let presets = std::env::var("QUILL_BENCH_PRESETS").unwrap_or_else(|_| "nano,micro".into());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/quickstart.toml");
    let mut exp = config::load(&path)?;
    let out = std::env::temp_dir().join(format!("quill-bench-grpo-{}", std::process::id()));
    {
        let cfg = &mut exp.config;
        cfg.experiment.output_dir = out.clone();
        cfg.data.users = USERS;
        cfg.sampling.max_new_tokens = NEW_TOKENS;
        if let Ok(name) = std::env::var("QUILL_BENCH_DEVICE") {
            cfg.experiment.device = name
                .parse::<DeviceKind>()
                .map_err(|e| anyhow::anyhow!("QUILL_BENCH_DEVICE={e}"))?;
        }
        let g = &mut cfg.grpo;
        g.steps = WARMUP + measured;
        g.prompts_per_step = PROMPTS;
        g.group_size = GROUP;
        // Keep every group: the random policy's rewards are often all equal within a group, and
        // dropping those groups would skip most of the update we mean to time.
        g.zero_spread_tolerance = -1.0;
        // Held-out evaluation, checkpoints in between and completion tables are not part of a step.
        g.eval_every = 0;
        g.save_every = 0;
        g.log_completions_every = 0;
    }
    let cfg = &exp.config;

    // The cleaner is skipped: it changes which signals a prompt holds, not what a step costs.
    let t = Instant::now();
    let data = load_dataset(&cfg.data, cfg.experiment.seed, &exp.base_dir)?;
    let train: Vec<UserRecord> = data.iter_split(Split::Train).collect();
    // The timed valid lists are scored over the whole history (no tokenizer yet); each preset's
    // GRPO steps below score through that preset's prompt, as `quill run` does.
    let scoring = scoring(&exp, data.corpus.clone(), RewardView::History)?;
    println!(
        "setup: {} training users, {} articles, rewards {:?} ({:.1}s)",
        train.len(),
        data.corpus.items().len(),
        scoring.composite.names(),
        t.elapsed().as_secs_f64()
    );
    let stats = TermStats::build(&data.corpus);
    let valid = valid_scoring(&scoring.composite, &stats, &cfg.format, &train, measured)?;
    println!(
        "reward scoring of {} valid lists (16 users x 8 distinct bootstrap lists): {valid:.3} s",
        PROMPTS * GROUP
    );
    let device = training_device(cfg.experiment.device)?;
    // Row shards of the update (`[experiment] cpu_shards`, which `quill run` sets the same way):
    // `QUILL_BENCH_SHARDS`, default 2 on the CPU backend and 1 on a GPU one.
    let shards = match std::env::var("QUILL_BENCH_SHARDS") {
        Ok(s) => s
            .parse::<usize>()
            .map_err(|e| anyhow::anyhow!("QUILL_BENCH_SHARDS={s}: {e}"))?,
        Err(_) if matches!(cfg.experiment.device, DeviceKind::Cpu) => 2,
        Err(_) => 1,
    };
    quill::train::data_parallel::set_training_shards(shards);
    println!("update: {shards} row shard(s)");

    for name in presets.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let preset = find_preset(name)?;
        // The tokenizer is trained per preset: the vocabulary size is the preset's.
        let tokenizer = PolicyTokenizer::train(
            training_texts(&data.corpus, &train, &[]),
            preset.config.vocab_size,
        )?;
        let mut decoder_cfg = preset.with_vocab(tokenizer.vocab_size());
        decoder_cfg.max_positions = decoder_cfg
            .max_positions
            .max((cfg.policy.prompt_budget + NEW_TOKENS) as usize);
        decoder_cfg.validate(&format!("policy preset {name}"))?;
        let builder = PromptBuilder::new(
            tokenizer,
            cfg.policy.prompt_budget as usize,
            cfg.format.clone(),
        )?;
        let view = reward_view(cfg, Some(builder.clone()))?;
        let composite = composite_reward(cfg, scoring.env.clone(), view)?;
        let dir = out.join(name);
        let run = GrpoRun {
            cfg: &cfg.grpo,
            sampling: &cfg.sampling,
            builder: &builder,
            composite: &composite,
            train_users: &train,
            evaluator: None,
            seed: cfg.experiment.seed,
            dir: &dir,
            config_hash: "bench".into(),
            stop_after: None,
            lora: None,
        };
        let decoder = Decoder::new(&decoder_cfg, cfg.experiment.seed, &device);
        let outcome = train_grpo(&run, decoder, &decoder_cfg, &device, false)?;
        anyhow::ensure!(
            outcome.steps == cfg.grpo.steps,
            "{name}: the run stopped early"
        );
        let rows: Vec<BTreeMap<String, f64>> = read_scalars(&dir.join("scalars.jsonl"))
            .context("reading the run's scalars")?
            .into_iter()
            .filter(|(step, v)| *step > u64::from(WARMUP) && v.contains_key("time/sampling"))
            .map(|(_, v)| v)
            .collect();
        anyhow::ensure!(
            rows.len() == measured as usize,
            "{name}: {} logged steps",
            rows.len()
        );
        report(name, decoder_cfg.param_count(), &rows);
    }
    let _ = std::fs::remove_dir_all(&out);
    Ok(())
}

/// Mean seconds to score one step's worth of valid lists: user `g` of the 16 gets the bootstrap
/// lists of 8 different users, so a group's queries differ as a trained policy's samples would
/// (the composite caches retrieval per batch, so identical lists would be cheaper).
fn valid_scoring(
    composite: &CompositeReward,
    stats: &TermStats,
    format: &QueryListFormat,
    users: &[UserRecord],
    runs: u32,
) -> Result<f64> {
    let rows = (PROMPTS * GROUP) as usize;
    anyhow::ensure!(users.len() >= rows, "{} training users", users.len());
    let bootstrap = Bootstrap::new(stats, target_format(format))?;
    let lists: Vec<QueryList> = users[..rows]
        .iter()
        .map(|u| as_query_list(&bootstrap.for_user(u).queries, format).0)
        .collect();
    let items: Vec<(&UserRecord, &QueryList)> = (0..rows)
        .map(|i| (&users[i / GROUP as usize], &lists[i]))
        .collect();
    composite.score_batch(&items)?; // warm-up
    let t = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(composite.score_batch(&items)?);
    }
    Ok(t.elapsed().as_secs_f64() / f64::from(runs.max(1)))
}

/// Mean of one scalar over the measured steps.
fn mean(rows: &[BTreeMap<String, f64>], key: &str) -> f64 {
    rows.iter().map(|r| r[key]).sum::<f64>() / rows.len().max(1) as f64
}

/// The per-preset table: mean seconds per step of each phase, its share, and token rates.
fn report(name: &str, params: usize, rows: &[BTreeMap<String, f64>]) {
    let phases = [
        ("sampling", mean(rows, "time/sampling")),
        ("reward scoring", mean(rows, "time/scoring")),
        ("update", mean(rows, "time/update")),
    ];
    let total: f64 = phases.iter().map(|p| p.1).sum();
    let length = mean(rows, "completions/mean_length");
    let tokens = length * f64::from(PROMPTS * GROUP);
    println!(
        "\ngrpo_step {name} ({params} parameters): {PROMPTS} prompts x G={GROUP} x {NEW_TOKENS} \
         new tokens, mean of {} steps after {WARMUP} warm-up",
        rows.len()
    );
    println!("  {:<16}{:>10}{:>8}", "phase", "s/step", "share");
    for (phase, s) in phases.iter().chain([&("total", total)]) {
        println!("  {phase:<16}{s:>10.3}{:>7.1}%", 100.0 * s / total);
    }
    println!(
        "  sampled tokens: {tokens:.0}/step (mean length {length:.1}, {:.0}% hit the limit, \
         {:.0}% valid); {:.0} tokens/s while sampling, {:.0} tokens/s for the whole step",
        100.0 * mean(rows, "completions/clipped_ratio"),
        100.0 * mean(rows, "valid_rate"),
        tokens / phases[0].1,
        tokens / total
    );
}
