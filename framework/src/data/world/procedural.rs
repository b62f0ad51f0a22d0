//! The built-in procedural news corpus: recurring stories inside the taxonomy's subtopics, each
//! with its own named entities and keywords, told over time in dated articles.
//!
//! Stories are the facets of this corpus, so a simulated user's interests have exact ground
//! truth. Story popularity is Zipf-like, as in real news: a few stories get many articles.

use super::facets::Facet;
use super::taxonomy::{self, Category, EntityKind};
use crate::data::{Corpus, NewsItem};
use chrono::{Days, NaiveDate};
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Stories per subtopic.
const STORIES_PER_SUBTOPIC: usize = 6;
/// The corpus covers this many days, ending on `LAST_DAY`.
pub const CORPUS_DAYS: u64 = 180;
pub fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 30).expect("valid constant date")
}

struct Story {
    category: &'static Category,
    subtopic: &'static str,
    entities: Vec<String>,
    keywords: Vec<&'static str>,
    id: String,
}

fn entity(kind: EntityKind, rng: &mut ChaCha8Rng) -> String {
    let pick =
        |list: &[&'static str], rng: &mut ChaCha8Rng| *list.choose(rng).expect("non-empty list");
    match kind {
        EntityKind::Person => format!(
            "{} {}",
            pick(taxonomy::FIRST_NAMES, rng),
            pick(taxonomy::LAST_NAMES, rng)
        ),
        EntityKind::Team => format!(
            "{} {}",
            pick(taxonomy::PLACES, rng),
            pick(taxonomy::TEAM_NOUNS, rng)
        ),
        EntityKind::Company => format!(
            "{} {}",
            pick(taxonomy::COMPANY_STEMS, rng),
            pick(taxonomy::COMPANY_SUFFIXES, rng)
        ),
        EntityKind::Place => pick(taxonomy::PLACES, rng).to_string(),
        EntityKind::Organisation => {
            pick(taxonomy::ORG_FORMS, rng).replace("{place}", pick(taxonomy::PLACES, rng))
        }
        EntityKind::Product => pick(taxonomy::PRODUCT_FORMS, rng)
            .replace("{stem}", pick(taxonomy::COMPANY_STEMS, rng))
            .replace("{n}", &rng.random_range(2..=9).to_string()),
    }
}

fn stories(rng: &mut ChaCha8Rng) -> Vec<Story> {
    let mut out = Vec::new();
    for category in taxonomy::CATEGORIES {
        for sub in category.subtopics {
            for s in 0..STORIES_PER_SUBTOPIC {
                let mut entities: Vec<String> = Vec::new();
                while entities.len() < 3 {
                    let kind = *category.entity_kinds.choose(rng).expect("kinds");
                    let e = entity(kind, rng);
                    if !entities.contains(&e) {
                        entities.push(e);
                    }
                }
                let keywords: Vec<&'static str> = sub.keywords.sample(rng, 3).copied().collect();
                out.push(Story {
                    category,
                    subtopic: sub.name,
                    entities,
                    keywords,
                    id: format!("{}/{}/{}", category.name, sub.name.replace(' ', "-"), s),
                });
            }
        }
    }
    out
}

fn headline(story: &Story, rng: &mut ChaCha8Rng) -> String {
    let e = story.entities.choose(rng).expect("entities");
    let kw = story.keywords.choose(rng).expect("keywords");
    let verb = taxonomy::HEADLINE_VERBS.choose(rng).expect("verbs");
    match rng.random_range(0..3) {
        0 => format!("{e} {verb} {kw}"),
        1 => {
            let kw2 = story.keywords.choose(rng).expect("keywords");
            format!("{e} {verb} {kw} amid {kw2} questions")
        }
        _ => format!("{}: {e} {verb} {kw}", capitalise(kw)),
    }
}

fn summary(story: &Story, rng: &mut ChaCha8Rng) -> String {
    let frame = taxonomy::ABSTRACT_FRAMES.choose(rng).expect("frames");
    let pair = story.entities.sample(rng, 2).collect::<Vec<_>>();
    let kws = story.keywords.sample(rng, 2).collect::<Vec<_>>();
    frame
        .replace("{e1}", pair[0])
        .replace("{e2}", pair[1])
        .replace("{kw1}", kws[0])
        .replace("{kw2}", kws[1])
        .replace("{place}", taxonomy::PLACES.choose(rng).expect("places"))
        .replace(
            "{weekday}",
            taxonomy::WEEKDAYS.choose(rng).expect("weekdays"),
        )
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Generates `articles` articles (deterministic in `seed`) and the story facets they belong to.
/// Facets come back with every article in `past`; the caller splits them by date.
pub fn generate(articles: usize, seed: u64) -> (Corpus, Vec<Facet>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_c0de);
    let stories = stories(&mut rng);
    // Zipf-like popularity with exponent 0.8 over a random ranking of stories.
    let mut order: Vec<usize> = (0..stories.len()).collect();
    rand::seq::SliceRandom::shuffle(order.as_mut_slice(), &mut rng);
    let mut weights = vec![0.0f64; stories.len()];
    for (rank, &s) in order.iter().enumerate() {
        weights[s] = 1.0 / ((rank + 1) as f64).powf(0.8);
    }
    let total: f64 = weights.iter().sum();
    // Every story gets at least 4 articles so it can be a facet on both sides of the split.
    let spare = articles.saturating_sub(4 * stories.len()) as f64;
    let counts: Vec<usize> = weights
        .iter()
        .map(|w| 4 + (spare * w / total).round() as usize)
        .collect();

    let first = last_day() - Days::new(CORPUS_DAYS - 1);
    let mut items = Vec::with_capacity(articles);
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); stories.len()];
    for (s, story) in stories.iter().enumerate() {
        for _ in 0..counts[s] {
            let date = first + Days::new(rng.random_range(0..CORPUS_DAYS));
            members[s].push(items.len() as u32);
            items.push(NewsItem {
                id: format!("pn{:06}", items.len()),
                title: headline(story, &mut rng),
                summary: summary(story, &mut rng),
                category: story.category.name.to_string(),
                subcategory: story.subtopic.to_string(),
                date,
                entities: story.entities.clone(),
                url: None,
            });
        }
    }
    let facets = stories
        .iter()
        .zip(members)
        .map(|(story, past)| Facet {
            id: story.id.clone(),
            category: story.category.name.to_string(),
            label: format!(
                "{} / {}: {}",
                story.category.name, story.subtopic, story.entities[0]
            ),
            keywords: story.keywords.iter().map(|k| k.to_string()).collect(),
            entities: story.entities.clone(),
            past,
            future: Vec::new(),
        })
        .collect();
    (
        Corpus::new(items).expect("generated ids are unique"),
        facets,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_sized() {
        let (a, fa) = generate(2_000, 7);
        let (b, _) = generate(2_000, 7);
        assert_eq!(a.items(), b.items());
        // Rounding of story shares keeps the size within a few articles of the request.
        assert!((a.len() as i64 - 2_000).abs() < 200, "{}", a.len());
        assert_eq!(fa.iter().map(|f| f.past.len()).sum::<usize>(), a.len());
        let (c, _) = generate(2_000, 8);
        assert_ne!(a.item(0).title, c.item(0).title);
    }

    #[test]
    fn articles_mention_their_story_entities() {
        let (corpus, facets) = generate(1_000, 1);
        for f in facets.iter().take(20) {
            for &i in &f.past {
                let n = corpus.item(i);
                assert!(
                    f.entities.iter().any(|e| n.title.contains(e.as_str())),
                    "{}",
                    n.title
                );
            }
        }
    }
}
