//! Bootstrap query lists: the supervised targets of the warm start, standing in for what an
//! instruct model writes from the prompt alone.
//!
//! # The rule (what "prompt-only" means at CPU scale)
//!
//! "Prompt-only" means a list uses nothing a prompt could not show: it is a deterministic
//! function of the user's **cleaned history** (the signals a prompt is rendered from) and of
//! corpus-wide term statistics ([`TermStats`], the same for every user). It never reads
//! `future_clicks`, impression `candidates` or the simulator's hidden `interests`: the rule
//! takes `&[Signal]`, and [`Bootstrap::for_user`] hands it `&user.history` alone. Every word of
//! a list is a word of the history, except the generic fill of step 6.
//!
//! 1. **Terms.** A term is a word of [`content_terms`] (lowercase, no stopwords, ≥ 3
//!    characters, not a number). It is *informative* when it occurs in the corpus (a typo or a
//!    site name like "VidTube" retrieves no news) and it is either part of an article's entity
//!    name ([`TermStats::is_entity_word`]) or occurs in at most 5% of articles (so template
//!    words like "questions" never carry a query).
//! 2. **Weights.** Non-blank signals are numbered `i = 0..n`, oldest first; recency is
//!    `r(i) = 1 + (i + 1) / n` (≈1 for the oldest, 2 for the newest). A term's support `s(t)` is
//!    the sum of `r(i)` over the signals whose text contains it (once per signal), and its
//!    weight is `w(t) = s(t) · idf(t)`: frequent, recent and specific terms weigh most.
//! 3. **Candidates**, at most one per signal:
//!    - a search: its words ([`words`]: lowercase, punctuation dropped) joined by spaces, when
//!      it has an informative term — the user's own query, normalised;
//!    - any other kind (a headline or a page title): its informative entity words in title
//!      order (at most 3), then its heaviest informative non-entity term ("zephyr air
//!      earnings"); a title without entity words gives its two heaviest informative terms in
//!      title order. Equal weights go to the term earlier in the title.
//!
//!    A candidate longer than `max_query_chars` is cut at a word boundary; one shorter than
//!    `min_query_chars` is dropped; equal candidates merge.
//! 4. **Score** of a candidate: the sum of `w` over its informative terms, so a specific
//!    phrase outranks its own parts. Order: score descending, then the newest occurrence
//!    first, then alphabetical.
//! 5. **Pick** in that order, up to `max_queries`, skipping a candidate that shares an
//!    informative term with a picked one: each term serves one query ("riverton hawks playoff"
//!    after "riverton hawks trade" is skipped, and so is "hawks"). Lists like "granite falls
//!    gravity, granite falls quantum" teach a small policy to write an entity twice, and at
//!    temperature 1 it then often writes the same query twice.
//! 6. **Fallback** while fewer than `min_queries` are picked (sparse or single-minded
//!    histories): single informative terms by weight that no picked phrase uses, then
//!    [`GENERIC_QUERIES`] in order. [`BootstrapList::generic`] counts the last kind. So no
//!    informative term appears in two queries of a list. Why not let a term of a picked
//!    phrase stand alone as well ("zephyr air earnings", "earnings")? A lone entity word
//!    retrieves well, but a policy imitating lists that restate words learns that a query may
//!    restate words already written, and at temperature 1 it then writes the same word twice
//!    (measured in docs/results.md).
//!
//! The warm start builds targets for [`target_format`], strictly inside the format the policy
//! is judged by. The result always parses valid under the format it was built for (a test
//! checks this on simulated users), and the same history gives the same list.

use crate::data::{Signal, SignalKind, UserRecord};
use crate::error::{Error, Result};
use crate::text::query_list::{QueryList, QueryListFormat};
use crate::text::term_stats::TermStats;
use crate::text::terms::{content_terms, words};
use std::collections::{HashMap, HashSet};

/// Non-entity terms in more than this share of articles are not informative.
const MAX_TERM_SHARE: f64 = 0.05;

/// Most entity words taken from one title (entity names run to about three words).
const MAX_ENTITY_WORDS: usize = 3;

