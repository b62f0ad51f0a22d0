//! HuffPost News Category (Misra 2022) in its JSONL form.
//!
//! Format: one JSON object per line with `link`, `headline`, `category`, `short_description`,
//! `authors` and `date` (`YYYY-MM-DD`). Blank lines are skipped. `headline`, `category` and
//! `date` are required; `link` and `short_description` may be missing or empty; `authors` and
//! unknown keys are ignored.
//!
//! Choices:
//! - The id is `hp-` + the last path segment of the link (the article slug, stable across
//!   releases and readable in logs), or `hp-<line>` when a row has no link. Should two different
//!   links end in the same slug, the later one gets `-<line>` appended so ids stay unique.
//! - The real data repeats some links (the same story filed twice). The first row is kept and
//!   later ones are skipped and counted ([`HuffpostCounts`]), since failing would make the
//!   public dataset unloadable and both rows describe the same article.
//! - A row with an empty headline is skipped and counted too: there is nothing to search for.
//! - Entities come from [`capitalized_entities`] over the short description, since the dataset
//!   has no entity tags and its headlines are Title Case (the heuristic needs sentence case).

use super::common::{
    IdLines, data_lines, finish_corpus, json_object, json_required, json_str, limit, parse_date,
};
use crate::data::{Corpus, NewsItem};
use crate::text::terms::capitalized_entities;
use crate::{Error, Result};
use std::collections::HashSet;
use std::path::Path;

/// Rows a HuffPost load skipped on purpose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HuffpostCounts {
    /// Rows whose `link` repeats an earlier row's (the first one is kept).
    pub duplicate_links: usize,
    /// Rows whose `headline` is empty.
    pub empty_headlines: usize,
}

const EXPECTED: &str = "with \"headline\", \"category\", \"date\" (YYYY-MM-DD) and optional \"link\", \"short_description\"";

/// Loads a HuffPost News Category JSONL file; `max_articles` = 0 reads all.
pub fn load_huffpost(path: &Path, max_articles: usize) -> Result<Corpus> {
    load_huffpost_counted(path, max_articles).map(|(corpus, _)| corpus)
}

/// [`load_huffpost`], also returning how many rows were skipped as duplicates or empty.
pub fn load_huffpost_counted(path: &Path, max_articles: usize) -> Result<(Corpus, HuffpostCounts)> {
    let lines = data_lines(path)?;
    let max = limit(max_articles);
    let mut items = Vec::new();
    let mut ids = IdLines::default();
    let mut links = HashSet::new();
    let mut counts = HuffpostCounts::default();
    for item in lines {
        let (line, row) = item?;
        if items.len() >= max {
            break;
        }
        let obj = json_object(path, line, &row, EXPECTED)?;
        let headline = json_required(path, line, &obj, "headline")?;
        let category = json_required(path, line, &obj, "category")?;
        let date_text = json_required(path, line, &obj, "date")?;
        let summary = json_str(path, line, &obj, "short_description")?.unwrap_or_default();
        let link = json_str(path, line, &obj, "link")?.unwrap_or_default();
        if category.trim().is_empty() {
            return Err(Error::at_line(
                path,
                line,
                "field \"category\" is \"\": expected a non-empty category name",
            ));
        }
        let date = parse_date(path, line, "date", &date_text)?;
        let link = link.trim().to_string();
        if !link.is_empty() && !links.insert(link.clone()) {
            counts.duplicate_links += 1;
            continue;
        }
        if headline.trim().is_empty() {
            counts.empty_headlines += 1;
            continue;
        }
        let id = unique_id(&ids, &link, line);
        ids.insert(path, line, "article id", &id)?;
        items.push(NewsItem {
            id,
            title: headline.trim().to_string(),
            entities: capitalized_entities(&summary),
            summary: summary.trim().to_string(),
            category: category.trim().to_string(),
            subcategory: String::new(),
            date,
            url: (!link.is_empty()).then_some(link),
        });
    }
    Ok((finish_corpus(path, items)?, counts))
}

