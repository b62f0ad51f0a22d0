//! MIND, the Microsoft News Dataset (Wu et al. 2020): `news.tsv` + `behaviors.tsv`.
//!
//! `news.tsv`: no header, 8 tab-separated columns: NewsID, Category, SubCategory, Title,
//! Abstract, URL, TitleEntities, AbstractEntities. The entity columns are JSON lists of objects
//! with a `"Label"` (plus Type, WikidataId, ...); an empty column means no entities.
//!
//! `behaviors.tsv`: no header, 5 tab-separated columns: ImpressionID, UserID, Time
//! (`11/15/2019 8:55:22 AM`), History (space-separated news ids, may be empty), Impressions
//! (space-separated `N1234-1` clicked / `N1234-0` shown but not clicked).
//!
//! Choices (MIND leaves these open):
//! - Rows are grouped by UserID; a user's impressions are taken in time order (file order for
//!   equal times). History is the union of their History ids in that order, each id once.
//! - MIND gives no history timestamps. History clicks are stamped one minute apart, the last one
//!   hour before the user's earliest impression (or before the split date, when that is
//!   earlier), so history always precedes the held-out clicks and keeps its order. Times are
//!   read as UTC.
//! - The split date (`[data.mind] split_date`, midnight UTC) divides the impressions: clicks of
//!   impressions before it are history too (`news_click`s at the impression's time, after the
//!   History ids, each id once); impressions from it on are held out. Without a split date every
//!   impression is held out.
//! - Clicked held-out impression items (`-1`) become `future_clicks`, every held-out impression
//!   item becomes a `candidates` entry; both in time order, each id once.
//! - news.tsv has no dates. An article's date is the day of the earliest impression that shows
//!   it (clicked or not), over the whole behaviors file (so `max_users` does not change the
//!   corpus); articles never shown get 2019-11-09, the first day of MIND's log window, or the
//!   day before the split date when that is earlier: they appear only in histories, which
//!   precede the split, and are never held out.
//! - Signals are `news_click`s whose text is the article title, with its URL and the URL's host
//!   as domain; MIND has no noise labels (`noise = None`).
//! - MINDlarge's unlabeled test impressions (`N1234` without `-0`/`-1`) are rejected: Quill
//!   needs the labels to evaluate.

use super::common::{IdLines, data_lines, url_host};
use crate::data::{Corpus, NewsItem, Signal, SignalKind, UserRecord};
use crate::{Error, Result};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The date of articles no impression shows: the first day of MIND's log window.
pub const MIND_DEFAULT_DATE: (i32, u32, u32) = (2019, 11, 9);
/// The format of behaviors.tsv's Time column (chrono syntax).
const TIME_FORMAT: &str = "%m/%d/%Y %I:%M:%S %p";
/// Seconds between consecutive history clicks, and between the last one and the first impression.
const HISTORY_STEP_S: i64 = 60;
const HISTORY_GAP_S: i64 = 3600;

/// One behaviors.tsv row, ids resolved to corpus indices.
struct Impression {
    line: usize,
    time: i64,
    history: Vec<usize>,
    /// (article index, clicked)
    shown: Vec<(usize, bool)>,
}

/// Loads MIND's news and behaviors files with every impression held out; see
/// [`load_mind_split`].
pub fn load_mind(
    news: &Path,
    behaviors: &Path,
    max_users: usize,
) -> Result<(Corpus, Vec<UserRecord>)> {
    load_mind_split(news, behaviors, max_users, None)
}

