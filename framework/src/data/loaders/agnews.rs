//! AG News (Zhang, Zhao & LeCun 2015) in its CSV form (`train.csv` / `test.csv`).
//!
//! Format: no header; three columns `class index, title, description`, fields quoted with
//! standard CSV escaping (`""` inside quotes). Class indices are 1 World, 2 Sports, 3 Business,
//! 4 Sci/Tech. Read with the `csv` crate, which handles quoted commas and line breaks and gives
//! each record's starting line for error messages.
//!
//! Choices:
//! - AG News has no dates, but Quill's simulator and splits want articles spread over time.
//!   Dates are spread evenly by row order over the fixed 365-day window ending 2024-12-31
//!   (first row 2024-01-02, last row 2024-12-31; see `common::spread_dates`). The window is fixed
//!   so that loads are reproducible; the dates carry no meaning beyond order.
//! - The id is `ag-<row>` with the 1-based row number, which stays stable when a file is cut
//!   short with `max_articles`.
//! - Entities come from [`capitalized_entities`] over the description (no tags in the data).
//! - Text is kept as written (AG News has `\` line-break markers and `#39;` entity leftovers;
//!   cleaning them is a text concern, not a loading one).

use super::common::{LineBounded, finish_corpus, limit, spread_dates};
use crate::data::{Corpus, NewsItem};
use crate::text::terms::capitalized_entities;
use crate::{Error, Result};
use std::path::Path;

/// The category of each class index, 1-based.
pub const AGNEWS_CATEGORIES: [&str; 4] = ["World", "Sports", "Business", "Sci/Tech"];

/// Loads an AG News CSV file; `max_articles` = 0 reads all.
pub fn load_agnews(path: &Path, max_articles: usize) -> Result<Corpus> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(LineBounded::new(std::io::BufReader::new(file)));
    let max = limit(max_articles);
    let mut rows: Vec<(String, String, &'static str)> = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        if rows.len() >= max {
            break;
        }
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, &e)),
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() == 1 && record.get(0).is_some_and(|f| f.trim().is_empty()) {
            continue;
        }
        if record.len() != 3 {
            return Err(Error::at_line(
                path,
                line,
                format!(
                    "expected 3 columns (class index, title, description), found {}: {:?}",
                    record.len(),
                    record.iter().collect::<Vec<_>>()
                ),
            ));
        }
        let class = record.get(0).unwrap_or("").trim();
        let category = class
            .parse::<usize>()
            .ok()
            .and_then(|k| k.checked_sub(1))
            .and_then(|k| AGNEWS_CATEGORIES.get(k))
            .ok_or_else(|| {
                Error::at_line(path, line, format!("class index is {class:?}: expected 1 (World), 2 (Sports), 3 (Business) or 4 (Sci/Tech)"))
            })?;
        let title = record.get(1).unwrap_or("").trim().to_string();
        let description = record.get(2).unwrap_or("").trim().to_string();
        rows.push((title, description, category));
    }
    let dates = spread_dates(rows.len());
    let items = rows
        .into_iter()
        .zip(dates)
        .enumerate()
        .map(|(i, ((title, description, category), date))| NewsItem {
            id: format!("ag-{}", i + 1),
            title,
            entities: capitalized_entities(&description),
            summary: description,
            category: category.to_string(),
            subcategory: String::new(),
            date,
            url: None,
        })
        .collect();
    finish_corpus(path, items)
}

/// A CSV reader error at its `file:line` where the reader knows it.
fn csv_error(path: &Path, e: &csv::Error) -> Error {
    let line = match e.kind() {
        csv::ErrorKind::Utf8 { pos: Some(pos), .. } => Some(pos.line()),
        _ => e.position().map(|p| p.line()),
    };
    match line {
        Some(line) => Error::at_line(
            path,
            line as usize,
            format!(
                "unreadable CSV record: {e}; expected UTF-8 CSV rows of class index, title, description"
            ),
        ),
        None => Error::in_file(path, format!("unreadable CSV: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::loaders::common::testing::temp_file;

    const SAMPLE: &str = "\"3\",\"Oil Climbs\",\"Prices rose as Gulf Energy cut output.\"\n\
                          \"2\",\"Cup Final, Again\",\"The \"\"Blue Sox\"\" won\nin extra time.\"\n\
                          \"4\",\"New Chip\",\"A faster chip.\"\n";

    #[test]
    fn loads_classes_quoted_fields_and_spread_dates() {
        let corpus = load_agnews(&temp_file("ag.csv", SAMPLE), 0).unwrap();
        assert_eq!(corpus.len(), 3);
        let ids: Vec<&str> = corpus.items().iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, vec!["ag-1", "ag-2", "ag-3"]);
        let cats: Vec<&str> = corpus.items().iter().map(|n| n.category.as_str()).collect();
        assert_eq!(cats, vec!["Business", "Sports", "Sci/Tech"]);
        let cup = &corpus.items()[1];
        assert_eq!(cup.title, "Cup Final, Again");
        assert_eq!(cup.summary, "The \"Blue Sox\" won\nin extra time.");
        assert_eq!(corpus.items()[0].entities, vec!["Gulf Energy"]);
        let dates: Vec<String> = corpus.items().iter().map(|n| n.date.to_string()).collect();
        assert_eq!(dates, vec!["2024-01-02", "2024-07-02", "2024-12-31"]);
    }

    #[test]
    fn max_articles_cuts_and_respreads() {
        let corpus = load_agnews(&temp_file("ag.csv", SAMPLE), 2).unwrap();
        assert_eq!(corpus.len(), 2);
        assert_eq!(corpus.items()[1].date.to_string(), "2024-12-31");
    }

    #[test]
    fn bad_class_index_names_the_line_after_a_multiline_record() {
        let text = format!("{SAMPLE}\"5\",\"T\",\"D\"\n");
        let err = load_agnews(&temp_file("ag.csv", &text), 0)
            .unwrap_err()
            .to_string();
        // The second record spans lines 2-3, so the fourth record starts on line 5.
        assert!(
            err.contains("ag.csv:5:") && err.contains("\"5\"") && err.contains("4 (Sci/Tech)"),
            "{err}"
        );
    }

    #[test]
    fn wrong_column_count_and_empty_file_are_errors() {
        let err = load_agnews(
            &temp_file("ag.csv", "\"1\",\"T\",\"D\"\n\"1\",\"only title\"\n"),
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("ag.csv:2:") && err.contains("expected 3 columns"),
            "{err}"
        );
        let err = load_agnews(&temp_file("ag.csv", ""), 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ag.csv") && err.contains("no articles"),
            "{err}"
        );
    }
}
