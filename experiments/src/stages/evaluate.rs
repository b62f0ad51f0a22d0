//! The last stage of `quill run`: the validation and test splits, never seen in training, each
//! evaluated the same way (settings are chosen on the validation split; reports show the test
//! split). Each saved policy (warm start, GRPO) writes lists for each user of the split: one
//! greedily, and `[evaluation] samples_per_user` sampled with the `[sampling]` settings and
//! fixed seeds of the split (the distribution RL trains; a small warm-started model's greedy
//! lists often loop on one query). Lists are scored by the composite reward (and each reward)
//! and by retrieval against the users' held-out future clicks, beside two references scored the
//! same way: the history-as-queries baseline, and the bootstrap lists the warm start imitates
//! (built by the same rule, from what `[warm_start] bootstrap_from` names, for each user: what a
//! perfect imitator of its supervised targets would score). The sampled lists also give the
//! best-of-N curve (the paper's inference-time sampling): for N = 1, 2, 4, ... the list of
//! highest composite reward among each user's first N draws, scored the same way (`best_of_n`
//! in the report), and each draw's own summary (`draws`: the draw-to-draw noise).

use crate::config::Experiment;
use crate::scoring::{Scoring, mean_rewards, policy_prompt};
use crate::stages::held_out::{cleaned, offline_evaluator};
use crate::stages::warm_start::bootstrap_target;
use anyhow::{Context, Result};
use quill::clean::Cleaner;
use quill::data::{Dataset, Split, UserRecord};
use quill::eval::{
    MetricMeans, OfflineEvaluator, RankingMetrics, RewardMeans, best_of_n_sizes, history_queries,
    pick_best_of_n,
};
use quill::policy::{Decoder, load_policy};
use quill::reward::Scored;
use quill::text::PromptBuilder;
use quill::text::bootstrap::{Bootstrap, target_format};
use quill::text::query_list::QueryList;
use quill::train::grpo::{Decoding, PolicyEval, PolicyEvaluator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Evaluates each (name, checkpoint directory) on every user of `split` (validation or test,
/// with the same settings); returns the split's section of `metrics.json` and, apart
/// (wall-clock figures differ between runs of one config), each policy's sampling speed.
pub fn evaluate_policies(
    exp: &Experiment,
    data: &Dataset,
    cleaner: Option<&Cleaner>,
    scoring: &Scoring,
    policies: &[(&str, PathBuf)],
    split: Split,
) -> Result<(Value, Value)> {
    let cfg = &exp.config;
    let users = cleaned(data, cleaner, split, usize::MAX);
    let offline = offline_evaluator(exp, data, scoring);
    let on = SplitEvaluation {
        exp,
        split,
        users: &users,
        offline: &offline,
        scoring,
    };
    let device = quill::device::device(cfg.experiment.device)?;
    let mut rows: Vec<(String, PolicyEval)> = Vec::new();
    let mut best_of: Vec<(String, Vec<(usize, PolicyEval)>)> = Vec::new();
    let mut draws: Vec<(String, Vec<PolicyEval>)> = Vec::new();
    let mut speeds = serde_json::Map::new();
    for (name, dir) in policies {
        let (decoder, _) = load_policy(dir, &device)
            .with_context(|| format!("loading the {name} policy {}", dir.display()))?;
        let builder = policy_prompt(exp, dir)?;
        let results = on.policy(name, &decoder, &builder)?;
        rows.push((format!("{name}/greedy"), results.greedy));
        rows.push((format!("{name}/sampled"), results.sampled));
        best_of.push((name.to_string(), results.best_of_n));
        draws.push((name.to_string(), results.draws));
        speeds.insert(name.to_string(), results.speed);
    }
    rows.extend(on.references(policies.first().map(|(_, dir)| dir.as_path()))?);
    let samples = cfg.evaluation.samples_per_user;
    print_table(
        split,
        &rows,
        users.len(),
        samples,
        &scoring.composite.names(),
    );
    print_best_of(split, &best_of);
    let mut report = serde_json::Map::new();
    report.insert("users".into(), json!(users.len()));
    report.insert("samples_per_user".into(), json!(samples));
    for (name, eval) in &rows {
        report.insert(name.clone(), serde_json::to_value(eval)?);
    }
    report.insert("best_of_n".into(), curves_json(&best_of)?);
    // Each draw on its own (one sampled list per user): how much the sampled rows would move
    // from one set of draws to another, which the report states beside the seeds' spread.
    let mut per_draw = serde_json::Map::new();
    for (name, evals) in &draws {
        per_draw.insert(name.clone(), serde_json::to_value(evals)?);
    }
    report.insert("draws".into(), Value::Object(per_draw));
    Ok((Value::Object(report), Value::Object(speeds)))
}

/// Each policy's best-of-N curve as `[{ "n": N, "eval": ... }, ...]`.
fn curves_json(curves: &[(String, Vec<(usize, PolicyEval)>)]) -> Result<Value> {
    let mut out = serde_json::Map::new();
    for (name, curve) in curves {
        let points: Vec<Value> = curve
            .iter()
            .map(|(n, eval)| Ok(json!({ "n": n, "eval": serde_json::to_value(eval)? })))
            .collect::<Result<_>>()?;
        out.insert(name.clone(), Value::Array(points));
    }
    Ok(Value::Object(out))
}

/// The seed of a split's sampled lists. The test split keeps the seed it always had, so its
/// figures stay comparable with earlier runs; the validation split draws from streams of its
/// own, so the two splits' sampling noise is independent.
pub fn sampling_seed(seed: u64, split: Split) -> u64 {
    seed ^ match split {
        Split::Test => 0x7e57,
        Split::Valid => 0x7a1d,
        Split::Train => 0x7a19,
    }
}

/// One split's users and what scores their lists, under the experiment's settings.
struct SplitEvaluation<'a> {
    exp: &'a Experiment,
    split: Split,
    users: &'a [UserRecord],
    offline: &'a OfflineEvaluator,
    scoring: &'a Scoring,
}

/// One policy's results on a split.
struct PolicyResults {
    greedy: PolicyEval,
    /// Every sampled list of every user.
    sampled: PolicyEval,
    best_of_n: Vec<(usize, PolicyEval)>,
    /// One summary per draw, in draw order.
    draws: Vec<PolicyEval>,
    speed: Value,
}

impl SplitEvaluation<'_> {
    /// One greedy list per user, and `[evaluation] samples_per_user` sampled ones with this
    /// split's fixed seeds.
    fn policy(
        &self,
        name: &str,
        decoder: &Decoder,
        builder: &PromptBuilder,
    ) -> Result<PolicyResults> {
        let cfg = &self.exp.config;
        let sampled = Decoding::Sample {
            sampler: &cfg.sampling,
            seed: sampling_seed(cfg.experiment.seed, self.split),
        };
        // Sampled rows average `samples_per_user` lists per user: the evaluator seeds each
        // position of its user list separately, so repeating the users draws fresh lists.
        let samples = cfg.evaluation.samples_per_user as usize;
        let repeated: Vec<_> = (0..samples)
            .flat_map(|_| self.users.iter().cloned())
            .collect();
        let evaluator = |decoding, users| PolicyEvaluator {
            decoding,
            builder,
            composite: &self.scoring.composite,
            offline: self.offline,
            users,
            max_new_tokens: cfg.sampling.max_new_tokens as usize,
            batch: cfg.evaluation.batch_size as usize,
        };
        // A line before the work too: a large policy's evaluation takes minutes.
        eprintln!(
            "{} split, {name}: decoding {} greedy and {} sampled lists",
            self.split.as_str(),
            self.users.len(),
            samples * self.users.len()
        );
        let started = Instant::now();
        let greedy = evaluator(Decoding::Greedy, self.users.to_vec()).evaluate(decoder)?;
        let greedy_s = started.elapsed().as_secs_f64();
        let sampler = evaluator(sampled, repeated);
        let lists = sampler.lists(decoder)?;
        let decoded_s = started.elapsed().as_secs_f64() - greedy_s;
        let scored = ScoredLists::new(&sampler, lists)?;
        let names = self.scoring.composite.names();
        let users = self.users.len();
        let all: Vec<usize> = (0..scored.lists.len()).collect();
        let draws = (0..samples)
            .map(|d| scored.summary(&names, &(d * users..(d + 1) * users).collect::<Vec<_>>()))
            .collect();
        let best_of_n = best_of_n(&scored, &names, users);
        let total_s = started.elapsed().as_secs_f64();
        let lists = scored.lists.len();
        println!(
            "{} split, {name}: greedy {greedy_s:.1}s, sampling {lists} lists {decoded_s:.1}s, \
             scoring {:.1}s",
            self.split.as_str(),
            total_s - greedy_s - decoded_s
        );
        // Sampled lists decoded per second (one list serves one user): the serving speed of
        // this policy on this machine, batch `batch_size`, as loaded as it was during the run.
        let speed = json!({
            "lists": lists,
            "seconds": decoded_s,
            "users_per_s": lists as f64 / decoded_s.max(1e-9),
            "batch_size": cfg.evaluation.batch_size,
        });
        Ok(PolicyResults {
            greedy,
            sampled: scored.summary(&names, &all),
            best_of_n,
            draws,
            speed,
        })
    }

    /// The model-free references, scored like the policies: the history-as-queries baseline
    /// and, where a policy's tokenizer says what prompts show (`tokenizer_of`), the bootstrap
    /// lists the warm start imitates.
    fn references(&self, tokenizer_of: Option<&Path>) -> Result<Vec<(String, PolicyEval)>> {
        let cfg = &self.exp.config;
        let (scoring, offline) = (self.scoring, self.offline);
        let mut rows = Vec::new();
        let lists: Vec<Vec<String>> = self.users.iter().map(history_queries).collect();
        let history = PolicyEval {
            rewards: mean_rewards(&scoring.composite, self.users, &lists, &cfg.format)?,
            ranking: offline.evaluate(self.users, &lists),
            valid_rate: f64::NAN,
        };
        rows.push(("history_as_queries".into(), history));
        // The targets depend on what a prompt shows, so on the (shared) tokenizer of the policies.
        if let Some(dir) = tokenizer_of {
            let builder = policy_prompt(self.exp, dir)?;
            // The rewards' term statistics: the same pre-split articles the warm start read.
            let bootstrap = Bootstrap::new(&scoring.env.stats, target_format(&cfg.format))?;
            let from = cfg.warm_start.bootstrap_from;
            let lists: Vec<Vec<String>> = self
                .users
                .iter()
                .map(|u| bootstrap_target(&bootstrap, &builder, u, from))
                .collect();
            let targets = PolicyEval {
                rewards: mean_rewards(&scoring.composite, self.users, &lists, &cfg.format)?,
                ranking: offline.evaluate(self.users, &lists),
                valid_rate: f64::NAN,
            };
            rows.push(("bootstrap_lists".into(), targets));
        }
        Ok(rows)
    }
}

