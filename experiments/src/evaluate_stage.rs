//! The last stage of `quill run`: the test split, never seen in training. Each saved policy
//! (warm start, GRPO) writes lists for each test user: one greedily, and `[evaluation]
//! samples_per_user` sampled with the `[sampling]` settings and fixed seeds (the distribution
//! RL trains; a small warm-started model's greedy lists often loop on one query). Lists are
//! scored by the composite reward (and each reward) and by retrieval against the users'
//! held-out future clicks, beside two references scored the same way: the history-as-queries
//! baseline, and the bootstrap lists the warm start imitates (built by the same rule, from what
//! `[warm_start] bootstrap_from` names, for each test user: what a perfect imitator of its
//! supervised targets would score). The sampled lists also give the best-of-N curve (the
//! paper's inference-time sampling): for N = 1, 2, 4, ... the list of highest composite reward
//! among each user's first N draws, scored the same way (`best_of_n` in the report).

use crate::config::Experiment;
use crate::grpo_stage::cleaned;
use crate::policy_stage::bootstrap_target;
use crate::scoring::{Scoring, mean_rewards};
use anyhow::{Context, Result};
use quill::clean::Cleaner;
use quill::data::{Dataset, Split, UserRecord};
use quill::eval::{OfflineEvaluator, best_of_n_sizes, history_queries, pick_best_of_n};
use quill::policy::{TOKENIZER_FILE, load_checkpoint};
use quill::reward::Scored;
use quill::text::bootstrap::{Bootstrap, target_format};
use quill::text::query_list::QueryList;
use quill::text::term_stats::TermStats;
use quill::text::{PolicyTokenizer, PromptBuilder};
use quill::train::grpo::{Decoding, PolicyEval, PolicyEvaluator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Evaluates each (name, checkpoint directory) on the test split; returns the JSON report and,
/// apart (wall-clock figures differ between runs of one config), each policy's sampling speed.
pub fn evaluate_policies(
    exp: &Experiment,
    data: &Dataset,
    cleaner: Option<&Cleaner>,
    scoring: &Scoring,
    policies: &[(&str, PathBuf)],
) -> Result<(Value, Value)> {
    let cfg = &exp.config;
    let test = cleaned(data, cleaner, Split::Test, usize::MAX);
    let offline = OfflineEvaluator {
        corpus: data.corpus.clone(),
        retriever: scoring.stack.retriever.clone(),
        fusion: cfg.retrieval.fusion.fusion(),
        fresh_from: OfflineEvaluator::window_start(&data.corpus, &test),
    };
    let device = quill::device::device(cfg.experiment.device)?;
    let mut rows: Vec<(String, PolicyEval)> = Vec::new();
    let mut best_of: Vec<(String, Vec<(usize, PolicyEval)>)> = Vec::new();
    let mut speeds = serde_json::Map::new();
    for (name, dir) in policies {
        let (decoder, _) = load_checkpoint(dir, &device)
            .with_context(|| format!("loading the {name} policy {}", dir.display()))?;
        let builder = prompt_builder(exp, dir)?;
        let sampled = Decoding::Sample {
            sampler: &cfg.sampling,
            seed: cfg.experiment.seed ^ 0x7e57,
        };
        // Sampled rows average `samples_per_user` lists per user: the evaluator seeds each
        // position of its user list separately, so repeating the users draws fresh lists.
        let repeated: Vec<_> = (0..cfg.evaluation.samples_per_user)
            .flat_map(|_| test.iter().cloned())
            .collect();
        let evaluator = |decoding, users| PolicyEvaluator {
            decoding,
            builder: &builder,
            composite: &scoring.composite,
            offline: &offline,
            users,
            max_new_tokens: cfg.sampling.max_new_tokens as usize,
            batch: cfg.evaluation.batch_size as usize,
        };
        let started = Instant::now();
        let greedy = evaluator(Decoding::Greedy, test.clone());
        rows.push((format!("{name}/greedy"), greedy.evaluate(&decoder)?));
        let greedy_s = started.elapsed().as_secs_f64();
        let sampler = evaluator(sampled, repeated);
        let lists = sampler.lists(&decoder)?;
        let decoded_s = started.elapsed().as_secs_f64() - greedy_s;
        let scored = sampler.rewards(&lists)?;
        let all = sampler.summarise(&sampler.users, &lists, &scored);
        rows.push((format!("{name}/sampled"), all));
        let curve = best_of_n(&sampler, &test, &lists, &scored);
        best_of.push((name.to_string(), curve));
        let total_s = started.elapsed().as_secs_f64();
        // Sampled lists decoded per second (one list serves one user): the serving speed of
        // this policy on this machine, batch `batch_size`, as loaded as it was during the run.
        speeds.insert(
            name.to_string(),
            json!({
                "lists": lists.len(),
                "seconds": decoded_s,
                "users_per_s": lists.len() as f64 / decoded_s.max(1e-9),
                "batch_size": cfg.evaluation.batch_size,
            }),
        );
        println!(
            "test split, {name}: greedy {greedy_s:.1}s, sampling {} lists {decoded_s:.1}s, \
             scoring {:.1}s",
            lists.len(),
            total_s - greedy_s - decoded_s
        );
    }
    let lists: Vec<Vec<String>> = test.iter().map(history_queries).collect();
    let history = PolicyEval {
        rewards: mean_rewards(&scoring.composite, &test, &lists, &cfg.format)?,
        ranking: offline.evaluate(&test, &lists),
        valid_rate: f64::NAN,
    };
    rows.push(("history_as_queries".into(), history));
    // The targets depend on what a prompt shows, so on the (shared) tokenizer of the policies.
    if let Some((_, dir)) = policies.first() {
        let builder = prompt_builder(exp, dir)?;
        let stats = TermStats::build(&data.corpus);
        let bootstrap = Bootstrap::new(&stats, target_format(&cfg.format))?;
        let from = cfg.warm_start.bootstrap_from;
        let lists: Vec<Vec<String>> = test
            .iter()
            .map(|u| bootstrap_target(&bootstrap, &builder, u, from))
            .collect();
        let targets = PolicyEval {
            rewards: mean_rewards(&scoring.composite, &test, &lists, &cfg.format)?,
            ranking: offline.evaluate(&test, &lists),
            valid_rate: f64::NAN,
        };
        rows.push(("bootstrap_lists".into(), targets));
    }
    print_table(
        &rows,
        test.len(),
        cfg.evaluation.samples_per_user,
        &scoring.composite.names(),
    );
    let mut report = serde_json::Map::new();
    report.insert("users".into(), json!(test.len()));
    report.insert(
        "samples_per_user".into(),
        json!(cfg.evaluation.samples_per_user),
    );
    for (name, eval) in &rows {
        report.insert(name.clone(), serde_json::to_value(eval)?);
    }
    print_best_of(&best_of);
    let mut curves = serde_json::Map::new();
    for (name, curve) in &best_of {
        let points: Vec<Value> = curve
            .iter()
            .map(|(n, eval)| Ok(json!({ "n": n, "eval": serde_json::to_value(eval)? })))
            .collect::<Result<_>>()?;
        curves.insert(name.clone(), Value::Array(points));
    }
    report.insert("best_of_n".into(), Value::Object(curves));
    Ok((Value::Object(report), Value::Object(speeds)))
}

/// Best-of-N by the composite reward over the sampled `lists` (draw-major, as `sampler`
/// generated them for `test` repeated, and already `scored`) for N = 1, 2, 4, ... up to the
/// draws per user: each point summarises the picked list of every test user, reusing its
/// scores.
fn best_of_n(
    sampler: &PolicyEvaluator,
    test: &[UserRecord],
    lists: &[QueryList],
    scored: &[Scored],
) -> Vec<(usize, PolicyEval)> {
    let users = test.len();
    let rewards: Vec<f32> = scored.iter().map(|s| s.composite).collect();
    best_of_n_sizes(lists.len() / users.max(1))
        .into_iter()
        .map(|n| {
            let picked = pick_best_of_n(&rewards, users, n);
            let picked_lists: Vec<QueryList> = picked.iter().map(|&i| lists[i].clone()).collect();
            let picked_scores: Vec<Scored> = picked.iter().map(|&i| scored[i].clone()).collect();
            (n, sampler.summarise(test, &picked_lists, &picked_scores))
        })
        .collect()
}

fn print_best_of(curves: &[(String, Vec<(usize, PolicyEval)>)]) {
    println!("best of N sampled lists per user by the composite reward (no future clicks read):");
    println!(
        "{:<22} {:>4} {:>9} {:>7} {:>7} {:>7}",
        "policy", "N", "composite", "R@10", "N@10", "MRR"
    );
    for (name, curve) in curves {
        for (n, e) in curve {
            let r = &e.ranking;
            println!(
                "{name:<22} {n:>4} {:>9.3} {:>7.4} {:>7.4} {:>7.4}",
                e.rewards.composite, r.recall_10, r.ndcg_10, r.mrr
            );
        }
    }
}

/// The prompt builder of the policy saved in `dir` (its tokenizer, the experiment's budget).
fn prompt_builder(exp: &Experiment, dir: &Path) -> Result<PromptBuilder> {
    let cfg = &exp.config;
    let tokenizer = PolicyTokenizer::load(&dir.join(TOKENIZER_FILE))?;
    Ok(PromptBuilder::new(
        tokenizer,
        cfg.policy.prompt_budget as usize,
        cfg.format.clone(),
    )?)
}

fn print_table(rows: &[(String, PolicyEval)], users: usize, samples: u32, rewards: &[&str]) {
    println!(
        "test split: {users} users; one greedy list each, {samples} sampled lists each (fixed seeds)"
    );
    println!(
        "{:<22} {:>9} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "policy", "composite", "valid", "R@5", "R@10", "N@5", "N@10", "MRR"
    );
    for (name, e) in rows {
        let r = &e.ranking;
        println!(
            "{name:<22} {:>9.3} {:>7.3} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4}",
            e.rewards.composite, e.valid_rate, r.recall_5, r.recall_10, r.ndcg_5, r.ndcg_10, r.mrr
        );
    }
    print!("{:<22}", "per reward");
    for name in rewards {
        print!(" {:>12}", short(name));
    }
    println!();
    for (name, e) in rows {
        print!("{name:<22}");
        for reward in rewards {
            print!(
                " {:>12.3}",
                e.rewards
                    .per_reward
                    .get(*reward)
                    .copied()
                    .unwrap_or(f64::NAN)
            );
        }
        println!();
    }
}

/// A reward's name cut to fit a table column.
fn short(name: &str) -> &str {
    &name[..name.len().min(12)]
}
