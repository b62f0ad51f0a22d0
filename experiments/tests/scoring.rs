//! The composite reward built in one call from configs/quickstart.toml (the path the GRPO
//! trainer takes): per-reward values in [0, 1] and the composite equal to their weighted sum.

use quill::data::{Split, load_dataset};
use quill::reward::{Aggregation, RewardView};
use quill::text::query_list::QueryList;
use quill_experiments::config::{self, Experiment, reward_spec};
use quill_experiments::scoring::{as_query_list, scoring};
use std::path::Path;

fn quickstart() -> Experiment {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/quickstart.toml");
    let mut exp = config::load(&path).unwrap();
    // The quickstart's own settings, on a smaller corpus so the debug-build test stays quick.
    exp.config.data.corpus.articles = 2_000;
    exp.config.data.users = 200;
    exp
}

/// Scores three lists for one test user and checks ranges and the weighted sum.
fn check(exp: &Experiment) {
    let cfg = &exp.config;
    let data = load_dataset(&cfg.data, cfg.experiment.seed, &exp.base_dir).unwrap();
    // What the rewards read does not change the ranges and the weighted sum checked here.
    let s = scoring(exp, data.corpus.clone(), RewardView::History).unwrap();
    assert_eq!(s.env.judge.name(), "rules");
    let user = data.iter_split(Split::Test).next().unwrap();
    let history: Vec<String> = quill::eval::history_queries(&user);
    let titles: Vec<String> = (0..4).map(|i| data.corpus.item(i).title.clone()).collect();
    let lists = [
        as_query_list(&history, &cfg.format).0,
        as_query_list(&titles, &cfg.format).0,
        QueryList::parse("not a list at all", &cfg.format),
    ];
    let items: Vec<_> = lists.iter().map(|l| (&user, l)).collect();
    let scored = s.composite.score_batch(&items).unwrap();

    let spec = reward_spec(cfg).unwrap();
    let names = s.composite.names();
    assert_eq!(
        names,
        spec.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
    );
    let total_weight: f32 = spec.iter().map(|(_, w)| w).sum();
    for (list, sc) in lists.iter().zip(&scored) {
        assert_eq!(sc.per_reward.len(), names.len());
        assert!(
            sc.per_reward.iter().all(|v| (0.0..=1.0).contains(v)),
            "{sc:?}"
        );
        let weighted: f32 = spec
            .iter()
            .zip(&sc.per_reward)
            .map(|((_, w), v)| w * v)
            .sum();
        let expected = match cfg.composite.aggregation {
            Aggregation::Sum => weighted,
            Aggregation::NormalizeThenSum => weighted / total_weight,
        };
        assert!(
            (sc.composite - expected).abs() < 1e-5,
            "{sc:?} vs {expected}"
        );
        let structure = names.iter().position(|n| *n == "structural_validity");
        if let Some(i) = structure {
            let want = if list.is_valid() { 1.0 } else { 0.0 };
            assert_eq!(sc.per_reward[i], want, "{:?}", list.problems);
        }
    }
    // The garbage list retrieves nothing and is invalid: it scores below the titles list.
    assert!(scored[2].composite < scored[1].composite, "{scored:?}");
}

#[test]
fn quickstart_composite_is_the_weighted_sum_of_in_range_rewards() {
    let exp = quickstart();
    assert_eq!(exp.config.composite.aggregation, Aggregation::Sum);
    check(&exp);
}

#[test]
fn other_weights_and_normalised_aggregation_follow_the_config() {
    let mut exp = quickstart();
    let cfg = &mut exp.config;
    cfg.rewards
        .get_mut("retrieval_alignment")
        .unwrap()
        .insert("weight".into(), toml::Value::Float(2.5));
    cfg.rewards
        .get_mut("query_specificity")
        .unwrap()
        .insert("weight".into(), toml::Value::Float(0.5));
    cfg.composite.aggregation = Aggregation::NormalizeThenSum;
    cfg.experiment.ablation = "no_intra_list_diversity".into();
    let spec = reward_spec(cfg).unwrap();
    assert_eq!(spec.len(), 4);
    check(&exp);
}
