//! Extension points are one file each: a reward and an ablation registered here, from outside
//! Quill's crates, are named by an experiment file and used by a short pipeline run, with no
//! edit anywhere else.

use quill::error::Result;
use quill::reward::{Ablation, AblationPlugin, Reward, RewardContext, RewardPlugin, parameterless};
use quill::text::query_list::QueryList;
use quill_experiments::quill_rewards as _;
use quill_experiments::{config, pipeline};

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

/// Keeps only the short-query and structure rewards.
struct ShortAndValidOnly;

impl Ablation for ShortAndValidOnly {
    fn apply(&self, rewards: &mut Vec<(String, f32)>) -> Result<()> {
        rewards.retain(|(name, _)| name == "test_short_queries" || name == "structural_validity");
        Ok(())
    }
}

inventory::submit! {
    AblationPlugin {
        name: "test_short_and_valid_only",
        description: "only the short-query and structure rewards",
        build: || Box::new(ShortAndValidOnly),
    }
}

#[test]
fn a_reward_and_an_ablation_from_outside_run_in_a_pipeline() {
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
         ablation = \"test_short_and_valid_only\"\n\
         [data]\nusers = 300\n[data.corpus]\narticles = 1500\n\
         [cleaner]\nepochs = 1\ntrain_users = 200\n\
         [warm_start]\nlm_steps = 2\nsft_steps = 2\nbatch_size = 4\neval_users = 3\n\
         [sampling]\nmax_new_tokens = 24\n\
         [grpo]\nsteps = 2\nprompts_per_step = 2\ngroup_size = 2\neval_every = 0\n\
         [evaluation]\nsamples_per_user = 1\n\
         [rewards.test_short_queries]\nweight = 2.0\n",
        out = dir.join("out")
    );
    std::fs::write(&path, body).unwrap();
    let exp = config::load(&path).unwrap();
    let mut spec = config::reward_spec(&exp.config).unwrap();
    spec.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        spec,
        [
            ("structural_validity".to_string(), 1.0),
            ("test_short_queries".to_string(), 2.0)
        ]
    );
    pipeline::run(&exp, Default::default()).unwrap();
    let text = std::fs::read_to_string(dir.join("out/ext/metrics.json")).unwrap();
    let metrics: serde_json::Value = serde_json::from_str(&text).unwrap();
    let per_reward = &metrics["test"]["grpo/sampled"]["rewards"]["per_reward"];
    let names: Vec<&String> = per_reward.as_object().unwrap().keys().collect();
    assert_eq!(names, ["structural_validity", "test_short_queries"]);
    let short = per_reward["test_short_queries"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&short), "{short}");
    std::fs::remove_dir_all(&dir).unwrap();
}
