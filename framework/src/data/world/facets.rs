//! Interest facets: the units users are interested in (a recurring story or a finer topic
//! within a category), with the articles that belong to each, split at the simulator's "now".

use super::taxonomy::WEEKDAYS;
use crate::data::Corpus;
use crate::text::terms::content_terms;
use std::collections::HashMap;

/// One interest facet.
#[derive(Debug, Clone, PartialEq)]
pub struct Facet {
    /// Stable id, e.g. `sports/football/3` or `POLITICS/ukraine`.
    pub id: String,
    pub category: String,
    /// What the facet is about, in words.
    pub label: String,
    /// Salient terms, most salient first.
    pub keywords: Vec<String>,
    /// Named entities, most frequent first.
    pub entities: Vec<String>,
    /// Corpus indices of its articles dated before the split date (history clicks).
    pub past: Vec<u32>,
    /// Corpus indices of its articles dated on or after the split date (future clicks).
    pub future: Vec<u32>,
}

/// All facets of a corpus.
#[derive(Debug, Clone, Default)]
pub struct FacetSet {
    pub facets: Vec<Facet>,
    /// Facet indices by category.
    pub by_category: HashMap<String, Vec<usize>>,
}

impl FacetSet {
    pub fn new(facets: Vec<Facet>) -> Self {
        let mut by_category: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, f) in facets.iter().enumerate() {
            by_category.entry(f.category.clone()).or_default().push(i);
        }
        FacetSet {
            facets,
            by_category,
        }
    }

    /// Facets a user can hold: articles on both sides of the split, so history and future
    /// clicks can both be drawn from them.
    pub fn eligible(&self) -> Vec<usize> {
        (0..self.facets.len())
            .filter(|&i| !self.facets[i].past.is_empty() && !self.facets[i].future.is_empty())
            .collect()
    }
}

/// Moves each facet's articles dated on or after `split` into `future`, keeping both sides in
/// date order (ties by corpus index).
pub fn split_by_date(facets: &mut [Facet], corpus: &Corpus, split: chrono::NaiveDate) {
    for f in facets {
        let mut all: Vec<u32> = f.past.drain(..).chain(f.future.drain(..)).collect();
        all.sort_by_key(|&i| (corpus.item(i).date, i));
        let (past, future): (Vec<u32>, Vec<u32>) =
            all.into_iter().partition(|&i| corpus.item(i).date < split);
        f.past = past;
        f.future = future;
    }
}

/// The date before which `1 - future_share` of the articles fall: the simulator's "now".
pub fn split_date(corpus: &Corpus, future_share: f64) -> chrono::NaiveDate {
    let mut dates: Vec<chrono::NaiveDate> = corpus.items().iter().map(|n| n.date).collect();
    dates.sort();
    let k = ((dates.len() as f64) * (1.0 - future_share)).floor() as usize;
    dates[k.min(dates.len() - 1)]
}

/// Settings of facet derivation for real corpora.
#[derive(Debug, Clone, Copy)]
pub struct DeriveSettings {
    pub max_facets_per_category: usize,
    pub min_facet_articles: usize,
    /// Roughly this many articles per derived facet, before the cap.
    pub articles_per_facet: usize,
}

