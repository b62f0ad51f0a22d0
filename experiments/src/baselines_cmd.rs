//! `quill eval-baselines`: the model-free baselines on the test split, as tables and as
//! `baselines.json` in the experiment's output directory: ranking metrics over the corpus, the
//! rewards of the history-as-queries lists (the floor a trained policy's reward must beat), and
//! MIND impression metrics where test users carry impression candidates.

use crate::config::Experiment;
use crate::scoring::{mean_rewards, policy_prompt, scoring};
use anyhow::Result;
use quill::data::{Split, UserRecord, load_dataset};
use quill::eval::{
    BaselineResult, ImpressionBaselines, OfflineEvaluator, RewardMeans, history_queries,
    impression_baselines, run_baselines,
};
use quill::io::write_json;
use quill::policy::TOKENIZER_FILE;
use quill::reward::{CompositeReward, RewardSignals, RewardView};
use std::time::Instant;

pub fn eval_baselines(exp: &Experiment) -> Result<()> {
    let cfg = &exp.config;
    let seed = cfg.experiment.seed;
    let data = load_dataset(&cfg.data, seed, &exp.base_dir)?;
    let cleaner = crate::stages::clean::cleaner(exp, &data)?;
    let clean = |u: UserRecord| match &cleaner {
        Some((c, _)) => c.clean_user(&u),
        None => u,
    };
    let test: Vec<UserRecord> = data.iter_split(Split::Test).map(clean).collect();
    let train: Vec<UserRecord> = data.iter_split(Split::Train).collect();

    let t = Instant::now();
    let view = baseline_reward_view(exp)?;
    let scoring = scoring(exp, data.corpus.clone(), view)?;
    eprintln!(
        "retrieval and rewards: {} over {} articles, judge {}, rewards read {} ({:.1}s)",
        cfg.retrieval.retriever,
        data.corpus.len(),
        scoring.env.judge.name(),
        match scoring.composite.signals() {
            RewardSignals::Prompt => "what the policy's prompt shows",
            RewardSignals::History => "the whole cleaned history",
        },
        t.elapsed().as_secs_f64()
    );
    let stack = &scoring.stack;
    let eval = OfflineEvaluator {
        corpus: data.corpus.clone(),
        retriever: stack.retriever.clone(),
        fusion: cfg.retrieval.fusion.fusion(),
        fresh_from: data.split_date(),
    };
    let mut results = run_baselines(&eval, &test, &train, data.oracle.as_deref(), seed);

    let t = Instant::now();
    let lists: Vec<Vec<String>> = test.iter().map(history_queries).collect();
    let rewards = mean_rewards(&scoring.composite, &test, &lists, &cfg.format)?;
    eprintln!(
        "rewards of {} history lists ({:.1}s)",
        rewards.lists,
        t.elapsed().as_secs_f64()
    );
    let impressions = impression_baselines(
        &data.corpus,
        &test,
        &train,
        stack.embedder.as_ref(),
        &stack.article_vectors,
        seed,
    );
    for r in &mut results {
        if r.name == "history_as_queries" {
            r.rewards = Some(rewards.clone());
        }
        r.impressions = impressions.as_ref().and_then(|imp| {
            imp.metrics
                .iter()
                .find(|(name, _)| *name == r.name)
                .map(|(_, m)| m.clone())
        });
    }

    println!(
        "baselines on {} test users ({}; retriever {}, fusion {})",
        test.len(),
        data.name,
        cfg.retrieval.retriever,
        cfg.retrieval.fusion
    );
    print_ranking(&results);
    print_rewards(&scoring.composite, &rewards, cfg);
    if let Some(imp) = &impressions {
        print_impressions(imp);
    }
    let path = exp.output_dir().join("baselines.json");
    write_json(&path, &results)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// The signals the baselines' rewards read. A model-free baseline has no prompt of its own: under
/// `[composite] signals = "prompt"` its rewards read what the experiment's policy's prompt would
/// show, once a warm start has saved that policy's tokenizer; before that, the whole cleaned
/// history (the log line says which).
fn baseline_reward_view(exp: &Experiment) -> Result<RewardView> {
    let warm_dir = crate::stages::warm_start::checkpoint_dir(exp);
    let saved = warm_dir.join(TOKENIZER_FILE).exists();
    Ok(match exp.config.composite.signals {
        RewardSignals::Prompt if saved => RewardView::Prompt(policy_prompt(exp, &warm_dir)?),
        _ => RewardView::History,
    })
}

fn print_ranking(results: &[BaselineResult]) {
    println!(
        "{:<20} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "method", "R@5", "R@10", "N@5", "N@10", "MRR"
    );
    for r in results {
        let m = &r.metrics;
        println!(
            "{:<20} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8.4}",
            r.name, m.recall_5, m.recall_10, m.ndcg_5, m.ndcg_10, m.mrr
        );
    }
    for r in results.iter().filter(|r| r.oracle.is_some()) {
        let o = r.oracle.expect("filtered");
        println!(
            "oracle ({}): true-facet coverage {:.3}, query precision {:.3}",
            r.name, o.coverage, o.precision
        );
    }
}

fn print_rewards(
    composite: &CompositeReward,
    rewards: &RewardMeans,
    cfg: &crate::config::ExperimentConfig,
) {
    println!(
        "\nrewards of history_as_queries (means over {} lists; {} cut to {} queries; ablation {}):",
        rewards.lists, rewards.truncated, cfg.format.max_queries, cfg.experiment.ablation
    );
    println!(
        "  {:<22} {:>8.4}  ({})",
        "composite", rewards.composite, cfg.composite.aggregation
    );
    for name in composite.names() {
        println!("  {:<22} {:>8.4}", name, rewards.per_reward[name]);
    }
}

fn print_impressions(imp: &ImpressionBaselines) {
    let Some((_, first)) = imp.metrics.first() else {
        return;
    };
    println!(
        "\nimpression ranking ({} impressions; {} users skipped: {} without candidates, {} \
         without both a clicked and an unclicked candidate)",
        first.impressions,
        first.skipped,
        imp.without_candidates,
        first.skipped - imp.without_candidates
    );
    println!(
        "{:<20} {:>8} {:>8} {:>8} {:>8}",
        "method", "AUC", "MRR", "nDCG@5", "nDCG@10"
    );
    for (name, m) in &imp.metrics {
        println!(
            "{:<20} {:>8.4} {:>8.4} {:>8.4} {:>8.4}",
            name, m.auc, m.mrr, m.ndcg_5, m.ndcg_10
        );
    }
}
