//! Helpers shared by the loaders: reading lines with their numbers, dates, JSON fields,
//! duplicate-id bookkeeping and the evenly spread dates of corpora that have none.

use crate::bounded_read::{DATA_BYTES, read_text_bounded};
use crate::data::{Corpus, NewsItem};
use crate::{Error, Result};
use chrono::{Days, NaiveDate};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// The last day of the fixed window over which corpora without dates are spread.
pub(crate) const SPREAD_END: (i32, u32, u32) = (2024, 12, 31);
/// Length of that window in days (2024-01-02 ..= 2024-12-31).
pub(crate) const SPREAD_DAYS: u64 = 365;

/// The text of a file, checked to be UTF-8. An invalid byte is reported at its `file:line`
/// rather than as a bare I/O error, and a leading byte-order mark is dropped.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let text = read_text_bounded(path, DATA_BYTES, "a data file read whole")?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// Non-blank lines of `text` with their 1-based line numbers, `\r` of CRLF endings removed.
pub(crate) fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty())
}

/// Parses a `YYYY-MM-DD` date; the error quotes the field and the value.
pub(crate) fn parse_date(path: &Path, line: usize, field: &str, value: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| {
        Error::at_line(
            path,
            line,
            format!(
                "field {field:?} is {value:?}: expected a date YYYY-MM-DD, e.g. \"2022-09-23\""
            ),
        )
    })
}

/// Dates for `n` rows of a corpus that has none, spread evenly by row order over the 365 days
/// ending 2024-12-31: row 0 gets 2024-01-02, the last row 2024-12-31 (one row: 2024-12-31).
/// A fixed window keeps loads reproducible (no clock), and row order is the only order such
/// corpora have; what matters downstream is that articles spread over time, not the exact day.
pub(crate) fn spread_dates(n: usize) -> Vec<NaiveDate> {
    let (y, m, d) = SPREAD_END;
    let end = NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    let span = SPREAD_DAYS - 1;
    let start = end.checked_sub_days(Days::new(span)).unwrap_or(end);
    (0..n)
        .map(|i| {
            let offset = if n <= 1 {
                span
            } else {
                (i as u128 * span as u128 / (n as u128 - 1)) as u64
            };
            start.checked_add_days(Days::new(offset)).unwrap_or(end)
        })
        .collect()
}

/// A short description of a JSON value for error messages (long strings are cut).
pub(crate) fn show_json(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}

/// Parses one JSONL line into an object; errors carry `file:line` and serde's message.
pub(crate) fn json_object(
    path: &Path,
    line: usize,
    text: &str,
    expected: &str,
) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Error::at_line(
            path,
            line,
            format!(
                "expected a JSON object {expected}, found {}",
                show_json(&other)
            ),
        )),
        Err(e) => Err(Error::at_line(
            path,
            line,
            format!("invalid JSON ({e}); expected one JSON object per line {expected}"),
        )),
    }
}

/// A string field of a JSON object. Missing or `null` gives `None`; numbers are accepted
/// as their decimal text (ids are often numeric); anything else is an error quoting the value.
pub(crate) fn json_str(
    path: &Path,
    line: usize,
    obj: &Map<String, Value>,
    key: &str,
) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(Error::at_line(
            path,
            line,
            format!("field {key:?} is {}: expected a string", show_json(other)),
        )),
    }
}

/// A required string field; the error for a missing one lists the keys that are present.
pub(crate) fn json_required(
    path: &Path,
    line: usize,
    obj: &Map<String, Value>,
    key: &str,
) -> Result<String> {
    json_str(path, line, obj, key)?.ok_or_else(|| Error::at_line(path, line, absent(obj, key)))
}

/// Why a string field has no value: it is null, or missing (listing the keys present).
pub(crate) fn absent(obj: &Map<String, Value>, key: &str) -> String {
    if obj.get(key).is_some_and(Value::is_null) {
        return format!("field {key:?} is null: expected a string");
    }
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    format!("missing field {key:?} (a string); keys present: {keys:?}")
}

/// Remembers on which line each id was first seen, to report duplicates with both lines.
#[derive(Default)]
pub(crate) struct IdLines(HashMap<String, usize>);

impl IdLines {
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.0.contains_key(id)
    }

    /// Records `id` at `line`; a repeated id is an error naming both lines.
    pub(crate) fn insert(&mut self, path: &Path, line: usize, what: &str, id: &str) -> Result<()> {
        if let Some(first) = self.0.get(id) {
            return Err(Error::at_line(
                path,
                line,
                format!(
                    "duplicate {what} {id:?}: already defined at line {first}; ids must be unique"
                ),
            ));
        }
        self.0.insert(id.to_string(), line);
        Ok(())
    }
}

/// Wraps loaded articles in a corpus; an empty file is an error naming it.
pub(crate) fn finish_corpus(path: &Path, items: Vec<NewsItem>) -> Result<Corpus> {
    if items.is_empty() {
        return Err(Error::in_file(
            path,
            "contains no articles: expected at least one non-blank row",
        ));
    }
    Corpus::new(items).map_err(|e| Error::in_file(path, e))
}

/// The host of an `http(s)://host/...` URL, without port or `www.`-style changes; `None`
/// when the text has no scheme or no host.
pub(crate) fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let host = rest
        .split(['/', '?', '#'])
        .next()?
        .rsplit('@')
        .next()?
        .split(':')
        .next()?;
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// `max` as a limit: 0 means no limit.
pub(crate) fn limit(max: usize) -> usize {
    if max == 0 { usize::MAX } else { max }
}

#[cfg(test)]
pub(crate) mod testing {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Writes `contents` to a fresh file in the system temp dir; the name keeps `name`'s
    /// extension so loaders that dispatch on it see the right one.
    pub(crate) fn temp_file(name: &str, contents: &str) -> PathBuf {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("quill-loaders-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, contents).expect("write temp file");
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn spread_dates_cover_the_window_ending_2024_12_31() {
        let d = spread_dates(3);
        // 364 days in 2 steps: +0, +182, +364 from 2024-01-02.
        assert_eq!(
            d,
            vec![day("2024-01-02"), day("2024-07-02"), day("2024-12-31")]
        );
        assert_eq!(spread_dates(1), vec![day("2024-12-31")]);
        assert!(spread_dates(0).is_empty());
    }

    #[test]
    fn invalid_utf8_is_reported_at_its_line() {
        let path = testing::temp_file("bad.txt", "ok\nfine\n");
        std::fs::write(&path, b"ok\nfine\nbad \xff byte\n").unwrap();
        let err = read_text(&path).unwrap_err().to_string();
        assert!(err.contains("bad.txt:3") && err.contains("UTF-8"), "{err}");
    }

    #[test]
    fn lines_are_numbered_from_one_and_skip_blanks() {
        let lines: Vec<_> = numbered_lines("a\r\n\n  \nb").collect();
        assert_eq!(lines, vec![(1, "a"), (4, "b")]);
    }

    #[test]
    fn url_hosts() {
        assert_eq!(
            url_host("https://www.HuffPost.com/entry/x?y=1").as_deref(),
            Some("www.huffpost.com")
        );
        assert_eq!(
            url_host("http://user@host.org:8080/a").as_deref(),
            Some("host.org")
        );
        assert_eq!(url_host("no scheme"), None);
        assert_eq!(url_host("https:///path"), None);
    }
}
