//! Noise records: what a real behaviour log holds besides interests. Navigational queries,
//! malformed strings and irrelevant pages are recognisable from the text alone; off-interest
//! clicks (a real headline the user clicked by accident) are not, and cap what any
//! per-record cleaner can recall. All carry `noise: Some(true)`. An off-interest click, like
//! any history click, lands on an article already published at the click's time.

use super::users::recent_article;
use super::{World, article_url, publication_time};
use crate::data::SignalKind;
use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

const NAVIGATIONAL: &[&str] = &[
    "facebook login",
    "gmail",
    "youtube",
    "amazon",
    "weather",
    "translate",
    "netflix sign in",
    "bank login",
    "maps",
    "outlook mail",
    "instagram",
    "calculator",
    "speed test",
    "www",
    "google",
    "my account",
    "wifi password",
    "time zone converter",
    "hotmail login",
    "tracking number",
];
const IRRELEVANT_PAGES: &[(&str, &str)] = &[
    ("Page not found", "404.example"),
    ("Sign in - Account", "accounts.example"),
    ("Cookie preferences", "consent.example"),
    ("Checkout - Cart (2 items)", "shopmart.example"),
    ("Loading...", "cdn.example"),
    ("Error 503 Service Unavailable", "edge.example"),
    ("Your session has expired", "accounts.example"),
    ("Inbox (14) - Mail", "mail.example"),
    ("New Tab", "browser.example"),
    ("Redirecting...", "redirect.example"),
];
const MALFORMED: &[&str] = &[
    "&nbsp;<div class=\"hdr\">",
    "undefined",
    "null",
    "%20%3Cspan%3E%20",
    "[object Object]",
    "\u{fffd}\u{fffd}\u{fffd}",
    "NaN",
    "<!-- -->",
    "{{title}}",
    "?utm_source=feed&utm_medium=",
];

/// Which noise a record is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoiseType {
    Navigational,
    Malformed,
    IrrelevantPage,
    OffInterest,
}

/// Draws a noise type: `off_interest_share` of noise is off-interest clicks, the rest split
/// evenly between the three recognisable kinds.
pub fn noise_type(off_interest_share: f64, rng: &mut ChaCha8Rng) -> NoiseType {
    if rng.random_bool(off_interest_share) {
        return NoiseType::OffInterest;
    }
    match rng.random_range(0..3) {
        0 => NoiseType::Navigational,
        1 => NoiseType::Malformed,
        _ => NoiseType::IrrelevantPage,
    }
}

/// One noise record, stamped at `timestamp`.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseRecord {
    pub kind: SignalKind,
    pub text: String,
    pub domain: Option<String>,
    pub url: Option<String>,
    pub timestamp: i64,
}

/// A noise record of type `ty` drawn for the moment `at` of a user's history (before the
/// split). Only an off-interest click can move it: to just after its article's publication,
/// when no article was yet published at `at`.
pub fn noise_record(ty: NoiseType, world: &World, at: i64, rng: &mut ChaCha8Rng) -> NoiseRecord {
    let record = |kind, text: &str, domain: Option<&str>, url: Option<String>| NoiseRecord {
        kind,
        text: text.to_string(),
        domain: domain.map(str::to_string),
        url,
        timestamp: at,
    };
    match ty {
        NoiseType::Navigational => record(
            SignalKind::Search,
            NAVIGATIONAL.choose(rng).expect("list"),
            None,
            None,
        ),
        NoiseType::Malformed => {
            let text = if rng.random_bool(0.5) {
                MALFORMED.choose(rng).expect("list").to_string()
            } else {
                random_junk(rng)
            };
            let kind = if rng.random_bool(0.5) {
                SignalKind::Search
            } else {
                SignalKind::Browse
            };
            record(kind, &text, None, None)
        }
        NoiseType::IrrelevantPage => {
            let (title, domain) = IRRELEVANT_PAGES.choose(rng).expect("list");
            let url = Some(format!("https://{domain}/"));
            record(SignalKind::Browse, title, Some(domain), url)
        }
        NoiseType::OffInterest => {
            let (article, timestamp) = accidental_click(world, at, rng);
            let item = world.corpus.item(article);
            NoiseRecord {
                timestamp,
                ..record(
                    SignalKind::NewsClick,
                    &item.title,
                    Some("news.example"),
                    Some(article_url(item)),
                )
            }
        }
    }
}

/// An accidental click around `at`: a recent article among those already published then (a
/// log cannot hold a click on tomorrow's news), and `at` itself; if `at` precedes every
/// article, the first one, clicked within 12 hours of its publication (still before the split).
fn accidental_click(world: &World, at: i64, rng: &mut ChaCha8Rng) -> (u32, i64) {
    let past = &world.past_articles;
    let published = past.partition_point(|&a| publication_time(world.corpus.item(a)) <= at);
    if published > 0 {
        return (recent_article(&past[..published], rng), at);
    }
    let first = *past
        .first()
        .expect("eligible facets have articles before the split");
    let clicked = publication_time(world.corpus.item(first)) + rng.random_range(0..12 * 3600);
    (first, clicked.min(world.split_timestamp - 1))
}

/// Keyboard mash or a truncated token string.
fn random_junk(rng: &mut ChaCha8Rng) -> String {
    const ALPHABET: &[u8] = b"asdfghjklqwertyuiopzxcvbnm0123456789;/=%&#";
    let len = rng.random_range(3..18);
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}
