//! `DenseIndex`: exact top-K cosine search over precomputed article embeddings.
//!
//! Embeddings are unit length, so cosine is a dot product and scoring a chunk of queries against
//! the whole corpus is one matrix product, done with Burn on the CPU (flex multiplies with SIMD
//! and threads). Exact search is not a bottleneck beside policy sampling at the corpus sizes
//! Quill runs (`benches/scoring.rs`, `retrieval/dense_top10`, times it), so there is no
//! approximate index.
//!
//! The top K of each score row is picked here with a bounded heap rather than Burn's `topk`: on
//! flex that sorts the whole row, and its sort is unstable while ties must break by article index
//! for reproducible rankings.

use super::{Embedder, Hit, Retriever};
use crate::data::Corpus;
use crate::error::{Error, Result};
use burn::tensor::{Device, Tensor, TensorData};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Arc;

/// Most scores held at once per search chunk (64 MiB of f32): at 100k articles, 167 queries.
const MAX_SCORES: usize = 1 << 24;

/// Exact cosine search over the titles and abstracts of a corpus.
pub struct DenseIndex {
    embedder: Arc<dyn Embedder>,
    device: Device,
    /// Article embeddings, one row each: `[articles, dim]`; `None` for an empty corpus.
    articles_nd: Option<Tensor<2>>,
    len: usize,
}

impl DenseIndex {
    /// Embeds every article's text with `embedder`.
    pub fn build(embedder: Arc<dyn Embedder>, corpus: &Corpus) -> Result<Self> {
        let vectors = super::embed_articles(corpus, embedder.as_ref());
        Self::from_vectors(embedder, &vectors)
    }

    /// An index over article vectors already computed with `embedder` (one per article, by
    /// corpus index), so an experiment embeds its corpus once for search and rewards alike.
    pub fn from_vectors(embedder: Arc<dyn Embedder>, vectors: &[Vec<f32>]) -> Result<Self> {
        let (dim, len) = (embedder.dim(), vectors.len());
        if dim == 0 {
            return Err(Error::model("dense index", "the embedder has dimension 0"));
        }
        if let Some(i) = vectors.iter().position(|v| v.len() != dim) {
            let message = format!(
                "article {i} has a vector of dimension {}, not the embedder's {dim}",
                vectors[i].len()
            );
            return Err(Error::model("dense index", message));
        }
        // A NaN from a faulty embedder would poison every ranking it touches.
        let data: Vec<f32> = vectors
            .iter()
            .flatten()
            .map(|x| if x.is_finite() { *x } else { 0.0 })
            .collect();
        let device = Device::flex();
        let articles_nd =
            (len > 0).then(|| Tensor::<2>::from_data(TensorData::new(data, [len, dim]), &device));
        Ok(DenseIndex {
            embedder,
            device,
            articles_nd,
            len,
        })
    }

    /// Number of indexed articles.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The embedder queries go through (also useful to compare queries with each other).
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// Scores one chunk of query vectors against every article and keeps each one's top `k`.
    fn search_vectors(
        &self,
        articles_nd: &Tensor<2>,
        queries: &[Vec<f32>],
        k: usize,
    ) -> Vec<Vec<Hit>> {
        let dim = self.embedder.dim();
        let mut flat: Vec<f32> = queries
            .iter()
            .flatten()
            .map(|x| if x.is_finite() { *x } else { 0.0 })
            .collect();
        // gemm multiplies a single row by a matrix–vector path that rounds differently; a zero
        // second row keeps each query's scores the same however queries are batched.
        let rows = queries.len().max(2);
        flat.resize(rows * dim, 0.0);
        let queries_qd = Tensor::<2>::from_data(TensorData::new(flat, [rows, dim]), &self.device);
        // The transpose is a strided view: gemm reads it in place, nothing is copied.
        let scores_qn = queries_qd
            .matmul(articles_nd.clone().transpose())
            .into_data();
        let Ok(scores) = scores_qn.as_slice::<f32>() else {
            return vec![Vec::new(); queries.len()];
        };
        scores
            .chunks_exact(self.len)
            .zip(queries)
            // A query with nothing to embed matches nothing: no hits rather than k arbitrary ones.
            .map(|(row, q)| {
                if q.iter().all(|x| *x == 0.0) {
                    Vec::new()
                } else {
                    top_k(row, k)
                }
            })
            .collect()
    }
}

