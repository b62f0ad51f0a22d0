//! The warm start: train the tokenizer, warm-start a preset (language modelling, then
//! supervised bootstrap lists), measure structural validity, and save the checkpoint.

use crate::config::Experiment;
use crate::scoring::{chat_prompt, checkpoint_path};
use crate::stages::key::{WARM_START, warm_start_key};
use anyhow::{Context, Result, bail};
use quill::clean::Cleaner;
use quill::data::{Corpus, Dataset, Split, UserRecord};
use quill::device::Device;
use quill::device::training_device;
use quill::io::write_json;
use quill::policy::peft::save_peft_adapter;
use quill::policy::{
    Decoder, DecoderConfig, evenly_spaced_blocks, find_preset, load_pretrained, save_checkpoint,
};
use quill::text::bootstrap::{Bootstrap, target_format};
use quill::text::term_stats::TermStats;
use quill::text::tokenizer::training_texts;
use quill::text::{PolicyTokenizer, PromptBuilder};
use quill::train::{BootstrapFrom, WarmStartData, warm_start};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the warm-started policy of an experiment is saved: its own `policy/`, or, where
/// stages are shared (sweep cells), `<stage_dir>/warm_start-<hash>` so that cells of the same
/// data, policy and warm-start settings train it once.
pub fn checkpoint_dir(exp: &Experiment) -> PathBuf {
    WARM_START.dir(exp, warm_start_key(&exp.config))
}

/// The policy GRPO starts from and `quill sample` samples by default: the warm start, or a
/// pretrained checkpoint as it is when the experiment has no warm start.
pub fn starting_policy(exp: &Experiment) -> PathBuf {
    match checkpoint_path(exp) {
        Some(path) if !exp.config.warm_start.enabled => path,
        _ => checkpoint_dir(exp),
    }
}

/// Where a warm start is saved, under which hash, and what a student takes from its teacher.
pub struct WarmStartTarget {
    pub dir: PathBuf,
    /// A saved warm start is reused only under the same hash.
    pub config_hash: String,
    /// What a student takes from its teacher; `None` for the teacher itself.
    pub teacher: Option<FromTeacher>,
}

/// What a student shares with its teacher, so that both score the same tokens.
pub struct FromTeacher {
    /// The teacher's prompts, in its tokenizer.
    pub prompt: PromptBuilder,
    /// The teacher's output width (a checkpoint's may exceed its tokenizer's vocabulary).
    pub vocab_size: usize,
    /// How many of a checkpoint teacher's blocks a pruned student keeps; 0 = a preset.
    pub keep_blocks: usize,
}

/// Runs the warm start unless a checkpoint of the same resolved config exists; returns the
/// report for `metrics.json`.
pub fn warm_start_stage(
    exp: &Experiment,
    data: &Dataset,
    cleaner: Option<&Cleaner>,
) -> Result<Value> {
    let target = WarmStartTarget {
        dir: checkpoint_dir(exp),
        config_hash: warm_start_key(&exp.config)?,
        teacher: None,
    };
    warm_start_into(exp, data, cleaner, target)
}

