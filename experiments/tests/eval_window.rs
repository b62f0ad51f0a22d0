//! The evaluation window opens on the dataset's declared split date, whatever the held-out
//! clicks are: the retrieval evaluation of the held-out checks during training (the same
//! `fresh_from` as the test split's and `quill eval-baselines`') is built on a JSONL log whose
//! earliest held-out click comes two days after its declared split, and again after the clicks
//! change.

use quill::data::load_dataset;
use quill::reward::RewardView;
use quill_experiments::config;
use quill_experiments::scoring::scoring;
use quill_experiments::stages::held_out::valid_split;
use std::path::{Path, PathBuf};

/// Pre-split news (1-3 March 2024, each word at least twice, for the word vectors), the split
/// day's n4 and the later n5 and n6.
const NEWS: &str = r#"{"id": "n1", "title": "Riverton Hawks win playoff opener", "category": "sports", "date": "2024-03-01"}
{"id": "n2", "title": "Riverton Hawks playoff tickets sell out", "category": "sports", "date": "2024-03-02"}
{"id": "n3", "title": "Sourdough bread baking tips", "category": "food", "date": "2024-03-03"}
{"id": "n4", "title": "Sourdough bread prices rise", "category": "food", "date": "2024-03-04"}
{"id": "n5", "title": "Riverton Hawks reach the final", "category": "sports", "date": "2024-03-05"}
{"id": "n6", "title": "Bread baking contest winners", "category": "food", "date": "2024-03-06"}
"#;

/// Users whose histories are on 1 March 2024 (1709280000 = 08:00 UTC) and who clicked
/// `clicks[i]` after the split.
fn users(clicks: &[&str]) -> String {
    clicks
        .iter()
        .enumerate()
        .map(|(i, click)| {
            format!(
                r#"{{"id": "u{i}", "history": [{{"user": "u{i}", "timestamp": 1709280000, "kind": "search", "text": "hawks playoff"}}], "future_clicks": ["{click}"]}}"#
            ) + "\n"
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The window of the held-out checks on a log of these clicks, declared split 4 March.
fn window(dir: &Path, clicks: &[&str]) -> Option<String> {
    write(dir, "news.jsonl", NEWS);
    write(dir, "users.jsonl", &users(clicks));
    // Every user in the valid split, so the held-out check evaluates them all.
    let src = "[data]\nsource = \"jsonl\"\nusers = 0\ntrain_fraction = 0.0\nvalid_fraction = 1.0\n\
               [data.jsonl]\nusers = \"users.jsonl\"\nnews = \"news.jsonl\"\n\
               split_date = \"2024-03-04\"\n\
               [retrieval.word_vectors]\ndim = 8\n";
    let exp = config::load(&write(dir, "exp.toml", src)).unwrap();
    let cfg = &exp.config;
    let data = load_dataset(&cfg.data, cfg.experiment.seed, &exp.base_dir).unwrap();
    let scoring = scoring(&exp, data.corpus.clone(), RewardView::History).unwrap();
    let (valid, offline) = valid_split(&exp, &data, None, &scoring);
    assert_eq!(valid.len(), clicks.len());
    offline.fresh_from.map(|d| d.to_string())
}

#[test]
fn the_window_is_the_declared_split_date_whatever_the_labels() {
    let dir = std::env::temp_dir().join(format!("quill-eval-window-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The earliest held-out click (n5) is dated 5 March; the window still opens on the 4th.
    assert_eq!(
        window(&dir, &["n5", "n6", "n6"]).as_deref(),
        Some("2024-03-04")
    );
    // Other labels, earliest 6 March or on the split day itself: the same window.
    assert_eq!(
        window(&dir, &["n6", "n6", "n6"]).as_deref(),
        Some("2024-03-04")
    );
    assert_eq!(
        window(&dir, &["n4", "n5", "n6"]).as_deref(),
        Some("2024-03-04")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
