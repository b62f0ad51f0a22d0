//! Any news file whose columns are named in `[data.corpus]`: TSV with a header row, or JSONL.
//!
//! Format, chosen by the file extension (case-insensitive):
//! - `.tsv`: the first non-blank line is a header of column names; every later non-blank line
//!   has the same number of tab-separated fields. Fields are taken literally (no quoting), as in
//!   MIND and most TSV exports, so a field cannot hold a tab or a line break.
//! - `.jsonl` / `.json`: one JSON object per line (a `.json` file must also be line-delimited);
//!   values are strings, or numbers taken as their decimal text.
//!
//! Columns (the `CorpusConfig` fields): `title_field` and `category_field` are required;
//! `id_field` empty gives ids `row-<line>` (the 1-based line number in the file, stable when a
//! load is cut short); `abstract_field` and `subcategory_field` empty mean none; `date_field`
//! empty spreads dates evenly by row order like AG News (365 days ending 2024-12-31), else the
//! column holds `YYYY-MM-DD`. Entities come from [`capitalized_entities`] over the abstract.

use super::common::{
    DataLines, IdLines, absent, data_lines, finish_corpus, json_object, json_str, limit,
    parse_date, spread_dates,
};
use crate::data::{Corpus, CorpusConfig, NewsItem};
use crate::text::terms::capitalized_entities;
use crate::{Error, Result};
use chrono::NaiveDate;
use std::path::Path;

/// The file extensions `load_mapped` accepts.
pub const MAPPED_EXTENSIONS: [&str; 3] = ["tsv", "jsonl", "json"];

/// One row before dates are assigned.
struct Row {
    line: usize,
    id: Option<String>,
    title: String,
    summary: String,
    category: String,
    subcategory: String,
    date: Option<NaiveDate>,
}

/// Loads a TSV or JSONL corpus with the column names of `cfg`; `max_articles` = 0 reads all.
pub fn load_mapped(path: &Path, cfg: &CorpusConfig, max_articles: usize) -> Result<Corpus> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let tsv = match ext.as_str() {
        "tsv" => true,
        "jsonl" | "json" => false,
        other => {
            return Err(Error::in_file(
                path,
                format!(
                    "extension {other:?} is not a mapped corpus format: expected .tsv (header row) or .jsonl/.json (one object per line)"
                ),
            ));
        }
    };
    for (key, value) in [
        ("title_field", &cfg.title_field),
        ("category_field", &cfg.category_field),
    ] {
        if value.trim().is_empty() {
            return Err(Error::field(
                format!("data.corpus.{key}"),
                "must name a column (TSV) or key (JSONL); it is empty",
            ));
        }
    }
    let lines = data_lines(path)?;
    let rows = if tsv {
        tsv_rows(path, lines, cfg, limit(max_articles))?
    } else {
        jsonl_rows(path, lines, cfg, limit(max_articles))?
    };
    let spread = spread_dates(rows.len());
    let mut ids = IdLines::default();
    let mut items = Vec::with_capacity(rows.len());
    for (row, spread_date) in rows.into_iter().zip(spread) {
        let id = row.id.unwrap_or_else(|| format!("row-{}", row.line));
        ids.insert(path, row.line, "article id", &id)?;
        items.push(NewsItem {
            id,
            title: row.title,
            entities: capitalized_entities(&row.summary),
            summary: row.summary,
            category: row.category,
            subcategory: row.subcategory,
            date: row.date.unwrap_or(spread_date),
            url: None,
        });
    }
    finish_corpus(path, items)
}

/// Checks a required value is non-empty.
fn required(path: &Path, line: usize, key: &str, value: String) -> Result<String> {
    let value = value.trim().to_string();
    if value.is_empty() {
        return Err(Error::at_line(
            path,
            line,
            format!("field {key:?} is \"\": expected a non-empty value"),
        ));
    }
    Ok(value)
}

