//! Simulated users: latent interests → a history of cross-domain signals and future clicks.
//!
//! User `i` is a pure function of (seed, i): its own RNG is seeded from a hash of both, so users
//! can be generated in any order, in parallel, or one at a time for a million-user stream.
//!
//! Invariants: every history signal precedes the split; no history signal refers to an article
//! published after it (a news click is stamped at or after its article's `publication_time`);
//! a drift click lands on a facet the user does not hold.

use super::noise::{noise_record, noise_type};
use super::phrasing::{browse_page, search_query};
use super::{World, article_url, publication_time};
use crate::data::{Interest, Signal, SignalKind, UserRecord};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1, LogNormal, Poisson};

/// Spread of the activity level (log-normal σ): most users are near the mean, a few are heavy.
const ACTIVITY_SIGMA: f64 = 0.6;

fn user_rng(seed: u64, index: usize) -> ChaCha8Rng {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..].copy_from_slice(&(index as u64).to_le_bytes());
    ChaCha8Rng::seed_from_u64(xxhash_rust::xxh3::xxh3_64(&key))
}

/// Generates user `index` of the world.
pub fn generate(world: &World, index: usize) -> UserRecord {
    let cfg = &world.config;
    let mut rng = user_rng(world.seed, index);
    let id = format!("u{index:08}");

    let interests = pick_interests(world, &mut rng);
    let weights: Vec<f64> = interests.iter().map(|&(_, w)| w).collect();

    let cold = rng.random_bool(cfg.cold_user_share);
    let events = if cold {
        rng.random_range(1..=3usize)
    } else {
        let mu = cfg.mean_events.ln() - ACTIVITY_SIGMA * ACTIVITY_SIGMA / 2.0;
        let n: f64 = LogNormal::new(mu, ACTIVITY_SIGMA)
            .expect("finite parameters")
            .sample(&mut rng);
        (n.round() as usize).clamp(4, cfg.max_events as usize)
    };
    let noise_level = rng.random_range(0.0..=2.0 * cfg.noise_rate).min(0.95);

    let end = world.split_timestamp;
    let start = end - i64::from(cfg.history_days) * 86_400;
    let mut history = Vec::with_capacity(events);
    for _ in 0..events {
        let mut ts = rng.random_range(start..end);
        let (kind, text, domain, url, noise) = if rng.random_bool(noise_level) {
            let ty = noise_type(cfg.off_interest_noise_share, &mut rng);
            let r = noise_record(ty, world, ts, &mut rng);
            ts = r.timestamp;
            (r.kind, r.text, r.domain, r.url, true)
        } else {
            let facet = &world.facets.facets[interests[weighted(&weights, &mut rng)].0];
            let r: f64 = rng.random();
            if r < cfg.news_click_share {
                let article = recent_article(&facet.past, &mut rng);
                let item = world.corpus.item(article);
                // A click cannot precede publication.
                let published = publication_time(item);
                ts = ts
                    .max(published + rng.random_range(0..12 * 3600))
                    .min(end - 1);
                (
                    SignalKind::NewsClick,
                    item.title.clone(),
                    Some("news.example".to_string()),
                    Some(article_url(item)),
                    false,
                )
            } else if r < cfg.news_click_share + cfg.search_share {
                (
                    SignalKind::Search,
                    search_query(facet, cfg.typo_rate, &mut rng),
                    None,
                    None,
                    false,
                )
            } else {
                let (title, domain, url) = browse_page(facet, &mut rng);
                (SignalKind::Browse, title, Some(domain), Some(url), false)
            }
        };
        history.push(Signal {
            user: id.clone(),
            timestamp: ts,
            kind,
            text,
            url,
            domain,
            noise: Some(noise),
        });
    }
    history.sort_by_key(|s| s.timestamp);

    let future_clicks = future_clicks(world, &interests, &weights, &mut rng);
    let candidates =
        (cfg.impression_negatives > 0).then(|| candidates(world, &future_clicks, &mut rng));
    let interests = interests
        .iter()
        .map(|&(f, w)| Interest {
            facet: world.facets.facets[f].id.clone(),
            weight: w as f32,
        })
        .collect();
    UserRecord {
        id,
        history,
        future_clicks,
        candidates,
        interests: Some(interests),
    }
}

/// Index drawn proportionally to `weights`.
fn weighted(weights: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut r = rng.random_range(0.0..total);
    for (i, w) in weights.iter().enumerate() {
        if r < *w {
            return i;
        }
        r -= w;
    }
    weights.len() - 1
}

