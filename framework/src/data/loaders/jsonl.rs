//! Quill's own-logs schema: a news JSONL file and a users JSONL file.
//!
//! News file: one [`NewsItem`] JSON object per line, exactly as `NewsItem` serialises
//! (`id`, `title`, `abstract`, `category`, `subcategory`, `date` `YYYY-MM-DD`, `entities`,
//! optional `url`). Users file: one [`UserRecord`] per line (`id`, `history` of signals with
//! `user`, `timestamp` in Unix seconds, `kind`, `text`, optional `url`/`domain`/`noise`,
//! `future_clicks`, optional `candidates`). Blank lines are skipped.
//!
//! Choices:
//! - Parsing is serde's, so a wrong field is reported with serde's message (it names the field
//!   and the column) behind the `file:line`.
//! - A history out of time order is sorted (stably) rather than rejected: log exports are often
//!   grouped by source rather than by time, and the order carries no other meaning.
//! - Every signal must belong to its record's user, and every `future_clicks` / `candidates` id
//!   must be in the news file: otherwise evaluation would silently score against nothing.
//! - `max_users` stops reading the users file after N users, so a sample of a huge log is cheap.
//! - A declared split date (`[data.jsonl] split_date`, midnight UTC) is checked, not applied:
//!   a history signal on or after it is an error, since history and held-out clicks are given
//!   apart and a late signal would show the model what evaluation hides.

use super::common::{IdLines, data_lines, limit};
use crate::data::{Corpus, NewsItem, UserRecord};
use crate::{Error, Result};
use chrono::{DateTime, NaiveDate, NaiveTime};
use std::path::Path;

/// Loads own logs without a split date; see [`load_jsonl_split`].
pub fn load_jsonl_users(
    users: &Path,
    news: &Path,
    max_users: usize,
) -> Result<(Corpus, Vec<UserRecord>)> {
    load_jsonl_split(users, news, max_users, None)
}

/// Loads own logs: `users` (one `UserRecord` per line) over the articles of `news` (one
/// `NewsItem` per line); `max_users` = 0 reads all users, else the first N lines. Every history
/// signal must precede `split_date`, which the corpus carries.
pub fn load_jsonl_split(
    users: &Path,
    news: &Path,
    max_users: usize,
    split_date: Option<NaiveDate>,
) -> Result<(Corpus, Vec<UserRecord>)> {
    let corpus = load_news_jsonl(news)?.with_split_date(split_date);
    let lines = data_lines(users)?;
    let max = limit(max_users);
    let mut ids = IdLines::default();
    let mut records = Vec::new();
    for item in lines {
        let (line, row) = item?;
        if records.len() >= max {
            break;
        }
        let mut record: UserRecord = serde_json::from_str(&row)
            .map_err(|e| Error::at_line(users, line, format!("not a valid user record: {e}")))?;
        if record.id.trim().is_empty() {
            return Err(Error::at_line(
                users,
                line,
                "field \"id\" is \"\": expected a non-empty user id",
            ));
        }
        ids.insert(users, line, "user id", &record.id)?;
        if let Some((k, signal)) = record
            .history
            .iter()
            .enumerate()
            .find(|(_, s)| s.user != record.id)
        {
            return Err(Error::at_line(
                users,
                line,
                format!(
                    "history[{k}] has user {:?} but the record's id is {:?}: every signal must belong to the record's user",
                    signal.user, record.id
                ),
            ));
        }
        if let Some(split) = split_date {
            check_history_precedes(&record, split).map_err(|m| Error::at_line(users, line, m))?;
        }
        if !record.is_time_ordered() {
            record.sort_history();
        }
        let lists = [
            ("future_clicks", Some(&record.future_clicks)),
            ("candidates", record.candidates.as_ref()),
        ];
        for (field, list) in lists {
            if let Some(missing) = list
                .into_iter()
                .flatten()
                .find(|id| corpus.index_of(id).is_none())
            {
                return Err(Error::at_line(
                    users,
                    line,
                    format!(
                        "{field} names news id {missing:?}, which is not in the news file {}",
                        news.display()
                    ),
                ));
            }
        }
        records.push(record);
    }
    if records.is_empty() {
        return Err(Error::in_file(
            users,
            "contains no users: expected one JSON user record per line",
        ));
    }
    Ok((corpus, records))
}

/// An error message when a history signal of `record` is not before midnight UTC of `split`.
fn check_history_precedes(
    record: &UserRecord,
    split: NaiveDate,
) -> std::result::Result<(), String> {
    let split_at = split.and_time(NaiveTime::MIN).and_utc().timestamp();
    let Some((k, late)) = record
        .history
        .iter()
        .enumerate()
        .find(|(_, s)| s.timestamp >= split_at)
    else {
        return Ok(());
    };
    let when = DateTime::from_timestamp(late.timestamp, 0)
        .map_or_else(|| "out of range".to_string(), |t| t.to_string());
    Err(format!(
        "history[{k}] has timestamp {} ({when}), not before data.jsonl.split_date {split} \
         (timestamp {split_at}): history must precede the held-out clicks",
        late.timestamp
    ))
}

