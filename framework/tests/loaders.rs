//! Loaders against handwritten fixtures (tests/fixtures/{mind,loaders}) and, when
//! `QUILL_CORPUS_DIR` is set, against the real HuffPost head file. Expected values are
//! computed by hand from the fixtures (see the comments).

use quill::data::loaders::{
    HuffpostCounts, load_agnews, load_corpus, load_huffpost, load_huffpost_counted,
    load_jsonl_users, load_mapped, load_mind,
};
use quill::data::{CorpusConfig, CorpusSource, SignalKind, UserRecord};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A fixture's text with `extra` appended, written to a fresh temp file called `name`.
fn fixture_plus(rel: &str, name: &str, extra: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "quill-loaders-it-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let text = std::fs::read_to_string(fixture(rel)).unwrap();
    std::fs::write(&path, format!("{text}{extra}")).unwrap();
    path
}

fn assert_err_has(err: quill::Error, wants: &[&str]) {
    let msg = err.to_string();
    for want in wants {
        assert!(msg.contains(want), "error {msg:?} lacks {want:?}");
    }
}

fn load_mind_fixture() -> (quill::data::Corpus, Vec<UserRecord>) {
    load_mind(&fixture("mind/news.tsv"), &fixture("mind/behaviors.tsv"), 0).unwrap()
}

#[test]
fn mind_fixture_users_in_order_of_first_appearance() {
    let (corpus, users) = load_mind_fixture();
    assert_eq!(corpus.len(), 8);
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, vec!["U201", "U202", "U203", "U204"]);
    let (_, two) = load_mind(&fixture("mind/news.tsv"), &fixture("mind/behaviors.tsv"), 2).unwrap();
    assert_eq!(
        two.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        vec!["U201", "U202"]
    );
}

#[test]
fn mind_fixture_history_clicks_and_candidates() {
    let (corpus, users) = load_mind_fixture();
    let u201 = &users[0];
    // U201's impressions in time order: line 4 (11/14 9:30 PM, history N1005 N1003, N1008-1
    // N1002-0), then line 1 (11/15 8:55:22 AM, history N1001 N1005, N1002-0 N1006-1 N1008-0).
    let history_titles: Vec<&str> = u201.history.iter().map(|s| s.text.as_str()).collect();
    let expected: Vec<&str> = ["N1005", "N1003", "N1001"]
        .iter()
        .map(|id| corpus.get(id).unwrap().title.as_str())
        .collect();
    assert_eq!(history_titles, expected);
    // 2019-11-14 21:30:00 UTC = 1573767000; last history click one hour before, one minute apart.
    let stamps: Vec<i64> = u201.history.iter().map(|s| s.timestamp).collect();
    assert_eq!(stamps, vec![1573763280, 1573763340, 1573763400]);
    assert!(
        u201.history
            .iter()
            .all(|s| s.kind == SignalKind::NewsClick && s.user == "U201" && s.noise.is_none())
    );
    assert_eq!(
        u201.history[0].url.as_deref(),
        Some("https://assets.example.com/mind/N1005.html")
    );
    assert_eq!(
        u201.history[0].domain.as_deref(),
        Some("assets.example.com")
    );
    assert_eq!(u201.future_clicks, vec!["N1008", "N1006"]);
    assert_eq!(
        u201.candidates.clone().unwrap(),
        vec!["N1008", "N1002", "N1006"]
    );

    let u202 = &users[1];
    assert_eq!(u202.history.len(), 1);
    assert_eq!(u202.future_clicks, vec!["N1007"]);
    assert_eq!(
        u202.candidates.clone().unwrap(),
        vec!["N1007", "N1004", "N1006"]
    );
    let u203 = &users[2];
    assert!(u203.history.is_empty());
    assert_eq!(u203.future_clicks, vec!["N1004"]);
    // U204 (11/15 12:01 AM = 00:01 UTC = 1573776060): history N1007 N1002 N1001; N1007 has no URL.
    let u204 = &users[3];
    assert_eq!(
        u204.history.iter().map(|s| s.timestamp).collect::<Vec<_>>(),
        vec![1573772340, 1573772400, 1573772460]
    );
    assert_eq!(
        (
            u204.history[0].url.as_deref(),
            u204.history[0].domain.as_deref()
        ),
        (None, None)
    );
    assert_eq!(u204.future_clicks, vec!["N1003", "N1005"]);
    assert_eq!(
        u204.candidates.clone().unwrap(),
        vec!["N1003", "N1002", "N1005"]
    );
    assert!(
        users
            .iter()
            .all(|u| u.is_time_ordered() && u.interests.is_none())
    );
}

