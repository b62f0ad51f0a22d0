//! BM25 over article title + abstract with tantivy (k1 = 1.2, b = 0.75), in RAM or on disk.
//!
//! Text goes through one English analyzer for documents and queries alike: split on
//! non-alphanumerics, drop tokens over 40 bytes, lowercase, fold accents to ASCII, drop English
//! stop words, Porter-stem (tantivy's `stemmer` feature). Title and abstract share one field so
//! scores are plain BM25 over the article's text.

use super::{Hit, Retriever};
use crate::data::Corpus;
use crate::{Error, Result};
use std::path::Path;
use tantivy::collector::TopDocs;
use tantivy::collector::sort_key::{SortBySimilarityScore, SortByStaticFastValue};
use tantivy::query::BooleanQuery;
use tantivy::schema::{FAST, Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer,
};
use tantivy::{Index, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument, Term, doc};

const TEXT: &str = "text";
const ARTICLE: &str = "article";
/// Tokenizers are not stored in the index, so `open` must register this name again.
const TOKENIZER: &str = "quill_en";
/// Indexing threads: two halve build time on a 2-core machine (0.36 s -> 0.21 s for 50k
/// articles). Each thread fills its own segment, which cannot change results: BM25 statistics
/// are index-wide and ties are broken by article index, not by segment or doc address.
const MAX_WRITER_THREADS: usize = 4;
/// Shared by the threads; tantivy wants at least 15 MB each.
const WRITER_MEMORY_BYTES: usize = 64 << 20;

/// A BM25 index over a corpus; hits carry the corpus' stable article indices.
pub struct Bm25Index {
    searcher: Searcher,
    text: Field,
    analyzer: TextAnalyzer,
}

impl std::fmt::Debug for Bm25Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bm25Index")
            .field("articles", &self.len())
            .finish()
    }
}

fn analyzer() -> TextAnalyzer {
    let builder = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .dynamic();
    // `None` only for a language without a stop-word list; English has one.
    let builder = match StopWordFilter::new(Language::English) {
        Some(stop_words) => builder.filter_dynamic(stop_words),
        None => builder,
    };
    builder
        .filter_dynamic(Stemmer::new(Language::English))
        .build()
}

fn writer_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_WRITER_THREADS)
}

fn schema() -> Schema {
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(TOKENIZER)
        // BM25 needs term frequencies only; positions (phrase queries) would double the index.
        .set_index_option(IndexRecordOption::WithFreqs);
    let mut builder = Schema::builder();
    builder.add_text_field(TEXT, TextOptions::default().set_indexing_options(indexing));
    builder.add_u64_field(ARTICLE, FAST);
    builder.build()
}

impl Bm25Index {
    /// Indexes every article of `corpus` in RAM.
    pub fn build(corpus: &Corpus) -> Result<Bm25Index> {
        Self::fill(
            Index::create_in_ram(schema()),
            corpus,
            "bm25 index (in RAM)",
        )
    }

