//! The experiment file: its schema (sections declared once in the library, with docs, defaults
//! and ranges) and loading with errors that name file, line, column, field and valid values.

pub use crate::overrides::Overrides;
use crate::sweep::{Cell, SweepSpec};
use anyhow::{Context, Result, anyhow, bail};
use quill::bounded_read::{CONFIG_BYTES, read_text_bounded};
use quill::clean::CleanerConfig;
use quill::config::{Check, Section};
use quill::data::DataConfig;
use quill::device::DeviceKind;
use quill::distill::DistillConfig;
use quill::policy::SamplingConfig;
use quill::retrieval::RetrievalConfig;
use quill::reward::{CompositeConfig, JudgeConfig};
use quill::text::query_list::QueryListFormat;
use quill::train::grpo::GrpoConfig;
use quill::train::{PolicySection, WarmStartConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

quill::config_section! {
    /// The `[experiment]` section.
    pub struct ExperimentSection {
        /// Name of the experiment; results go to `<output_dir>/<name>`.
        pub name: String = "experiment".into(), Check::NonEmpty;
        /// The one seed that drives everything (simulator, cleaner, training, sampling).
        pub seed: u64 = 42, Check::Any;
        /// Where results are written (relative to the working directory).
        pub output_dir: PathBuf = PathBuf::from("runs"), Check::NonEmpty;
        /// Compute device: cpu (default), or wgpu / cuda when built with that cargo feature.
        pub device: DeviceKind = DeviceKind::Cpu, Check::Any;
        /// On the CPU, training steps split their batch into this many row shards whose
        /// forward and backward passes run on threads of their own: the CPU backend runs
        /// elementwise ops on one thread, so one pass keeps ~1.3 of 2 cores busy (2 shards:
        /// ~1.3x the training tokens/s on 2 idle cores, no gain when a core is taken). The
        /// numbers depend on the count (float sums), not on the machine. 1 = one pass.
        pub cpu_shards: u32 = 2, Check::Range { min: 1.0, max: 64.0 };
        /// Reward ablation: `full`, or `no_<reward>` (see `quill rewards`).
        pub ablation: String = "full".into(), Check::NonEmpty;
    }
}

quill::config_section! {
    /// The `[evaluation]` section: the test-split evaluation of the saved policies.
    pub struct EvaluationConfig {
        /// Sampled lists per test user; the sampled rows average over them. One draw per user
        /// is a noisy estimate of a policy's expected metrics (most users' recall is 0 or 1/k),
        /// too noisy to rank two close policies.
        pub samples_per_user: u32 = 4, Check::Range { min: 1.0, max: 64.0 };
        /// Lists decoded per batch (test split and GRPO's validation). Each list depends on its
        /// own seed only, so this changes speed and memory, not results (up to float rounding
        /// of the padding width). On a GPU, larger batches amortise each step's kernel launches.
        pub batch_size: u32 = 128, Check::Range { min: 1.0, max: 65536.0 };
    }
}

quill::config_section! {
    /// An experiment file.
    pub struct ExperimentConfig {
        /// Name, seed, output and device.
        pub experiment: ExperimentSection = ExperimentSection::default(), Check::Any;
        /// Users, corpus and simulator.
        pub data: DataConfig = DataConfig::default(), Check::Any;
        /// The noise cleaner.
        pub cleaner: CleanerConfig = CleanerConfig::default(), Check::Any;
        /// The query-list format.
        pub format: QueryListFormat = QueryListFormat::default(), Check::Any;
        /// Retriever, fusion and the built-in embedder.
        pub retrieval: RetrievalConfig = RetrievalConfig::default(), Check::Any;
        /// How weighted rewards combine.
        pub composite: CompositeConfig = CompositeConfig::default(), Check::Any;
        /// The judge of the rubric rewards (interest coverage, query specificity).
        pub judge: JudgeConfig = JudgeConfig::default(), Check::Any;
        /// The policy: preset, tokenizer vocabulary, prompt budget.
        pub policy: PolicySection = PolicySection::default(), Check::Any;
        /// The warm start: language modelling, then supervised bootstrap lists.
        pub warm_start: WarmStartConfig = WarmStartConfig::default(), Check::Any;
        /// How query lists are sampled from the policy (in training and `quill sample`).
        pub sampling: SamplingConfig = SamplingConfig::default(), Check::Any;
        /// GRPO / Dr.GRPO on the composite reward, from the warm-started policy.
        pub grpo: GrpoConfig = GrpoConfig::default(), Check::Any;
        /// Distillation of the GRPO-trained policy (the teacher) into a small student.
        pub distill: DistillConfig = DistillConfig::default(), Check::Any;
        /// The test-split evaluation.
        pub evaluation: EvaluationConfig = EvaluationConfig::default(), Check::Any;
        /// Rewards by registered name: `[rewards.<name>]` with `weight` (default 1; 0 scores
        /// and reports the reward without training on it) and the plugin's own parameters.
        /// Tables are merged into the paper's five: a file that names one keeps the others.
        pub rewards: BTreeMap<String, toml::Table> = default_rewards(), Check::Any;
        /// Named sweeps, `[sweep.<name>]`: `axes.<field path> = [values]` and `mode`
        /// (`product` or `zip`); each combination is one run (a cell). See docs/configuration.md,
        /// "Sweeps".
        pub sweep: BTreeMap<String, SweepSpec> = BTreeMap::new(), Check::Any;
    }
}

/// The paper's five rewards (the default set); a file's `[rewards.<name>]` tables are merged
/// into them (a table changes its reward, the others stay), so a plugin registered beyond these
/// five joins an experiment only when the file names it, and a reward leaves the composite's
/// training signal only with `weight = 0` (it is still scored and reported) or an ablation.
pub use quill_rewards::PAPER_REWARDS;

fn default_rewards() -> BTreeMap<String, toml::Table> {
    PAPER_REWARDS
        .iter()
        .map(|name| (name.to_string(), toml::Table::new()))
        .collect()
}

/// `configured` merged into the paper's five: each named table replaces its reward's.
fn with_paper_rewards(configured: BTreeMap<String, toml::Table>) -> BTreeMap<String, toml::Table> {
    let mut rewards = default_rewards();
    rewards.extend(configured);
    rewards
}

/// A loaded, validated experiment.
pub struct Experiment {
    pub config: ExperimentConfig,
    /// The file it came from.
    pub path: PathBuf,
    /// Directory relative data paths resolve against (the file's own directory).
    pub base_dir: PathBuf,
    /// Where shared stages (the warm start) go, keyed by their hash; `None`: inside the
    /// experiment's own output directory. Sweep cells share one.
    pub stage_dir: Option<PathBuf>,
    /// The sweep cell this experiment is, if it is one.
    pub cell: Option<Cell>,
    /// The command line's `--set` and `--name`, applied to the file (a sweep's cells and worker
    /// processes apply them too).
    pub overrides: Overrides,
}

impl Experiment {
    /// The output directory of this experiment.
    pub fn output_dir(&self) -> PathBuf {
        self.config
            .experiment
            .output_dir
            .join(&self.config.experiment.name)
    }

    /// Where a stage is kept: `<output dir>/<own>`, or, where stages are shared (sweep cells),
    /// `<stage_dir>/<kind>-<hash>` so that every cell of the same stage config finds it.
    pub fn stage_path(&self, own: &str, kind: &str, hash: Result<String>) -> PathBuf {
        match (&self.stage_dir, hash) {
            (Some(shared), Ok(hash)) => shared.join(format!("{kind}-{hash}")),
            // Serialising a validated config does not fail; the own directory is a safe
            // fallback if it ever did.
            _ => self.output_dir().join(own),
        }
    }
}

/// Reads, parses and validates an experiment file.
pub fn load(path: &Path) -> Result<Experiment> {
    load_with(path, &Overrides::default())
}

/// Reads an experiment file, applies the command line's overrides, parses and validates it.
pub fn load_with(path: &Path, overrides: &Overrides) -> Result<Experiment> {
    let config = parse(
        &source(path, overrides)?,
        Path::new(&overrides.origin(path)),
    )?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(Experiment {
        config,
        path: path.to_path_buf(),
        base_dir,
        stage_dir: None,
        cell: None,
        overrides: overrides.clone(),
    })
}

/// The text of an experiment file with the overrides applied: what a sweep expands.
pub fn source(path: &Path, overrides: &Overrides) -> Result<String> {
    let src = read_text_bounded(path, CONFIG_BYTES, "an experiment file")
        .context("cannot read the experiment file")?;
    overrides.apply(&src, path)
}

/// Checks what parsing cannot: that every file and directory the experiment reads exists and
/// that its device is compiled into this build. Every problem is listed, each with its field,
/// the path as resolved and how to fix it.
pub fn check_inputs(exp: &Experiment) -> Result<()> {
    let cfg = &exp.config;
    let resolve = |p: &Path| quill::io::resolve_path(&exp.base_dir, p);
    let mut problems = Vec::new();
    for (field, path) in cfg.data.input_files() {
        let at = resolve(path);
        if !at.is_file() {
            problems.push(format!(
                "{field}: {} is not a file (relative paths resolve against the experiment \
                 file's directory; docs/data.md says where each dataset comes from)",
                at.display()
            ));
        }
    }
    if cfg.cleaner.enabled && !cfg.cleaner.load.as_os_str().is_empty() {
        let at = resolve(&cfg.cleaner.load);
        if !at.is_dir() {
            problems.push(format!(
                "cleaner.load: {} is not a directory (a cleaner `quill run` saved, e.g. \
                 runs/<name>/cleaner)",
                at.display()
            ));
        }
    }
    if cfg.retrieval.embedder == quill::retrieval::EmbedderKind::Minilm {
        let dir = quill::retrieval::minilm_dir(&cfg.retrieval.minilm_dir, &exp.base_dir);
        if let Some(absent) = quill::retrieval::MINILM_FILES
            .iter()
            .find(|f| !dir.join(f).is_file())
        {
            problems.push(format!(
                "retrieval.minilm_dir: {} has no {absent} (fetch the model with \
                 scripts/fetch_minilm.sh, or set ${})",
                dir.display(),
                quill::retrieval::MINILM_DIR_ENV
            ));
        }
    }
    if let Some(path) = crate::scoring::checkpoint_path(exp)
        && let Err(e) = quill::policy::check_pretrained_path(&path)
    {
        problems.push(format!(
            "policy.checkpoint: {e} (scripts/fetch_smollm2.sh fetches SmolLM2-135M-Instruct)"
        ));
    }
    if let Err(e) = quill::device::device(cfg.experiment.device) {
        problems.push(format!("experiment.{e}"));
    }
    if !problems.is_empty() {
        anyhow::bail!(
            "{}: cannot run as it stands:\n  {}",
            exp.path.display(),
            problems.join("\n  ")
        );
    }
    Ok(())
}

/// Parses and validates experiment TOML; errors are `file:line:column: field: message`.
pub fn parse(src: &str, path: &Path) -> Result<ExperimentConfig> {
    let mut config: ExperimentConfig = toml::from_str(src).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let field = crate::locate::path_at(src, span.start)
            .map(|p| format!("{p}: "))
            .unwrap_or_default();
        let (line, col) = crate::locate::line_col(src, span.start);
        let message = e.message().trim();
        anyhow!(
            "{}:{line}:{col}: {field}{message}{}",
            path.display(),
            trl_hint(message)
        )
    })?;
    config.rewards = with_paper_rewards(std::mem::take(&mut config.rewards));
    if config.policy.checkpoint.is_some()
        && let Some(start) = crate::locate::span_of(src, "policy.preset")
    {
        let (line, col) = crate::locate::line_col(src, start);
        bail!(
            "{}:{line}:{col}: policy.preset and policy.checkpoint are both set: the policy is \
             a from-scratch preset or a pretrained checkpoint; remove one",
            path.display()
        );
    }
    validate(&config).map_err(|e| match &e {
        quill::Error::Input { origin, .. } => {
            let at = crate::locate::span_of(src, origin)
                .map(|start| {
                    let (line, col) = crate::locate::line_col(src, start);
                    format!("{line}:{col}: ")
                })
                .unwrap_or_default();
            anyhow!("{}:{at}{e}", path.display())
        }
        _ => anyhow!("{}: {e}", path.display()),
    })?;
    Ok(config)
}

