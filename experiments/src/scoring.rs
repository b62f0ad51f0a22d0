//! The composite reward of an experiment, built in one call from its config: the retrieval
//! stack, the corpus term statistics and the `[judge]` make the `RewardEnv`; the `[rewards]`
//! weights after the ablation, each plugin's parameters and the `[composite]` aggregation make
//! the `CompositeReward`. Training and `quill eval-baselines` score through the same path, so a
//! reward logged during training means what the baseline table means. Rewards read the signals
//! `[composite] signals` names: by default what the policy's prompt shows, which needs the
//! policy's tokenizer (a student shares its teacher's, so one view serves both).

use crate::config::{Experiment, ExperimentConfig, reward_params, reward_spec};
use anyhow::{Context, Result, bail};
use quill::data::{Corpus, UserRecord};
use quill::eval::RewardMeans;
use quill::policy::{PretrainedText, TOKENIZER_FILE, load_pretrained_text};
use quill::retrieval::RetrievalStack;
use quill::reward::{CompositeReward, RewardEnv, RewardSignals, RewardView};
use quill::text::query_list::{QueryList, QueryListFormat};
use quill::text::term_stats::TermStats;
use quill::text::{ChatLayout, DEFAULT_INSTRUCTION, PolicyTokenizer, PromptBuilder};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything that scores query lists for one experiment.
pub struct Scoring {
    /// Embedder, article vectors and retriever (shared with offline evaluation).
    pub stack: RetrievalStack,
    pub env: Arc<RewardEnv>,
    pub composite: CompositeReward,
}

/// Builds the retrieval stack over `corpus` (the dataset's), then the reward environment and
/// the composite, whose rewards read a user's signals through `view`. Relative paths in the
/// config resolve against the experiment file's directory.
pub fn scoring(exp: &Experiment, corpus: Arc<Corpus>, view: RewardView) -> Result<Scoring> {
    let cfg = &exp.config;
    let stack = cfg
        .retrieval
        .build_at(&corpus, cfg.experiment.seed, &exp.base_dir)
        .context("building retrieval for the rewards")?;
    let env = reward_env(cfg, corpus, &stack)?;
    let composite = composite_reward(cfg, env.clone(), view)?;
    Ok(Scoring {
        stack,
        env,
        composite,
    })
}

/// The reward environment over an already built retrieval stack (so evaluation and rewards
/// share one index), with term statistics of `corpus` and the configured judge.
pub fn reward_env(
    cfg: &ExperimentConfig,
    corpus: Arc<Corpus>,
    stack: &RetrievalStack,
) -> Result<Arc<RewardEnv>> {
    let stats = Arc::new(TermStats::build(&corpus));
    Ok(Arc::new(RewardEnv::build(
        corpus, stack, stats, &cfg.judge,
    )?))
}

/// The configured rewards with their weights (after the ablation) and aggregation, reading
/// a user's signals through `view`.
pub fn composite_reward(
    cfg: &ExperimentConfig,
    env: Arc<RewardEnv>,
    view: RewardView,
) -> Result<CompositeReward> {
    let spec = reward_spec(cfg)?;
    Ok(CompositeReward::build(
        &spec,
        &reward_params(cfg),
        cfg.composite.aggregation,
        env,
        view,
    )?)
}

/// The prompt builder of the policy saved in `dir`: its tokenizer, the experiment's budget
/// and query-list format. A checkpoint policy's (and those fine-tuned from it) is the
/// checkpoint's chat layout, whatever `dir` holds.
pub fn policy_prompt(exp: &Experiment, dir: &Path) -> Result<PromptBuilder> {
    let cfg = &exp.config;
    if let Some(path) = checkpoint_path(exp) {
        let text = load_pretrained_text(&path)
            .with_context(|| format!("policy.checkpoint: {}", path.display()))?;
        return chat_prompt(cfg, text);
    }
    let tokenizer = PolicyTokenizer::load(&dir.join(TOKENIZER_FILE))?;
    Ok(PromptBuilder::new(
        tokenizer,
        cfg.policy.prompt_budget as usize,
        cfg.format.clone(),
    )?)
}

/// The pretrained checkpoint `[policy] checkpoint` names, resolved against the experiment
/// file's directory; `None` for a preset policy.
pub fn checkpoint_path(exp: &Experiment) -> Option<PathBuf> {
    let path = exp.config.policy.checkpoint.as_ref()?;
    Some(quill::io::resolve_path(&exp.base_dir, path))
}