/// The last-resort fill of a list, for histories with too few informative terms. They say
/// nothing about the user, which is exactly what a prompt-only model can say about a user
/// who has shown nothing.
pub const GENERIC_QUERIES: [&str; 8] = [
    "top stories",
    "breaking news",
    "world news",
    "latest headlines",
    "national news",
    "local news",
    "business news",
    "science news",
];

/// The format bootstrap *targets* are built for: strictly inside `format`, so that a policy
/// imitating them loosely at temperature 1 still writes valid lists. A small policy counts
/// lines and characters only roughly; a target of 4-6 queries under the default 3-8 leaves
/// one or two lines of slack either way, and targets of at most half the longest query let a
/// sampled query ramble on to twice a target's length before it breaks the bound. Each margin
/// shrinks where `format` is too tight for it, so the result is always a valid format.
pub fn target_format(format: &QueryListFormat) -> QueryListFormat {
    let max_queries = format.max_queries.saturating_sub(2).max(format.min_queries);
    let max_query_chars = (format.max_query_chars / 2).max(format.min_query_chars);
    QueryListFormat {
        min_queries: (format.min_queries + 1).min(max_queries),
        max_queries,
        min_query_chars: (format.min_query_chars + 2).min(max_query_chars),
        max_query_chars,
    }
}

/// A bootstrap list and how much of it is generic fill.
#[derive(Debug, Clone, PartialEq)]
pub struct BootstrapList {
    pub queries: Vec<String>,
    /// How many queries (at the end) came from [`GENERIC_QUERIES`].
    pub generic: usize,
}

/// Builds bootstrap lists for one corpus and format.
#[derive(Debug, Clone)]
pub struct Bootstrap<'a> {
    stats: &'a TermStats,
    format: QueryListFormat,
    /// IDF of a term no article contains: the value that marks "unknown to the corpus".
    unseen_idf: f64,
    /// IDF of a term in exactly `MAX_TERM_SHARE` of articles.
    min_idf: f64,
}

/// One candidate query while ranking.
struct Candidate {
    text: String,
    /// Its informative terms, distinct.
    terms: Vec<String>,
    score: f64,
    newest: usize,
}

