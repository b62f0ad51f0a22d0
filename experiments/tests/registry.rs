//! Every built-in plugin is registered once the plugin crate is linked (linkers drop
//! unreferenced `inventory` registrations, so this is checked from a separate test binary).

use quill_experiments::quill_rewards as _;

/// The names the files of `rewards/src/` submit as `RewardPlugin`s: read from the source, so a
/// new reward file is checked without being listed anywhere.
fn rewards_in_source() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rewards/src");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for block in text.split("RewardPlugin {").skip(1) {
            let name = block
                .split("name: \"")
                .nth(1)
                .and_then(|r| r.split('"').next());
            names.push(
                name.expect("a RewardPlugin with a literal name")
                    .to_string(),
            );
        }
    }
    names.sort();
    names
}

#[test]
fn every_reward_file_and_its_ablation_is_registered() {
    let names: Vec<&str> = quill::reward::registered_rewards()
        .iter()
        .map(|p| p.name)
        .collect();
    let in_source = rewards_in_source();
    for paper in quill_rewards::PAPER_REWARDS {
        assert!(in_source.iter().any(|n| n == paper), "{in_source:?}");
    }
    let ablations: Vec<String> = quill::reward::ablation_names()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(ablations.contains(&"full".to_string()));
    for name in &in_source {
        assert!(
            names.contains(&name.as_str()),
            "{name} is not registered (dropped by the linker?): {names:?}"
        );
        assert!(ablations.contains(&format!("no_{name}")), "{ablations:?}");
    }
}

#[test]
fn quill_rewards_lists_them_with_descriptions() {
    let text = quill_experiments::explain::rewards();
    assert!(
        text.contains("structural_validity") && text.contains("well-formed"),
        "{text}"
    );
    assert!(text.contains("no_structural_validity"), "{text}");
    // The paper's five rewards, and six ablations: full plus one no_<reward> each.
    let section = |name: &str| {
        text.split(name)
            .nth(1)
            .unwrap()
            .lines()
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .count()
    };
    assert_eq!(section("rewards:"), 5, "{text}");
    assert_eq!(section("ablations:"), 6, "{text}");
}

#[test]
fn the_registered_structural_reward_scores_lists() {
    use quill::reward::testing::{TableEmbedder, TableRetriever, corpus, env, score_one, user};
    use quill::text::query_list::{QueryList, QueryListFormat};
    let plugin = quill::reward::find_reward("structural_validity").unwrap();
    let reward = (plugin.build)(&toml::Table::new()).unwrap();
    let env = env(
        corpus(&["x"]),
        TableEmbedder::new(2, &[]),
        TableRetriever(Default::default()),
    );
    let f = QueryListFormat::default();
    let good = QueryList::parse(
        "- riverton hawks\n- quantum collider\n- sourdough baking\n<end>",
        &f,
    );
    let bad = QueryList::parse("- riverton hawks\n- riverton hawks\n- sourdough\n<end>", &f);
    assert_eq!(
        score_one(reward.as_ref(), &env, &user(&[]), &[], &good),
        1.0
    );
    assert_eq!(score_one(reward.as_ref(), &env, &user(&[]), &[], &bad), 0.0);
    let mut params = toml::Table::new();
    params.insert("strict".into(), toml::Value::Boolean(true));
    assert!((plugin.build)(&params).is_err());
}

#[test]
fn presets_lists_every_preset_with_its_parameter_count() {
    let text = quill_experiments::explain::presets();
    for p in quill::policy::presets() {
        let line = text
            .lines()
            .find(|l| l.starts_with(p.name))
            .unwrap_or_else(|| panic!("{} missing from:\n{text}", p.name));
        let count = p.config.param_count().to_string();
        assert!(
            line.replace(',', "").contains(&count),
            "{line} lacks {count}"
        );
    }
    assert!(
        text.contains("131,392"),
        "nano's hand-checked count:\n{text}"
    );
}
