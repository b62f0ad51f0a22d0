//! Helpers shared by the loaders: reading lines with their numbers, dates, JSON fields,
//! duplicate-id bookkeeping and the evenly spread dates of corpora that have none.

use crate::data::{Corpus, NewsItem};
use crate::{Error, Result};
use chrono::{Days, NaiveDate};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The last day of the fixed window over which corpora without dates are spread.
pub(crate) const SPREAD_END: (i32, u32, u32) = (2024, 12, 31);
/// Length of that window in days (2024-01-02 ..= 2024-12-31).
pub(crate) const SPREAD_DAYS: u64 = 365;

/// The longest line a data file may have: a MIND behaviour row with a long history is tens of
/// KiB, so a longer line is a file of the wrong kind (or one without line breaks).
pub(crate) const MAX_LINE_BYTES: usize = 8 << 20;

/// The non-blank lines of a data file with their 1-based numbers, read one at a time: memory
/// holds one line (at most [`MAX_LINE_BYTES`]), never the whole file. `\r` of CRLF endings and a
/// leading byte-order mark are dropped. A line that is not UTF-8, or too long, is an error at
/// its `file:line`, after which the iterator ends.
pub(crate) struct DataLines {
    reader: BufReader<File>,
    path: PathBuf,
    number: usize,
    done: bool,
}

/// A reader that fails once more than [`MAX_LINE_BYTES`] pass without a line break: the
/// bound for a format read by a parser that buffers a record whole (AG News through `csv`).
pub(crate) struct LineBounded<R> {
    inner: R,
    since_break: usize,
}

impl<R: Read> LineBounded<R> {
    pub(crate) fn new(inner: R) -> Self {
        LineBounded {
            inner,
            since_break: 0,
        }
    }
}

impl<R: Read> Read for LineBounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            self.since_break = if b == b'\n' { 0 } else { self.since_break + 1 };
            if self.since_break > MAX_LINE_BYTES {
                let msg = format!("a line is longer than {MAX_LINE_BYTES} bytes: not a data file");
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, msg));
            }
        }
        Ok(n)
    }
}

pub(crate) fn data_lines(path: &Path) -> Result<DataLines> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(DataLines {
        reader: BufReader::new(file),
        path: path.to_path_buf(),
        number: 0,
        done: false,
    })
}

impl DataLines {
    fn fail(&mut self, message: String) -> Option<Result<(usize, String)>> {
        self.done = true;
        Some(Err(Error::at_line(&self.path, self.number, message)))
    }
}

impl Iterator for DataLines {
    type Item = Result<(usize, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let mut buf = Vec::new();
            let limit = MAX_LINE_BYTES as u64 + 1;
            match (&mut self.reader).take(limit).read_until(b'\n', &mut buf) {
                Ok(0) => return None,
                Ok(_) => self.number += 1,
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::io(&self.path, e)));
                }
            }
            let complete = buf.last() == Some(&b'\n');
            if !complete && buf.len() > MAX_LINE_BYTES {
                let msg =
                    format!("the line is longer than {MAX_LINE_BYTES} bytes: not a data file");
                return self.fail(msg);
            }
            if complete {
                buf.pop();
            }
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            let Ok(mut text) = String::from_utf8(buf) else {
                return self.fail("the line is not valid UTF-8; save the file as UTF-8".into());
            };
            if self.number == 1
                && let Some(rest) = text.strip_prefix('\u{feff}')
            {
                text = rest.to_string();
            }
            if !text.trim().is_empty() {
                return Some(Ok((self.number, text)));
            }
        }
        None
    }
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

    fn lines(path: &Path) -> Result<Vec<(usize, String)>> {
        data_lines(path)?.collect()
    }

    #[test]
    fn invalid_utf8_is_reported_at_its_line() {
        let path = testing::temp_file("bad.txt", "ok\nfine\n");
        std::fs::write(&path, b"ok\nfine\nbad \xff byte\n").unwrap();
        let err = lines(&path).unwrap_err().to_string();
        assert!(err.contains("bad.txt:3") && err.contains("UTF-8"), "{err}");
    }

    #[test]
    fn lines_are_numbered_from_one_and_skip_blanks() {
        let path = testing::temp_file("l.txt", "\u{feff}a\r\n\n  \nb");
        let want = vec![(1, "a".to_string()), (4, "b".to_string())];
        assert_eq!(lines(&path).unwrap(), want);
    }

    #[test]
    fn a_line_bounded_reader_fails_past_the_limit() {
        let mut ok = Vec::new();
        let text = format!(
            "{}\n{}",
            "a".repeat(MAX_LINE_BYTES),
            "b".repeat(MAX_LINE_BYTES)
        );
        LineBounded::new(text.as_bytes())
            .read_to_end(&mut ok)
            .unwrap();
        assert_eq!(ok.len(), text.len());
        let endless = std::fs::File::open("/dev/zero").unwrap();
        let err = LineBounded::new(endless)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(
            err.to_string().contains("longer than 8388608 bytes"),
            "{err}"
        );
    }

    #[test]
    fn a_line_without_end_is_refused_at_the_limit() {
        // `/dev/zero` is one endless line: read whole, it would exhaust memory.
        let err = lines(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(
            err.starts_with("/dev/zero:1: the line is longer than 8388608 bytes"),
            "{err}"
        );
        let path = testing::temp_file("long.txt", "");
        let longest = "x".repeat(MAX_LINE_BYTES);
        std::fs::write(&path, format!("{longest}\n{longest}")).unwrap();
        assert_eq!(lines(&path).unwrap().len(), 2);
        std::fs::write(&path, format!("a\n{longest}x\n")).unwrap();
        let err = lines(&path).unwrap_err().to_string();
        assert!(err.contains("long.txt:2: the line is longer"), "{err}");
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