impl<'a> Bootstrap<'a> {
    /// A builder for `format`. A format the generic fill cannot satisfy (more required queries
    /// than generic ones, or bounds that exclude them) is an error naming the field.
    pub fn new(stats: &'a TermStats, format: QueryListFormat) -> Result<Bootstrap<'a>> {
        if format.min_queries > format.max_queries {
            return Err(Error::field(
                "format.min_queries",
                format!(
                    "min_queries {} exceeds max_queries {}",
                    format.min_queries, format.max_queries
                ),
            ));
        }
        let fits = GENERIC_QUERIES
            .iter()
            .filter(|q| fits_length(q, &format))
            .count();
        if (format.min_queries as usize) > fits {
            return Err(Error::field(
                "format.min_queries",
                format!(
                    "bootstrap lists can guarantee at most {fits} queries for a user with an \
                     empty history under these length bounds; min_queries is {}",
                    format.min_queries
                ),
            ));
        }
        let unseen_idf = (stats.docs() as f64 + 1.0).ln() + 1.0;
        Ok(Bootstrap {
            stats,
            format,
            unseen_idf,
            min_idf: stats.idf_of_share(1.0 / MAX_TERM_SHARE),
        })
    }

    /// The list of a (cleaned) user, read from its history only.
    pub fn for_user(&self, user: &UserRecord) -> BootstrapList {
        self.list(&user.history)
    }

    /// The rendered target (format lines and the terminator) of a (cleaned) user.
    pub fn target(&self, user: &UserRecord) -> String {
        QueryList::render(&self.for_user(user).queries)
    }

    /// The list of a history in time order, oldest first (see the module doc for the rule).
    pub fn list(&self, history: &[Signal]) -> BootstrapList {
        let signals: Vec<&Signal> = history
            .iter()
            .filter(|s| !s.text.trim().is_empty())
            .collect();
        let signal_terms: Vec<Vec<String>> =
            signals.iter().map(|s| self.informative(&s.text)).collect();
        let weight = self.weights(&signal_terms);
        let candidates = self.candidates(&signals, &signal_terms, &weight);

        let max = self.format.max_queries as usize;
        let min = self.format.min_queries as usize;
        // Step 5: no informative term in two picked phrases.
        let mut picked: Vec<&Candidate> = Vec::new();
        let mut used: HashSet<&str> = HashSet::new();
        for c in &candidates {
            if picked.len() == max {
                break;
            }
            if c.terms.iter().all(|t| !used.contains(t.as_str())) {
                used.extend(c.terms.iter().map(String::as_str));
                picked.push(c);
            }
        }
        let mut queries: Vec<String> = picked.iter().map(|c| c.text.clone()).collect();
        let push = |queries: &mut Vec<String>, q: &str| {
            // The parser's duplicate test: case-insensitive.
            let fresh = !queries.iter().any(|h| h.to_lowercase() == q.to_lowercase());
            if queries.len() < min && fresh && fits_length(q, &self.format) {
                queries.push(q.to_string());
            }
        };
        // Step 6: single terms not used by a picked phrase, each once.
        let mut by_weight: Vec<(&String, f64)> = weight.iter().map(|(t, &w)| (t, w)).collect();
        by_weight.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        for (term, _) in by_weight {
            if !used.contains(term.as_str()) {
                push(&mut queries, term);
            }
        }
        let specific = queries.len();
        for q in GENERIC_QUERIES {
            push(&mut queries, q);
        }
        BootstrapList {
            generic: queries.len() - specific,
            queries,
        }
    }

    /// The distinct informative terms of a text, in text order.
    fn informative(&self, text: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in content_terms(text) {
            if !out.contains(&t) && self.is_informative(&t) {
                out.push(t);
            }
        }
        out
    }

    fn is_informative(&self, term: &str) -> bool {
        let idf = self.stats.idf(term);
        // Equal IDF to an unseen term means no article contains it.
        let known = idf < self.unseen_idf - 1e-9;
        known && (self.stats.is_entity_word(term) || idf >= self.min_idf - 1e-9)
    }

    /// `w(t) = s(t) · idf(t)` over the informative terms of the history (step 2).
    fn weights(&self, signal_terms: &[Vec<String>]) -> HashMap<String, f64> {
        let n = signal_terms.len() as f64;
        let mut support: HashMap<String, f64> = HashMap::new();
        for (i, terms) in signal_terms.iter().enumerate() {
            let recency = 1.0 + (i as f64 + 1.0) / n;
            for t in terms {
                *support.entry(t.clone()).or_default() += recency;
            }
        }
        for (t, s) in support.iter_mut() {
            *s *= self.stats.idf(t);
        }
        support
    }

    /// Candidates of steps 3-4, merged and in rank order.
    fn candidates(
        &self,
        signals: &[&Signal],
        signal_terms: &[Vec<String>],
        weight: &HashMap<String, f64>,
    ) -> Vec<Candidate> {
        let mut by_text: HashMap<String, Candidate> = HashMap::new();
        for (i, (signal, terms)) in signals.iter().zip(signal_terms).enumerate() {
            if terms.is_empty() {
                continue;
            }
            let phrase = match signal.kind {
                SignalKind::Search => words(&signal.text),
                _ => self.title_phrase(terms, weight),
            };
            let text = cut_to(&phrase, self.format.max_query_chars as usize);
            if text.chars().count() < self.format.min_query_chars as usize {
                continue;
            }
            let phrase_terms = self.informative(&text);
            if phrase_terms.is_empty() {
                continue;
            }
            let score = phrase_terms.iter().map(|t| weight_of(weight, t)).sum();
            // Later signals overwrite: the newest occurrence is the one that counts.
            let (terms, newest) = (phrase_terms, i);
            let c = Candidate {
                text: text.clone(),
                terms,
                score,
                newest,
            };
            by_text.insert(text, c);
        }
        let mut out: Vec<Candidate> = by_text.into_values().collect();
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.newest.cmp(&a.newest))
                .then_with(|| a.text.cmp(&b.text))
        });
        out
    }

    /// The salient phrase of a headline or page title from its informative terms (step 3).
    fn title_phrase(&self, terms: &[String], weight: &HashMap<String, f64>) -> Vec<String> {
        let heaviest = |pool: Vec<&String>, k: usize| -> Vec<String> {
            let mut ranked = pool.clone();
            // Stable: equal weights keep title order.
            ranked.sort_by(|a, b| weight_of(weight, b).total_cmp(&weight_of(weight, a)));
            ranked.truncate(k);
            // Back in title order, so the phrase reads like the title.
            pool.into_iter()
                .filter(|t| ranked.contains(t))
                .cloned()
                .collect()
        };
        let (entity, topical): (Vec<&String>, Vec<&String>) =
            terms.iter().partition(|t| self.stats.is_entity_word(t));
        if entity.is_empty() {
            return heaviest(topical, 2);
        }
        let mut phrase: Vec<String> = entity.into_iter().take(MAX_ENTITY_WORDS).cloned().collect();
        phrase.extend(heaviest(topical, 1));
        phrase
    }
}

