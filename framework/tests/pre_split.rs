//! Nothing trained before evaluation reads an article published on or after the split date:
//! the policy tokenizer and its language-modelling texts, and the corpus-trained word vectors,
//! are identical whatever the post-split articles say, while a pre-split change shows. The
//! retrieval index still holds every article. And a dataset's split date comes from the data
//! (the simulator's split, a log's declared `split_date`), never from its labels.

use chrono::NaiveDate;
use quill::data::world::World;
use quill::data::{
    Corpus, DataConfig, DataSource, NewsItem, Signal, SignalKind, UserRecord, load_dataset,
};
use quill::retrieval::RetrievalConfig;
use quill::text::PolicyTokenizer;
use quill::text::query_list::QueryList;
use quill::text::tokenizer::training_texts;
use std::path::{Path, PathBuf};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, d).unwrap()
}

/// The split date of every corpus here: articles of 1-3 March are pre-split.
fn split() -> NaiveDate {
    day(4)
}

fn article(id: &str, title: &str, date: NaiveDate) -> NewsItem {
    NewsItem {
        id: id.into(),
        title: title.into(),
        summary: String::new(),
        category: "news".into(),
        subcategory: String::new(),
        date,
        entities: vec![],
        url: None,
    }
}

fn corpus(items: Vec<NewsItem>) -> Corpus {
    Corpus::new(items).unwrap().with_split_date(Some(split()))
}

/// Two pre-split articles, then two held-out ones (one on the split day itself) whose words
/// repeat often enough to earn BPE merges of their own.
fn articles() -> Vec<NewsItem> {
    vec![
        article("a1", "Riverton Hawks win the playoff opener", day(1)),
        article("a2", "Riverton Hawks sign a veteran guard", day(3)),
        article("b1", &"quokka sanctuary ".repeat(12), day(4)),
        article("b2", &"zeppelin marathon ".repeat(12), day(6)),
    ]
}

fn user() -> UserRecord {
    UserRecord {
        id: "u1".into(),
        history: vec![Signal {
            user: "u1".into(),
            timestamp: 1_709_251_200, // 2024-03-01T00:00:00Z
            kind: SignalKind::Search,
            text: "hawks playoff tickets".into(),
            url: None,
            domain: None,
            noise: Some(false),
        }],
        future_clicks: vec!["b1".into()],
        candidates: None,
        interests: None,
    }
}

fn lists() -> Vec<Vec<String>> {
    vec![vec!["riverton hawks".into(), "hawks playoff".into()]]
}

fn texts(c: &Corpus) -> Vec<String> {
    training_texts(c, &[user()], &lists()).collect()
}

fn tokenizer_json(c: &Corpus) -> String {
    PolicyTokenizer::train(texts(c), 320)
        .unwrap()
        .to_json()
        .unwrap()
}

#[test]
fn tokenizer_texts_are_the_pre_split_articles_signals_and_lists() {
    let c = corpus(articles());
    assert_eq!(
        texts(&c),
        vec![
            "Riverton Hawks win the playoff opener".to_string(),
            "Riverton Hawks sign a veteran guard".into(),
            "hawks playoff tickets".into(),
            "- riverton hawks\n- hawks playoff\n<end>".into(),
        ]
    );
    assert_eq!(
        QueryList::render(&lists()[0]),
        "- riverton hawks\n- hawks playoff\n<end>"
    );
}

#[test]
fn tokenizer_vocabulary_ignores_post_split_articles_only() {
    let base = tokenizer_json(&corpus(articles()));

    let mut changed = articles();
    changed[2].title = "wombat burrow ".repeat(12);
    changed[3].summary = "airship relay ".repeat(12);
    changed.push(article("b3", &"lantern parade ".repeat(12), day(9)));
    // Plain `==`: a failing assert_eq would print two whole vocabularies.
    let same = tokenizer_json(&corpus(changed)) == base;
    assert!(same, "a post-split article changed the tokenizer");

    let mut changed = articles();
    changed[1].title = "Lakeside Owls owls owls owls owls".into();
    let same = tokenizer_json(&corpus(changed)) == base;
    assert!(!same, "a pre-split article left the tokenizer unchanged");
}

/// Enough pre-split text for word vectors (every word at least twice), and two held-out
/// articles about words no pre-split article uses.
fn retrieval_articles() -> Vec<NewsItem> {
    let mut items = Vec::new();
    for i in 0..12u32 {
        let d = day(1 + i % 3);
        items.push(article(
            &format!("h{i}"),
            &format!("Riverton Hawks playoff game {i}"),
            d,
        ));
        items.push(article(
            &format!("s{i}"),
            &format!("sourdough bread baking tips {i}"),
            d,
        ));
    }
    items.push(article("q1", "quokka sanctuary opens to visitors", day(4)));
    items.push(article("q2", "quokka sanctuary expands again", day(5)));
    items
}

fn embed(items: Vec<NewsItem>) -> Vec<Vec<f32>> {
    let mut cfg = RetrievalConfig::default();
    cfg.word_vectors.dim = 8;
    let c = corpus(items);
    let stack = cfg.build(&c, 5).unwrap();
    // Every article, held-out ones included, is embedded and indexed.
    assert_eq!(stack.article_vectors.len(), c.len());
    let q1 = c.index_of("q1").unwrap();
    let hits = stack.retriever.search("quokka visitors", 3);
    assert_eq!(hits.first().map(|h| h.article), Some(q1), "{hits:?}");
    stack
        .embedder
        .embed(&["hawks playoff", "quokka sanctuary", "bread baking"])
}

