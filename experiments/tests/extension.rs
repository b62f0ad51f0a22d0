//! Extension points are one file each: a reward, an ablation and a judge registered here, from
//! outside Quill's crates, are named by an experiment file and used by a short pipeline run,
//! with no edit anywhere else.

use quill::config::{Check, Section};
use quill::error::Result;
use quill::reward::{Ablation, AblationPlugin, Reward, RewardContext, RewardPlugin, parameterless};
use quill::reward::{Judge, JudgePlugin, RubricItem, judge_settings};
use quill::text::query_list::QueryList;
use quill::text::term_stats::TermStats;
use quill_experiments::quill_rewards as _;
use quill_experiments::{config, pipeline};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The share of a list's queries of at most three words.
struct ShortQueries;

impl Reward for ShortQueries {
    fn name(&self) -> &'static str {
        "test_short_queries"
    }
    fn score(&self, _: &RewardContext<'_>, list: &QueryList) -> Result<f32> {
        let short = list
            .queries
            .iter()
            .filter(|q| q.split_whitespace().count() <= 3)
            .count();
        Ok(short as f32 / list.queries.len().max(1) as f32)
    }
}

fn build(params: &toml::Table) -> Result<Box<dyn Reward>> {
    parameterless("test_short_queries", params, Box::new(ShortQueries))
}

inventory::submit! {
    RewardPlugin { name: "test_short_queries", description: "share of queries of at most three words", build }
}

/// Keeps only the short-query, specificity and structure rewards.
struct ShortSpecificValidOnly;

impl Ablation for ShortSpecificValidOnly {
    fn apply(&self, rewards: &mut Vec<(String, f32)>) -> Result<()> {
        let kept = [
            "test_short_queries",
            "query_specificity",
            "structural_validity",
        ];
        rewards.retain(|(name, _)| kept.contains(&name.as_str()));
        Ok(())
    }
}

inventory::submit! {
    AblationPlugin {
        name: "test_short_specific_valid_only",
        description: "only the short-query, specificity and structure rewards",
        build: || Box::new(ShortSpecificValidOnly),
    }
}

quill::config_section! {
    /// The constant judge's settings.
    pub struct ConstantJudgeSettings {
        /// The answer to every rubric item.
        pub score: f32 = 1.0, Check::Range { min: 0.0, max: 1.0 };
    }
}

/// Rubric items the constant judge has answered, over every test of this file.
static JUDGED: AtomicUsize = AtomicUsize::new(0);
/// Rubric items it answered with anything but 0.25, the score the test's file configures.
static OTHER_ANSWERS: AtomicUsize = AtomicUsize::new(0);

/// Answers every rubric item with its configured score.
struct ConstantJudge(f32);

impl Judge for ConstantJudge {
    fn name(&self) -> &'static str {
        "test_constant"
    }
    fn judge(&self, items: &[RubricItem<'_>]) -> Result<Vec<f32>> {
        JUDGED.fetch_add(items.len(), Ordering::Relaxed);
        if self.0 != 0.25 {
            OTHER_ANSWERS.fetch_add(items.len(), Ordering::Relaxed);
        }
        Ok(vec![self.0; items.len()])
    }
}

fn build_judge(table: &toml::Table, _: Arc<TermStats>) -> Result<Arc<dyn Judge>> {
    let settings: ConstantJudgeSettings = judge_settings(table, "judge.test_constant")?;
    Ok(Arc::new(ConstantJudge(settings.score)))
}

inventory::submit! {
    JudgePlugin {
        name: "test_constant",
        description: "answers every rubric item with `score`",
        missing_feature: None,
        fields: ConstantJudgeSettings::fields,
        check: |table, path| judge_settings::<ConstantJudgeSettings>(table, path).map(|_| ()),
        build: build_judge,
    }
}

#[test]
fn a_reward_an_ablation_and_a_judge_from_outside_run_in_a_pipeline() {
    let dir = std::env::temp_dir().join(format!("quill-extension-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("exp.toml");
    // A file without reward tables keeps the paper's five: a registered plugin joins only
    // when named.
    std::fs::write(&path, "").unwrap();
    let plain = config::load(&path).unwrap();
    let spec = config::reward_spec(&plain.config).unwrap();
    assert_eq!(spec.len(), 5);
    assert!(!spec.iter().any(|(n, _)| n == "test_short_queries"));

    let body = format!(
        "[experiment]\nname = \"ext\"\nseed = 5\noutput_dir = {out:?}\n\
         ablation = \"test_short_specific_valid_only\"\n\
         [data]\nusers = 300\n[data.corpus]\narticles = 1500\n\
         [cleaner]\nepochs = 1\ntrain_users = 200\n\
         [warm_start]\nlm_steps = 2\nsft_steps = 2\nbatch_size = 4\neval_users = 3\n\
         [sampling]\nmax_new_tokens = 24\n\
         [grpo]\nsteps = 2\nprompts_per_step = 2\ngroup_size = 2\neval_every = 0\n\
         [evaluation]\nsamples_per_user = 1\n\
         [rewards.test_short_queries]\nweight = 2.0\n\
         [judge]\nkind = \"test_constant\"\n[judge.test_constant]\nscore = 0.25\n",
        out = dir.join("out")
    );
    std::fs::write(&path, body).unwrap();
    let exp = config::load(&path).unwrap();
    let mut spec = config::reward_spec(&exp.config).unwrap();
    spec.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        spec,
        [
            ("query_specificity".to_string(), 1.0),
            ("structural_validity".to_string(), 1.0),
            ("test_short_queries".to_string(), 2.0)
        ]
    );
    pipeline::run(&exp, Default::default()).unwrap();
    let text = std::fs::read_to_string(dir.join("out/ext/metrics.json")).unwrap();
    let metrics: serde_json::Value = serde_json::from_str(&text).unwrap();
    let per_reward = &metrics["test"]["grpo/sampled"]["rewards"]["per_reward"];
    let names: Vec<&String> = per_reward.as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        [
            "query_specificity",
            "structural_validity",
            "test_short_queries"
        ]
    );
    let short = per_reward["test_short_queries"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&short), "{short}");
    // Specificity is the judge's mean answer over a list's queries (0 for a list without
    // any): the configured 0.25, not the judge's default of 1, reached every answer.
    assert!(JUDGED.load(Ordering::Relaxed) > 0);
    assert_eq!(OTHER_ANSWERS.load(Ordering::Relaxed), 0);
    let specific = per_reward["query_specificity"].as_f64().unwrap();
    assert!((0.0..=0.25 + 1e-6).contains(&specific), "{specific}");
    std::fs::remove_dir_all(&dir).unwrap();
}