fn tsv_rows(path: &Path, mut lines: DataLines, cfg: &CorpusConfig, max: usize) -> Result<Vec<Row>> {
    let Some((_, header)) = lines.next().transpose()? else {
        return Err(Error::in_file(
            path,
            "is empty: expected a header row of tab-separated column names",
        ));
    };
    let columns: Vec<&str> = header.split('\t').map(str::trim).collect();
    let column = |name: &str, config_key: &str| -> Result<Option<usize>> {
        if name.is_empty() {
            return Ok(None);
        }
        columns.iter().position(|c| *c == name).map(Some).ok_or_else(|| {
            Error::in_file(path, format!("has no column {name:?} (data.corpus.{config_key}); columns present: {columns:?}"))
        })
    };
    let id_col = column(&cfg.id_field, "id_field")?;
    let title_col = column(&cfg.title_field, "title_field")?;
    let abstract_col = column(&cfg.abstract_field, "abstract_field")?;
    let category_col = column(&cfg.category_field, "category_field")?;
    let subcategory_col = column(&cfg.subcategory_field, "subcategory_field")?;
    let date_col = column(&cfg.date_field, "date_field")?;
    let (Some(title_col), Some(category_col)) = (title_col, category_col) else {
        return Err(Error::field(
            "data.corpus.title_field",
            "title_field and category_field must name columns",
        ));
    }; // unreachable after the check in load_mapped, kept so no index is unwrapped
    let mut rows = Vec::new();
    for item in lines {
        let (line, text) = item?;
        if rows.len() >= max {
            break;
        }
        let fields: Vec<&str> = text.split('\t').collect();
        if fields.len() != columns.len() {
            return Err(Error::at_line(
                path,
                line,
                format!(
                    "found {} tab-separated fields, expected {} like the header {columns:?}",
                    fields.len(),
                    columns.len()
                ),
            ));
        }
        let get = |col: Option<usize>| {
            col.and_then(|c| fields.get(c))
                .map(|f| f.trim().to_string())
        };
        rows.push(Row {
            line,
            id: get(id_col)
                .map(|id| required(path, line, &cfg.id_field, id))
                .transpose()?,
            title: required(
                path,
                line,
                &cfg.title_field,
                get(Some(title_col)).unwrap_or_default(),
            )?,
            summary: get(abstract_col).unwrap_or_default(),
            category: required(
                path,
                line,
                &cfg.category_field,
                get(Some(category_col)).unwrap_or_default(),
            )?,
            subcategory: get(subcategory_col).unwrap_or_default(),
            date: get(date_col)
                .map(|d| parse_date(path, line, &cfg.date_field, &d))
                .transpose()?,
        });
    }
    Ok(rows)
}