/// Sampled lists (draw-major: list `k * users + u` is draw `k` of user `u`) scored once, by
/// the rewards and by retrieval, so that every summary over some of them (all draws, one
/// draw, the best of N) reuses those scores instead of retrieving again.
struct ScoredLists {
    lists: Vec<QueryList>,
    scored: Vec<Scored>,
    /// Each list's retrieval metrics; `None` for a user without future clicks in the corpus.
    ranking: Vec<Option<RankingMetrics>>,
}

impl ScoredLists {
    fn new(sampler: &PolicyEvaluator, lists: Vec<QueryList>) -> Result<ScoredLists> {
        let scored = sampler.rewards(&lists)?;
        let offline = sampler.offline;
        let ranking = sampler
            .users
            .iter()
            .zip(&lists)
            .map(|(user, list)| offline.score(user, &offline.rank(&list.queries)))
            .collect();
        Ok(ScoredLists {
            lists,
            scored,
            ranking,
        })
    }

    /// What `PolicyEvaluator::summarise` gives for the lists at `picked` (their users in that
    /// order): mean rewards, mean retrieval metrics, the share of valid lists.
    fn summary(&self, reward_names: &[&str], picked: &[usize]) -> PolicyEval {
        let scored: Vec<Scored> = picked.iter().map(|&i| self.scored[i].clone()).collect();
        let ranking: Vec<Option<RankingMetrics>> =
            picked.iter().map(|&i| self.ranking[i]).collect();
        let valid = picked.iter().filter(|&&i| self.lists[i].is_valid()).count();
        PolicyEval {
            rewards: RewardMeans::of(reward_names, &scored, 0),
            ranking: MetricMeans::of(&ranking),
            valid_rate: valid as f64 / picked.len().max(1) as f64,
        }
    }
}