impl Retriever for DenseIndex {
    fn search(&self, query: &str, k: usize) -> Vec<Hit> {
        self.search_batch(&[query], k).pop().unwrap_or_default()
    }

    /// The `k` articles of highest cosine per query, best first, ties by lower article index.
    /// A query that embeds to the zero vector (empty, or only unknown words) gets no hits.
    fn search_batch(&self, queries: &[&str], k: usize) -> Vec<Vec<Hit>> {
        let Some(articles_nd) = self.articles_nd.as_ref().filter(|_| k > 0) else {
            return vec![Vec::new(); queries.len()];
        };
        let per_chunk = (MAX_SCORES / self.len).clamp(1, 1024);
        let mut out = Vec::with_capacity(queries.len());
        for chunk in queries.chunks(per_chunk) {
            let mut vectors = self.embedder.embed(chunk);
            // A faulty embedder must not shift queries onto each other's rows.
            vectors.resize(chunk.len(), Vec::new());
            vectors
                .iter_mut()
                .for_each(|v| v.resize(self.embedder.dim(), 0.0));
            out.extend(self.search_vectors(articles_nd, &vectors, k));
        }
        out
    }
}

/// A score and its article, ordered so that greater is better: higher score, then lower index.
#[derive(Clone, Copy, PartialEq)]
struct Ranked(f32, u32);

impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .total_cmp(&other.0)
            .then_with(|| other.1.cmp(&self.1))
    }
}

