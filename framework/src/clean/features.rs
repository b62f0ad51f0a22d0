//! Hashed sparse features of one signal, and dense batches of them for the classifier.
//!
//! Noise records give themselves away by their surface (markup, boilerplate like "page not
//! found", keyboard mashing, navigational queries like "facebook login") rather than by their
//! meaning, so character n-grams, words and a few shape tokens carry nearly all the signal a
//! small classifier needs. Features are hashed (the "hashing trick") so there is no vocabulary to
//! build, store or keep in sync: the same text maps to the same buckets in every run and, because
//! xxh3 is a fixed algorithm rather than Rust's randomly keyed `DefaultHasher`, across Rust
//! versions and machines — which is what lets a saved cleaner be loaded later.

use crate::data::Signal;
use burn::tensor::{Device, Tensor, TensorData};
use xxhash_rust::xxh3::xxh3_64;

/// Name of the feature scheme, saved beside the weights: a cleaner trained on one scheme gives
/// nonsense on another, so loading checks it. Bump it whenever `signal_features` changes.
pub const FEATURE_SCHEME: &str = "xxh3-ngram34-word-shape-v1";

/// Only the first this-many characters are featurised: real titles and queries are far shorter,
/// and it bounds the cost of a pathological multi-kilobyte record (a pasted page body).
pub const MAX_CHARS: usize = 512;

/// The non-zero entries of one signal's feature vector; unit L2 norm.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseFeatures {
    /// Bucket of each entry, `< buckets`, sorted and unique.
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

/// The features of one signal hashed into `buckets` buckets (`buckets` must be > 0; the config
/// check guarantees at least 64).
///
/// Two blocks, each scaled to unit norm, then joined with equal weight: the *text* block (char
/// 3/4-grams and words, term-frequency weighted) and the *record* block (kind, domain, shape
/// tokens). Normalising the text block keeps a long title from swamping the record block and
/// keeps pre-activations on one scale whatever the length, so one learning rate fits all.
pub fn signal_features(signal: &Signal, buckets: u32) -> SparseFeatures {
    let buckets = buckets.max(1);
    let text: String = signal
        .text
        .chars()
        .take(MAX_CHARS)
        .flat_map(char::to_lowercase)
        .collect();
    let mut text_block: Vec<u32> = Vec::with_capacity(4 * text.len() + 8);
    let mut key = String::with_capacity(64);

    // Char n-grams inside whitespace-separated tokens, punctuation kept ("<div", "&nbsp;" are
    // strong noise cues), with '<' and '>' marking the token's start and end (as fastText does)
    // so "login" as a whole word differs from "login" inside "bloginfo".
    for token in text.split_whitespace() {
        let marked: Vec<char> = std::iter::once('\u{2}')
            .chain(token.chars())
            .chain(std::iter::once('\u{3}'))
            .collect();
        for n in [3usize, 4] {
            for gram in marked.windows(n) {
                key.clear();
                key.push_str(if n == 3 { "c3:" } else { "c4:" });
                key.extend(gram);
                text_block.push(bucket(&key, buckets));
            }
        }
    }
    // Words as runs of letters and digits, so "Login!" and "login" are one feature.
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    for word in &words {
        key.clear();
        key.push_str("w:");
        key.push_str(word);
        text_block.push(bucket(&key, buckets));
    }

    let mut record_block: Vec<u32> = Vec::with_capacity(8);
    for token in record_tokens(signal, words.len()) {
        record_block.push(bucket(&token, buckets));
    }

    let mut entries: Vec<(u32, f32)> = Vec::with_capacity(text_block.len() + record_block.len());
    add_block(&mut entries, text_block);
    add_block(&mut entries, record_block);
    merge_and_normalise(entries)
}