/// TRL's names of settings that mean the same as a Quill field; an unknown field with one of
/// these names gets the Quill name in its error.
const TRL_NAMES: [(&str, &str); 4] = [
    ("num_generations", "grpo.group_size"),
    ("max_completion_length", "sampling.max_new_tokens"),
    (
        "num_train_epochs",
        "grpo.steps (Quill counts updates, not epochs)",
    ),
    ("max_prompt_length", "policy.prompt_budget"),
];

/// ` (TRL's num_generations is Quill's grpo.group_size)` for an unknown field TRL names.
fn trl_hint(message: &str) -> String {
    TRL_NAMES
        .iter()
        .find(|(trl, _)| message.contains(&format!("unknown field `{trl}`")))
        .map(|(trl, quill)| format!(" (TRL's {trl} is Quill's {quill})"))
        .unwrap_or_default()
}

/// Range checks of every field, then the checks across fields and the plugin registries.
pub fn validate(c: &ExperimentConfig) -> quill::Result<()> {
    c.validate("")?;
    // The name is a directory under output_dir: a path in it would write elsewhere.
    let name = &c.experiment.name;
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(quill::Error::field(
            "experiment.name",
            format!(
                "{name:?} is not a plain name: it names the directory under output_dir that \
                 results go to, so it may not hold / or \\ or be . or .."
            ),
        ));
    }
    c.data.check_consistency()?;
    c.data.world.check_consistency()?;
    if c.format.min_queries > c.format.max_queries {
        return Err(quill::Error::field(
            "format.min_queries",
            format!(
                "min_queries {} exceeds max_queries {}",
                c.format.min_queries, c.format.max_queries
            ),
        ));
    }
    if c.format.min_query_chars > c.format.max_query_chars {
        return Err(quill::Error::field(
            "format.min_query_chars",
            format!(
                "min_query_chars {} exceeds max_query_chars {}",
                c.format.min_query_chars, c.format.max_query_chars
            ),
        ));
    }
    if c.grpo.enabled && c.grpo.steps > 0 && !c.warm_start.enabled && c.policy.checkpoint.is_none()
    {
        return Err(quill::Error::field(
            "grpo.enabled",
            "GRPO starts from the warm-started policy (or a pretrained checkpoint): set \
             warm_start.enabled = true, policy.checkpoint, or grpo.enabled = false",
        ));
    }
    if c.policy.checkpoint.is_none() && c.distill.student_blocks > 0 {
        return Err(quill::Error::field(
            "distill.student_blocks",
            format!(
                "{} with a preset teacher: a student keeps some of a pretrained checkpoint \
                 teacher's blocks; set policy.checkpoint, or student_blocks = 0 for the \
                 student_preset",
                c.distill.student_blocks
            ),
        ));
    }
    if c.policy.checkpoint.is_some() && c.policy.vocab_size != 0 {
        return Err(quill::Error::field(
            "policy.vocab_size",
            format!(
                "{} with policy.checkpoint: a checkpoint brings its own tokenizer; leave \
                 vocab_size at 0",
                c.policy.vocab_size
            ),
        ));
    }
    if c.policy.lora.rank > 0 && c.policy.checkpoint.is_none() {
        return Err(quill::Error::field(
            "policy.lora.rank",
            format!(
                "{} with a preset policy: adapters keep a pretrained checkpoint's weights \
                 frozen, and a from-scratch preset has none; set policy.checkpoint or rank 0",
                c.policy.lora.rank
            ),
        ));
    }
    if c.policy.lora.rank > 0 && c.grpo.trainable_blocks > 0 {
        return Err(quill::Error::field(
            "grpo.trainable_blocks",
            format!(
                "{} with policy.lora.rank {}: with adapters only they train; leave \
                 trainable_blocks at 0",
                c.grpo.trainable_blocks, c.policy.lora.rank
            ),
        ));
    }
    // Checked even when distillation is off, as any other field's value is.
    let method = quill::distill::distiller(&c.distill)?;
    if c.distill.enabled {
        if !c.warm_start.enabled {
            return Err(quill::Error::field(
                "distill.enabled",
                "the student is warm-started like the teacher: set warm_start.enabled = true, \
                 or distill.enabled = false",
            ));
        }
        let teacher = c.grpo.enabled && c.grpo.steps > 0;
        if method.uses_teacher() && !teacher {
            return Err(quill::Error::field(
                "distill.method",
                format!(
                    "{} distillation learns from the GRPO-trained teacher: set grpo.enabled = \
                     true with grpo.steps > 0, or distill.method = \"none\"",
                    c.distill.method
                ),
            ));
        }
        quill::policy::find_preset(&c.distill.student_preset)
            .map_err(|e| quill::Error::field("distill.student_preset", e.to_string()))?;
    }
    // GRPO's ratio and on-policy distillation's KL are of the whole temperature-scaled
    // distribution: lists drawn otherwise would train off-policy.
    if c.grpo.enabled && c.grpo.steps > 0 {
        c.sampling.check_on_policy("GRPO")?;
    }
    if c.distill.enabled
        && c.distill.steps > 0
        && let Some(trainer) = method.samples_on_policy()
    {
        c.sampling.check_on_policy(trainer)?;
    }
    reward_spec(c)?;
    quill::policy::find_preset(&c.policy.preset)?;
    Ok(())
}