/// Best-of-N by the composite reward over the sampled lists of `users` users, for N = 1, 2, 4,
/// ... up to the draws per user: each point summarises the picked list of every user.
fn best_of_n(
    scored: &ScoredLists,
    reward_names: &[&str],
    users: usize,
) -> Vec<(usize, PolicyEval)> {
    let rewards: Vec<f32> = scored.scored.iter().map(|s| s.composite).collect();
    best_of_n_sizes(rewards.len() / users.max(1))
        .into_iter()
        .map(|n| {
            let picked = pick_best_of_n(&rewards, users, n);
            (n, scored.summary(reward_names, &picked))
        })
        .collect()
}

fn print_best_of(split: Split, curves: &[(String, Vec<(usize, PolicyEval)>)]) {
    println!(
        "{} split, best of N sampled lists per user by the composite reward (no future clicks \
         read):",
        split.as_str()
    );
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

fn print_table(
    split: Split,
    rows: &[(String, PolicyEval)],
    users: usize,
    samples: u32,
    rewards: &[&str],
) {
    println!(
        "{} split: {users} users; one greedy list each, {samples} sampled lists each (fixed \
         seeds)",
        split.as_str()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_split_keeps_its_sampling_seed_and_the_validation_split_has_its_own() {
        // The seed every earlier run sampled its test lists with.
        assert_eq!(sampling_seed(42, Split::Test), 42 ^ 0x7e57);
        let seeds = [42, 1, 7].map(|s| {
            (
                sampling_seed(s, Split::Valid),
                sampling_seed(s, Split::Test),
            )
        });
        for (valid, test) in seeds {
            assert_ne!(valid, test);
            assert!(seeds.iter().all(|(_, t)| *t != valid));
        }
    }
}