    /// Indexes every article of `corpus` into `dir` (created if missing). A directory that
    /// already holds an index is an error rather than silently overwritten.
    pub fn build_on_disk(corpus: &Corpus, dir: &Path) -> Result<Bm25Index> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let origin = dir.display().to_string();
        let index = Index::create_in_dir(dir, schema())
            .map_err(|e| Error::model(&origin, format!("cannot create a BM25 index here: {e}")))?;
        Self::fill(index, corpus, &origin)
    }

    /// Reopens an index written by [`Bm25Index::build_on_disk`].
    pub fn open(dir: &Path) -> Result<Bm25Index> {
        let origin = dir.display().to_string();
        if !dir.is_dir() {
            return Err(Error::model(
                origin,
                "no BM25 index here: the directory does not exist",
            ));
        }
        let index = Index::open_in_dir(dir).map_err(|e| {
            Error::model(
                &origin,
                format!("not a BM25 index (build one with `Bm25Index::build_on_disk`): {e}"),
            )
        })?;
        let schema = index.schema();
        if schema.get_field(TEXT).is_err() || schema.get_field(ARTICLE).is_err() {
            return Err(Error::model(
                origin,
                format!(
                    "a tantivy index, but not Quill's BM25 index (needs fields `{TEXT}` and `{ARTICLE}`)"
                ),
            ));
        }
        Self::reader(index, &origin)
    }

    fn fill(index: Index, corpus: &Corpus, origin: &str) -> Result<Bm25Index> {
        let fail =
            |e: tantivy::TantivyError| Error::model(origin, format!("BM25 indexing failed: {e}"));
        index.tokenizers().register(TOKENIZER, analyzer());
        let schema = index.schema();
        let (text, article) = (
            schema.get_field(TEXT).map_err(fail)?,
            schema.get_field(ARTICLE).map_err(fail)?,
        );
        let mut writer: IndexWriter<TantivyDocument> = index
            .writer_with_num_threads(writer_threads(), WRITER_MEMORY_BYTES)
            .map_err(fail)?;
        for (i, item) in corpus.items().iter().enumerate() {
            let body = item.text();
            writer
                .add_document(doc!(text => body, article => i as u64))
                .map_err(fail)?;
        }
        writer.commit().map_err(fail)?;
        // Lets background merges finish and releases the directory lock before reading.
        writer.wait_merging_threads().map_err(fail)?;
        Self::reader(index, origin)
    }

    fn reader(index: Index, origin: &str) -> Result<Bm25Index> {
        let fail = |e: tantivy::TantivyError| {
            Error::model(origin, format!("cannot read the BM25 index: {e}"))
        };
        index.tokenizers().register(TOKENIZER, analyzer());
        let text = index.schema().get_field(TEXT).map_err(fail)?;
        // The index never changes after it is built, so the searcher is taken once.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(fail)?;
        Ok(Bm25Index {
            searcher: reader.searcher(),
            text,
            analyzer: analyzer(),
        })
    }

    /// Number of indexed articles.
    pub fn len(&self) -> usize {
        self.searcher.num_docs() as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The query's distinct index terms. Tokenizing the raw text (instead of tantivy's query
    /// parser, even in lenient mode) means `-`, `+`, `:`, quotes and `AND`/`OR`/`NOT` are never
    /// operators: a query is a bag of words, as the policy's generated queries are meant to be.
    /// Deduplication keeps a repeated word from counting twice.
    fn terms(&self, query: &str) -> Vec<Term> {
        let mut analyzer = self.analyzer.clone();
        let mut stream = analyzer.token_stream(query);
        let mut words = Vec::new();
        while let Some(token) = stream.next() {
            words.push(token.text.clone());
        }
        words.sort_unstable();
        words.dedup();
        words
            .iter()
            .map(|w| Term::from_field_text(self.text, w))
            .collect()
    }
}

