//! Property tests of the simulator's time invariants over many simulated users: no history
//! signal refers to an article published after it (nor comes on or after the split), and a
//! drift click lands on a facet the user does not hold.

use proptest::prelude::*;
use quill::data::world::{World, article_url, publication_time};
use quill::data::{DataConfig, SignalKind, UserRecord, UserSource};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The knobs that decide when history clicks happen and which articles they can reach.
#[derive(Debug, Clone)]
struct Knobs {
    seed: u64,
    articles: u64,
    history_days: u32,
    future_article_share: f64,
    noise_rate: f64,
    off_interest_noise_share: f64,
    max_interests: u32,
}

fn knobs() -> impl Strategy<Value = Knobs> {
    (
        any::<u64>(),
        500u64..2_500,
        // Up to well past the corpus's 180 days, so some clicks fall before every article.
        1u32..400,
        0.05f64..0.5,
        0.1f64..0.45,
        0.3f64..=1.0,
        1u32..=8,
    )
        .prop_map(|(seed, articles, days, future, noise, off, max)| Knobs {
            seed,
            articles,
            history_days: days,
            future_article_share: future,
            noise_rate: noise,
            off_interest_noise_share: off,
            max_interests: max,
        })
}

/// A world where every future click drifts (`drift` = 1), so each one must avoid the user's
/// facets.
fn world(k: &Knobs) -> World {
    let mut cfg = DataConfig {
        users: 250,
        ..DataConfig::default()
    };
    cfg.corpus.articles = k.articles;
    let w = &mut cfg.world;
    w.history_days = k.history_days;
    w.future_article_share = k.future_article_share;
    w.noise_rate = k.noise_rate;
    w.off_interest_noise_share = k.off_interest_noise_share;
    w.min_interests = 1;
    w.max_interests = k.max_interests;
    w.drift = 1.0;
    World::build(&cfg, k.seed, Path::new(".")).expect("world builds")
}

/// Every history signal precedes the split, and every news click names (by URL) an article
/// published no later than the click.
fn check_history(w: &World, user: &UserRecord, by_url: &HashMap<String, u32>) {
    for (k, s) in user.history.iter().enumerate() {
        assert!(
            s.timestamp < w.split_timestamp,
            "{} history[{k}] at {} is not before the split {}",
            user.id,
            s.timestamp,
            w.split_timestamp
        );
        if s.kind != SignalKind::NewsClick {
            continue;
        }
        let url = s.url.as_deref().unwrap_or_default();
        let Some(&article) = by_url.get(url) else {
            panic!("{} history[{k}] names no article: url {url:?}", user.id);
        };
        let item = w.corpus.item(article);
        assert!(
            publication_time(item) <= s.timestamp,
            "{} history[{k}] (noise {:?}) at {} clicks {} published at {} ({})",
            user.id,
            s.noise,
            s.timestamp,
            item.id,
            publication_time(item),
            item.date
        );
        assert_eq!(item.title, s.text);
    }
}

/// No future click is an article of a facet the user holds.
fn check_drift(w: &World, user: &UserRecord, facets_of: &HashMap<u32, Vec<&str>>) {
    let held: HashSet<&str> = user
        .interests
        .as_ref()
        .expect("simulated users carry their interests")
        .iter()
        .map(|i| i.facet.as_str())
        .collect();
    for id in &user.future_clicks {
        let article = w.corpus.index_of(id).expect("future clicks are corpus ids");
        let facets = &facets_of[&article];
        assert!(
            facets.iter().all(|f| !held.contains(f)),
            "{} drifted to {id} of facet {facets:?}, which it holds ({held:?})",
            user.id
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 12,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn history_never_refers_to_later_articles_and_drift_leaves_the_users_facets(k in knobs()) {
        let w = world(&k);
        let by_url: HashMap<String, u32> = (0..w.corpus.len() as u32)
            .map(|i| (article_url(w.corpus.item(i)), i))
            .collect();
        let mut facets_of: HashMap<u32, Vec<&str>> = HashMap::new();
        for f in &w.facets.facets {
            for &a in &f.future {
                facets_of.entry(a).or_default().push(f.id.as_str());
            }
        }
        for i in 0..w.num_users() {
            let user = w.user(i);
            check_history(&w, &user, &by_url);
            check_drift(&w, &user, &facets_of);
        }
    }
}

/// The knobs above reach the off-interest clicks this invariant is about: with every noise
/// record an accidental click, many histories hold one.
#[test]
fn off_interest_clicks_are_drawn_and_checked() {
    let k = Knobs {
        seed: 3,
        articles: 1_000,
        history_days: 30,
        future_article_share: 0.3,
        noise_rate: 0.4,
        off_interest_noise_share: 1.0,
        max_interests: 3,
    };
    let w = world(&k);
    let by_url: HashMap<String, u32> = (0..w.corpus.len() as u32)
        .map(|i| (article_url(w.corpus.item(i)), i))
        .collect();
    let mut accidental = 0;
    for i in 0..w.num_users() {
        let user = w.user(i);
        check_history(&w, &user, &by_url);
        accidental += user
            .history
            .iter()
            .filter(|s| s.kind == SignalKind::NewsClick && s.noise == Some(true))
            .count();
    }
    assert!(accidental > 100, "{accidental} off-interest clicks");
}