/// A checkpoint's chat prompt: its template around `[policy] instruction` (or Quill's
/// default) and the user's signals, within the experiment's budget.
pub fn chat_prompt(cfg: &ExperimentConfig, text: PretrainedText) -> Result<PromptBuilder> {
    let layout = ChatLayout::new(&text.chat, instruction(cfg), &cfg.format, &text.tokenizer)?;
    Ok(PromptBuilder::chat(
        text.tokenizer,
        layout,
        cfg.policy.prompt_budget as usize,
        cfg.format.clone(),
    )?)
}

/// A checkpoint policy's system instruction, placeholders unfilled: `[policy] instruction`,
/// or Quill's default.
pub fn instruction(cfg: &ExperimentConfig) -> &str {
    cfg.policy
        .instruction
        .as_deref()
        .unwrap_or(DEFAULT_INSTRUCTION)
}

/// The signals rewards read under `[composite] signals`: what `prompt` (the policy's prompt
/// builder) shows, or the whole cleaned history. Reading the prompt needs its builder.
pub fn reward_view(cfg: &ExperimentConfig, prompt: Option<PromptBuilder>) -> Result<RewardView> {
    match (cfg.composite.signals, prompt) {
        (RewardSignals::History, _) => Ok(RewardView::History),
        (RewardSignals::Prompt, Some(builder)) => Ok(RewardView::Prompt(builder)),
        (RewardSignals::Prompt, None) => bail!(
            "composite.signals = \"prompt\": rewards read what the policy's prompt shows, \
             which needs the policy's tokenizer; none is saved yet (run `quill run` first), or \
             set composite.signals = \"history\" to score against the whole cleaned history"
        ),
    }
}

/// Queries as the policy would have to write them: rendered in the documented query-list
/// format and parsed back, so structural validity judges them like model output. Returns the
/// list and whether it was cut. A list longer than `max_queries` is cut to it, because a
/// baseline that is invalid only for its length would score 0 structure for a budget the
/// policy also has; every other problem (too few queries, over-long titles) is kept and scored.
/// Whitespace runs (newlines included) become one space so each query stays on its own line.
pub fn as_query_list(queries: &[String], format: &QueryListFormat) -> (QueryList, bool) {
    let max = format.max_queries as usize;
    let truncated = queries.len() > max;
    let lines: Vec<String> = queries
        .iter()
        .take(max)
        .map(|q| q.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    (
        QueryList::parse(&QueryList::render(&lines), format),
        truncated,
    )
}

/// Mean rewards of one query list per user, scored as one batch.
pub fn mean_rewards(
    composite: &CompositeReward,
    users: &[UserRecord],
    lists: &[Vec<String>],
    format: &QueryListFormat,
) -> Result<RewardMeans> {
    let parsed: Vec<(QueryList, bool)> = lists.iter().map(|l| as_query_list(l, format)).collect();
    let truncated = parsed.iter().filter(|(_, cut)| *cut).count();
    let items: Vec<(&UserRecord, &QueryList)> = users
        .iter()
        .zip(&parsed)
        .map(|(u, (l, _))| (u, l))
        .collect();
    let scored = composite.score_batch(&items)?;
    Ok(RewardMeans::of(&composite.names(), &scored, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_are_cut_to_the_format_and_stay_one_query_per_line() {
        let format = QueryListFormat::default(); // 3 ..= 8 queries
        let many: Vec<String> = (0..10).map(|i| format!("query number {i}")).collect();
        let (list, cut) = as_query_list(&many, &format);
        assert!(cut && list.is_valid(), "{:?}", list.problems);
        assert_eq!(list.queries.len(), 8);
        assert_eq!(
            list.queries[0], "query number 0",
            "the newest queries are kept"
        );
        let odd = vec![
            "two\nlines".to_string(),
            "tab\there".into(),
            "fine one".into(),
        ];
        let (list, cut) = as_query_list(&odd, &format);
        assert!(!cut && list.is_valid(), "{:?}", list.problems);
        assert_eq!(list.queries, vec!["two lines", "tab here", "fine one"]);
        // Too few queries is the baseline's own fault: kept, and invalid.
        let (list, cut) = as_query_list(&odd[..1], &format);
        assert!(!cut && !list.is_valid());
    }
}