/// Loads MIND's news and behaviors files; `max_users` = 0 keeps all users, else the first N by
/// first appearance in behaviors.tsv. Users come in order of first appearance. Impressions
/// before `split_date` are history, the later ones held out (see the module doc); the corpus
/// carries `split_date`.
pub fn load_mind_split(
    news: &Path,
    behaviors: &Path,
    max_users: usize,
    split_date: Option<NaiveDate>,
) -> Result<(Corpus, Vec<UserRecord>)> {
    let mut items = read_news(news)?;
    let index: HashMap<String, usize> = items
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.clone(), i))
        .collect();
    let lines = data_lines(behaviors)?;
    let mut users: Vec<(String, Vec<Impression>)> = Vec::new();
    let mut slot_of: HashMap<String, usize> = HashMap::new();
    let mut first_shown: Vec<Option<NaiveDateTime>> = vec![None; items.len()];
    for item in lines {
        let (line, row) = item?;
        let (user, time, impression) = parse_behavior(behaviors, line, &row, &index)?;
        for &(i, _) in &impression.shown {
            if first_shown[i].is_none_or(|t| time < t) {
                first_shown[i] = Some(time);
            }
        }
        let slot = *slot_of.entry(user.to_string()).or_insert_with(|| {
            users.push((user.to_string(), Vec::new()));
            users.len() - 1
        });
        users[slot].1.push(impression);
    }
    if users.is_empty() {
        return Err(Error::in_file(
            behaviors,
            "contains no impressions: expected at least one non-blank row",
        ));
    }
    let (y, m, d) = MIND_DEFAULT_DATE;
    let mut never_shown = NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    if let Some(eve) = split_date.and_then(|d| d.pred_opt()) {
        never_shown = never_shown.min(eve);
    }
    for (item, first) in items.iter_mut().zip(&first_shown) {
        item.date = first.map_or(never_shown, |t| t.date());
    }
    if max_users > 0 {
        users.truncate(max_users);
    }
    let split = split_date.map(|d| d.and_time(NaiveTime::MIN).and_utc().timestamp());
    let records = users
        .into_iter()
        .map(|(id, impressions)| user_record(id, impressions, &items, split))
        .collect();
    let corpus = Corpus::new(items).map_err(|e| Error::in_file(news, e))?;
    Ok((corpus.with_split_date(split_date), records))
}

/// Parses news.tsv into articles (dates are filled in from behaviors later).
fn read_news(path: &Path) -> Result<Vec<NewsItem>> {
    let lines = data_lines(path)?;
    let mut ids = IdLines::default();
    let mut items = Vec::new();
    for item in lines {
        let (line, row) = item?;
        let f: Vec<&str> = row.split('\t').collect();
        let [
            id,
            category,
            subcategory,
            title,
            summary,
            url,
            title_entities,
            abstract_entities,
        ] = f[..]
        else {
            return Err(Error::at_line(
                path,
                line,
                format!(
                    "found {} tab-separated columns, expected 8 (NewsID, Category, SubCategory, Title, Abstract, URL, \
                     TitleEntities, AbstractEntities); the row starts {:?}",
                    f.len(),
                    row.chars().take(60).collect::<String>()
                ),
            ));
        };
        let id = id.trim();
        if id.is_empty() || category.trim().is_empty() {
            let which = if id.is_empty() { "NewsID" } else { "Category" };
            return Err(Error::at_line(
                path,
                line,
                format!("column {which} is \"\": expected a non-empty value"),
            ));
        }
        ids.insert(path, line, "NewsID", id)?;
        let mut entities = entity_labels(path, line, "TitleEntities", title_entities)?;
        for label in entity_labels(path, line, "AbstractEntities", abstract_entities)? {
            if !entities.contains(&label) {
                entities.push(label);
            }
        }
        let url = url.trim();
        items.push(NewsItem {
            id: id.to_string(),
            title: title.trim().to_string(),
            summary: summary.trim().to_string(),
            category: category.trim().to_string(),
            subcategory: subcategory.trim().to_string(),
            date: NaiveDate::default(),
            entities,
            url: (!url.is_empty()).then(|| url.to_string()),
        });
    }
    if items.is_empty() {
        return Err(Error::in_file(
            path,
            "contains no articles: expected at least one non-blank row",
        ));
    }
    Ok(items)
}

/// The `Label`s of one entity column, in order, each once.
fn entity_labels(path: &Path, line: usize, column: &str, text: &str) -> Result<Vec<String>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<Value> = serde_json::from_str(text).map_err(|e| {
        Error::at_line(
            path,
            line,
            format!(
                "column {column} is not a JSON list of entity objects ({e}): {:?}",
                cut(text)
            ),
        )
    })?;
    let mut labels = Vec::new();
    for (k, entity) in list.iter().enumerate() {
        let Some(label) = entity.get("Label").and_then(Value::as_str) else {
            return Err(Error::at_line(
                path,
                line,
                format!(
                    "column {column}, entity {k}: expected an object with a string \"Label\", found {:?}",
                    cut(&entity.to_string())
                ),
            ));
        };
        let label = label.trim().to_string();
        if !label.is_empty() && !labels.contains(&label) {
            labels.push(label);
        }
    }
    Ok(labels)
}