#[test]
fn word_vectors_train_on_pre_split_articles_and_index_them_all() {
    let base = embed(retrieval_articles());

    let mut changed = retrieval_articles();
    let n = changed.len();
    changed[n - 1].title = "quokka sanctuary quokka sanctuary quokka".into();
    changed.push(article("q3", "sanctuary quokka tips bread", day(8)));
    assert_eq!(embed(changed), base);

    let mut changed = retrieval_articles();
    changed[0].title = "quokka sanctuary playoff game".into();
    changed[1].title = "quokka sanctuary bread tips".into();
    assert_ne!(embed(changed), base);
}

fn small_world(users: u64, future_clicks_mean: f64) -> DataConfig {
    let mut cfg = DataConfig {
        users,
        ..DataConfig::default()
    };
    cfg.corpus.articles = 1_500;
    cfg.world.future_clicks_mean = future_clicks_mean;
    cfg
}

#[test]
fn the_simulators_split_date_is_the_datasets_whatever_the_labels() {
    let cfg = small_world(40, 4.0);
    let world = World::build(&cfg, 9, Path::new(".")).unwrap();
    let data = load_dataset(&cfg, 9, Path::new(".")).unwrap();
    assert_eq!(data.split_date(), Some(world.split_date));
    assert!(
        data.corpus
            .pre_split_items()
            .all(|n| n.date < world.split_date)
    );
    assert_eq!(
        data.corpus.pre_split_items().count(),
        world.past_articles.len()
    );

    // Other users, with other held-out clicks: the same date.
    let other = load_dataset(&small_world(7, 9.0), 9, Path::new(".")).unwrap();
    let clicks = |d: &quill::data::Dataset| -> Vec<Vec<String>> {
        d.iter().map(|u| u.future_clicks).collect()
    };
    assert_ne!(clicks(&other), clicks(&data)[..7].to_vec());
    assert_eq!(other.split_date(), data.split_date());
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/loaders")
        .join(name)
}

fn jsonl(split_date: &str) -> DataConfig {
    let mut cfg = DataConfig {
        source: DataSource::Jsonl,
        users: 0,
        ..DataConfig::default()
    };
    cfg.jsonl.users = fixture("users.jsonl");
    cfg.jsonl.news = fixture("news.jsonl");
    cfg.jsonl.split_date = split_date.into();
    cfg
}

#[test]
fn a_logs_split_date_is_the_declared_one() {
    // news.jsonl dates n1..n3 on 1..3 June 2023; the histories are all on 1 June.
    let data = load_dataset(&jsonl("2023-06-02"), 1, Path::new(".")).unwrap();
    assert_eq!(data.split_date(), NaiveDate::from_ymd_opt(2023, 6, 2));
    let readable: Vec<&str> = data
        .corpus
        .pre_split_items()
        .map(|n| n.id.as_str())
        .collect();
    assert_eq!(readable, vec!["n1"]);
    assert_eq!(data.corpus.len(), 3);

    let data = load_dataset(&jsonl(""), 1, Path::new(".")).unwrap();
    assert_eq!(data.split_date(), None);
    assert_eq!(data.corpus.pre_split_items().count(), 3);

    for bad in ["2023/06/02", "June 2", "2023-02-30"] {
        let err = load_dataset(&jsonl(bad), 1, Path::new("."))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("data.jsonl.split_date")
                && err.contains(&format!("{bad:?}"))
                && err.contains("YYYY-MM-DD"),
            "{err}"
        );
    }
    // A history signal on the split day itself would be a leak: the loader refuses it.
    let err = load_dataset(&jsonl("2023-06-01"), 1, Path::new("."))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("users.jsonl:1:") && err.contains("not before data.jsonl.split_date"),
        "{err}"
    );
}

#[test]
fn mind_splits_its_impressions_at_the_declared_date() {
    let mut cfg = DataConfig {
        source: DataSource::Mind,
        users: 0,
        ..DataConfig::default()
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mind");
    cfg.mind.news = dir.join("news.tsv");
    cfg.mind.behaviors = dir.join("behaviors.tsv");
    cfg.mind.split_date = "2019-11-15".into();
    let data = load_dataset(&cfg, 1, Path::new(".")).unwrap();
    assert_eq!(data.split_date(), NaiveDate::from_ymd_opt(2019, 11, 15));
    // behaviors.tsv: U203's only impression (11/13, N1004 clicked) is history now; U201 keeps
    // its 11/15 click N1006, its 11/14 click N1008 joins its history.
    let users: Vec<UserRecord> = data.iter().collect();
    let u = |id: &str| users.iter().find(|u| u.id == id).unwrap();
    assert!(u("U203").future_clicks.is_empty());
    assert_eq!(u("U203").history.len(), 1);
    assert_eq!(u("U201").future_clicks, vec!["N1006"]);
    let last = u("U201").history.last().unwrap();
    assert_eq!(last.text, "Electric Pickup Range Tested in Winter");
    // First shown on 11/13 or 11/14: readable; first shown on 11/15: held out.
    let readable: Vec<&str> = data
        .corpus
        .pre_split_items()
        .map(|n| n.id.as_str())
        .collect();
    assert_eq!(readable, vec!["N1001", "N1002", "N1004", "N1007", "N1008"]);
}