#[test]
fn mind_fixture_entities_and_dates() {
    let (corpus, _) = load_mind_fixture();
    assert_eq!(
        corpus.get("N1001").unwrap().entities,
        vec!["Harbor City Gulls", "Dana Ruiz"]
    );
    // Title and abstract both tag the Gulls: each label once.
    assert_eq!(
        corpus.get("N1005").unwrap().entities,
        vec!["Harbor City Gulls", "Tomas Berg"]
    );
    assert!(corpus.get("N1002").unwrap().entities.is_empty());
    let n1004 = corpus.get("N1004").unwrap();
    assert_eq!(
        (n1004.category.as_str(), n1004.subcategory.as_str()),
        ("news", "newsworld")
    );
    // Earliest impression showing each article; N1001 is only ever in histories.
    let dates: Vec<(String, String)> = corpus
        .items()
        .iter()
        .map(|n| (n.id.clone(), n.date.to_string()))
        .collect();
    let expected = [
        ("N1001", "2019-11-09"),
        ("N1002", "2019-11-13"),
        ("N1003", "2019-11-15"),
        ("N1004", "2019-11-13"),
        ("N1005", "2019-11-15"),
        ("N1006", "2019-11-15"),
        ("N1007", "2019-11-14"),
        ("N1008", "2019-11-14"),
    ];
    assert_eq!(
        dates,
        expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn mind_malformed_rows_name_behaviors_line() {
    let news = fixture("mind/news.tsv");
    let cases = [
        (
            "7\tU205\t11/15/2019 9:00:00 AM\tN9999\tN1001-1\n",
            vec!["behaviors.tsv:7:", "History", "\"N9999\""],
        ),
        (
            "7\tU205\t11/15/2019 9:00:00 AM\t\tN1001-x\n",
            vec!["behaviors.tsv:7:", "Impressions", "\"N1001-x\""],
        ),
        (
            "7\tU205\t15/11/2019 09:00\t\tN1001-1\n",
            vec!["behaviors.tsv:7:", "Time", "\"15/11/2019 09:00\""],
        ),
        (
            "7\tU205\t11/15/2019 9:00:00 AM\n",
            vec!["behaviors.tsv:7:", "found 3", "expected 5"],
        ),
    ];
    for (row, wants) in cases {
        let behaviors = fixture_plus("mind/behaviors.tsv", "behaviors.tsv", row);
        assert_err_has(load_mind(&news, &behaviors, 0).unwrap_err(), &wants);
    }
    let bad_news = fixture_plus(
        "mind/news.tsv",
        "news.tsv",
        "N1009\tsports\tgolf\tTitle only\n",
    );
    assert_err_has(
        load_mind(&bad_news, &fixture("mind/behaviors.tsv"), 0).unwrap_err(),
        &["news.tsv:9:", "expected 8"],
    );
}

#[test]
fn huffpost_fixture_skips_duplicate_links() {
    let (corpus, counts) = load_huffpost_counted(&fixture("loaders/huffpost.jsonl"), 0).unwrap();
    assert_eq!(
        counts,
        HuffpostCounts {
            duplicate_links: 1,
            empty_headlines: 0
        }
    );
    let ids: Vec<&str> = corpus.items().iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "hp-river-cleanup-volunteers_n_0001",
            "hp-late-night-jokes_n_0002",
            "hp-school-budget-vote_us_0003"
        ]
    );
    assert_eq!(corpus.items()[0].entities, vec!["Mill Valley"]);
    assert_eq!(corpus.items()[2].entities, vec!["North Ridge"]);
    assert_eq!(corpus.items()[2].date.to_string(), "2018-05-01");
    assert_eq!(
        corpus.categories(),
        vec!["COMEDY", "ENVIRONMENT", "POLITICS"]
    );
}

