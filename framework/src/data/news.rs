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
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    items: Vec<NewsItem>,
    by_id: HashMap<String, u32>,
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
        Ok(Corpus { items, by_id })
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
