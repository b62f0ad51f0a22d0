//! The `[retrieval]` section: which retriever serves rewards and evaluation, how per-query
//! rankings fuse, and the built-in embedder's settings.

use super::{
    Bm25Index, DenseIndex, Embedder, MiniLm, Retriever, WordVectorConfig, WordVectors,
    embed_articles_cached, minilm_dir,
};
use crate::config::Check;
use crate::data::Corpus;
use crate::error::Result;
use crate::eval::Fusion;
use burn::tensor::Device;
use std::path::{Path, PathBuf};
use std::sync::Arc;

crate::config_enum! {
    /// Which embedder serves dense retrieval and the embedding-based rewards.
    pub enum EmbedderKind {
        /// Word vectors trained at start-up on the corpus's articles published before the
        /// split date (no download).
        WordVectors = "word_vectors",
        /// all-MiniLM-L6-v2 (fetch it first with scripts/fetch_minilm.sh).
        Minilm = "minilm",
    }
}

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
        /// The embedder of dense retrieval, retrieval alignment, diversity and the judge.
        pub embedder: EmbedderKind = EmbedderKind::WordVectors, Check::Any;
        /// all-MiniLM-L6-v2's directory, relative to the experiment file ($QUILL_MINILM_DIR
        /// overrides it).
        pub minilm_dir: PathBuf = PathBuf::from("../models/all-MiniLM-L6-v2"), Check::NonEmpty;
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
    /// Builds the configured retriever with relative paths resolved against the current
    /// directory; see `build_at`.
    pub fn build(&self, corpus: &Corpus, seed: u64) -> Result<RetrievalStack> {
        self.build_at(corpus, seed, Path::new("."))
    }

    /// Trains or loads the embedder, embeds the corpus once and builds the configured
    /// retriever. A corpus-trained embedder reads only the articles published before the
    /// corpus's split date; every article is embedded and indexed. Relative paths (the MiniLM
    /// directory) resolve against `base_dir`, the experiment file's directory.
    pub fn build_at(&self, corpus: &Corpus, seed: u64, base_dir: &Path) -> Result<RetrievalStack> {
        let model_dir = minilm_dir(&self.minilm_dir, base_dir);
        let embedder: Arc<dyn Embedder> = match self.embedder {
            EmbedderKind::WordVectors => {
                Arc::new(WordVectors::train(corpus, &self.word_vectors, seed)?)
            }
            // Inference only, so on the CPU; the corpus vectors are cached (see below).
            EmbedderKind::Minilm => Arc::new(MiniLm::load(&model_dir, &Device::flex())?),
        };
        // Costly corpus embeddings are cached beside the model they came from.
        let cache_dir = model_dir.join("cache");
        let article_vectors = Arc::new(embed_articles_cached(
            corpus,
            embedder.as_ref(),
            Some(&cache_dir),
        ));
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