/// Derives facets from a corpus that only has categories, by clustering salient terms within
/// each category: rank terms by (documents in the category containing it) × IDF over the whole
/// corpus × the share of the term's documents that fall in the category, greedily keep the top
/// terms whose article sets overlap little with terms already kept, then assign each article to
/// the rarest kept term it contains; articles with none join the facet whose top terms they
/// share most (two or more), else the category's `general` facet. One hard pass, no iteration:
/// enough to separate e.g. "ENTERTAINMENT/carrey" from "ENTERTAINMENT/jimmy", and deterministic.
pub fn derive_facets(corpus: &Corpus, settings: DeriveSettings) -> Vec<Facet> {
    let docs: Vec<Vec<String>> = corpus
        .items()
        .iter()
        .map(|n| {
            let mut t = content_terms(&n.text());
            t.sort();
            t.dedup();
            t
        })
        .collect();
    let mut df: HashMap<&str, usize> = HashMap::new();
    for d in &docs {
        for t in d {
            *df.entry(t.as_str()).or_default() += 1;
        }
    }
    let n_docs = docs.len().max(1) as f64;
    let idf = |t: &str| (n_docs / df.get(t).copied().unwrap_or(1) as f64).ln();
    let mut entity_df: HashMap<&str, usize> = HashMap::new();
    for n in corpus.items() {
        for e in &n.entities {
            *entity_df.entry(e.as_str()).or_default() += 1;
        }
    }
    let entity_idf = |e: &str| (n_docs / entity_df.get(e).copied().unwrap_or(1) as f64).ln();

    let mut by_category: HashMap<&str, Vec<u32>> = HashMap::new();
    for (i, n) in corpus.items().iter().enumerate() {
        by_category
            .entry(n.category.as_str())
            .or_default()
            .push(i as u32);
    }
    let mut categories: Vec<&str> = by_category.keys().copied().collect();
    categories.sort();

    let mut facets = Vec::new();
    for category in categories {
        let members = &by_category[category];
        let mut postings: HashMap<&str, Vec<u32>> = HashMap::new();
        for &d in members {
            for t in &docs[d as usize] {
                postings.entry(t.as_str()).or_default().push(d);
            }
        }
        let mut ranked: Vec<(&str, f64)> = postings
            .iter()
            .filter(|(_, p)| p.len() >= settings.min_facet_articles)
            // tf-idf within the category times the share of the term's articles that are in
            // this category: "shooting" beats "old", which is frequent everywhere.
            .map(|(t, p)| (*t, p.len() as f64 * idf(t) * p.len() as f64 / df[t] as f64))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));

        let want = (members.len() / settings.articles_per_facet.max(1))
            .clamp(1, settings.max_facets_per_category);
        let mut kept: Vec<&str> = Vec::new();
        for (term, _) in ranked {
            if kept.len() >= want {
                break;
            }
            let p = &postings[term];
            let overlaps = kept.iter().any(|k| overlap(p, &postings[k]) > 0.5);
            if !overlaps {
                kept.push(term);
            }
        }
        // Rarest first, so an article with both "trump" and "impeachment" joins the more
        // specific facet.
        kept.sort_by(|a, b| postings[a].len().cmp(&postings[b].len()).then(a.cmp(b)));

        let mut groups: Vec<Vec<u32>> = vec![Vec::new(); kept.len() + 1];
        for &d in members {
            let doc = &docs[d as usize];
            let slot = kept
                .iter()
                .position(|k| doc.binary_search_by(|t| t.as_str().cmp(k)).is_ok());
            groups[slot.unwrap_or(kept.len())].push(d);
        }
        // Too-small facets fold into the general one.
        for slot in 0..kept.len() {
            if groups[slot].len() < settings.min_facet_articles {
                let moved = std::mem::take(&mut groups[slot]);
                groups[kept.len()].extend(moved);
            }
        }
        reassign_general(&mut groups, &docs, &idf);
        for (slot, articles) in groups.into_iter().enumerate() {
            if articles.is_empty() {
                continue;
            }
            let head = kept.get(slot).copied();
            facets.push(describe(
                corpus,
                &docs,
                &idf,
                &entity_idf,
                category,
                head,
                articles,
            ));
        }
    }
    facets
}

/// The `n` terms with the highest frequency × IDF.
fn top_terms<'a>(
    tf: &HashMap<&'a str, usize>,
    idf: &dyn Fn(&str) -> f64,
    n: usize,
) -> Vec<&'a str> {
    let mut terms: Vec<(&str, f64)> = tf.iter().map(|(t, c)| (*t, *c as f64 * idf(t))).collect();
    terms.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    terms.into_iter().take(n).map(|(t, _)| t).collect()
}

/// Moves articles of the catch-all group (the last) to the term facet whose top terms they
/// share most (at least two), so `general` keeps only articles that fit nowhere.
fn reassign_general(groups: &mut [Vec<u32>], docs: &[Vec<String>], idf: &dyn Fn(&str) -> f64) {
    let general = groups.len() - 1;
    let profiles: Vec<Vec<&str>> = groups[..general]
        .iter()
        .map(|g| {
            let mut tf: HashMap<&str, usize> = HashMap::new();
            for &d in g {
                for t in &docs[d as usize] {
                    *tf.entry(t.as_str()).or_default() += 1;
                }
            }
            top_terms(&tf, idf, 8)
        })
        .collect();
    let mut stay = Vec::new();
    for d in std::mem::take(&mut groups[general]) {
        let doc = &docs[d as usize];
        let shared = |p: &Vec<&str>| {
            p.iter()
                .filter(|t| doc.binary_search_by(|x| x.as_str().cmp(t)).is_ok())
                .count()
        };
        let best = profiles
            .iter()
            .enumerate()
            .map(|(i, p)| (shared(p), std::cmp::Reverse(i)))
            .max();
        match best {
            Some((n, std::cmp::Reverse(i))) if n >= 2 => groups[i].push(d),
            _ => stay.push(d),
        }
    }
    groups[general] = stay;
    for g in groups.iter_mut() {
        g.sort_unstable();
    }
}

