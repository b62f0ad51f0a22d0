//! A disk cache of corpus embeddings for embedders that are costly to run: all-MiniLM-L6-v2
//! embeds the 10k-article HuffPost corpus in minutes on 2 cores, and every experiment over the
//! same corpus needs the same vectors.
//!
//! The file name is a hash of the embedder's `cache_key` (which covers its weights) and every
//! article's text in order, so a changed model or corpus never reads stale vectors. The file is
//! a small header (magic, version, count, dim) and little-endian f32s, written atomically.
//! Cache faults (unreadable, corrupt, unwritable) are warnings: the vectors are recomputed.

use super::{Embedder, embed_articles};
use crate::data::Corpus;
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::Xxh3;

const MAGIC: &[u8; 4] = b"QVEC";
const VERSION: u32 = 1;
const HEADER: usize = 4 + 4 + 8 + 8;

/// `embed_articles`, read from or saved into `cache_dir` when the embedder has a cache key.
pub fn embed_articles_cached(
    corpus: &Corpus,
    embedder: &dyn Embedder,
    cache_dir: Option<&Path>,
) -> Vec<Vec<f32>> {
    let (Some(dir), Some(key)) = (cache_dir, embedder.cache_key()) else {
        return embed_articles(corpus, embedder);
    };
    let path = cache_path(dir, key, corpus);
    if let Some(vectors) = read(&path, corpus.len(), embedder.dim()) {
        return vectors;
    }
    let vectors = embed_articles(corpus, embedder);
    if let Err(e) = crate::io::write_atomic(&path, &encode(&vectors, embedder.dim())) {
        eprintln!("warning: corpus embeddings not cached: {e}");
    }
    vectors
}

fn cache_path(dir: &Path, key: u64, corpus: &Corpus) -> PathBuf {
    let mut hasher = Xxh3::new();
    hasher.update(&key.to_le_bytes());
    for item in corpus.items() {
        let text = item.text();
        // Length-prefixed, so two corpora whose texts concatenate alike still differ.
        hasher.update(&(text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    dir.join(format!("articles-{:016x}.qvec", hasher.digest()))
}

fn encode(vectors: &[Vec<f32>], dim: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER + vectors.len() * dim * 4);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&(vectors.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&(dim as u64).to_le_bytes());
    for x in vectors.iter().flatten() {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes
}

/// The cached vectors, or `None` (with a warning unless the file is simply absent).
fn read(path: &Path, count: usize, dim: usize) -> Option<Vec<Vec<f32>>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            eprintln!("warning: {}: {e}; recomputing", path.display());
            return None;
        }
    };
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let valid = bytes.len() == HEADER + count * dim * 4
        && &bytes[..4] == MAGIC
        && bytes[4..8] == VERSION.to_le_bytes()
        && u64_at(8) == count as u64
        && u64_at(16) == dim as u64;
    if !valid {
        eprintln!(
            "warning: {}: not a cache of {count} x {dim} vectors; recomputing",
            path.display()
        );
        return None;
    }
    let floats: Vec<f32> = bytes[HEADER..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect();
    Some(floats.chunks(dim.max(1)).map(<[f32]>::to_vec).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::NewsItem;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Embeds a text as (length, number of spaces), normalised; counts its calls.
    struct Counting {
        calls: AtomicUsize,
        key: Option<u64>,
    }

    impl Embedder for Counting {
        fn dim(&self) -> usize {
            2
        }
        fn embed(&self, texts: &[&str]) -> Vec<Vec<f32>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            texts
                .iter()
                .map(|t| {
                    let v = [t.len() as f32, t.matches(' ').count() as f32];
                    let n = (v[0] * v[0] + v[1] * v[1]).sqrt();
                    vec![v[0] / n, v[1] / n]
                })
                .collect()
        }
        fn cache_key(&self) -> Option<u64> {
            self.key
        }
    }

    fn corpus(titles: &[&str]) -> Corpus {
        let items = titles
            .iter()
            .enumerate()
            .map(|(i, t)| NewsItem {
                id: format!("n{i}"),
                title: (*t).into(),
                summary: String::new(),
                category: "news".into(),
                subcategory: String::new(),
                date: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
                entities: Vec::new(),
                url: None,
            })
            .collect();
        Corpus::new(items).unwrap()
    }

    #[test]
    fn a_second_run_reads_the_cache_and_a_changed_corpus_does_not() {
        let dir = std::env::temp_dir().join(format!("quill-qvec-{}", std::process::id()));
        let embedder = Counting {
            calls: AtomicUsize::new(0),
            key: Some(7),
        };
        let c = corpus(&["storm hits coast", "markets rally"]);
        let first = embed_articles_cached(&c, &embedder, Some(&dir));
        let second = embed_articles_cached(&c, &embedder, Some(&dir));
        assert_eq!(first, second);
        assert_eq!(embedder.calls.load(Ordering::SeqCst), 1);

        let changed = corpus(&["storm hits coast", "markets fall"]);
        let third = embed_articles_cached(&changed, &embedder, Some(&dir));
        assert_eq!(embedder.calls.load(Ordering::SeqCst), 2);
        assert_ne!(third[1], first[1]);

        // A corrupt file is recomputed (and rewritten), not trusted.
        let path = cache_path(&dir, 7, &c);
        std::fs::write(&path, b"QVEC garbage").unwrap();
        assert_eq!(embed_articles_cached(&c, &embedder, Some(&dir)), first);
        assert_eq!(embedder.calls.load(Ordering::SeqCst), 3);
        assert_eq!(embed_articles_cached(&c, &embedder, Some(&dir)), first);
        assert_eq!(embedder.calls.load(Ordering::SeqCst), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn embedders_without_a_key_are_never_cached() {
        let dir = std::env::temp_dir().join(format!("quill-qvec-nokey-{}", std::process::id()));
        let embedder = Counting {
            calls: AtomicUsize::new(0),
            key: None,
        };
        let c = corpus(&["one", "two words"]);
        embed_articles_cached(&c, &embedder, Some(&dir));
        embed_articles_cached(&c, &embedder, Some(&dir));
        assert_eq!(embedder.calls.load(Ordering::SeqCst), 2);
        assert!(!dir.exists());
    }
}
