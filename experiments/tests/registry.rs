//! Every built-in plugin is registered once the plugin crate is linked (linkers drop
//! unreferenced `inventory` registrations, so this is checked from a separate test binary).

use quill_experiments::quill_rewards as _;

#[test]
fn every_built_in_reward_and_ablation_is_registered() {
    let names: Vec<&str> = quill::reward::registered_rewards().iter().map(|p| p.name).collect();
    for built_in in quill_rewards::BUILT_IN_REWARDS {
        assert!(names.contains(built_in), "{built_in} is not registered: {names:?}");
    }
    let ablations: Vec<String> = quill::reward::ablation_names().into_iter().map(|(n, _)| n).collect();
    assert!(ablations.contains(&"full".to_string()));
    for built_in in quill_rewards::BUILT_IN_REWARDS {
        assert!(ablations.contains(&format!("no_{built_in}")), "{ablations:?}");
    }
}

#[test]
fn quill_rewards_lists_them_with_descriptions() {
    let text = quill_experiments::explain::rewards();
    assert!(text.contains("structural_validity") && text.contains("well-formed"), "{text}");
    assert!(text.contains("no_structural_validity"), "{text}");
}

#[test]
fn the_registered_structural_reward_scores_lists() {
    use quill::data::{Corpus, UserRecord};
    use quill::reward::RewardContext;
    use quill::text::query_list::{QueryList, QueryListFormat};
    let plugin = quill::reward::find_reward("structural_validity").unwrap();
    let reward = (plugin.build)(&toml::Table::new()).unwrap();
    let user = UserRecord { id: "u".into(), history: vec![], future_clicks: vec![], candidates: None, interests: None };
    let corpus = Corpus::default();
    let ctx = RewardContext { user: &user, corpus: &corpus };
    let f = QueryListFormat::default();
    let good = QueryList::parse("- riverton hawks\n- quantum collider\n- sourdough baking\n<end>", &f);
    let bad = QueryList::parse("- riverton hawks\n- riverton hawks\n- sourdough\n<end>", &f);
    assert_eq!(reward.score(&ctx, &good), 1.0);
    assert_eq!(reward.score(&ctx, &bad), 0.0);
    let mut params = toml::Table::new();
    params.insert("strict".into(), toml::Value::Boolean(true));
    assert!((plugin.build)(&params).is_err());
}