/// The warm start of `exp`'s policy section into `target`, reused when saved under its hash.
pub fn warm_start_into(
    exp: &Experiment,
    data: &Dataset,
    cleaner: Option<&Cleaner>,
    target: WarmStartTarget,
) -> Result<Value> {
    let cfg = &exp.config;
    let dir = target.dir;
    let config_hash = target.config_hash;
    let report_path = dir.join("warm_start.json");
    if let Ok(text) = std::fs::read_to_string(&report_path) {
        let saved: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if saved["config_hash"] == json!(config_hash) {
            eprintln!(
                "policy: reusing the warm start in {} (same config)",
                dir.display()
            );
            return Ok(saved);
        }
    }
    let seed = cfg.experiment.seed;
    let clean = |u: UserRecord| match cleaner {
        Some(c) => c.clean_user(&u),
        None => u,
    };
    let train: Vec<UserRecord> = data.iter_split(Split::Train).map(clean).collect();
    let valid: Vec<UserRecord> = data
        .iter_split(Split::Valid)
        .take(cfg.warm_start.eval_users as usize)
        .map(clean)
        .collect();

    let t = Instant::now();
    let stats = TermStats::build(&data.corpus);
    // Targets sit inside the format with a margin on every bound: a small policy imitates
    // them loosely at temperature 1.
    let bootstrap = Bootstrap::new(&stats, target_format(&cfg.format))?;
    // The last training users are held out of fine-tuning to probe it (see `warm_start`).
    let probe_users = (cfg.warm_start.probe_users as usize).min(train.len() / 2);
    let sft_users = train.len() - probe_users;
    // Every user has a list, generic fill included: the users who need fill are the sparse
    // histories, and a policy never shown one ends their lists too early.
    let lists: Vec<Vec<String>> = train[..sft_users]
        .iter()
        .map(|u| bootstrap.for_user(u).queries)
        .collect();
    let device = training_device(cfg.experiment.device)?;
    let keep_blocks = target.teacher.as_ref().map_or(0, |t| t.keep_blocks);
    let start = match checkpoint_path(exp) {
        Some(path) => from_checkpoint(exp, &path, keep_blocks, &device)?,
        None => from_preset(exp, &data.corpus, &train, &lists, target.teacher, &device)?,
    };
    let PolicyStart {
        decoder,
        decoder_cfg,
        builder,
        kind,
        name,
    } = start;
    let tokenizer = builder.tokenizer.clone();
    let mut ws = cfg.warm_start.clone();
    let mut lm_stream = Vec::new();
    if kind == "checkpoint" {
        // A checkpoint is already pretrained: it has no language-modelling stage.
        ws.lm_steps = 0;
    } else {
        // Pre-split articles and signal text only: the lists are learned in the supervised
        // stage. Texts are separated by Quill's beginning-of-text token, or, in a checkpoint's
        // tokenizer (a from-scratch student of a checkpoint teacher), by its end token.
        let separator = tokenizer
            .quill_ids()
            .map_or_else(|| tokenizer.end_id(), |ids| ids.bos);
        for text in training_texts(&data.corpus, &train, &[]) {
            lm_stream.push(separator);
            lm_stream.extend(tokenizer.encode_plain(&text));
        }
    }
    // The tokenizer above learned the whole-history lists' words; the targets themselves come
    // from what `bootstrap_from` names.
    let from = cfg.warm_start.bootstrap_from;
    let sft = train[..sft_users]
        .iter()
        .map(|u| {
            let target = bootstrap_target(&bootstrap, &builder, u, from);
            (builder.prompt(u), builder.response_of(&target))
        })
        .collect();
    let eval_prompts = valid.iter().map(|u| builder.prompt(u)).collect();
    let probe_prompts = train[sft_users..]
        .iter()
        .map(|u| builder.prompt(u))
        .collect();
    let warm = WarmStartData {
        lm_stream,
        sft,
        eval_prompts,
        probe_prompts,
    };
    eprintln!(
        "policy: tokenizer of {} tokens, {} bootstrap lists of {} training users, {} LM tokens ({:.1}s)",
        tokenizer.vocab_size(),
        lists.len(),
        train.len(),
        warm.lm_stream.len(),
        t.elapsed().as_secs_f64()
    );
    eprintln!(
        "policy: {kind} {name} ({} parameters{})",
        decoder_cfg.param_count(),
        match decoder.adapter_param_count() {
            0 => String::new(),
            n => format!("; training {n} in LoRA adapters"),
        }
    );
    let max_new = cfg.sampling.max_new_tokens as usize;
    let steps =
        u64::from(ws.lm_steps + ws.sft_steps + ws.unlikelihood_steps + ws.self_filter_steps);
    let bar = quill::progress::bar(steps, "warm start");
    let (decoder, report) = warm_start(
        decoder,
        &warm,
        &ws,
        &builder,
        &cfg.sampling,
        max_new,
        seed,
        |stage, _, loss| {
            bar.set_message(format!("{stage} loss {loss:.3}"));
            bar.inc(1)
        },
    )?;
    bar.finish_and_clear();
    if ws.unlikelihood_steps > 0 {
        let last = report.unlikelihood_invalid.last().map_or(0.0, |w| w.1);
        eprintln!(
            "policy: unlikelihood fine-tuning pushed down {} tokens in {} sampled lists; \
             {:.1}% of the last tenth's samples invalid ({:.0}s)",
            report.unlikelihood_penalised,
            report.unlikelihood_sampled,
            100.0 * last,
            report.unlikelihood_seconds
        );
    }
    if ws.self_filter_steps > 0 {
        eprintln!(
            "policy: self-filtered fine-tuning on {} valid of {} sampled lists ({:.0}s)",
            report.self_filter_kept, report.self_filter_sampled, report.self_filter_seconds
        );
    }
    eprintln!(
        "policy: warm start {:.0}s + {:.0}s ({:.0} tokens/s); {:.1}% of {} sampled lists valid",
        report.lm_seconds,
        report.sft_seconds + report.unlikelihood_seconds + report.self_filter_seconds,
        report.train_tokens_per_second,
        100.0 * report.valid_rate,
        report.sampled_lists
    );
    let provenance = json!({ "policy": name, "stage": "warm_start", "seed": seed });
    save_checkpoint(
        &dir,
        &decoder,
        &decoder_cfg,
        Some(tokenizer.to_json()?.as_bytes()),
        provenance,
    )?;
    if let Some(spec) = cfg.policy.lora.spec() {
        let base = checkpoint_path(exp).map_or_else(String::new, |p| p.display().to_string());
        save_peft_adapter(&dir.join("adapter"), &decoder, &decoder_cfg, &spec, &base)?;
    }
    let mut value = serde_json::to_value(&report)?;
    value["adapter_parameters"] = json!(decoder.adapter_param_count());
    value["config_hash"] = json!(config_hash);
    value["preset"] = json!(name);
    value["parameters"] = json!(decoder_cfg.param_count());
    value["vocab_size"] = json!(tokenizer.vocab_size());
    // Written after the checkpoint: its presence with this hash marks a finished stage.
    write_json(&report_path, &value)?;
    Ok(value)
}