fn cut(text: &str) -> String {
    text.chars().take(80).collect()
}

/// Parses one behaviors.tsv row into its user id, time and resolved impression.
fn parse_behavior<'a>(
    path: &Path,
    line: usize,
    row: &'a str,
    index: &HashMap<String, usize>,
) -> Result<(&'a str, NaiveDateTime, Impression)> {
    let f: Vec<&str> = row.split('\t').collect();
    let [_impression_id, user, time_text, history, shown] = f[..] else {
        return Err(Error::at_line(
            path,
            line,
            format!(
                "found {} tab-separated columns, expected 5 (ImpressionID, UserID, Time, History, Impressions): {:?}",
                f.len(),
                cut(row)
            ),
        ));
    };
    let user = user.trim();
    if user.is_empty() {
        return Err(Error::at_line(
            path,
            line,
            "column UserID is \"\": expected a user id such as \"U13740\"",
        ));
    }
    let time = NaiveDateTime::parse_from_str(time_text.trim(), TIME_FORMAT).map_err(|_| {
        Error::at_line(path, line, format!("column Time is {time_text:?}: expected M/D/YYYY h:mm:ss AM|PM, e.g. \"11/15/2019 8:55:22 AM\""))
    })?;
    let lookup = |id: &str, column: &str| {
        index.get(id).copied().ok_or_else(|| {
            Error::at_line(
                path,
                line,
                format!("column {column}: news id {id:?} is not in news.tsv"),
            )
        })
    };
    let history = history
        .split_whitespace()
        .map(|id| lookup(id, "History"))
        .collect::<Result<Vec<_>>>()?;
    let mut items = Vec::new();
    for token in shown.split_whitespace() {
        let clicked = match token.rsplit_once('-') {
            Some((id, "1")) if !id.is_empty() => (id, true),
            Some((id, "0")) if !id.is_empty() => (id, false),
            _ => {
                return Err(Error::at_line(
                    path,
                    line,
                    format!(
                        "column Impressions: token {token:?} is not <NewsID>-1 (clicked) or <NewsID>-0 (not clicked); unlabeled impressions are not supported"
                    ),
                ));
            }
        };
        items.push((lookup(clicked.0, "Impressions")?, clicked.1));
    }
    let impression = Impression {
        line,
        time: time.and_utc().timestamp(),
        history,
        shown: items,
    };
    Ok((user, time, impression))
}

/// Builds one user's record from their impressions, those before `split` (Unix seconds)
/// joining the history (see the module doc for the choices).
fn user_record(
    id: String,
    mut impressions: Vec<Impression>,
    items: &[NewsItem],
    split: Option<i64>,
) -> UserRecord {
    impressions.sort_by_key(|imp| (imp.time, imp.line));
    let held_out_from = impressions.partition_point(|imp| split.is_some_and(|s| imp.time < s));
    let (seen, held_out) = impressions.split_at(held_out_from);
    let earliest = impressions.first().map_or(0, |imp| imp.time);
    let anchor = split.map_or(earliest, |s| earliest.min(s));
    let mut in_history = HashSet::new();
    let history_ids: Vec<usize> = impressions
        .iter()
        .flat_map(|imp| imp.history.iter().copied())
        .filter(|&i| in_history.insert(i))
        .collect();
    let n = history_ids.len() as i64;
    let mut history: Vec<Signal> = history_ids
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let time = anchor - HISTORY_GAP_S - (n - 1 - k as i64) * HISTORY_STEP_S;
            click_signal(&id, &items[i], time)
        })
        .collect();
    for imp in seen {
        for &(i, clicked) in &imp.shown {
            if clicked && in_history.insert(i) {
                history.push(click_signal(&id, &items[i], imp.time));
            }
        }
    }
    let mut clicked_seen = HashSet::new();
    let mut shown_seen = HashSet::new();
    let mut future_clicks = Vec::new();
    let mut candidates = Vec::new();
    for &(i, clicked) in held_out.iter().flat_map(|imp| imp.shown.iter()) {
        if clicked && clicked_seen.insert(i) {
            future_clicks.push(items[i].id.clone());
        }
        if shown_seen.insert(i) {
            candidates.push(items[i].id.clone());
        }
    }
    UserRecord {
        id,
        history,
        future_clicks,
        candidates: Some(candidates),
        interests: None,
    }
}

