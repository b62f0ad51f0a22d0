//! What `quill serve` answers with: a policy checkpoint, the experiment it came from (prompt
//! budget, query-list format, sampling, cleaner, corpus and retriever), and one batched pass
//! that turns many users' signals into query lists and retrieved articles.

use super::ServerArgs;
use crate::config::{self, Experiment};
use anyhow::{Context, Result, bail};
use quill::clean::Cleaner;
use quill::data::{Corpus, Dataset, Signal, UserRecord};
use quill::policy::{
    Decoder, Generation, POLICY_FILE, SamplingConfig, TOKENIZER_FILE, generate, load_policy,
};
use quill::retrieval::Retriever;
use quill::text::PromptBuilder;
use serde::Serialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64;

/// One user's request, validated (see `api`): the signals oldest first, and how many articles
/// each query retrieves.
#[derive(Debug, Clone)]
pub struct Input {
    pub user: String,
    pub signals: Vec<Signal>,
    pub top_k: usize,
}

/// One retrieved article.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Article {
    pub id: String,
    pub title: String,
    pub category: String,
    pub date: String,
    pub score: f32,
}

/// One query and its articles, best first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryResult {
    pub query: String,
    pub articles: Vec<Article>,
}

/// The answer to one user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The signals the cleaner kept (all of them without a cleaner), oldest first.
    pub cleaned_signals: Vec<Signal>,
    /// The queries read from the generated list, in the order written.
    pub queries: Vec<String>,
    /// Whether the list follows the query-list format (`[format]`).
    pub valid: bool,
    /// What breaks the format, when `valid` is false (e.g. `Unterminated`).
    pub problems: Vec<String>,
    pub results: Vec<QueryResult>,
}

/// The loaded model and everything around it. Shared by the batcher's generation thread
/// (through an `Arc`); nothing in it changes after loading.
pub struct Engine {
    decoder: Decoder,
    builder: PromptBuilder,
    cleaner: Option<Cleaner>,
    corpus: Arc<Corpus>,
    retriever: Arc<dyn Retriever>,
    sampling: SamplingConfig,
    seed: u64,
    /// `GET /healthz`'s description of the model, cleaner and decoding.
    pub info: Value,
}