impl Retriever for Bm25Index {
    fn search(&self, query: &str, k: usize) -> Vec<Hit> {
        // Clamping also keeps tantivy from pre-allocating for an absurd `k` (or panicking on 0).
        let k = k.min(self.len());
        let terms = self.terms(query);
        if k == 0 || terms.is_empty() {
            return Vec::new();
        }
        // Ties are broken by article index, not by tantivy's doc address, which depends on
        // how documents fell into segments. This collector scores every match, with clauses
        // summed in a fixed order; `order_by_score` (block-WAND) was ~2x faster at 50k articles
        // but sums in an order that depends on the segment layout, so scores could differ in
        // the last bit between builds.
        let collector = TopDocs::with_limit(k).order_by((
            (SortBySimilarityScore, Order::Desc),
            (SortByStaticFastValue::<u64>::for_field(ARTICLE), Order::Asc),
        ));
        let Ok(top) = self
            .searcher
            .search(&BooleanQuery::new_multiterms_query(terms), &collector)
        else {
            return Vec::new();
        };
        top.into_iter()
            .filter_map(|((score, article), _)| {
                Some(Hit {
                    article: u32::try_from(article?).ok()?,
                    score,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::NewsItem;
    use chrono::NaiveDate;

    fn corpus(texts: &[(&str, &str)]) -> Corpus {
        let items = texts
            .iter()
            .enumerate()
            .map(|(i, (title, summary))| NewsItem {
                id: format!("N{i}"),
                title: title.to_string(),
                summary: summary.to_string(),
                category: "news".into(),
                subcategory: String::new(),
                date: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
                entities: vec![],
                url: None,
            })
            .collect();
        Corpus::new(items).unwrap()
    }

    fn small() -> Corpus {
        corpus(&[
            (
                "Volcano erupts near Reykjavik",
                "Lava flows toward the coast as residents leave.",
            ),
            (
                "Stock markets rally on rate cut",
                "Investors cheer the central bank decision.",
            ),
            (
                "Iceland football team wins the cup",
                "A late goal settles the final.",
            ),
            (
                "Iceland tourism booms this summer",
                "Hotels report record bookings.",
            ),
            (
                "Local election results are in",
                "Turnout was higher than expected.",
            ),
            (
                "Ñandú spotted in Patagonia",
                "The flightless bird is rarely seen this far south.",
            ),
        ])
    }

    fn articles(hits: &[Hit]) -> Vec<u32> {
        hits.iter().map(|h| h.article).collect()
    }

    #[test]
    fn distinctive_title_word_ranks_its_article_first() {
        let index = Bm25Index::build(&small()).unwrap();
        assert_eq!(index.search("news about Reykjavik", 3)[0].article, 0);
        // Stemming: "erupting volcanoes" meets "Volcano erupts".
        assert_eq!(articles(&index.search("erupting volcanoes", 3)), vec![0]);
    }

    #[test]
    fn two_matching_words_outrank_one() {
        let index = Bm25Index::build(&small()).unwrap();
        let hits = index.search("iceland football", 5);
        assert_eq!(articles(&hits), vec![2, 3], "{hits:?}");
        assert!(hits[0].score > hits[1].score);
    }

    #[test]
    fn hostile_queries_do_not_panic() {
        let index = Bm25Index::build(&small()).unwrap();
        for query in [
            "",
            "(((",
            "AND OR NOT",
            "title:foo",
            "\"unclosed",
            "-",
            "+*?~^",
            "🐦",
            "a".repeat(10_000).as_str(),
        ] {
            assert!(index.search(query, 10).is_empty(), "{query:?}");
        }
        // Syntax characters are just separators: the words around them still count.
        assert_eq!(articles(&index.search("-(\"reykjavik\":AND", 10)), vec![0]);
        // Lowercasing and accent folding: "ñandú" matches "Ñandú".
        assert_eq!(articles(&index.search("ñandú 🐦", 10)), vec![5]);
        assert!(index.search("iceland", usize::MAX).len() == 2);
    }

    #[test]
    fn k_bounds_results_sorted_by_score_then_article() {
        let mut texts = vec![("Daily report", ""); 30];
        texts[17] = ("Daily report on the daily report", "");
        texts[23] = ("Weather report", "");
        let index = Bm25Index::build(&corpus(&texts)).unwrap();
        assert!(index.search("daily report", 0).is_empty());
        let hits = index.search("daily report", 5);
        assert_eq!(hits.len(), 5);
        assert!(
            hits.windows(2).all(|w| w[0].score >= w[1].score),
            "{hits:?}"
        );
        // Article 17 has the most matches; the rest tie and come in article order.
        assert_eq!(articles(&hits), vec![17, 0, 1, 2, 3]);
        assert_eq!(index.search("report", 100).len(), 30);
    }

    #[test]
    fn builds_are_deterministic() {
        let (a, b) = (
            Bm25Index::build(&small()).unwrap(),
            Bm25Index::build(&small()).unwrap(),
        );
        for query in [
            "iceland football",
            "the bird",
            "record turnout",
            "rate cut investors",
        ] {
            assert_eq!(a.search(query, 4), b.search(query, 4), "{query:?}");
        }
    }

    #[test]
    fn on_disk_round_trip_and_missing_dir() {
        let dir = std::env::temp_dir().join(format!("quill-bm25-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let built = Bm25Index::build_on_disk(&small(), &dir).unwrap();
        assert!(
            Bm25Index::build_on_disk(&small(), &dir).is_err(),
            "an existing index is not overwritten"
        );
        let reopened = Bm25Index::open(&dir).unwrap();
        let in_ram = Bm25Index::build(&small()).unwrap();
        for query in ["iceland football", "erupting volcano", "the cup"] {
            assert_eq!(built.search(query, 5), reopened.search(query, 5));
            assert_eq!(in_ram.search(query, 5), reopened.search(query, 5));
        }
        std::fs::remove_dir_all(&dir).unwrap();
        let err = Bm25Index::open(&dir).unwrap_err().to_string();
        assert!(err.contains(&dir.display().to_string()), "{err}");
        let not_index = std::env::temp_dir();
        let err = Bm25Index::open(&not_index).unwrap_err().to_string();
        assert!(
            err.contains(&not_index.display().to_string()) && err.contains("not a BM25 index"),
            "{err}"
        );
    }

    #[test]
    fn scores_match_hand_computed_bm25() {
        // Stemmed, stop-word-free lengths 3, 2, 2: avgdl = 7/3; "apple" is in 2 of 3 docs.
        let index = Bm25Index::build(&corpus(&[
            ("apple banana cherry", ""),
            ("apple date", ""),
            ("fig grape", ""),
        ]))
        .unwrap();
        let (k1, b, avgdl) = (1.2f32, 0.75f32, 7.0f32 / 3.0);
        let idf = (1.0f32 + (3.0 - 2.0 + 0.5) / (2.0 + 0.5)).ln();
        let bm25 = |dl: f32| idf * (k1 + 1.0) / (1.0 + k1 * (1.0 - b + b * dl / avgdl));
        let hits = index.search("apple", 3);
        assert_eq!(articles(&hits), vec![1, 0], "the shorter document wins");
        assert!(
            (hits[0].score - bm25(2.0)).abs() < 1e-5 && (hits[1].score - bm25(3.0)).abs() < 1e-5,
            "{hits:?}"
        );
    }

    /// Timings for the report: `cargo test -p quill --lib retrieval::bm25 -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing() {
        use crate::data::{CorpusConfig, DataConfig, world::World};
        use std::time::Instant;
        for articles in [12_000, 50_000] {
            let config = DataConfig {
                corpus: CorpusConfig {
                    articles,
                    ..Default::default()
                },
                ..Default::default()
            };
            let world = World::build(&config, 1, Path::new(".")).unwrap();
            let start = Instant::now();
            let index = Bm25Index::build(&world.corpus).unwrap();
            let build = start.elapsed();
            let step = world.corpus.len() / 1000;
            let queries: Vec<String> = (0..1000)
                .map(|i| {
                    world
                        .corpus
                        .item((i * step) as u32)
                        .title
                        .split(' ')
                        .take(4)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            let refs: Vec<&str> = queries.iter().map(String::as_str).collect();
            let start = Instant::now();
            let hits = index.search_batch(&refs, 10);
            let search = start.elapsed();
            let found = hits
                .iter()
                .enumerate()
                .filter(|(i, h)| h.iter().any(|h| h.article as usize == i * step))
                .count();
            println!(
                "{articles} articles: build {build:.2?}, 1000 queries (k=10) {search:.2?}, own article in top 10: {found}/1000"
            );
        }
    }
}
