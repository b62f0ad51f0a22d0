//! The `[retrieval]` section: which retriever serves rewards and evaluation, how per-query
//! rankings fuse, and the built-in embedder's settings.

use super::{
    Bm25Index, DenseIndex, Embedder, Retriever, WordVectorConfig, WordVectors, embed_articles,
};
use crate::config::Check;
use crate::data::Corpus;
use crate::error::Result;
use crate::eval::Fusion;
use std::sync::Arc;

crate::config_enum! {
    /// Which retriever maps a query to articles.
    pub enum RetrieverKind {
        /// BM25 over title + abstract (tantivy, in RAM).
        Bm25 = "bm25",
        /// Exact cosine top-K over the embedder's article vectors.
        Dense = "dense",
    }
}

crate::config_enum! {
    /// How the rankings of a list's queries fuse into one for evaluation.
    pub enum FusionKind {
        /// Reciprocal-rank fusion (k = 60).
        Rrf = "rrf",
        /// Interleave the queries' rankings in list order.
        RoundRobin = "round_robin",
    }
}

crate::config_section! {
    /// The `[retrieval]` section.
    pub struct RetrievalConfig {
        /// The retriever of rewards and offline evaluation.
        pub retriever: RetrieverKind = RetrieverKind::Bm25, Check::Any;
        /// Fusion of per-query rankings in offline evaluation.
        pub fusion: FusionKind = FusionKind::Rrf, Check::Any;
        /// The built-in embedder, trained on the corpus at start-up.
        pub word_vectors: WordVectorConfig = WordVectorConfig::default(), Check::Any;
    }
}

impl FusionKind {
    pub fn fusion(self) -> Fusion {
        match self {
            FusionKind::Rrf => Fusion::Rrf,
            FusionKind::RoundRobin => Fusion::RoundRobin,
        }
    }
}

/// The embedder, article vectors and retriever of a config, built over a corpus.
pub struct RetrievalStack {
    pub embedder: Arc<dyn Embedder>,
    /// Every article's unit embedding, by corpus index (computed once, shared with rewards).
    pub article_vectors: Arc<Vec<Vec<f32>>>,
    pub retriever: Arc<dyn Retriever>,
}

impl RetrievalConfig {
    /// Trains the built-in embedder, embeds the corpus once and builds the configured retriever.
    pub fn build(&self, corpus: &Corpus, seed: u64) -> Result<RetrievalStack> {
        let embedder: Arc<dyn Embedder> =
            Arc::new(WordVectors::train(corpus, &self.word_vectors, seed)?);
        let article_vectors = Arc::new(embed_articles(corpus, embedder.as_ref()));
        let retriever: Arc<dyn Retriever> = match self.retriever {
            RetrieverKind::Bm25 => Arc::new(Bm25Index::build(corpus)?),
            RetrieverKind::Dense => Arc::new(DenseIndex::from_vectors(
                embedder.clone(),
                &article_vectors,
            )?),
        };
        Ok(RetrievalStack {
            embedder,
            article_vectors,
            retriever,
        })
    }
}
