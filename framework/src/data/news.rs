//! News articles and the corpus that holds them.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One news article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewsItem {
    pub id: String,
    pub title: String,
    /// The article's abstract or short description (`abstract` is a Rust keyword).
    #[serde(rename = "abstract", default)]
    pub summary: String,
    pub category: String,
    #[serde(default)]
    pub subcategory: String,
    /// Publication date, `YYYY-MM-DD`.
    pub date: NaiveDate,
    /// Named entities mentioned in the article, where the source has or derives them.
    #[serde(default)]
    pub entities: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl NewsItem {
    /// The text retrieval, embeddings and term statistics read: title, then abstract.
    pub fn text(&self) -> String {
        if self.summary.is_empty() {
            self.title.clone()
        } else {
            format!("{} {}", self.title, self.summary)
        }
    }
}

/// A set of news articles with lookup by id. Article order is the load order; `index` values
/// are stable for the life of the corpus and are what the rest of Quill passes around.
///
/// A dataset's corpus also carries its split date: held-out clicks are drawn from the articles
/// published on or after it, so whatever is trained before evaluation (the policy's tokenizer
/// and language modelling, term statistics, corpus-trained embedders) reads only
/// [`Corpus::pre_split_items`], while retrieval indexes every article.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    items: Vec<NewsItem>,
    by_id: HashMap<String, u32>,
    split_date: Option<NaiveDate>,
}

impl Corpus {
    /// Builds a corpus. A repeated id is an error naming the id, which loaders turn into a
    /// `file:line` error.
    pub fn new(items: Vec<NewsItem>) -> Result<Self, String> {
        let mut by_id = HashMap::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if by_id.insert(item.id.clone(), i as u32).is_some() {
                return Err(format!("duplicate news id {:?}", item.id));
            }
        }
        Ok(Corpus {
            items,
            by_id,
            split_date: None,
        })
    }

    /// The corpus with its split date set (`None`: no split is known, every article counts as
    /// readable by training).
    pub fn with_split_date(mut self, split_date: Option<NaiveDate>) -> Corpus {
        self.split_date = split_date;
        self
    }

    /// The date from which articles are held out: history before it, future clicks and the
    /// evaluation window on or after it.
    pub fn split_date(&self) -> Option<NaiveDate> {
        self.split_date
    }

    /// The articles published before the split date (all of them when there is none), in
    /// corpus order: the only articles anything trained before evaluation may read.
    pub fn pre_split_items(&self) -> impl Iterator<Item = &NewsItem> + Clone + Send + '_ {
        let split = self.split_date;
        self.items
            .iter()
            .filter(move |n| split.is_none_or(|d| n.date < d))
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn items(&self) -> &[NewsItem] {
        &self.items
    }

    /// The article at a stable index.
    pub fn item(&self, index: u32) -> &NewsItem {
        &self.items[index as usize]
    }

    /// The stable index of an article id.
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    pub fn get(&self, id: &str) -> Option<&NewsItem> {
        self.index_of(id).map(|i| self.item(i))
    }

    /// Distinct categories, sorted.
    pub fn categories(&self) -> Vec<String> {
        let mut cats: Vec<String> = self.items.iter().map(|n| n.category.clone()).collect();
        cats.sort();
        cats.dedup();
        cats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, cat: &str) -> NewsItem {
        NewsItem {
            id: id.into(),
            title: format!("title {id}"),
            summary: String::new(),
            category: cat.into(),
            subcategory: String::new(),
            date: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
            entities: vec![],
            url: None,
        }
    }

    #[test]
    fn lookup_by_id_and_index() {
        let c = Corpus::new(vec![
            item("a", "sports"),
            item("b", "tech"),
            item("c", "sports"),
        ])
        .unwrap();
        assert_eq!(c.index_of("b"), Some(1));
        assert_eq!(c.get("c").unwrap().category, "sports");
        assert!(c.get("zz").is_none());
        assert_eq!(c.categories(), vec!["sports", "tech"]);
    }

    #[test]
    fn pre_split_items_are_the_articles_dated_before_the_split() {
        let mut items = vec![item("a", "x"), item("b", "x"), item("c", "x")];
        for (day, n) in [3, 4, 5].iter().zip(items.iter_mut()) {
            n.date = NaiveDate::from_ymd_opt(2024, 1, *day).unwrap();
        }
        let c = Corpus::new(items).unwrap();
        let ids = |c: &Corpus| {
            c.pre_split_items()
                .map(|n| n.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&c), vec!["a", "b", "c"], "no split date: every article");
        let c = c.with_split_date(NaiveDate::from_ymd_opt(2024, 1, 4));
        assert_eq!(ids(&c), vec!["a"], "the split day itself is held out");
        assert_eq!(c.split_date(), NaiveDate::from_ymd_opt(2024, 1, 4));
        assert_eq!(c.len(), 3, "retrieval still sees every article");
    }

    #[test]
    fn duplicate_ids_are_reported() {
        let err = Corpus::new(vec![item("a", "x"), item("a", "y")]).unwrap_err();
        assert!(err.contains("\"a\""));
    }

    #[test]
    fn news_item_json_uses_abstract_and_iso_dates() {
        let json = serde_json::to_string(&item("a", "x")).unwrap();
        assert!(
            json.contains("\"abstract\":\"\"") && json.contains("\"2024-01-02\""),
            "{json}"
        );
    }
}
