//! The user simulator: determinism, and statistics that match its config.

use quill::data::world::World;
use quill::data::{DataConfig, DataStats, SignalKind, UserRecord, UserSource};
use std::collections::HashSet;
use std::path::Path;

fn world(users: u64, seed: u64, tweak: impl FnOnce(&mut DataConfig)) -> World {
    let mut cfg = DataConfig {
        users,
        ..DataConfig::default()
    };
    cfg.corpus.articles = 4_000;
    tweak(&mut cfg);
    World::build(&cfg, seed, Path::new(".")).expect("world builds")
}

fn users(w: &World) -> Vec<UserRecord> {
    (0..w.num_users()).map(|i| w.user(i)).collect()
}

#[test]
fn same_seed_same_users_different_seed_different_users() {
    let a = users(&world(200, 7, |_| {}));
    let b = users(&world(200, 7, |_| {}));
    assert_eq!(a, b);
    let c = users(&world(200, 8, |_| {}));
    assert_ne!(a[0].history, c[0].history);
}

#[test]
fn users_are_generated_independently_of_order() {
    let w = world(500, 3, |_| {});
    let forward: Vec<UserRecord> = (0..50).map(|i| w.user(i)).collect();
    let backward: Vec<UserRecord> = (0..50).rev().map(|i| w.user(i)).collect();
    assert!(
        forward
            .iter()
            .zip(backward.iter().rev())
            .all(|(a, b)| a == b)
    );
}

#[test]
fn statistics_match_the_config() {
    let w = world(3_000, 11, |c| {
        c.world.noise_rate = 0.2;
        c.world.cold_user_share = 0.25;
        c.world.future_clicks_mean = 5.0;
        c.world.off_interest_noise_share = 0.0;
    });
    let all = users(&w);
    let stats = DataStats::of(
        &all,
        &quill::data::SplitFractions {
            train: 0.8,
            valid: 0.1,
        },
    );
    let noise = stats.noise_rate.unwrap();
    assert!((noise - 0.2).abs() < 0.02, "noise rate {noise}");
    // A non-cold user has at least 4 events, so 1-3 events means cold.
    assert!(
        (stats.cold_user_share - 0.25).abs() < 0.03,
        "cold share {}",
        stats.cold_user_share
    );
    // Future clicks are 1 + Poisson(4): mean 5, never fewer than 1 (dedup may drop a few).
    assert!(
        (stats.future_clicks.mean - 5.0).abs() < 0.3,
        "future mean {}",
        stats.future_clicks.mean
    );
    assert_eq!(stats.users_without_future_clicks, 0);
    // Every signal kind shows up, in roughly the configured mix of interest events.
    let clicks = stats.signals_per_kind["news_click"] as f64 / stats.signals as f64;
    assert!(clicks > 0.3 && clicks < 0.45, "news click share {clicks}");
    assert!(all.iter().all(UserRecord::is_time_ordered));
}

/// Share of future clicks that land on one of the user's own latent facets.
fn own_facet_share(w: &World) -> f64 {
    let facet_of: std::collections::HashMap<u32, usize> = w
        .facets
        .facets
        .iter()
        .enumerate()
        .flat_map(|(f, facet)| facet.future.iter().map(move |&a| (a, f)))
        .collect();
    let (mut own, mut total) = (0usize, 0usize);
    for u in users(w) {
        let mine: HashSet<&str> = u
            .interests
            .as_ref()
            .unwrap()
            .iter()
            .map(|i| i.facet.as_str())
            .collect();
        for id in &u.future_clicks {
            let article = w.corpus.index_of(id).unwrap();
            assert!(
                w.corpus.item(article).date >= w.split_date,
                "future click before the split"
            );
            own += mine.contains(w.facets.facets[facet_of[&article]].id.as_str()) as usize;
            total += 1;
        }
    }
    own as f64 / total as f64
}

#[test]
fn future_clicks_come_from_the_users_facets_except_for_drift() {
    let share = own_facet_share(&world(500, 5, |c| c.world.drift = 0.0));
    assert_eq!(share, 1.0);
    // With drift 0.3 about a third of clicks may leave the user's facets (some drift back by
    // chance, and facets with few future articles push more clicks out).
    let share = own_facet_share(&world(500, 5, |c| c.world.drift = 0.3));
    assert!(
        share > 0.6 && share < 0.9,
        "share of future clicks on own facets {share}"
    );
}

#[test]
fn history_signals_are_before_the_split_and_labelled() {
    let w = world(300, 2, |_| {});
    for u in users(&w) {
        assert!(!u.history.is_empty());
        for s in &u.history {
            assert!(s.timestamp < w.split_timestamp);
            assert_eq!(s.user, u.id);
            assert!(s.noise.is_some());
            if s.kind == SignalKind::NewsClick && s.noise == Some(false) {
                let id = s.url.as_ref().unwrap().rsplit('/').next().unwrap();
                let article = w.corpus.get(id).unwrap();
                assert_eq!(article.title, s.text);
                assert!(article.date < w.split_date);
            }
        }
        let cands = u.candidates.as_ref().unwrap();
        assert!(u.future_clicks.iter().all(|c| cands.contains(c)));
    }
}

#[test]
fn bad_configs_are_rejected_with_the_field() {
    let mut cfg = DataConfig::default();
    cfg.world.min_interests = 6;
    let err = World::build(&cfg, 1, Path::new("."))
        .err()
        .unwrap()
        .to_string();
    assert!(err.starts_with("data.world.min_interests"), "{err}");
}

#[test]
fn huffpost_corpus_yields_derived_facets_and_users() {
    let Some(dir) = std::env::var_os("QUILL_CORPUS_DIR") else {
        eprintln!(
            "skipped: QUILL_CORPUS_DIR is unset (set it to the directory holding huffpost-news-category-v3-head.jsonl)"
        );
        return;
    };
    let mut cfg = DataConfig {
        users: 500,
        ..DataConfig::default()
    };
    cfg.corpus.source = quill::data::CorpusSource::Huffpost;
    cfg.corpus.path = Path::new(&dir).join("huffpost-news-category-v3-head.jsonl");
    let w = World::build(&cfg, 1, Path::new(".")).expect("huffpost world builds");
    // Finer facets than the 29 categories, most of them usable on both sides of the split.
    assert!(
        w.facets.facets.len() > 60,
        "{} facets",
        w.facets.facets.len()
    );
    assert!(
        w.eligible.len() > 40,
        "{} eligible facets",
        w.eligible.len()
    );
    let politics: Vec<&str> = w
        .facets
        .facets
        .iter()
        .filter(|f| f.category == "POLITICS")
        .map(|f| f.id.as_str())
        .collect();
    assert!(politics.len() >= 10, "{politics:?}");
    let all = users(&w);
    let stats = DataStats::of(
        &all,
        &quill::data::SplitFractions {
            train: 0.8,
            valid: 0.1,
        },
    );
    assert!((stats.noise_rate.unwrap() - 0.15).abs() < 0.03);
    assert_eq!(stats.users_without_future_clicks, 0);
}