/// A stable hash of the whole resolved config: a saved stage is reused, and a checkpoint
/// resumed, only under the config that made it.
pub fn config_hash(c: &ExperimentConfig) -> Result<String> {
    let text = toml::to_string(c).context("serialising the resolved config")?;
    Ok(format!(
        "{:016x}",
        xxhash_rust::xxh3::xxh3_64(text.as_bytes())
    ))
}

/// Each configured reward's own parameters: its `[rewards.<name>]` table without `weight`
/// (what `CompositeReward::build` hands to the plugin).
pub fn reward_params(c: &ExperimentConfig) -> std::collections::HashMap<String, toml::Table> {
    c.rewards
        .iter()
        .map(|(name, table)| {
            let mut params = table.clone();
            params.remove("weight");
            (name.clone(), params)
        })
        .collect()
}

/// The (reward, weight) pairs after the ablation, each built once to check its parameters.
pub fn reward_spec(c: &ExperimentConfig) -> quill::Result<Vec<(String, f32)>> {
    let mut spec = Vec::new();
    for (name, table) in &c.rewards {
        let plugin = quill::reward::find_reward(name)?;
        let mut params = table.clone();
        let weight = match params.remove("weight") {
            None => 1.0,
            Some(toml::Value::Float(w)) => w,
            Some(toml::Value::Integer(w)) => w as f64,
            Some(other) => {
                return Err(quill::Error::field(
                    format!("rewards.{name}.weight"),
                    format!("weight must be a number in 0 ..= 100, got {other}"),
                ));
            }
        };
        if !(0.0..=100.0).contains(&weight) {
            return Err(quill::Error::field(
                format!("rewards.{name}.weight"),
                format!("value {weight} is out of range: valid values are 0 ..= 100"),
            ));
        }
        (plugin.build)(&params)?;
        spec.push((name.clone(), weight as f32));
    }
    quill::reward::resolve_ablation(&c.experiment.ablation)?.apply(&mut spec)?;
    Ok(spec)
}
