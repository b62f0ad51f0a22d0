//! Corpus term statistics: document frequencies for IDF, and the corpus's known entities, which
//! specificity rubrics use to tell "riverton hawks" from "latest news".

use crate::data::Corpus;
use crate::text::terms::{content_terms, words};
use std::collections::{HashMap, HashSet};

/// Document frequencies of content terms and the lowercase words of entity names.
#[derive(Debug, Clone, Default)]
pub struct TermStats {
    docs: usize,
    df: HashMap<String, u32>,
    entity_words: HashSet<String>,
}

impl TermStats {
    /// Counts over title + abstract of the articles published before the corpus's split date
    /// (every article when it has none): rewards and bootstrap targets read these statistics
    /// during training, and the held-out clicks' articles must not shape them.
    pub fn build(corpus: &Corpus) -> TermStats {
        let mut df: HashMap<String, u32> = HashMap::new();
        let mut entity_words = HashSet::new();
        let mut docs = 0;
        for n in corpus.pre_split_items() {
            docs += 1;
            let mut terms = content_terms(&n.text());
            terms.sort();
            terms.dedup();
            for t in terms {
                *df.entry(t).or_default() += 1;
            }
            for e in &n.entities {
                entity_words.extend(words(e).into_iter().filter(|w| w.chars().count() >= 3));
            }
        }
        TermStats {
            docs,
            df,
            entity_words,
        }
    }

    /// Smoothed IDF, ln((N + 1) / (df + 1)) + 1: unseen terms (typos, new names) count as rare.
    pub fn idf(&self, term: &str) -> f64 {
        let df = self.df.get(term).copied().unwrap_or(0) as f64;
        ((self.docs as f64 + 1.0) / (df + 1.0)).ln() + 1.0
    }

    /// True when some article contains `term`.
    pub fn occurs(&self, term: &str) -> bool {
        self.df.contains_key(term)
    }

    /// The IDF of a term that occurs in one document in `per` (e.g. 100 → a 1%-of-articles term).
    pub fn idf_of_share(&self, per: f64) -> f64 {
        let df = self.docs as f64 / per;
        ((self.docs as f64 + 1.0) / (df + 1.0)).ln() + 1.0
    }

    /// True for a lowercase word that is part of some article's entity name.
    pub fn is_entity_word(&self, word: &str) -> bool {
        self.entity_words.contains(word)
    }

    /// Number of documents counted.
    pub fn docs(&self) -> usize {
        self.docs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::NewsItem;

    fn item(id: &str, title: &str, entities: &[&str]) -> NewsItem {
        NewsItem {
            id: id.into(),
            title: title.into(),
            summary: String::new(),
            category: "c".into(),
            subcategory: String::new(),
            date: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            entities: entities.iter().map(|e| e.to_string()).collect(),
            url: None,
        }
    }

    #[test]
    fn idf_is_smoothed_and_entities_are_known() {
        let c = Corpus::new(vec![
            item("a", "Hawks win playoff", &["Riverton Hawks"]),
            item("b", "Hawks lose again", &[]),
            item("c", "Sourdough baking tips", &[]),
        ])
        .unwrap();
        let s = TermStats::build(&c);
        assert!((s.idf("hawks") - ((4.0f64 / 3.0).ln() + 1.0)).abs() < 1e-12);
        assert!((s.idf("sourdough") - ((4.0f64 / 2.0).ln() + 1.0)).abs() < 1e-12);
        assert!((s.idf("unseen") - (4.0f64.ln() + 1.0)).abs() < 1e-12);
        assert!(s.is_entity_word("riverton") && !s.is_entity_word("playoff"));
    }

    #[test]
    fn articles_from_the_split_date_on_are_not_counted() {
        let mut late = item("d", "Hawks trade rumours", &["Lakeside Owls"]);
        late.date = chrono::NaiveDate::from_ymd_opt(2024, 2, 1).unwrap();
        let c = Corpus::new(vec![
            item("a", "Hawks win playoff", &["Riverton Hawks"]),
            item("b", "Sourdough baking tips", &[]),
            late,
        ])
        .unwrap()
        .with_split_date(chrono::NaiveDate::from_ymd_opt(2024, 2, 1));
        let s = TermStats::build(&c);
        // Two pre-split documents; "hawks" in one of them, "rumours" in none.
        assert_eq!(s.docs(), 2);
        assert!((s.idf("hawks") - ((3.0f64 / 2.0).ln() + 1.0)).abs() < 1e-12);
        assert!(!s.occurs("rumours") && !s.is_entity_word("owls"));
    }
}