/// A click on `item` by `user` at `timestamp`: its title, URL and the URL's host.
fn click_signal(user: &str, item: &NewsItem, timestamp: i64) -> Signal {
    Signal {
        user: user.to_string(),
        timestamp,
        kind: SignalKind::NewsClick,
        text: item.title.clone(),
        url: item.url.clone(),
        domain: item.url.as_deref().and_then(url_host),
        noise: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::loaders::common::testing::temp_file;

    const NEWS: &str = "N1\tsports\tsoccer\tRovers Win\tA late goal.\thttps://news.example/a/N1.html\t[{\"Label\": \"Rovers\", \"Type\": \"O\"}]\t[{\"Label\": \"Rovers\"}, {\"Label\": \"Kim Lee\"}]\n\
                        N2\tfinance\tmarkets\tBonds Slip\t\t\t[]\t\n\
                        N3\tfood\trecipes\tSoup Night\tEasy soup.\thttps://news.example/c/N3.html\t[]\t[]\n";

    #[test]
    fn groups_users_orders_history_and_stamps_it_before_the_first_impression() {
        let behaviors = "1\tU1\t11/15/2019 10:00:00 AM\tN1\tN2-1 N3-0\n\
                         2\tU2\t11/14/2019 8:05:00 PM\t\tN3-1\n\
                         3\tU1\t11/14/2019 9:00:00 AM\tN2 N1\tN3-1 N2-0\n";
        let (corpus, users) = load_mind(
            &temp_file("news.tsv", NEWS),
            &temp_file("behaviors.tsv", behaviors),
            0,
        )
        .unwrap();
        assert_eq!(
            users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
            vec!["U1", "U2"]
        );
        let u1 = &users[0];
        // Impressions in time order: line 3 (11/14) before line 1 (11/15).
        let texts: Vec<&str> = u1.history.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, vec!["Bonds Slip", "Rovers Win"]);
        let first = NaiveDateTime::parse_from_str("11/14/2019 9:00:00 AM", TIME_FORMAT)
            .unwrap()
            .and_utc()
            .timestamp();
        assert_eq!(u1.history[1].timestamp, first - 3600);
        assert_eq!(u1.history[0].timestamp, first - 3660);
        assert_eq!(u1.history[1].domain.as_deref(), Some("news.example"));
        assert_eq!(u1.history[0].domain, None);
        assert_eq!(u1.future_clicks, vec!["N3", "N2"]);
        assert_eq!(
            u1.candidates.as_deref(),
            Some(&["N3".to_string(), "N2".to_string()][..])
        );
        assert!(users[1].history.is_empty());
        // Dates: earliest showing impression; N1 is never shown.
        assert_eq!(corpus.get("N3").unwrap().date.to_string(), "2019-11-14");
        assert_eq!(corpus.get("N2").unwrap().date.to_string(), "2019-11-14");
        assert_eq!(corpus.get("N1").unwrap().date.to_string(), "2019-11-09");
        assert_eq!(
            corpus.get("N1").unwrap().entities,
            vec!["Rovers", "Kim Lee"]
        );
        let (_, first_only) = load_mind(
            &temp_file("news.tsv", NEWS),
            &temp_file("behaviors.tsv", behaviors),
            1,
        )
        .unwrap();
        assert_eq!(first_only.len(), 1);
    }

    #[test]
    fn impressions_before_the_split_date_join_the_history() {
        let behaviors = "1\tU1\t11/15/2019 10:00:00 AM\tN1\tN2-1 N3-0\n\
                         2\tU2\t11/14/2019 8:05:00 PM\t\tN3-1\n\
                         3\tU1\t11/14/2019 9:00:00 AM\tN2 N1\tN3-1 N2-0\n";
        let at = |text: &str| {
            NaiveDateTime::parse_from_str(text, TIME_FORMAT)
                .unwrap()
                .and_utc()
                .timestamp()
        };
        let load = |split: &str| {
            let split = NaiveDate::parse_from_str(split, "%Y-%m-%d").ok();
            let news = temp_file("news.tsv", NEWS);
            load_mind_split(&news, &temp_file("behaviors.tsv", behaviors), 0, split).unwrap()
        };
        let (corpus, users) = load("2019-11-15");
        assert_eq!(corpus.split_date().unwrap().to_string(), "2019-11-15");
        let u1 = &users[0];
        // The 11/14 impression's click (N3) follows the History ids, at the impression's time.
        let texts: Vec<&str> = u1.history.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, vec!["Bonds Slip", "Rovers Win", "Soup Night"]);
        let first = at("11/14/2019 9:00:00 AM");
        let stamps: Vec<i64> = u1.history.iter().map(|s| s.timestamp).collect();
        assert_eq!(stamps, vec![first - 3660, first - 3600, first]);
        assert_eq!(u1.future_clicks, vec!["N2"]);
        assert_eq!(
            u1.candidates.as_deref(),
            Some(&["N2".to_string(), "N3".to_string()][..])
        );
        // U2's only impression precedes the split: history, nothing held out.
        assert_eq!(users[1].history[0].timestamp, at("11/14/2019 8:05:00 PM"));
        assert!(users[1].future_clicks.is_empty());
        assert_eq!(corpus.get("N1").unwrap().date.to_string(), "2019-11-09");

        // Split on the log's first day: every impression held out, history stamped before the
        // split, and the never-shown N1 dated the day before it.
        let (corpus, users) = load("2019-11-09");
        let midnight = at("11/09/2019 12:00:00 AM");
        let stamps: Vec<i64> = users[0].history.iter().map(|s| s.timestamp).collect();
        assert_eq!(stamps, vec![midnight - 3660, midnight - 3600]);
        assert_eq!(users[0].future_clicks, vec!["N3", "N2"]);
        assert_eq!(users[1].future_clicks, vec!["N3"]);
        assert_eq!(corpus.get("N1").unwrap().date.to_string(), "2019-11-08");
    }

    #[test]
    fn bad_rows_name_file_line_and_value() {
        let news = temp_file("news.tsv", NEWS);
        let cases = [
            (
                "1\tU1\t11/15/2019 10:00:00 AM\tN9\tN2-1",
                "news id \"N9\" is not in news.tsv",
            ),
            (
                "1\tU1\t11/15/2019 10:00:00 AM\t\tN2-1 N7-0",
                "news id \"N7\"",
            ),
            ("1\tU1\t2019-11-15 10:00\t\tN2-1", "\"2019-11-15 10:00\""),
            ("1\tU1\t11/15/2019 10:00:00 AM\t\tN2-2", "token \"N2-2\""),
            ("1\tU1\t11/15/2019 10:00:00 AM\t\tN2", "token \"N2\""),
            (
                "1\tU1\t11/15/2019 10:00:00 AM\tN2",
                "found 4 tab-separated columns, expected 5",
            ),
        ];
        for (bad, want) in cases {
            let behaviors = temp_file(
                "behaviors.tsv",
                &format!("1\tU0\t11/15/2019 9:00:00 AM\t\tN1-1\n{bad}\n"),
            );
            let err = load_mind(&news, &behaviors, 0).unwrap_err().to_string();
            assert!(
                err.contains("behaviors.tsv:2:") && err.contains(want),
                "{bad} -> {err}"
            );
        }
    }

    #[test]
    fn bad_news_rows_are_reported() {
        let behaviors = temp_file("behaviors.tsv", "1\tU0\t11/15/2019 9:00:00 AM\t\tN1-1\n");
        let err = load_mind(&temp_file("news.tsv", "N1\ta\tb\tT\n"), &behaviors, 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("news.tsv:1:") && err.contains("expected 8"),
            "{err}"
        );
        let err = load_mind(
            &temp_file("news.tsv", "N1\ta\tb\tT\t\t\t[{\"Type\": \"P\"}]\t\n"),
            &behaviors,
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("news.tsv:1:")
                && err.contains("TitleEntities")
                && err.contains("\"Label\""),
            "{err}"
        );
        let err = load_mind(
            &temp_file("news.tsv", "N1\ta\tb\tT\t\t\t[oops\t\n"),
            &behaviors,
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("news.tsv:1:") && err.contains("TitleEntities") && err.contains("[oops"),
            "{err}"
        );
        let err = load_mind(
            &temp_file("news.tsv", &format!("{NEWS}N1\ta\tb\tT\t\t\t\t\n")),
            &behaviors,
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("news.tsv:4:") && err.contains("line 1"),
            "{err}"
        );
    }
}