/// A term's weight; 0 for a term outside the history (cannot happen: phrases are cut from
/// their signal's own terms, but a missing key must not panic).
fn weight_of(weight: &HashMap<String, f64>, term: &str) -> f64 {
    weight.get(term).copied().unwrap_or(0.0)
}

fn fits_length(q: &str, format: &QueryListFormat) -> bool {
    let chars = q.chars().count();
    chars >= format.min_query_chars as usize && chars <= format.max_query_chars as usize
}

/// Joins words with spaces, stopping before the word that would pass `max_chars`.
fn cut_to(words: &[String], max_chars: usize) -> String {
    let mut out = String::new();
    for w in words {
        let extra = w.chars().count() + usize::from(!out.is_empty());
        if out.chars().count() + extra > max_chars {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::world::World;
    use crate::data::{Corpus, DataConfig, Interest, NewsItem, UserSource};

    fn article(id: &str, title: &str, entities: &[&str]) -> NewsItem {
        NewsItem {
            id: id.into(),
            title: title.into(),
            summary: String::new(),
            category: "sports".into(),
            subcategory: String::new(),
            date: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            entities: entities.iter().map(|e| e.to_string()).collect(),
            url: None,
        }
    }

    /// A corpus where "questions" and "update" are in most articles (uninformative) and names
    /// and topics are rare, as in news.
    fn corpus() -> Corpus {
        let mut items = vec![
            article("h1", "Riverton Hawks win playoff", &["Riverton Hawks"]),
            article("h2", "Riverton Hawks trade rumours", &["Riverton Hawks"]),
            article("o1", "Maria Okafor transfer talks", &["Maria Okafor"]),
            article("z1", "Zephyr Air earnings beat", &["Zephyr Air"]),
            article("s1", "Sourdough baking tips", &[]),
            article(
                "q1",
                "Quillzorp Dynamics unveils fusion",
                &["Quillzorp Dynamics"],
            ),
        ];
        for i in 0..60 {
            items.push(article(&format!("f{i}"), "questions update weather", &[]));
        }
        Corpus::new(items).unwrap()
    }

    fn signal(i: i64, kind: SignalKind, text: &str) -> Signal {
        Signal {
            user: "u".into(),
            timestamp: i,
            kind,
            text: text.into(),
            url: None,
            domain: None,
            noise: Some(false),
        }
    }

    fn fmt() -> QueryListFormat {
        QueryListFormat::default()
    }

    #[test]
    fn recurring_specific_phrases_rank_first_and_each_term_serves_one_query() {
        let stats = TermStats::build(&corpus());
        let b = Bootstrap::new(&stats, fmt()).unwrap();
        let history = vec![
            signal(1, SignalKind::Search, "sourdough"),
            signal(
                2,
                SignalKind::NewsClick,
                "Maria Okafor transfer talks amid questions",
            ),
            signal(3, SignalKind::Search, "Riverton Hawks!"),
            signal(4, SignalKind::Search, "hawks"),
            signal(5, SignalKind::Search, "rivrton hwks"),
            signal(
                6,
                SignalKind::Browse,
                "Riverton Hawks playoff highlights - VidTube",
            ),
            signal(7, SignalKind::NewsClick, "Riverton Hawks trade rumours"),
        ];
        let list = b.list(&history);
        assert_eq!(
            list.queries,
            vec!["riverton hawks trade", "maria okafor transfer", "sourdough"]
        );
        assert_eq!(list.generic, 0);
        // "riverton hawks playoff", "riverton hawks" and "hawks" share terms with the first
        // pick; the typo search and "questions", "highlights", "vidtube" are not informative.
        let rendered = QueryList::render(&list.queries);
        assert!(QueryList::parse(&rendered, &fmt()).is_valid());
        assert_eq!(b.list(&history), list, "deterministic");
    }

    #[test]
    fn future_clicks_candidates_and_hidden_interests_never_leak() {
        let stats = TermStats::build(&corpus());
        let b = Bootstrap::new(&stats, fmt()).unwrap();
        let mut user = UserRecord {
            id: "u".into(),
            history: vec![
                signal(1, SignalKind::NewsClick, "Zephyr Air earnings beat"),
                signal(2, SignalKind::Search, "maria okafor"),
            ],
            future_clicks: vec!["q1".into()],
            candidates: Some(vec!["q1".into(), "h1".into()]),
            interests: Some(vec![Interest {
                facet: "science/quillzorp/0".into(),
                weight: 1.0,
            }]),
        };
        let leaks = |l: &BootstrapList| l.queries.iter().any(|q| q.contains("quillzorp"));
        assert!(!leaks(&b.for_user(&user)), "{:?}", b.for_user(&user));
        // The word is informative: once the user clicks that title, it does show up.
        user.history.push(signal(
            3,
            SignalKind::NewsClick,
            "Quillzorp Dynamics unveils fusion",
        ));
        assert!(leaks(&b.for_user(&user)), "{:?}", b.for_user(&user));
    }

    #[test]
    fn cold_users_get_valid_lists_with_the_documented_fallback() {
        let stats = TermStats::build(&corpus());
        let b = Bootstrap::new(&stats, fmt()).unwrap();
        let one_search = b.list(&[signal(1, SignalKind::Search, "riverton")]);
        assert_eq!(
            one_search.queries,
            vec!["riverton", "top stories", "breaking news"]
        );
        assert_eq!(one_search.generic, 2);
        // One headline: its phrase, then the one informative term the phrase left out (never
        // a word of the phrase again), then generic fill.
        let one_click = b.list(&[signal(
            1,
            SignalKind::NewsClick,
            "Maria Okafor transfer talks",
        )]);
        assert_eq!(
            one_click.queries,
            vec!["maria okafor transfer", "talks", "top stories"]
        );
        assert_eq!(one_click.generic, 1);
        let nothing = b.list(&[signal(1, SignalKind::Search, "www   ")]);
        assert_eq!(nothing.queries, GENERIC_QUERIES[..3].to_vec());
        assert_eq!(nothing.generic, 3);
        for l in [one_search, one_click, nothing, b.list(&[])] {
            let parsed = QueryList::parse(&QueryList::render(&l.queries), &fmt());
            assert!(parsed.is_valid(), "{l:?}: {:?}", parsed.problems);
        }
    }

    #[test]
    fn targets_sit_strictly_inside_the_format_and_always_form_a_valid_one() {
        let inside = target_format(&fmt());
        assert_eq!(
            (inside.min_queries, inside.max_queries),
            (4, 6),
            "a line of slack below, two above"
        );
        assert_eq!((inside.min_query_chars, inside.max_query_chars), (5, 40));
        // Tight formats shrink the margins rather than invert a bound.
        for (min_q, max_q, min_c, max_c) in [
            (1, 1, 1, 1),
            (3, 4, 3, 6),
            (8, 8, 80, 80),
            (1, 100, 1, 1000),
        ] {
            let f = QueryListFormat {
                min_queries: min_q,
                max_queries: max_q,
                min_query_chars: min_c,
                max_query_chars: max_c,
            };
            let t = target_format(&f);
            assert!(t.min_queries <= t.max_queries, "{f:?} -> {t:?}");
            assert!(t.min_query_chars <= t.max_query_chars, "{f:?} -> {t:?}");
            assert!(t.min_queries >= f.min_queries && t.max_queries <= f.max_queries);
            assert!(
                t.min_query_chars >= f.min_query_chars && t.max_query_chars <= f.max_query_chars
            );
        }
    }

    #[test]
    fn a_format_the_fill_cannot_satisfy_is_refused() {
        let stats = TermStats::build(&corpus());
        let mut f = fmt();
        f.min_queries = 9;
        f.max_queries = 12;
        let err = Bootstrap::new(&stats, f).unwrap_err().to_string();
        assert!(err.contains("format.min_queries"), "{err}");
        let mut f = fmt();
        f.max_query_chars = 8;
        assert!(Bootstrap::new(&stats, f).is_err());
    }

    /// Simulated users, cleaned with the simulator's noise labels (the cleaner's ideal).
    fn world_users(users: u64) -> (World, Vec<UserRecord>) {
        let mut cfg = DataConfig {
            users,
            ..DataConfig::default()
        };
        cfg.corpus.articles = 4_000;
        let w = World::build(&cfg, 5, std::path::Path::new(".")).unwrap();
        let users = (0..w.num_users())
            .map(|i| {
                let mut u = w.user(i);
                u.history.retain(|s| s.noise != Some(true));
                u
            })
            .collect();
        (w, users)
    }

    #[test]
    fn simulated_users_get_valid_lists_made_of_their_history_words() {
        let (w, users) = world_users(400);
        let stats = TermStats::build(&w.corpus);
        let b = Bootstrap::new(&stats, fmt()).unwrap();
        let targets = Bootstrap::new(&stats, target_format(&fmt())).unwrap();
        for u in &users {
            // Warm-start targets: valid with room to spare, and no informative term in two
            // queries.
            let list = targets.for_user(u);
            let parsed =
                QueryList::parse(&QueryList::render(&list.queries), &target_format(&fmt()));
            assert!(
                parsed.is_valid(),
                "{}: {list:?} {:?}",
                u.id,
                parsed.problems
            );
            let phrases: Vec<Vec<String>> = list.queries[..list.queries.len() - list.generic]
                .iter()
                .map(|q| targets.informative(q))
                .collect();
            for (i, a) in phrases.iter().enumerate() {
                for b in &phrases[i + 1..] {
                    assert!(a.iter().all(|t| !b.contains(t)), "{}: {list:?}", u.id);
                }
            }
        }
        let (mut cold, mut warm_with_generic) = (0, 0);
        for u in &users {
            let list = b.for_user(u);
            let parsed = QueryList::parse(&QueryList::render(&list.queries), &fmt());
            assert!(
                parsed.is_valid(),
                "{}: {list:?} {:?}",
                u.id,
                parsed.problems
            );
            let history_words: HashSet<String> =
                u.history.iter().flat_map(|s| words(&s.text)).collect();
            for q in &list.queries[..list.queries.len() - list.generic] {
                for word in q.split(' ') {
                    assert!(history_words.contains(word), "{}: {word:?} of {q:?}", u.id);
                }
            }
            cold += usize::from(u.history.len() <= 3);
            warm_with_generic += usize::from(list.generic > 0 && u.history.len() > 3);
        }
        assert!(cold > 10, "the sample has cold users ({cold})");
        // Generic fill is for the near-empty histories (one to three signals) only.
        assert!(
            warm_with_generic * 50 < users.len(),
            "{warm_with_generic} lists of longer histories need generic fill"
        );
    }
}