#[test]
fn huffpost_malformed_row_names_line_field_and_value() {
    let path = fixture_plus(
        "loaders/huffpost.jsonl",
        "hp.jsonl",
        "{\"headline\": \"X\", \"category\": \"Y\", \"date\": \"09/20/2022\"}\n",
    );
    assert_err_has(
        load_huffpost(&path, 0).unwrap_err(),
        &["hp.jsonl:6:", "\"date\"", "\"09/20/2022\"", "YYYY-MM-DD"],
    );
    let path = fixture_plus(
        "loaders/huffpost.jsonl",
        "hp.jsonl",
        "{\"link\": \"x\", \"category\": \"Y\", \"date\": \"2020-01-01\"}\n",
    );
    assert_err_has(
        load_huffpost(&path, 0).unwrap_err(),
        &["hp.jsonl:6:", "missing field \"headline\""],
    );
}

#[test]
fn agnews_fixture_categories_and_spread_dates() {
    let corpus = load_agnews(&fixture("loaders/agnews.csv"), 0).unwrap();
    let cats: Vec<&str> = corpus.items().iter().map(|n| n.category.as_str()).collect();
    assert_eq!(cats, vec!["Business", "Sports", "Sci/Tech", "World"]);
    assert_eq!(
        corpus.items()[1].summary,
        "The \"Rovers\" won\nafter extra time."
    );
    // 4 rows over 364 days from 2024-01-02: offsets 0, 121, 242, 364.
    let dates: Vec<String> = corpus.items().iter().map(|n| n.date.to_string()).collect();
    assert_eq!(
        dates,
        vec!["2024-01-02", "2024-05-02", "2024-08-31", "2024-12-31"]
    );
    assert_eq!(corpus.items()[3].id, "ag-4");
}

#[test]
fn agnews_bad_class_index_names_line() {
    // Record 2 spans lines 2-3, so the fixture ends on line 5 and the bad row is line 6.
    let path = fixture_plus("loaders/agnews.csv", "ag.csv", "\"0\",\"T\",\"D\"\n");
    assert_err_has(
        load_agnews(&path, 0).unwrap_err(),
        &[
            "ag.csv:6:",
            "class index is \"0\"",
            "1 (World)",
            "4 (Sci/Tech)",
        ],
    );
}

fn mapped_cfg() -> CorpusConfig {
    CorpusConfig {
        source: CorpusSource::Mapped,
        path: PathBuf::from("mapped.tsv"),
        id_field: "story_id".into(),
        title_field: "headline".into(),
        abstract_field: "lede".into(),
        category_field: "section".into(),
        subcategory_field: "desk".into(),
        date_field: "published".into(),
        ..CorpusConfig::default()
    }
}

#[test]
fn mapped_fixture_through_load_corpus() {
    let corpus = load_corpus(&mapped_cfg(), &fixture("loaders")).unwrap();
    assert_eq!(corpus.len(), 3);
    let s3 = corpus.get("S-3").unwrap();
    assert_eq!(
        (
            s3.title.as_str(),
            s3.category.as_str(),
            s3.subcategory.as_str()
        ),
        ("Rates Hold Steady", "business", "economy")
    );
    assert_eq!(s3.date.to_string(), "2023-06-02");
    assert_eq!(s3.entities, vec!["Central Board"]);
    assert_eq!(corpus.categories(), vec!["business", "local"]);
}

#[test]
fn mapped_errors_name_column_line_and_value() {
    let cfg = CorpusConfig {
        date_field: "date".into(),
        ..mapped_cfg()
    };
    assert_err_has(
        load_mapped(&fixture("loaders/mapped.tsv"), &cfg, 0).unwrap_err(),
        &["mapped.tsv", "no column \"date\"", "\"published\""],
    );
    let path = fixture_plus(
        "loaders/mapped.tsv",
        "mapped.tsv",
        "S-4\tT\t\tlocal\tx\t2023-02-30\n",
    );
    assert_err_has(
        load_mapped(&path, &mapped_cfg(), 0).unwrap_err(),
        &["mapped.tsv:5:", "\"published\"", "\"2023-02-30\""],
    );
}

