//! Retrieval over the news corpus: BM25 (tantivy) and dense cosine search over embeddings.
//! Rewards (retrieval alignment) and offline evaluation both retrieve through these traits.

mod bm25;
mod config;
mod dense;
mod embedder;
mod minilm;
mod vector_cache;
mod word_vectors;

pub use bm25::Bm25Index;
pub use config::{EmbedderKind, FusionKind, RetrievalConfig, RetrievalStack, RetrieverKind};
pub use dense::DenseIndex;
pub use embedder::{Embedder, cosine, embed_articles};
pub use minilm::{MINILM_DIR_ENV, MINILM_FILES, MiniLm, minilm_dir};
pub use vector_cache::embed_articles_cached;
pub use word_vectors::{WordVectorConfig, WordVectors};

/// One retrieved article.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Stable corpus index of the article.
    pub article: u32,
    /// Retriever-specific score; higher is better.
    pub score: f32,
}

/// Finds the articles that best match a query, best first.
pub trait Retriever: Send + Sync {
    /// The `k` best articles for one query (fewer if fewer match).
    fn search(&self, query: &str, k: usize) -> Vec<Hit>;
    /// Many queries at once; override when batching is cheaper.
    fn search_batch(&self, queries: &[&str], k: usize) -> Vec<Vec<Hit>> {
        queries.iter().map(|q| self.search(q, k)).collect()
    }
}