/// Reads a news file of one `NewsItem` JSON object per line.
pub fn load_news_jsonl(path: &Path) -> Result<Corpus> {
    let lines = data_lines(path)?;
    let mut ids = IdLines::default();
    let mut items = Vec::new();
    for item in lines {
        let (line, row) = item?;
        let item: NewsItem = serde_json::from_str(&row)
            .map_err(|e| Error::at_line(path, line, format!("not a valid news item: {e}")))?;
        if item.id.trim().is_empty() {
            return Err(Error::at_line(
                path,
                line,
                "field \"id\" is \"\": expected a non-empty news id",
            ));
        }
        ids.insert(path, line, "news id", &item.id)?;
        items.push(item);
    }
    super::common::finish_corpus(path, items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::loaders::common::testing::temp_file;

    const NEWS: &str = r#"{"id": "n1", "title": "Rovers Win", "abstract": "A late goal.", "category": "sports", "date": "2024-03-01"}
{"id": "n2", "title": "Bonds Slip", "category": "finance", "subcategory": "markets", "date": "2024-03-02", "entities": ["Fed"], "url": "https://x.example/n2"}
"#;

    fn signal(user: &str, t: i64, text: &str) -> String {
        format!(r#"{{"user": "{user}", "timestamp": {t}, "kind": "search", "text": "{text}"}}"#)
    }

    #[test]
    fn loads_users_and_sorts_unsorted_history() {
        let users = format!(
            "{{\"id\": \"u1\", \"history\": [{}, {}], \"future_clicks\": [\"n2\"], \"candidates\": [\"n1\", \"n2\"]}}\n\n\
             {{\"id\": \"u2\", \"history\": [], \"future_clicks\": []}}\n",
            signal("u1", 200, "later"),
            signal("u1", 100, "earlier")
        );
        let (corpus, records) = load_jsonl_users(
            &temp_file("users.jsonl", &users),
            &temp_file("news.jsonl", NEWS),
            0,
        )
        .unwrap();
        assert_eq!(corpus.len(), 2);
        assert_eq!(corpus.get("n2").unwrap().entities, vec!["Fed"]);
        assert_eq!(records.len(), 2);
        let texts: Vec<&str> = records[0].history.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, vec!["earlier", "later"]);
        assert_eq!(records[1].candidates, None);
        let (_, one) = load_jsonl_users(
            &temp_file("users.jsonl", &users),
            &temp_file("news.jsonl", NEWS),
            1,
        )
        .unwrap();
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn invalid_users_name_file_line_and_what_is_wrong() {
        let news = temp_file("news.jsonl", NEWS);
        let ok = r#"{"id": "u0", "history": [], "future_clicks": []}"#;
        let cases = [
            (format!(r#"{{"id": "u1", "history": [{}, {}], "future_clicks": []}}"#, signal("u1", 1, "a"), signal("u9", 2, "b")), "history[1] has user \"u9\""),
            (r#"{"id": "u1", "history": [], "future_clicks": ["n7"]}"#.to_string(), "future_clicks names news id \"n7\""),
            (r#"{"id": "u1", "history": [], "future_clicks": [], "candidates": ["n1", "zz"]}"#.to_string(), "candidates names news id \"zz\""),
            (r#"{"id": "u0", "history": [], "future_clicks": []}"#.to_string(), "duplicate user id \"u0\": already defined at line 1"),
            (r#"{"id": "u1", "history": [{"user": "u1", "timestamp": 1, "kind": "Click!", "text": "a"}], "future_clicks": []}"#.to_string(), "invalid signal kind"),
            (r#"{"id": "u1", "future_clicks": []}"#.to_string(), "missing field `history`"),
        ];
        for (bad, want) in cases {
            let users = temp_file("users.jsonl", &format!("{ok}\n{bad}\n"));
            let err = load_jsonl_users(&users, &news, 0).unwrap_err().to_string();
            assert!(
                err.contains("users.jsonl:2:") && err.contains(want),
                "{bad} -> {err}"
            );
        }
    }

    #[test]
    fn a_declared_split_date_is_carried_and_history_must_precede_it() {
        let news = temp_file("news.jsonl", NEWS);
        let split = NaiveDate::from_ymd_opt(2024, 3, 2);
        // 2024-03-02T00:00:00Z is 1709337600.
        let user = |t: i64| {
            let row = format!(
                r#"{{"id": "u1", "history": [{}, {}], "future_clicks": ["n2"]}}"#,
                signal("u1", 1_709_000_000, "early"),
                signal("u1", t, "late")
            );
            temp_file("users.jsonl", &format!("\n{row}\n"))
        };
        let (corpus, records) = load_jsonl_split(&user(1_709_337_599), &news, 0, split).unwrap();
        assert_eq!(corpus.split_date(), split);
        assert_eq!(records[0].history.len(), 2);
        let err = load_jsonl_split(&user(1_709_337_600), &news, 0, split)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("users.jsonl:2:")
                && err.contains("history[1] has timestamp 1709337600")
                && err.contains("data.jsonl.split_date 2024-03-02"),
            "{err}"
        );
        // Undeclared, the same log loads as given.
        let (corpus, _) = load_jsonl_users(&user(1_709_337_600), &news, 0).unwrap();
        assert_eq!(corpus.split_date(), None);
    }

    #[test]
    fn invalid_news_names_file_line_and_field() {
        let users = temp_file(
            "users.jsonl",
            r#"{"id": "u0", "history": [], "future_clicks": []}"#,
        );
        let bad = format!(
            "{NEWS}{}\n",
            r#"{"id": "n3", "title": "T", "category": "c", "date": "March 3"}"#
        );
        let err = load_jsonl_users(&users, &temp_file("news.jsonl", &bad), 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("news.jsonl:3:") && err.contains("column"),
            "{err}"
        );
        let dup = format!(
            "{NEWS}{}\n",
            r#"{"id": "n1", "title": "T", "category": "c", "date": "2024-01-01"}"#
        );
        let err = load_jsonl_users(&users, &temp_file("news.jsonl", &dup), 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("news.jsonl:3:") && err.contains("line 1"),
            "{err}"
        );
        let err = load_jsonl_users(
            &temp_file("users.jsonl", "\n"),
            &temp_file("news.jsonl", NEWS),
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("users.jsonl") && err.contains("no users"),
            "{err}"
        );
    }
}