/// Kind, domain and coarse shape of the record as categorical tokens.
fn record_tokens(signal: &Signal, word_count: usize) -> Vec<String> {
    let text = signal.text.trim();
    let chars = text.chars().count();
    let visible = text.chars().filter(|c| !c.is_whitespace()).count();
    let symbols = text
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_alphanumeric())
        .count();
    let symbol_share = if visible == 0 {
        0.0
    } else {
        symbols as f64 / visible as f64
    };
    let has_letters = text.chars().any(char::is_alphabetic);
    let all_caps = has_letters && !text.chars().any(char::is_lowercase);
    let has_digits = text.chars().any(|c| c.is_ascii_digit());
    let domain = signal
        .domain
        .as_deref()
        .map(str::to_lowercase)
        .unwrap_or_else(|| "-".into());
    vec![
        format!("kind={}", signal.kind.as_str()),
        format!("domain={domain}"),
        format!("len={}", length_bucket(chars)),
        format!("sym={}", share_bucket(symbol_share)),
        format!("digits={has_digits}"),
        format!("caps={all_caps}"),
        format!("words={}", word_count_bucket(word_count)),
        // A constant token acts as a per-block bias and keeps an empty text from being all-zero.
        "record".to_string(),
    ]
}

fn length_bucket(chars: usize) -> &'static str {
    match chars {
        0 => "0",
        1..=3 => "1-3",
        4..=10 => "4-10",
        11..=30 => "11-30",
        31..=80 => "31-80",
        81..=200 => "81-200",
        _ => "201+",
    }
}

fn share_bucket(share: f64) -> &'static str {
    match share {
        s if s <= 0.0 => "0",
        s if s < 0.05 => "<5%",
        s if s < 0.15 => "<15%",
        s if s < 0.3 => "<30%",
        _ => ">=30%",
    }
}

fn word_count_bucket(words: usize) -> &'static str {
    match words {
        0 => "0",
        1 => "1",
        2 => "2",
        3..=5 => "3-5",
        6..=12 => "6-12",
        _ => "13+",
    }
}

fn bucket(key: &str, buckets: u32) -> u32 {
    (xxh3_64(key.as_bytes()) % u64::from(buckets)) as u32
}

/// Adds one block's bucket counts scaled so the block has unit L2 norm, times 1/√2 so the two
/// blocks together have unit norm.
fn add_block(entries: &mut Vec<(u32, f32)>, mut block: Vec<u32>) {
    if block.is_empty() {
        return;
    }
    block.sort_unstable();
    let mut counts: Vec<(u32, f32)> = Vec::with_capacity(block.len());
    for b in block {
        match counts.last_mut() {
            Some((last, c)) if *last == b => *c += 1.0,
            _ => counts.push((b, 1.0)),
        }
    }
    let norm = counts.iter().map(|(_, c)| c * c).sum::<f32>().sqrt() * std::f32::consts::SQRT_2;
    entries.extend(counts.into_iter().map(|(b, c)| (b, c / norm)));
}

/// Sums entries that share a bucket (the two blocks may collide) and rescales to unit norm.
fn merge_and_normalise(mut entries: Vec<(u32, f32)>) -> SparseFeatures {
    entries.sort_unstable_by_key(|(b, _)| *b);
    let mut indices = Vec::with_capacity(entries.len());
    let mut values: Vec<f32> = Vec::with_capacity(entries.len());
    for (b, v) in entries {
        if indices.last() == Some(&b) {
            if let Some(last) = values.last_mut() {
                *last += v;
            }
        } else {
            indices.push(b);
            values.push(v);
        }
    }
    let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        values.iter_mut().for_each(|v| *v /= norm);
    }
    SparseFeatures { indices, values }
}