impl Engine {
    /// Loads the checkpoint and its experiment (see [`find_config`]); returns the engine and
    /// the dataset (whose test users `quill bench serve` replays).
    pub fn load(args: &ServerArgs) -> Result<(Engine, Dataset)> {
        let dir = &args.checkpoint;
        // A policy `quill run` saved, or a pretrained checkpoint as it is (prompt-only), whose
        // experiment (with `[policy] checkpoint` naming it) --config gives.
        let pretrained = !dir.join(POLICY_FILE).is_file();
        if pretrained && args.config.is_none() {
            bail!(
                "--checkpoint {}: no {POLICY_FILE} there; give a policy checkpoint directory \
                 (e.g. runs/quickstart/grpo/policy or runs/quickstart/policy), or a pretrained \
                 checkpoint with --config naming an experiment whose [policy] checkpoint it is",
                dir.display()
            );
        }
        let exp = experiment(dir, args.config.as_deref())?;
        if pretrained {
            let same = |p: &Path| std::fs::canonicalize(p).ok();
            let named = crate::scoring::checkpoint_path(&exp);
            if named
                .as_deref()
                .and_then(same)
                .is_none_or(|n| Some(n) != same(dir))
            {
                bail!(
                    "--checkpoint {} is not a policy directory, and {} does not name it as its \
                     [policy] checkpoint",
                    dir.display(),
                    exp.path.display()
                );
            }
        }
        let cfg = &exp.config;
        let seed = cfg.experiment.seed;
        let device = quill::device::device(cfg.experiment.device)?;
        let (decoder, shape) = load_policy(dir, &device)
            .with_context(|| format!("loading the policy checkpoint {}", dir.display()))?;
        let max_new_tokens = cfg.sampling.max_new_tokens as usize;
        let budget = cfg.policy.prompt_budget as usize;
        // Checked once here so that no request can ask generation for more positions than
        // the model has (generation would refuse, and every request of the batch would fail).
        if budget + max_new_tokens > shape.max_positions {
            bail!(
                "{}: policy.prompt_budget {budget} + sampling.max_new_tokens {max_new_tokens} \
                 exceed the checkpoint's {} positions",
                exp.path.display(),
                shape.max_positions
            );
        }
        // Quill's own layout, or the chat template of the checkpoint the policy was tuned from.
        let builder = crate::scoring::policy_prompt(&exp, dir)
            .with_context(|| format!("loading {}", dir.join(TOKENIZER_FILE).display()))?;
        let (cleaner, cleaner_info) = if args.no_cleaner {
            (None, json!({ "enabled": false, "reason": "--no-cleaner" }))
        } else {
            match crate::stages::clean::saved_cleaner(&exp) {
                Ok(Some(c)) => (Some(c), json!({ "enabled": true })),
                Ok(None) => (
                    None,
                    json!({ "enabled": false, "reason": "cleaner.enabled = false in the config" }),
                ),
                // The brief of serving: answer uncleaned rather than not at all, and say so
                // (on stderr now and in /healthz for as long as it serves).
                Err(e) => {
                    let reason = format!("{e:#}");
                    eprintln!("warning: serving without the cleaner: {reason}");
                    (None, json!({ "enabled": false, "reason": reason }))
                }
            }
        };
        let data =
            quill::data::load_dataset(&cfg.data, seed, &exp.base_dir).with_context(|| {
                format!(
                    "loading the data of {} (relative paths resolve against {}; if they were \
                 relative to the original experiment file, pass --config with that file)",
                    exp.path.display(),
                    exp.base_dir.display()
                )
            })?;
        let stack = cfg
            .retrieval
            .build_at(&data.corpus, seed, &exp.base_dir)
            .context("building the retrieval index")?;
        let sampling = if args.sample {
            cfg.sampling.clone()
        } else {
            SamplingConfig {
                temperature: 0.0,
                ..cfg.sampling.clone()
            }
        };
        let provenance = std::fs::read(dir.join(POLICY_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .map(|v| v["provenance"].clone())
            .unwrap_or(Value::Null);
        // Names only: /healthz is public, and absolute paths tell a caller about the host.
        let name = |p: &std::path::Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
        let info = json!({
            "checkpoint": name(dir),
            "config": name(&exp.path),
            "model": {
                // Checkpoints record their preset (a distilled student's is not the config's
                // `policy.preset`); older ones fall back on the experiment's.
                "preset": provenance.get("preset").cloned().unwrap_or(json!(cfg.policy.preset)),
                "stage": provenance.get("stage").cloned().unwrap_or(Value::Null),
                "parameters": shape.param_count(),
                "vocab_size": shape.vocab_size,
                "layers": shape.layers,
                "hidden_size": shape.hidden_size,
            },
            "cleaner": cleaner_info,
            "decoding": {
                "mode": if args.sample { "sampled" } else { "greedy" },
                "temperature": sampling.temperature,
                "top_k": sampling.top_k,
                "top_p": sampling.top_p,
                "max_new_tokens": max_new_tokens,
                "prompt_budget": budget,
            },
            "retrieval": {
                "retriever": cfg.retrieval.retriever,
                "articles": data.corpus.len(),
            },
            "dataset": data.name,
        });
        let engine = Engine {
            decoder,
            builder,
            cleaner,
            corpus: data.corpus.clone(),
            retriever: stack.retriever,
            sampling,
            seed,
            info,
        };
        Ok((engine, data))
    }

    /// Answers a batch of users with one `generate` call (one forward pass per decoding step
    /// for the whole batch). With sampling on, each user draws from a seed of its own signals,
    /// so an answer does not depend on which other requests share its batch.
    pub fn answer(&self, inputs: &[Input]) -> Result<Vec<Answer>> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let users: Vec<UserRecord> = inputs
            .iter()
            .map(|i| UserRecord {
                id: i.user.clone(),
                history: i.signals.clone(),
                future_clicks: Vec::new(),
                candidates: None,
                interests: None,
            })
            .collect();
        let users = match &self.cleaner {
            Some(c) => c.clean_users(&users),
            None => users,
        };
        let prompts: Vec<Vec<u32>> = users.iter().map(|u| self.builder.prompt(u)).collect();
        let seeds: Vec<u64> = prompts.iter().map(|p| self.seed ^ seed_of(p)).collect();
        let end = [self.builder.tokenizer.end_id()];
        let how = Generation {
            sampler: &self.sampling,
            max_new_tokens: self.sampling.max_new_tokens as usize,
            stop_tokens: &end,
            pad_id: self.builder.tokenizer.pad_id(),
        };
        let completions = generate(&self.decoder, &prompts, &seeds, &how)?;
        let lists: Vec<_> = completions
            .iter()
            .map(|c| self.builder.parse_response(&c.tokens))
            .collect();
        // Every query of the batch in one retriever call, as deep as the deepest request.
        let depth = inputs.iter().map(|i| i.top_k).max().unwrap_or(1);
        let queries: Vec<&str> = lists
            .iter()
            .flat_map(|l| l.queries.iter().map(String::as_str))
            .collect();
        let mut hits = self.retriever.search_batch(&queries, depth).into_iter();
        let answers = users
            .into_iter()
            .zip(lists)
            .zip(inputs)
            .map(|((user, list), input)| {
                let results = list
                    .queries
                    .iter()
                    .map(|q| QueryResult {
                        query: q.clone(),
                        articles: hits
                            .next()
                            .unwrap_or_default()
                            .into_iter()
                            .take(input.top_k)
                            .map(|h| self.article(h.article, h.score))
                            .collect(),
                    })
                    .collect();
                Answer {
                    cleaned_signals: user.history,
                    valid: list.is_valid(),
                    problems: list.problems.iter().map(|p| p.kind().to_string()).collect(),
                    queries: list.queries,
                    results,
                }
            })
            .collect();
        Ok(answers)
    }

    fn article(&self, index: u32, score: f32) -> Article {
        let item = self.corpus.item(index);
        Article {
            id: item.id.clone(),
            title: item.title.clone(),
            category: item.category.clone(),
            date: item.date.to_string(),
            score,
        }
    }

    /// Most new tokens a list may have (`[sampling] max_new_tokens`).
    pub fn max_new_tokens(&self) -> u32 {
        self.sampling.max_new_tokens
    }
}

/// A seed that depends on the prompt alone.
fn seed_of(prompt: &[u32]) -> u64 {
    let bytes: Vec<u8> = prompt.iter().flat_map(|t| t.to_le_bytes()).collect();
    xxh3_64(&bytes)
}

/// The experiment a checkpoint is served with: `--config FILE`, else the `config.toml` that
/// `quill run` wrote in the run directory, found in the checkpoint's ancestors
/// (runs/quickstart/grpo/policy → runs/quickstart/config.toml).
pub fn experiment(checkpoint: &Path, explicit: Option<&Path>) -> Result<Experiment> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => find_config(checkpoint)?,
    };
    let mut exp = config::load(&path)?;
    // A run's resolved config.toml names its output directory relative to where `quill run`
    // was started; the directory it sits in is the run directory wherever we are now, so the
    // saved cleaner is found from any working directory.
    if let Some(output_dir) =
        run_dir_of(&path, &exp).and_then(|d| d.parent().map(Path::to_path_buf))
    {
        // A sweep cell (`runs/<name>/cells/<cell>/`) keeps its cleaner with the sweep's
        // shared stages, `runs/<name>/stages/`.
        if output_dir.file_name() == Some(std::ffi::OsStr::new("cells")) {
            exp.stage_dir = output_dir.parent().map(|sweep| sweep.join("stages"));
        }
        exp.config.experiment.output_dir = output_dir;
    }
    if !exp.config.sweep.is_empty() {
        bail!(
            "{}: a sweep file names many runs; pass --config with one cell's config.toml \
             (runs/<name>/cells/<cell>/config.toml)",
            path.display()
        );
    }
    Ok(exp)
}

/// The nearest `config.toml` in `checkpoint` or its ancestors.
pub fn find_config(checkpoint: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(checkpoint)
        .with_context(|| format!("resolving {}", checkpoint.display()))?;
    abs.ancestors()
        .map(|d| d.join("config.toml"))
        .find(|p| p.is_file())
        .with_context(|| {
            format!(
                "no config.toml in {} or any directory above it: `quill run` writes one in \
                 the run directory (e.g. runs/quickstart/config.toml); pass --config FILE with \
                 the experiment the checkpoint was trained by",
                abs.display()
            )
        })
}

/// The run directory of a `config.toml` written by `quill run` (`<output_dir>/<name>/`): its
/// directory, when that is named after the experiment. `None` for an experiment file.
fn run_dir_of(path: &Path, exp: &Experiment) -> Option<PathBuf> {
    let dir = path.parent()?;
    let named = dir.file_name()? == std::ffi::OsStr::new(&exp.config.experiment.name);
    (path.file_name()? == "config.toml" && named).then(|| dir.to_path_buf())
}