/// `hp-<slug>` from the link's last path segment, `hp-<line>` without one; `-<line>` is
/// appended if another link already produced the same id.
fn unique_id(ids: &IdLines, link: &str, line: usize) -> String {
    let without_query = link.split(['?', '#']).next().unwrap_or("");
    let path_part = without_query
        .split_once("://")
        .map_or(without_query, |(_, rest)| {
            rest.split_once('/').map_or("", |(_, p)| p)
        });
    let slug = path_part
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    let base = if slug.is_empty() {
        format!("hp-{line}")
    } else {
        format!("hp-{slug}")
    };
    if !ids.contains(&base) {
        return base;
    }
    let mut id = format!("{base}-{line}");
    let mut k = 2;
    while ids.contains(&id) {
        id = format!("{base}-{line}-{k}");
        k += 1;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::loaders::common::testing::temp_file;

    fn row(link: &str, headline: &str, cat: &str, desc: &str, date: &str) -> String {
        serde_json::json!({"link": link, "headline": headline, "category": cat,
            "short_description": desc, "authors": "A. Writer", "date": date})
        .to_string()
    }

    #[test]
    fn loads_rows_with_slug_ids_and_skips_duplicate_links() {
        let text = [
            row(
                "https://www.huffpost.com/entry/cats-win_n_1",
                "Cats Win",
                "PETS",
                "Fans in Lower Hill cheered.",
                "2022-09-23",
            ),
            String::new(),
            row(
                "https://www.huffpost.com/entry/dogs-lose_n_2/",
                "Dogs Lose",
                "PETS",
                "",
                "2022-09-22",
            ),
            row(
                "https://www.huffpost.com/entry/cats-win_n_1",
                "Cats Win Again",
                "PETS",
                "",
                "2022-09-21",
            ),
            row("", "No Link", "U.S. NEWS", "x", "2021-01-05"),
        ]
        .join("\n");
        let path = temp_file("hp.jsonl", &text);
        let (corpus, counts) = load_huffpost_counted(&path, 0).unwrap();
        assert_eq!(
            counts,
            HuffpostCounts {
                duplicate_links: 1,
                empty_headlines: 0
            }
        );
        let ids: Vec<&str> = corpus.items().iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, vec!["hp-cats-win_n_1", "hp-dogs-lose_n_2", "hp-5"]);
        let first = &corpus.items()[0];
        assert_eq!(first.title, "Cats Win");
        assert_eq!(first.summary, "Fans in Lower Hill cheered.");
        assert_eq!(first.entities, vec!["Lower Hill"]);
        assert_eq!(first.date.to_string(), "2022-09-23");
        assert_eq!(
            first.url.as_deref(),
            Some("https://www.huffpost.com/entry/cats-win_n_1")
        );
        assert_eq!(corpus.items()[2].url, None);
        assert_eq!(corpus.categories(), vec!["PETS", "U.S. NEWS"]);
        assert_eq!(load_huffpost(&path, 2).unwrap().len(), 2);
    }

    #[test]
    fn same_slug_on_different_hosts_gets_a_line_suffix() {
        let text = [
            row(
                "https://www.huffpost.com/entry/a_n_1",
                "A",
                "X",
                "",
                "2020-01-01",
            ),
            row(
                "https://www.huffingtonpost.com/entry/a_n_1",
                "A too",
                "X",
                "",
                "2020-01-01",
            ),
        ]
        .join("\n");
        let corpus = load_huffpost(&temp_file("hp.jsonl", &text), 0).unwrap();
        assert_eq!(corpus.items()[1].id, "hp-a_n_1-2");
    }

    #[test]
    fn malformed_rows_name_file_line_field_and_value() {
        let good = row("https://h.com/entry/a", "A", "X", "", "2020-01-01");
        let cases = [
            ("{not json", "invalid JSON"),
            (
                r#"{"category": "X", "date": "2020-01-01"}"#,
                "missing field \"headline\"",
            ),
            (
                r#"{"headline": "A", "date": "2020-01-01"}"#,
                "missing field \"category\"",
            ),
            (
                r#"{"headline": "A", "category": "X"}"#,
                "missing field \"date\"",
            ),
            (
                r#"{"headline": "A", "category": "X", "date": "2020-13-01"}"#,
                "\"2020-13-01\": expected a date YYYY-MM-DD",
            ),
            (
                r#"{"headline": true, "category": "X", "date": "2020-01-01"}"#,
                "field \"headline\" is true: expected a string",
            ),
            (r#"["a list"]"#, "expected a JSON object"),
        ];
        for (bad, want) in cases {
            let path = temp_file("hp.jsonl", &format!("{good}\n\n{bad}\n"));
            let err = load_huffpost(&path, 0).unwrap_err().to_string();
            assert!(
                err.contains("hp.jsonl:3:") && err.contains(want),
                "{bad} -> {err}"
            );
        }
    }

    #[test]
    fn empty_file_is_an_error_naming_it() {
        let path = temp_file("empty.jsonl", "\n\n");
        let err = load_huffpost(&path, 0).unwrap_err().to_string();
        assert!(
            err.contains("empty.jsonl") && err.contains("no articles"),
            "{err}"
        );
    }

    #[test]
    fn empty_headlines_are_skipped_and_counted() {
        let text = [
            row("https://h.com/a", "", "X", "", "2020-01-01"),
            row("https://h.com/b", "B", "X", "", "2020-01-01"),
        ]
        .join("\n");
        let (corpus, counts) = load_huffpost_counted(&temp_file("hp.jsonl", &text), 0).unwrap();
        assert_eq!((corpus.len(), counts.empty_headlines), (1, 1));
    }
}