/// Weekday and month names: capitalised, frequent, and never an interest.
fn is_calendar_word(e: &str) -> bool {
    const MONTHS: &[&str] = &[
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    e.split_whitespace()
        .all(|w| WEEKDAYS.contains(&w) || MONTHS.contains(&w))
}

/// Share of the smaller posting list that the two lists have in common (both sorted).
fn overlap(a: &[u32], b: &[u32]) -> f64 {
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common as f64 / a.len().min(b.len()).max(1) as f64
}

fn describe(
    corpus: &Corpus,
    docs: &[Vec<String>],
    idf: &dyn Fn(&str) -> f64,
    entity_idf: &dyn Fn(&str) -> f64,
    category: &str,
    head: Option<&str>,
    articles: Vec<u32>,
) -> Facet {
    let mut tf: HashMap<&str, usize> = HashMap::new();
    let mut ents: HashMap<String, usize> = HashMap::new();
    for &d in &articles {
        for t in &docs[d as usize] {
            *tf.entry(t.as_str()).or_default() += 1;
        }
        for e in &corpus.item(d).entities {
            *ents.entry(e.clone()).or_default() += 1;
        }
    }
    let terms = top_terms(&tf, idf, usize::MAX);
    let mut keywords: Vec<String> = head.map(|h| vec![h.to_string()]).unwrap_or_default();
    keywords.extend(
        terms
            .into_iter()
            .filter(|t| Some(*t) != head)
            .take(7)
            .map(str::to_string),
    );
    // Rank entities like terms, by frequency in the facet times rarity in the corpus, so that
    // "Larry Nassar" beats "U.S." and calendar words never count as a name.
    let mut entities: Vec<(String, f64)> = ents
        .into_iter()
        .filter(|(e, c)| *c >= 2 && !is_calendar_word(e))
        .map(|(e, c)| {
            let score = c as f64 * entity_idf(&e);
            (e, score)
        })
        .collect();
    entities.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let label = head.unwrap_or("general");
    Facet {
        id: format!("{category}/{label}"),
        category: category.to_string(),
        label: format!("{category}: {label}"),
        keywords,
        entities: entities.into_iter().take(8).map(|(e, _)| e).collect(),
        past: articles,
        future: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::NewsItem;

    fn corpus() -> Corpus {
        // Each topic word is in every article of its topic; other words vary between three
        // phrasings, so the topic word is the most salient term of its topic.
        let topics = [
            (
                "impeachment",
                [
                    "The impeachment inquiry heard Gordon Sondland on Friday.",
                    "Senators debated impeachment rules on Friday.",
                    "An impeachment vote looms, aides said on Friday.",
                ],
            ),
            (
                "wildfire",
                [
                    "A wildfire forced evacuations near Paradise on Friday.",
                    "Crews contained the wildfire overnight on Friday.",
                    "Smoke from the wildfire closed schools on Friday.",
                ],
            ),
            (
                "vaccine",
                [
                    "The vaccine rollout expanded, said Anthony Fauci on Friday.",
                    "Pharmacies offered the vaccine to teenagers on Friday.",
                    "Booster vaccine demand rose, said Anthony Fauci on Friday.",
                ],
            ),
        ];
        let mut items = Vec::new();
        for (t, (word, summaries)) in topics.iter().enumerate() {
            for i in 0..12 {
                let summary = summaries[i % 3];
                items.push(NewsItem {
                    id: format!("{word}-{i}"),
                    title: format!("Latest {word} story"),
                    summary: summary.to_string(),
                    category: "NEWS".into(),
                    subcategory: String::new(),
                    date: chrono::NaiveDate::from_ymd_opt(2022, 1, 1 + (i as u32 + t as u32) % 28)
                        .unwrap(),
                    entities: crate::text::terms::capitalized_entities(summary),
                    url: None,
                });
            }
        }
        Corpus::new(items).unwrap()
    }

    #[test]
    fn salient_terms_separate_topics_within_a_category() {
        let c = corpus();
        let settings = DeriveSettings {
            max_facets_per_category: 5,
            min_facet_articles: 4,
            articles_per_facet: 10,
        };
        let facets = derive_facets(&c, settings);
        let ids: Vec<&str> = facets.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(
            ids,
            vec!["NEWS/impeachment", "NEWS/vaccine", "NEWS/wildfire"]
        );
        for f in &facets {
            let word = f.id.rsplit('/').next().unwrap();
            assert_eq!(f.past.len(), 12);
            assert!(f.past.iter().all(|&i| c.item(i).id.starts_with(word)));
            // Calendar words are never entities.
            assert!(
                !f.entities.iter().any(|e| e == "Friday"),
                "{:?}",
                f.entities
            );
        }
        let vaccine = facets.iter().find(|f| f.id == "NEWS/vaccine").unwrap();
        assert_eq!(vaccine.entities[0], "Anthony Fauci");
    }

    #[test]
    fn split_by_date_partitions_in_date_order() {
        let c = corpus();
        let mut facets = derive_facets(
            &c,
            DeriveSettings {
                max_facets_per_category: 5,
                min_facet_articles: 4,
                articles_per_facet: 10,
            },
        );
        let split = chrono::NaiveDate::from_ymd_opt(2022, 1, 8).unwrap();
        split_by_date(&mut facets, &c, split);
        for f in &facets {
            assert!(f.past.iter().all(|&i| c.item(i).date < split));
            assert!(f.future.iter().all(|&i| c.item(i).date >= split));
            assert_eq!(f.past.len() + f.future.len(), 12);
            assert!(
                f.future
                    .windows(2)
                    .all(|w| c.item(w[0]).date <= c.item(w[1]).date)
            );
        }
    }
}