/// A dense `[batch, buckets]` float tensor of the given rows.
///
/// Dense rather than sparse on purpose: at the default 4096 buckets a 256-row batch is 4 MiB and
/// the first layer one 256×4096×64 matmul (~67 MFLOP, about a millisecond on one CPU core), so
/// densifying costs little and lets the model be two plain `Linear` layers with Burn's fused,
/// well-tested matmul and its gradient. An embedding-bag (gather + scatter-add) would only pay
/// off at hundreds of thousands of buckets.
pub fn dense_batch(rows: &[&SparseFeatures], buckets: usize, device: &Device) -> Tensor<2> {
    let mut data = vec![0f32; rows.len() * buckets];
    for (r, row) in rows.iter().enumerate() {
        let base = r * buckets;
        for (&i, &v) in row.indices.iter().zip(&row.values) {
            // Indices come from `signal_features` with the same bucket count; skipping an
            // out-of-range one (only possible if the caller mixed bucket counts) beats a panic.
            if (i as usize) < buckets {
                data[base + i as usize] += v;
            }
        }
    }
    Tensor::from_data(TensorData::new(data, [rows.len(), buckets]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SignalKind;

    fn signal(kind: SignalKind, text: &str, domain: Option<&str>) -> Signal {
        Signal {
            user: "u".into(),
            timestamp: 0,
            kind,
            text: text.into(),
            url: None,
            domain: domain.map(Into::into),
            noise: None,
        }
    }

    #[test]
    fn features_are_deterministic_sorted_bounded_and_unit_norm() {
        let s = signal(
            SignalKind::Search,
            "Fed raises RATES again!! &nbsp;<div class=",
            Some("News.example"),
        );
        for buckets in [64u32, 4096, 1 << 20] {
            let a = signal_features(&s, buckets);
            assert_eq!(a, signal_features(&s, buckets));
            assert!(a.indices.iter().all(|&i| i < buckets));
            assert!(
                a.indices.windows(2).all(|w| w[0] < w[1]),
                "sorted and unique"
            );
            let norm: f32 = a.values.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        }
    }

    #[test]
    fn hashes_are_stable_across_builds() {
        // xxh3 is a fixed function: this value must never change, or saved cleaners break.
        assert_eq!(
            xxh3_64(b""),
            0x2D06_8005_38D3_94C2,
            "XXH3-64 of empty input, from the spec"
        );
        // A saved cleaner is only valid for the exact features it was trained on: if this
        // changes, bump FEATURE_SCHEME so old cleaners are refused instead of silently wrong.
        let s = signal(SignalKind::Search, "ab", None);
        assert_eq!(
            signal_features(&s, 64).indices,
            vec![6, 15, 18, 32, 33, 34, 42, 43, 46, 53, 61, 63]
        );
    }

    #[test]
    fn kind_domain_and_case_matter_as_designed() {
        let search = signal_features(&signal(SignalKind::Search, "election results", None), 4096);
        let click = signal_features(
            &signal(SignalKind::NewsClick, "election results", None),
            4096,
        );
        let upper = signal_features(&signal(SignalKind::Search, "ELECTION RESULTS", None), 4096);
        assert_ne!(search, click, "kind is a feature");
        // Lowercasing makes the text block identical; only the all-caps shape token differs.
        let shared = search
            .indices
            .iter()
            .filter(|i| upper.indices.contains(i))
            .count();
        assert!(
            shared + 2 >= search.indices.len(),
            "{shared} of {}",
            search.indices.len()
        );
        assert_ne!(search, upper);
    }

    #[test]
    fn empty_and_huge_texts_do_not_panic() {
        let empty = signal_features(&signal(SignalKind::Browse, "", None), 64);
        assert!(!empty.indices.is_empty(), "record block is never empty");
        let huge = signal_features(&signal(SignalKind::Browse, &"x ".repeat(100_000), None), 64);
        assert!(huge.indices.len() <= 64);
    }

    #[test]
    fn dense_batch_places_values_in_rows() {
        let a = SparseFeatures {
            indices: vec![1, 3],
            values: vec![0.6, 0.8],
        };
        let b = SparseFeatures {
            indices: vec![0, 7],
            values: vec![1.0, 5.0],
        };
        let t = dense_batch(&[&a, &b], 4, &Device::flex());
        assert_eq!(t.dims(), [2, 4]);
        let v = t.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(v, vec![0.0, 0.6, 0.0, 0.8, 1.0, 0.0, 0.0, 0.0]);
    }
}