fn jsonl_rows(path: &Path, lines: DataLines, cfg: &CorpusConfig, max: usize) -> Result<Vec<Row>> {
    let expected = format!(
        "with keys {:?} and {:?}",
        cfg.title_field, cfg.category_field
    );
    let mut rows = Vec::new();
    for item in lines {
        let (line, text) = item?;
        if rows.len() >= max {
            break;
        }
        let obj = json_object(path, line, &text, &expected)?;
        let get = |key: &str| -> Result<Option<String>> {
            if key.is_empty() {
                return Ok(None);
            }
            match json_str(path, line, &obj, key)? {
                Some(v) => Ok(Some(v.trim().to_string())),
                None => Err(Error::at_line(path, line, absent(&obj, key))),
            }
        };
        rows.push(Row {
            line,
            id: get(&cfg.id_field)?
                .map(|id| required(path, line, &cfg.id_field, id))
                .transpose()?,
            title: required(
                path,
                line,
                &cfg.title_field,
                get(&cfg.title_field)?.unwrap_or_default(),
            )?,
            summary: get(&cfg.abstract_field)?.unwrap_or_default(),
            category: required(
                path,
                line,
                &cfg.category_field,
                get(&cfg.category_field)?.unwrap_or_default(),
            )?,
            subcategory: get(&cfg.subcategory_field)?.unwrap_or_default(),
            date: get(&cfg.date_field)?
                .map(|d| parse_date(path, line, &cfg.date_field, &d))
                .transpose()?,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::loaders::common::testing::temp_file;

    fn cfg(id: &str, date: &str, sub: &str) -> CorpusConfig {
        CorpusConfig {
            id_field: id.into(),
            title_field: "headline".into(),
            abstract_field: "body".into(),
            category_field: "topic".into(),
            subcategory_field: sub.into(),
            date_field: date.into(),
            ..CorpusConfig::default()
        }
    }

    #[test]
    fn tsv_with_named_columns_and_dates() {
        let text = "key\theadline\tbody\ttopic\tsub\twhen\n\
                    a1\tRain Ahead\tStorms reach North Bay tonight.\tweather\tlocal\t2023-04-01\n\
                    \n\
                    a2\tVote Today\t\tpolitics\tstate\t2023-04-02\n";
        let corpus = load_mapped(&temp_file("c.tsv", text), &cfg("key", "when", "sub"), 0).unwrap();
        assert_eq!(corpus.len(), 2);
        let a1 = corpus.get("a1").unwrap();
        assert_eq!(
            (
                a1.title.as_str(),
                a1.category.as_str(),
                a1.subcategory.as_str()
            ),
            ("Rain Ahead", "weather", "local")
        );
        assert_eq!(a1.entities, vec!["North Bay"]);
        assert_eq!(corpus.get("a2").unwrap().date.to_string(), "2023-04-02");
    }

    #[test]
    fn jsonl_without_id_or_date_uses_line_ids_and_spread_dates() {
        let text = "{\"headline\": \"A\", \"body\": \"x\", \"topic\": \"t\"}\n\n{\"headline\": \"B\", \"body\": \"y\", \"topic\": \"u\"}\n";
        let corpus = load_mapped(&temp_file("c.jsonl", text), &cfg("", "", ""), 0).unwrap();
        let ids: Vec<&str> = corpus.items().iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, vec!["row-1", "row-3"]);
        let dates: Vec<String> = corpus.items().iter().map(|n| n.date.to_string()).collect();
        assert_eq!(dates, vec!["2024-01-02", "2024-12-31"]);
    }

    #[test]
    fn missing_tsv_column_names_it_and_the_columns_present() {
        let err = load_mapped(
            &temp_file("c.tsv", "headline\ttopic\nA\tt\n"),
            &cfg("", "", ""),
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("c.tsv:")
                && err.contains("\"body\"")
                && err.contains("[\"headline\", \"topic\"]"),
            "{err}"
        );
    }

    #[test]
    fn bad_rows_name_file_line_and_value() {
        let c = cfg("", "when", "");
        let err = load_mapped(
            &temp_file(
                "c.tsv",
                "headline\tbody\ttopic\twhen\nA\tb\tt\t2020-02-30\n",
            ),
            &c,
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("c.tsv:2:") && err.contains("\"when\"") && err.contains("\"2020-02-30\""),
            "{err}"
        );
        let err = load_mapped(
            &temp_file("c.tsv", "headline\tbody\ttopic\twhen\nA\tb\n"),
            &c,
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("c.tsv:2:") && err.contains("found 2 tab-separated fields, expected 4"),
            "{err}"
        );
        let err = load_mapped(
            &temp_file(
                "c.jsonl",
                "{\"headline\": \"A\", \"body\": \"\", \"when\": \"2020-01-01\"}\n",
            ),
            &c,
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("c.jsonl:1:") && err.contains("missing field \"topic\""),
            "{err}"
        );
        let null_title =
            "{\"headline\": null, \"body\": \"\", \"topic\": \"t\", \"when\": \"2020-01-01\"}\n";
        let err = load_mapped(&temp_file("c.jsonl", null_title), &c, 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("c.jsonl:1:") && err.contains("field \"headline\" is null"),
            "{err}"
        );
        let err = load_mapped(&temp_file("c.jsonl", "{\"headline\": \"\", \"body\": \"\", \"topic\": \"t\", \"when\": \"2020-01-01\"}\n"), &c, 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("c.jsonl:1:") && err.contains("\"headline\" is \"\""),
            "{err}"
        );
    }

    #[test]
    fn duplicate_ids_name_both_lines_and_bad_extensions_list_valid_ones() {
        let text = "key\theadline\tbody\ttopic\nx\tA\t\tt\nx\tB\t\tt\n";
        let err = load_mapped(&temp_file("c.tsv", text), &cfg("key", "", ""), 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("c.tsv:3:") && err.contains("line 2") && err.contains("\"x\""),
            "{err}"
        );
        let err = load_mapped(&temp_file("c.csv", text), &cfg("", "", ""), 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"csv\"") && err.contains(".tsv") && err.contains(".jsonl"),
            "{err}"
        );
    }
}
