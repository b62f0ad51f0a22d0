//! Noise records: what a real behaviour log holds besides interests. Navigational queries,
//! malformed strings and irrelevant pages are recognisable from the text alone; off-interest
//! clicks (a real headline the user clicked by accident) are not, and cap what any
//! per-record cleaner can recall. All carry `noise: Some(true)`.

use crate::data::{Corpus, SignalKind};
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

/// A noise record: (kind, text, domain, url).
pub fn noise_record(
    ty: NoiseType,
    corpus: &Corpus,
    rng: &mut ChaCha8Rng,
) -> (SignalKind, String, Option<String>, Option<String>) {
    match ty {
        NoiseType::Navigational => (
            SignalKind::Search,
            NAVIGATIONAL.choose(rng).expect("list").to_string(),
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
            (kind, text, None, None)
        }
        NoiseType::IrrelevantPage => {
            let (title, domain) = IRRELEVANT_PAGES.choose(rng).expect("list");
            (
                SignalKind::Browse,
                title.to_string(),
                Some(domain.to_string()),
                Some(format!("https://{domain}/")),
            )
        }
        NoiseType::OffInterest => {
            let n = corpus.item(rng.random_range(0..corpus.len() as u32));
            (
                SignalKind::NewsClick,
                n.title.clone(),
                Some("news.example".into()),
                n.url.clone(),
            )
        }
    }
}

/// Keyboard mash or a truncated token string.
fn random_junk(rng: &mut ChaCha8Rng) -> String {
    const ALPHABET: &[u8] = b"asdfghjklqwertyuiopzxcvbnm0123456789;/=%&#";
    let len = rng.random_range(3..18);
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}