#[test]
fn jsonl_fixture_users_and_sorted_history() {
    let (corpus, users) = load_jsonl_users(
        &fixture("loaders/users.jsonl"),
        &fixture("loaders/news.jsonl"),
        0,
    )
    .unwrap();
    assert_eq!(corpus.len(), 3);
    assert_eq!(users.len(), 2);
    let u1 = &users[0];
    assert_eq!(
        u1.history.iter().map(|s| s.timestamp).collect::<Vec<_>>(),
        vec![1685600100, 1685600200, 1685600300]
    );
    assert_eq!(u1.history[0].kind, SignalKind::Search);
    assert_eq!(u1.history[2].kind, SignalKind::Other("video_watch".into()));
    assert_eq!(u1.candidates.clone().unwrap(), vec!["n2", "n3"]);
    assert_eq!(users[1].future_clicks, vec!["n2"]);
}

#[test]
fn jsonl_bad_user_rows_name_line() {
    let news = fixture("loaders/news.jsonl");
    let mismatch = "{\"id\": \"u3\", \"history\": [{\"user\": \"u4\", \"timestamp\": 1, \"kind\": \"search\", \"text\": \"q\"}], \"future_clicks\": []}\n";
    let path = fixture_plus("loaders/users.jsonl", "users.jsonl", mismatch);
    assert_err_has(
        load_jsonl_users(&path, &news, 0).unwrap_err(),
        &["users.jsonl:3:", "history[0]", "\"u4\"", "\"u3\""],
    );
    let path = fixture_plus(
        "loaders/users.jsonl",
        "users.jsonl",
        "{\"id\": \"u3\", \"history\": [], \"future_clicks\": [\"n404\"]}\n",
    );
    assert_err_has(
        load_jsonl_users(&path, &news, 0).unwrap_err(),
        &["users.jsonl:3:", "future_clicks", "\"n404\""],
    );
    let path = fixture_plus(
        "loaders/users.jsonl",
        "users.jsonl",
        "{\"id\": \"u1\", \"history\": [], \"future_clicks\": []}\n",
    );
    assert_err_has(
        load_jsonl_users(&path, &news, 0).unwrap_err(),
        &["users.jsonl:3:", "duplicate user id \"u1\"", "line 1"],
    );
    let path = fixture_plus(
        "loaders/users.jsonl",
        "users.jsonl",
        "{\"id\": \"u3\", \"history\": [], \"future_clicks\": 5}\n",
    );
    assert_err_has(
        load_jsonl_users(&path, &news, 0).unwrap_err(),
        &["users.jsonl:3:", "invalid type", "column"],
    );
}

/// The real HuffPost head file (9,999 rows, 29 categories). Runs only when `QUILL_CORPUS_DIR`
/// points at the directory holding it; otherwise it says so on stderr and passes.
#[test]
fn huffpost_real_head_file() {
    let Some(dir) = std::env::var_os("QUILL_CORPUS_DIR") else {
        eprintln!("skipped: QUILL_CORPUS_DIR is unset");
        return;
    };
    let path = Path::new(&dir).join("huffpost-news-category-v3-head.jsonl");
    let (corpus, counts) = load_huffpost_counted(&path, 0).unwrap();
    // 9,999 rows (the file has no final newline, so `wc -l` says 9,998); no link repeats in
    // this head and no headline is empty, so every row is kept.
    assert_eq!(
        counts,
        HuffpostCounts {
            duplicate_links: 0,
            empty_headlines: 0
        }
    );
    assert_eq!(
        corpus.len(),
        9999 - counts.duplicate_links - counts.empty_headlines
    );
    assert_eq!(corpus.categories().len(), 29);
    let first = &corpus.items()[0];
    assert_eq!(
        first.id,
        "hp-covid-boosters-uptake-us_n_632d719ee4b087fae6feaac9"
    );
    assert_eq!(first.category, "U.S. NEWS");
    assert_eq!(first.date.to_string(), "2022-09-23");
    let oldest = corpus.items().iter().map(|n| n.date).min().unwrap();
    assert_eq!(oldest.to_string(), "2018-05-01");
    assert_eq!(load_huffpost(&path, 100).unwrap().len(), 100);
}