/// The policy a warm start begins from, and what its prompts are written with.
struct PolicyStart {
    decoder: Decoder,
    decoder_cfg: DecoderConfig,
    builder: PromptBuilder,
    /// "preset" or "checkpoint".
    kind: &'static str,
    /// The preset's name, or the checkpoint's file name.
    name: String,
}

/// A fresh preset with a tokenizer trained on the data (or, for a student, its teacher's
/// prompts and output width).
fn from_preset(
    exp: &Experiment,
    corpus: &Corpus,
    train: &[UserRecord],
    lists: &[Vec<String>],
    teacher: Option<FromTeacher>,
    device: &Device,
) -> Result<PolicyStart> {
    let cfg = &exp.config;
    let preset = find_preset(&cfg.policy.preset)?;
    let vocab = match cfg.policy.vocab_size {
        0 => preset.config.vocab_size,
        v => v as usize,
    };
    let (builder, vocab) = match teacher {
        Some(teacher) => (teacher.prompt, teacher.vocab_size),
        None => {
            let tokenizer = PolicyTokenizer::train(training_texts(corpus, train, lists), vocab)?;
            let vocab = tokenizer.vocab_size();
            let budget = cfg.policy.prompt_budget as usize;
            (
                PromptBuilder::new(tokenizer, budget, cfg.format.clone())?,
                vocab,
            )
        }
    };
    let mut decoder_cfg = preset.with_vocab(vocab);
    let longest = (cfg.policy.prompt_budget + cfg.sampling.max_new_tokens)
        .max(cfg.warm_start.lm_seq_len) as usize;
    decoder_cfg.max_positions = decoder_cfg.max_positions.max(longest);
    decoder_cfg.validate(&format!("policy preset {}", preset.name))?;
    Ok(PolicyStart {
        decoder: Decoder::new(&decoder_cfg, cfg.experiment.seed, device),
        decoder_cfg,
        builder,
        kind: "preset",
        name: preset.name.to_string(),
    })
}

/// The pretrained checkpoint at `path`, prompted through its chat template; with
/// `keep_blocks` > 0, only that many of its blocks, spread evenly (a pruned student).
fn from_checkpoint(
    exp: &Experiment,
    path: &Path,
    keep_blocks: usize,
    device: &Device,
) -> Result<PolicyStart> {
    let cfg = &exp.config;
    let mut model = load_pretrained(path, device)
        .with_context(|| format!("policy.checkpoint: {}", path.display()))?;
    let longest = (cfg.policy.prompt_budget + cfg.sampling.max_new_tokens) as usize;
    if longest > model.config.max_positions {
        bail!(
            "policy.prompt_budget {} + sampling.max_new_tokens {} = {longest} tokens exceed the \
             {} positions of {}",
            cfg.policy.prompt_budget,
            cfg.sampling.max_new_tokens,
            model.config.max_positions,
            path.display()
        );
    }
    let mut name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    if keep_blocks > 0 {
        let layers = model.config.layers;
        let keep = evenly_spaced_blocks(layers, keep_blocks)?;
        (model.decoder, model.config) = model.decoder.pruned(&model.config, &keep)?;
        name = format!("{name}, blocks {keep:?} of {layers}");
    }
    let decoder = match cfg.policy.lora.spec() {
        Some(spec) => model
            .decoder
            .with_lora(&spec, &model.config, cfg.experiment.seed)?,
        None => model.decoder,
    };
    Ok(PolicyStart {
        decoder,
        decoder_cfg: model.config,
        builder: chat_prompt(cfg, model.text)?,
        kind: "checkpoint",
        name,
    })
}

/// The bootstrap list a user's warm start is fine-tuned towards (`[warm_start]
/// bootstrap_from`): the rule over what the user's prompt shows, or over the whole history.
pub fn bootstrap_target(
    bootstrap: &Bootstrap,
    builder: &PromptBuilder,
    user: &UserRecord,
    from: BootstrapFrom,
) -> Vec<String> {
    match from {
        BootstrapFrom::Prompt => bootstrap.list(builder.shown(&user.history)).queries,
        BootstrapFrom::History => bootstrap.for_user(user).queries,
    }
}
