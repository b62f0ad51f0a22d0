//! `quill eval-baselines` on a small quickstart-derived config: baselines.json carries the
//! ranking metrics, the history lists' rewards and the impression metrics.

use quill_experiments::{baselines_cmd, config};
use std::path::Path;

#[test]
fn baselines_json_has_rewards_and_impression_metrics() {
    let dir = std::env::temp_dir().join(format!("quill-baselines-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/quickstart.toml");
    // The quickstart file with fewer users and articles and a quicker cleaner; the simulator
    // gives every user impression candidates (4 unclicked per click by default).
    let src = std::fs::read_to_string(quickstart)
        .unwrap()
        .replace("users = 3000", "users = 300")
        .replace("articles = 12000", "articles = 2000")
        .replace(
            "output_dir = \"runs\"",
            &format!("output_dir = {:?}", dir.join("out")),
        )
        .replace(
            "threshold = 0.5",
            "threshold = 0.5\nepochs = 1\ntrain_users = 200",
        );
    let path = dir.join("exp.toml");
    std::fs::write(&path, src).unwrap();
    let exp = config::load(&path).unwrap();
    assert_eq!(exp.config.data.users, 300);
    baselines_cmd::eval_baselines(&exp).unwrap();

    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("out/quickstart/baselines.json")).unwrap(),
    )
    .unwrap();
    let results = json.as_array().unwrap();
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["random", "popularity", "history_as_queries"]);
    for r in results {
        let imp = &r["impressions"];
        for key in ["auc", "mrr", "ndcg@5", "ndcg@10"] {
            let v = imp[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{key} in {imp}"));
            assert!((0.0..=1.0).contains(&v), "{key} = {v}");
        }
        assert!(imp["impressions"].as_u64().unwrap() > 0, "{imp}");
        assert!(imp["skipped"].is_u64(), "{imp}");
    }
    // Only the method with query lists has rewards.
    assert!(results[0].get("rewards").is_none() && results[1].get("rewards").is_none());
    let rewards = &results[2]["rewards"];
    let per = rewards["per_reward"].as_object().unwrap();
    assert_eq!(per.len(), 5, "{rewards}");
    let sum: f64 = per.values().map(|v| v.as_f64().unwrap()).sum();
    for v in per.values() {
        assert!((0.0..=1.0).contains(&v.as_f64().unwrap()), "{rewards}");
    }
    // Weights are 1 and aggregation is `sum`: the mean composite is the sum of the means.
    let composite = rewards["composite"].as_f64().unwrap();
    assert!((composite - sum).abs() < 1e-4, "{composite} vs {sum}");
    assert!(rewards["lists"].as_u64().unwrap() > 0);
    let _ = std::fs::remove_dir_all(&dir);
}