/// Latent interests: (facet index, weight), weights Dirichlet(1) (normalised exponentials),
/// heaviest first. The first facet is drawn by popularity; later ones stay in an already chosen
/// category with probability `same_category_bias`, since interests cluster (one follows several
/// football stories).
fn pick_interests(world: &World, rng: &mut ChaCha8Rng) -> Vec<(usize, f64)> {
    let cfg = &world.config;
    let want = rng.random_range(cfg.min_interests..=cfg.max_interests) as usize;
    let want = want.min(world.eligible.len());
    let mut chosen: Vec<usize> = Vec::with_capacity(want);
    let mut attempts = 0;
    while chosen.len() < want && attempts < 50 {
        attempts += 1;
        let pool: &[usize] = if !chosen.is_empty() && rng.random_bool(cfg.same_category_bias) {
            let anchor = &world.facets.facets[*chosen.choose(rng).expect("non-empty")];
            &world.eligible_by_category[&anchor.category]
        } else {
            &world.eligible
        };
        let pop: Vec<f64> = pool.iter().map(|&f| world.popularity[f]).collect();
        let f = pool[weighted(&pop, rng)];
        if !chosen.contains(&f) {
            chosen.push(f);
        }
    }
    let raw: Vec<f64> = chosen.iter().map(|_| Exp1.sample(rng)).collect();
    let total: f64 = raw.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut out: Vec<(usize, f64)> = chosen
        .into_iter()
        .zip(raw.into_iter().map(|r| r / total))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// An article from a date-sorted list, biased to the newest (people click current news).
pub(super) fn recent_article(articles: &[u32], rng: &mut ChaCha8Rng) -> u32 {
    let back: f64 = Exp1.sample(rng);
    let offset = ((back * articles.len() as f64 / 4.0) as usize).min(articles.len() - 1);
    articles[articles.len() - 1 - offset]
}

/// Held-out clicks after the split: from the user's facets, except that with probability
/// `drift` a click goes to a facet the user does not hold (interest drift), in a category the
/// user already reads half the time.
fn future_clicks(
    world: &World,
    interests: &[(usize, f64)],
    weights: &[f64],
    rng: &mut ChaCha8Rng,
) -> Vec<String> {
    let cfg = &world.config;
    let extra: u64 = Poisson::new((cfg.future_clicks_mean - 1.0).max(1e-9))
        .map(|p| p.sample(rng) as u64)
        .unwrap_or(0);
    let want = 1 + extra as usize;
    let mut clicks: Vec<String> = Vec::with_capacity(want);
    let mut attempts = 0;
    while clicks.len() < want && attempts < want * 10 {
        attempts += 1;
        let drifted = if rng.random_bool(cfg.drift) {
            drift_facet(world, interests, weights, rng)
        } else {
            None
        };
        let facet = drifted.unwrap_or_else(|| interests[weighted(weights, rng)].0);
        let article = *world.facets.facets[facet]
            .future
            .choose(rng)
            .expect("eligible facets have future articles");
        let id = &world.corpus.item(article).id;
        if !clicks.contains(id) {
            clicks.push(id.clone());
        }
    }
    clicks
}

/// A facet the user does not hold: half the time in the category of one of their interests
/// (drawn by weight), else anywhere; anywhere too when that category holds no other facet.
/// `None` only for a user who holds every eligible facet, who has nowhere to drift.
fn drift_facet(
    world: &World,
    interests: &[(usize, f64)],
    weights: &[f64],
    rng: &mut ChaCha8Rng,
) -> Option<usize> {
    let own = &world.facets.facets[interests[weighted(weights, rng)].0];
    if rng.random_bool(0.5)
        && let Some(f) = unheld(&world.eligible_by_category[&own.category], interests, rng)
    {
        return Some(f);
    }
    unheld(&world.eligible, interests, rng)
}

/// A facet of `pool` drawn uniformly among those not in `interests`, if any.
fn unheld(pool: &[usize], interests: &[(usize, f64)], rng: &mut ChaCha8Rng) -> Option<usize> {
    let held = |f: usize| interests.iter().any(|&(h, _)| h == f);
    // A user holds a handful of facets, so a few draws almost always find another one; the
    // filtered pool settles the rest (both draws are uniform over the facets not held).
    for _ in 0..8 {
        let f = *pool.choose(rng)?;
        if !held(f) {
            return Some(f);
        }
    }
    let rest: Vec<usize> = pool.iter().copied().filter(|&f| !held(f)).collect();
    rest.choose(rng).copied()
}

/// Impression candidates: the future clicks plus `impression_negatives` unclicked future
/// articles per click, shuffled.
fn candidates(world: &World, clicks: &[String], rng: &mut ChaCha8Rng) -> Vec<String> {
    let want = clicks.len() * (1 + world.config.impression_negatives as usize);
    let mut out: Vec<String> = clicks.to_vec();
    let mut attempts = 0;
    while out.len() < want && attempts < want * 10 {
        attempts += 1;
        let id = &world
            .corpus
            .item(*world.future_articles.choose(rng).expect("non-empty"))
            .id;
        if !out.contains(id) {
            out.push(id.clone());
        }
    }
    out.shuffle(rng);
    out
}
