//! Word-level text helpers: content terms and capitalised entity spans.
//!
//! Written here rather than taken from a crate because what Quill needs is tiny and must be
//! stable across versions (facets, features and rewards depend on it): an English stopword list,
//! a lowercase word splitter and a capitalised-span heuristic for corpora without entity tags.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Common English function words and news boilerplate that never name an interest.
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "even",
    "ever",
    "every",
    "few",
    "for",
    "from",
    "further",
    "get",
    "gets",
    "got",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "know",
    "last",
    "like",
    "make",
    "makes",
    "many",
    "may",
    "me",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "new",
    "news",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "out",
    "over",
    "own",
    "people",
    "really",
    "said",
    "same",
    "say",
    "says",
    "see",
    "she",
    "should",
    "so",
    "some",
    "still",
    "such",
    "take",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "thing",
    "things",
    "think",
    "this",
    "those",
    "through",
    "time",
    "to",
    "too",
    "two",
    "under",
    "until",
    "up",
    "us",
    "very",
    "via",
    "want",
    "was",
    "way",
    "we",
    "week",
    "well",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "year",
    "years",
    "yet",
    "you",
    "your",
    "according",
    "told",
    "first",
    "back",
    "day",
    "days",
    "going",
    "around",
    "made",
    "next",
    "another",
    "since",
    "never",
    "old",
    "man",
    "woman",
    "reported",
    "report",
    "lot",
    "big",
    "good",
    "best",
    "top",
    "great",
    "little",
    "look",
    "looks",
    "show",
    "shows",
    "call",
    "calls",
    "called",
    "set",
    "right",
    "come",
    "comes",
    "use",
    "used",
    "help",
    "need",
    "part",
    "keep",
    "put",
    "former",
    "latest",
    "find",
    "found",
    "give",
    "took",
    "tell",
    "without",
    "amid",
    "ways",
    "here's",
    "heres",
    "don't",
];

/// True for a stopword (input must be lowercase).
pub fn is_stopword(word: &str) -> bool {
    static SET: LazyLock<HashSet<&'static str>> =
        LazyLock::new(|| STOPWORDS.iter().copied().collect());
    SET.contains(word)
}

/// Lowercase alphanumeric words of a text, in order (apostrophes dropped: "Biden's" → "bidens"
/// would be wrong, so the possessive tail is cut instead).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter_map(|w| {
            let w = w.trim_matches('\'');
            let w = w.strip_suffix("'s").unwrap_or(w);
            (!w.is_empty()).then(|| w.to_lowercase())
        })
        .collect()
}

/// Words that can carry an interest: at least 3 characters, not a stopword, not a bare number.
pub fn content_terms(text: &str) -> Vec<String> {
    words(text)
        .into_iter()
        .filter(|w| {
            w.chars().count() >= 3 && !is_stopword(w) && !w.chars().all(|c| c.is_ascii_digit())
        })
        .collect()
}

/// Runs of capitalised words that are not at the start of a sentence, e.g. "New York Knicks"
/// in "Fans of the New York Knicks cheered." A heuristic for corpora without entity tags; it
/// misses entities that open a sentence and is meant for abstracts, not Title Case headlines.
pub fn capitalized_entities(text: &str) -> Vec<String> {
    let mut entities = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut sentence_start = true;
    for raw in text.split_whitespace() {
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric());
        let capitalised =
            word.chars().next().is_some_and(|c| c.is_uppercase()) && word.chars().count() > 1;
        if capitalised && !sentence_start {
            current.push(word);
        } else {
            flush(&mut current, &mut entities);
        }
        let ends_clause = raw.ends_with(['.', '!', '?', ':', '"', ',', ';']);
        if ends_clause {
            flush(&mut current, &mut entities);
        }
        sentence_start = raw.ends_with(['.', '!', '?', ':']) || (sentence_start && word.is_empty());
    }
    flush(&mut current, &mut entities);
    entities.sort();
    entities.dedup();
    entities
}

/// Ends a run of capitalised words: function words at its edges ("The", "And") are not part of
/// a name, but inner ones and content words like "New" are ("New York", "Bank of England").
fn flush(current: &mut Vec<&str>, entities: &mut Vec<String>) {
    const EDGE: &[&str] = &[
        "the", "a", "an", "and", "of", "in", "on", "at", "for", "to", "but", "or", "as", "by",
        "with", "from", "this", "that", "it", "he", "she", "they", "we", "i", "his", "her",
        "their", "if", "when",
    ];
    let is_edge = |w: &&str| EDGE.contains(&w.to_lowercase().as_str());
    let start = current
        .iter()
        .position(|w| !is_edge(w))
        .unwrap_or(current.len());
    let end = current
        .iter()
        .rposition(|w| !is_edge(w))
        .map_or(start, |e| e + 1);
    if start < end {
        entities.push(current[start..end].join(" "));
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_lowercase_and_cut_possessives() {
        assert_eq!(
            words("Biden's plan: COVID-19 boosters"),
            vec!["biden", "plan", "covid", "19", "boosters"]
        );
    }

    #[test]
    fn content_terms_drop_stopwords_short_words_and_numbers() {
        assert_eq!(content_terms("The new plan for 2024 is on"), vec!["plan"]);
    }

    #[test]
    fn entities_are_capitalised_runs_not_opening_a_sentence() {
        let e = capitalized_entities(
            "Fans of the New York Knicks cheered. Later, Jalen Brunson scored.",
        );
        assert_eq!(e, vec!["Jalen Brunson", "New York Knicks"]);
    }
}
