//! How a simulated user expresses an interest outside news: web searches phrased from a
//! facet's entities and keywords (with the sloppiness of real queries), and page titles on
//! shopping, reference, forum and video sites.

use super::facets::Facet;
use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

const QUERY_TAILS: &[&str] = &[
    "news",
    "latest",
    "update",
    "2025",
    "today",
    "schedule",
    "results",
    "reviews",
    "explained",
];

/// A search query about a facet. `typo_rate` is the chance of one typo; partial names and
/// abbreviations each happen at a fixed 20% because real users shorten names routinely.
pub fn search_query(facet: &Facet, typo_rate: f64, rng: &mut ChaCha8Rng) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !facet.entities.is_empty() && rng.random_bool(0.7) {
        let e = facet.entities.choose(rng).expect("non-empty");
        parts.push(shorten_name(e, rng));
    }
    if (parts.is_empty() || rng.random_bool(0.6))
        && let Some(k) = facet.keywords.choose(rng)
    {
        parts.push(k.clone());
    }
    if rng.random_bool(0.3) {
        parts.push(QUERY_TAILS.choose(rng).expect("tails").to_string());
    }
    let mut q = parts.join(" ");
    if rng.random_bool(0.75) {
        q = q.to_lowercase();
    }
    if rng.random_bool(typo_rate) {
        q = typo(&q, rng);
    }
    q
}

/// A multi-word name as people type it: whole, last word only ("Okafor"), or initials ("nyk").
fn shorten_name(name: &str, rng: &mut ChaCha8Rng) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    if words.len() < 2 {
        return name.to_string();
    }
    match rng.random_range(0..10) {
        0 | 1 => words[words.len() - 1].to_string(),
        2 | 3 => words
            .iter()
            .filter_map(|w| w.chars().next())
            .collect::<String>()
            .to_lowercase(),
        _ => name.to_string(),
    }
}

/// One keyboard slip: a swapped, dropped or doubled letter.
fn typo(q: &str, rng: &mut ChaCha8Rng) -> String {
    let mut chars: Vec<char> = q.chars().collect();
    let letters: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_alphabetic())
        .collect();
    if letters.len() < 4 {
        return q.to_string();
    }
    let i = letters[rng.random_range(1..letters.len() - 1)];
    match rng.random_range(0..3) {
        0 if i + 1 < chars.len() => chars.swap(i, i + 1),
        1 => {
            chars.remove(i);
        }
        _ => chars.insert(i, chars[i]),
    }
    chars.into_iter().collect()
}

/// A browsing event about a facet: (page title, domain, url).
pub fn browse_page(facet: &Facet, rng: &mut ChaCha8Rng) -> (String, String, String) {
    let subject = facet.entities.choose(rng).cloned().unwrap_or_else(|| {
        facet
            .keywords
            .first()
            .cloned()
            .unwrap_or_else(|| facet.category.clone())
    });
    let kw = facet.keywords.choose(rng).cloned().unwrap_or_default();
    let (title, domain) = match rng.random_range(0..4) {
        0 => (
            format!("{subject} {kw} gear and merchandise | ShopMart"),
            "shopmart.example",
        ),
        1 => (format!("{subject} - Encyclopedia"), "encyclopedia.example"),
        2 => (
            format!("Thread: thoughts on {subject} and the {kw}? - Community Forum"),
            "forum.example",
        ),
        _ => (
            format!("{subject} {kw} highlights and analysis - VidTube"),
            "vidtube.example",
        ),
    };
    let slug: String = subject
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-");
    let url = format!("https://{domain}/{slug}");
    (title, domain.to_string(), url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn facet() -> Facet {
        Facet {
            id: "sports/football/0".into(),
            category: "sports".into(),
            label: "x".into(),
            keywords: vec!["quarterback".into(), "playoff".into()],
            entities: vec!["Riverton Hawks".into(), "Maria Okafor".into()],
            past: vec![],
            future: vec![],
        }
    }

    #[test]
    fn queries_stay_about_the_facet() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let f = facet();
        let markers = [
            "riverton",
            "hawks",
            "rh",
            "maria",
            "okafor",
            "mo",
            "quarterback",
            "playoff",
        ];
        let mut about = 0;
        for _ in 0..200 {
            let q = search_query(&f, 0.0, &mut rng).to_lowercase();
            if markers
                .iter()
                .any(|m| q.split_whitespace().any(|w| w == *m) || q.contains(m))
            {
                about += 1;
            }
        }
        assert_eq!(about, 200);
    }

    #[test]
    fn typos_change_exactly_one_spot() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..50 {
            let t = typo("quarterback playoff", &mut rng);
            let diff = (t.len() as i64 - "quarterback playoff".len() as i64).abs();
            assert!(diff <= 1 && t != "quarterback playoff" || diff == 0, "{t}");
        }
    }
}
