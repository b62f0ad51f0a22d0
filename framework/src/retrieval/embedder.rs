//! The `Embedder` trait: text → unit-length vectors, so cosine similarity is a dot product.

/// Maps texts to L2-normalised vectors of a fixed dimension.
pub trait Embedder: Send + Sync {
    /// Vector dimension.
    fn dim(&self) -> usize;
    /// One unit-length vector per text (all zeros for a text with nothing to embed).
    fn embed(&self, texts: &[&str]) -> Vec<Vec<f32>>;
    /// A hash of everything the vectors depend on (weights, tokenizer, pooling), for embedders
    /// worth caching on disk (`embed_articles_cached`); `None` (the default) never caches.
    fn cache_key(&self) -> Option<u64> {
        None
    }
}

/// Unit embedding of every article's text (`NewsItem::text`), by corpus index. Computed once
/// per experiment and shared by the dense index and the rewards.
pub fn embed_articles(corpus: &crate::data::Corpus, embedder: &dyn Embedder) -> Vec<Vec<f32>> {
    let bar = crate::progress::bar(corpus.len() as u64, "embedding");
    let mut out = Vec::with_capacity(corpus.len());
    // Chunks bound the memory of one embedder call and drive the progress bar.
    for chunk in corpus.items().chunks(2048) {
        let texts: Vec<String> = chunk.iter().map(|n| n.text()).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        out.extend(embedder.embed(&refs));
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    out
}

/// Cosine similarity of two vectors (0 when either is all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_known_vectors() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 2.0]).abs() < 1e-6);
        assert!((cosine(&[1.0, 1.0], &[-1.0, -1.0]) + 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}