/// The best `k` entries of one score row, best first, in one pass with a heap of size `k`.
fn top_k(scores: &[f32], k: usize) -> Vec<Hit> {
    let mut heap: BinaryHeap<Reverse<Ranked>> = BinaryHeap::with_capacity(k.min(scores.len()) + 1);
    for (i, &s) in scores.iter().enumerate() {
        // `+ 0.0` turns -0.0 into 0.0 so the two tie (total_cmp would order them); NaN ranks last.
        let r = Ranked(
            if s.is_nan() {
                f32::NEG_INFINITY
            } else {
                s + 0.0
            },
            i as u32,
        );
        if heap.len() < k {
            heap.push(Reverse(r));
        } else if let Some(mut worst) = heap.peek_mut()
            && r > worst.0
        {
            *worst = Reverse(r);
        }
    }
    heap.into_sorted_vec()
        .into_iter()
        .map(|Reverse(Ranked(score, article))| Hit { article, score })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::NewsItem;
    use crate::retrieval::{WordVectorConfig, WordVectors, cosine};

    fn corpus(titles: &[&str]) -> Corpus {
        let item = |(i, t): (usize, &&str)| NewsItem {
            id: format!("n{i}"),
            title: t.to_string(),
            summary: String::new(),
            category: "news".into(),
            subcategory: String::new(),
            date: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            entities: vec![],
            url: None,
        };
        Corpus::new(titles.iter().enumerate().map(item).collect()).unwrap()
    }

    /// One-hot vectors over the letters a, b, c: dot products are exact, so ties are exact too.
    struct Letters;
    impl Embedder for Letters {
        fn dim(&self) -> usize {
            3
        }
        fn embed(&self, texts: &[&str]) -> Vec<Vec<f32>> {
            let one_hot = |t: &str| {
                (0..3)
                    .map(|i| {
                        if t.trim() == ["a", "b", "c"][i] {
                            1.0
                        } else {
                            0.0
                        }
                    })
                    .collect()
            };
            texts.iter().map(|t| one_hot(t)).collect()
        }
    }

    #[test]
    fn agrees_with_a_brute_force_cosine_loop() {
        let mut data = crate::data::DataConfig::default();
        data.corpus.articles = 600;
        let world = crate::data::world::World::build(&data, 3, std::path::Path::new(".")).unwrap();
        let wv =
            Arc::new(WordVectors::train(&world.corpus, &WordVectorConfig::default(), 3).unwrap());
        let index = DenseIndex::build(wv.clone(), &world.corpus).unwrap();
        let texts: Vec<String> = world.corpus.items().iter().map(|n| n.text()).collect();
        let articles = wv.embed(&texts.iter().map(String::as_str).collect::<Vec<_>>());
        let queries: Vec<&str> = world
            .corpus
            .items()
            .iter()
            .step_by(37)
            .map(|n| n.title.as_str())
            .chain(["quarterbak playof"])
            .collect();
        for (query, hits) in queries.iter().zip(index.search_batch(&queries, 10)) {
            let q = &wv.embed(&[query])[0];
            let mut brute: Vec<(f32, usize)> =
                articles.iter().map(|a| cosine(q, a)).zip(0..).collect();
            brute.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            assert_eq!(hits.len(), 10);
            for (hit, (score, _)) in hits.iter().zip(&brute) {
                // Same ranking up to float rounding: rank by rank scores agree, and each hit's
                // reported score is its true cosine (near-ties may swap at the 1e-7 level).
                assert!(
                    (hit.score - score).abs() < 1e-5,
                    "{query}: {} vs {score}",
                    hit.score
                );
                assert!((hit.score - cosine(q, &articles[hit.article as usize])).abs() < 1e-5);
            }
            assert_eq!(hits, index.search(query, 10));
        }
    }

    #[test]
    fn ties_break_by_article_and_k_is_bounded() {
        let index =
            DenseIndex::build(Arc::new(Letters), &corpus(&["a", "b", "a", "c", "a"])).unwrap();
        let ids = |hits: Vec<Hit>| hits.iter().map(|h| h.article).collect::<Vec<_>>();
        assert_eq!(ids(index.search("a", 2)), vec![0, 2]);
        assert_eq!(ids(index.search("a", 4)), vec![0, 2, 4, 1]);
        assert_eq!(index.search("a", 100).len(), 5);
        assert!(index.search("a", 0).is_empty());
        let hits = index.search("b", 1);
        assert_eq!((hits[0].article, hits[0].score), (1, 1.0));
    }

    #[test]
    fn queries_with_nothing_to_embed_get_no_hits() {
        let index = DenseIndex::build(Arc::new(Letters), &corpus(&["a", "b"])).unwrap();
        let out = index.search_batch(&["", "zzz", "a"], 3);
        assert!(out[0].is_empty() && out[1].is_empty());
        assert_eq!(out[2].len(), 2);
        let empty = DenseIndex::build(Arc::new(Letters), &Corpus::default()).unwrap();
        assert!(empty.is_empty() && empty.search("a", 5).is_empty());
    }

    /// A measurement, not a check (speed is never asserted): `cargo test --release -p quill --lib
    /// dense::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing() {
        let mut data = crate::data::DataConfig::default();
        data.corpus.articles = 100_000;
        let world = crate::data::world::World::build(&data, 1, std::path::Path::new(".")).unwrap();
        let clock = std::time::Instant::now();
        let wv =
            Arc::new(WordVectors::train(&world.corpus, &WordVectorConfig::default(), 1).unwrap());
        let train = clock.elapsed();
        let index = DenseIndex::build(wv, &world.corpus).unwrap();
        let build = clock.elapsed() - train;
        let queries: Vec<&str> = world
            .corpus
            .items()
            .iter()
            .step_by(100)
            .take(1000)
            .map(|n| n.title.as_str())
            .collect();
        let clock = std::time::Instant::now();
        let hits = index.search_batch(&queries, 10);
        eprintln!(
            "{} articles: train {train:?}, build {build:?}, {} queries {:?}",
            index.len(),
            hits.len(),
            clock.elapsed()
        );
    }
}
