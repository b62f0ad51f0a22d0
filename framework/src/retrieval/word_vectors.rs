//! `WordVectors`: the built-in embedder, trained on the corpus at start-up in well under a second.
//!
//! Why this design: Quill must run with no download, deterministically for a seed, and the
//! queries it embeds are simulated web searches with typos and abbreviations. Count-based
//! vectors fit: positive PMI over word–context co-occurrences (with context-distribution
//! smoothing, Levy et al. 2015) is as good as skip-gram at this scale and needs no SGD. PPMI is
//! reduced to `dim` dimensions by randomized SVD: a seeded ±1 random projection
//! (Johnson–Lindenstrauss) plus one power iteration, then centred and L2-normalised. The power
//! iteration costs some training time and earns it: a text's nearest neighbour shares its
//! category more often.
//!
//! Character n-grams (3–5, with `<` `>` word boundaries, as in fastText) make unseen or misspelt
//! words ("quarterbak") land near the words they share n-grams with: an n-gram's vector is the
//! mean of the vectors of the vocabulary words containing it, and a word's vector adds the mean
//! of its n-grams' vectors. A text is the SIF mean of its words (weight a/(a+p(w)), Arora et al.
//! 2017), L2-normalised.
//!
//! Plain loops rather than Burn tensors: PPMI is sparse and irregular (a dense vocabulary-squared
//! matrix would not fit); multiplying by it is a handful of axpys per non-zero.

use super::Embedder;
use crate::config::{Check, Section};
use crate::data::Corpus;
use crate::error::{Error, Result};
use crate::text::terms::content_terms;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::path::Path;
use xxhash_rust::xxh3::{Xxh3DefaultBuilder, xxh3_64};

crate::config_section! {
    /// Built-in word vectors trained on the corpus (the default embedder).
    pub struct WordVectorConfig {
        /// Vector dimension.
        pub dim: u32 = 128, Check::Range { min: 8.0, max: 4096.0 };
        /// Context window in content words each side (nearer ones weigh more): wide, for topic.
        pub window: u32 = 8, Check::Range { min: 1.0, max: 100.0 };
        /// Words seen fewer times get no vector of their own; they are embedded from n-grams.
        pub min_count: u32 = 2, Check::Range { min: 1.0, max: 1_000_000.0 };
        /// Shortest character n-gram (the word-boundary marks `<` and `>` count).
        pub min_ngram: u32 = 3, Check::Range { min: 1.0, max: 20.0 };
        /// Longest character n-gram.
        pub max_ngram: u32 = 5, Check::Range { min: 1.0, max: 20.0 };
        /// An n-gram found in more vocabulary words than this says nothing ("ing") and is skipped.
        pub max_ngram_df: u32 = 500, Check::Range { min: 1.0, max: 1_000_000.0 };
        /// Power iterations of randomized SVD (0 = the plain random projection, noisier).
        pub power_iterations: u32 = 1, Check::Range { min: 0.0, max: 10.0 };
        /// Context-distribution smoothing of PPMI: context counts are raised to this power.
        pub context_smoothing: f64 = 0.75, Check::Range { min: 0.0, max: 1.0 };
        /// SIF constant `a`: a word of corpus frequency p weighs a/(a+p).
        pub sif_a: f64 = 1e-3, Check::Range { min: 1e-7, max: 1.0 };
    }
}

/// Corpus-trained word vectors with character n-gram fallback. See the module doc.
pub struct WordVectors {
    cfg: WordVectorConfig,
    dim: usize,
    words: Vec<String>,
    counts: Vec<u64>,
    /// Content-word tokens in the corpus, rare words included (the SIF denominator).
    total: u64,
    index: HashMap<String, u32>,
    /// Row per word: its unit PPMI projection. N-gram vectors are means of these rows.
    base: Vec<f32>,
    /// Row per word: the final unit vector (PPMI part plus n-gram part).
    vectors: Vec<f32>,
    /// N-gram hash → ascending ids of the vocabulary words containing it (only n-grams kept).
    grams: HashMap<u64, Vec<u32>, Xxh3DefaultBuilder>,
}

/// On-disk header; the `base` rows follow it as little-endian f32.
#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    config: WordVectorConfig,
    total: u64,
    words: Vec<String>,
    counts: Vec<u64>,
}

const MAGIC: &[u8; 8] = b"QUILLWV1";

impl WordVectors {
    /// Trains on the titles and abstracts of `corpus`'s pre-split articles (held-out clicks
    /// must not shape what embeds evaluation queries); same inputs, bit-identical vectors.
    pub fn train(corpus: &Corpus, cfg: &WordVectorConfig, seed: u64) -> Result<WordVectors> {
        check(cfg, "retrieval.word_vectors")?;
        let texts = || corpus.pre_split_items().map(|n| n.text());
        let mut freq: HashMap<String, u64> = HashMap::new();
        texts()
            .flat_map(|t| content_terms(&t))
            .for_each(|w| *freq.entry(w).or_default() += 1);
        let total = freq.values().sum();
        let mut vocab: Vec<(String, u64)> = freq
            .into_iter()
            .filter(|(_, c)| *c >= cfg.min_count as u64)
            .collect();
        if vocab.is_empty() {
            let message = format!(
                "no content word occurs {} times in the {} pre-split articles; lower it",
                cfg.min_count,
                texts().count()
            );
            return Err(Error::field("retrieval.word_vectors.min_count", message));
        }
        // Frequent words first; ties by spelling so ids do not depend on hash order.
        vocab.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let index: HashMap<&str, u32> = vocab
            .iter()
            .enumerate()
            .map(|(i, (w, _))| (w.as_str(), i as u32))
            .collect();
        let ids = |t: String| {
            content_terms(&t)
                .iter()
                .filter_map(|w| index.get(w.as_str()).copied())
                .collect()
        };
        let docs: Vec<Vec<u32>> = texts().map(ids).collect();
        let (n, dim) = (vocab.len(), cfg.dim as usize);
        let mut base = project_ppmi(&docs, n, cfg, seed);
        // PPMI rows are non-negative and share the corpus's common contexts, so all vectors share
        // a mean direction that makes unrelated texts look alike; removing it moved the mean
        // cosine of titles from different categories from 0.22 to about 0 (Mu & Viswanath 2018).
        normalise_rows(&mut base, dim);
        let mut mean = vec![0f32; dim];
        mean_of_rows(&base, dim, &(0..n as u32).collect::<Vec<_>>(), &mut mean);
        base.chunks_exact_mut(dim)
            .for_each(|row| row.iter_mut().zip(&mean).for_each(|(r, m)| *r -= m));
        normalise_rows(&mut base, dim);
        let (words, counts) = vocab.into_iter().unzip();
        Ok(Self::assemble(cfg.clone(), words, counts, total, base))
    }

    /// Builds the lookup tables and final vectors from the trained PPMI projections; shared by
    /// `train` and `load` so a loaded model is exactly the trained one.
    fn assemble(
        cfg: WordVectorConfig,
        words: Vec<String>,
        counts: Vec<u64>,
        total: u64,
        base: Vec<f32>,
    ) -> Self {
        let dim = cfg.dim as usize;
        let index: HashMap<String, u32> = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        let mut grams: HashMap<u64, Vec<u32>, Xxh3DefaultBuilder> = HashMap::default();
        for (i, w) in words.iter().enumerate() {
            ngrams(w, &cfg)
                .into_iter()
                .for_each(|g| grams.entry(g).or_default().push(i as u32));
        }
        grams.retain(|_, ids| ids.len() <= cfg.max_ngram_df as usize);
        // A word's n-gram part is the mean of its kept n-grams' vectors; scattering each n-gram's
        // vector to its words (in sorted n-gram order, for reproducible sums) needs no n-gram table.
        let mut kept = vec![0u32; words.len()];
        grams
            .values()
            .flatten()
            .for_each(|&i| kept[i as usize] += 1);
        let mut keys: Vec<u64> = grams.keys().copied().collect();
        keys.sort_unstable();
        let (mut vectors, mut mean) = (base.clone(), vec![0f32; dim]);
        for ids in keys.iter().map(|k| &grams[k]) {
            mean_of_rows(&base, dim, ids, &mut mean);
            for i in ids.iter().map(|&i| i as usize) {
                let row = &mut vectors[i * dim..(i + 1) * dim];
                row.iter_mut()
                    .zip(&mean)
                    .for_each(|(v, m)| *v += m / kept[i] as f32);
            }
        }
        normalise_rows(&mut vectors, dim);
        WordVectors {
            cfg,
            dim,
            words,
            counts,
            total,
            index,
            base,
            vectors,
            grams,
        }
    }

    /// Writes the unit vector of one word (from n-grams when the word is unknown) and returns its
    /// SIF weight; zeros and weight 0 when nothing about the word is known.
    fn word(&self, word: &str, out: &mut [f32]) -> f32 {
        if let Some(i) = self.index.get(word).map(|&i| i as usize) {
            out.copy_from_slice(&self.vectors[i * self.dim..(i + 1) * self.dim]);
            let (a, p) = (
                self.cfg.sif_a as f32,
                self.counts[i] as f32 / self.total.max(1) as f32,
            );
            return a / (a + p);
        }
        let all = ngrams(word, &self.cfg);
        let (mut mean, mut found) = (vec![0f32; self.dim], 0);
        out.fill(0.0);
        for ids in all.iter().filter_map(|g| self.grams.get(g)) {
            mean_of_rows(&self.base, self.dim, ids, &mut mean);
            out.iter_mut().zip(&mean).for_each(|(o, m)| *o += m);
            found += 1;
        }
        // An unseen word is as rare as can be (p = 0, full SIF weight), but it only counts as
        // much as the share of its n-grams that were recognised: a garbled token matters less.
        if normalise(out) > 0.0 {
            found as f32 / all.len() as f32
        } else {
            0.0
        }
    }

    /// Saves the model (atomically) so a later run can skip training.
    pub fn save(&self, path: &Path) -> Result<()> {
        let (config, words, counts) = (self.cfg.clone(), self.words.clone(), self.counts.clone());
        let header = Header {
            config,
            total: self.total,
            words,
            counts,
        };
        let json = serde_json::to_vec(&header)
            .map_err(|e| Error::model(path.display().to_string(), e.to_string()))?;
        let mut bytes = [MAGIC.as_slice(), &(json.len() as u64).to_le_bytes(), &json].concat();
        self.base
            .iter()
            .for_each(|x| bytes.extend_from_slice(&x.to_le_bytes()));
        crate::io::write_atomic(path, &bytes)
    }

    /// Loads a model written by `save`; a damaged or foreign file is an error naming it.
    pub fn load(path: &Path) -> Result<WordVectors> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let bad =
            |what: String| Error::in_file(path, format!("not a Quill word-vector file: {what}"));
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(bad("missing the QUILLWV1 header".into()));
        }
        let json_len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
        let json = bytes
            .get(16..16usize.saturating_add(json_len))
            .ok_or_else(|| bad("truncated header".into()))?;
        let h: Header = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
        check(&h.config, &path.display().to_string())?;
        let (floats, words) = (&bytes[16 + json_len..], h.words.len());
        if h.counts.len() != words || floats.len() != words * h.config.dim as usize * 4 {
            let (counts, dim) = (h.counts.len(), h.config.dim);
            return Err(bad(format!(
                "{words} words, {counts} counts and {} vector bytes do not fit dim {dim}",
                floats.len()
            )));
        }
        let base = floats
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        Ok(Self::assemble(h.config, h.words, h.counts, h.total, base))
    }
}

impl Embedder for WordVectors {
    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        let mut word = vec![0f32; self.dim];
        let mut one = |text: &str| {
            let mut sum = vec![0f32; self.dim];
            for w in content_terms(text) {
                let weight = self.word(&w, &mut word);
                sum.iter_mut()
                    .zip(&word)
                    .for_each(|(s, x)| *s += weight * x);
            }
            normalise(&mut sum);
            sum
        };
        texts.iter().map(|t| one(t)).collect()
    }
}

fn check(cfg: &WordVectorConfig, origin: &str) -> Result<()> {
    cfg.validate(origin)?;
    if cfg.min_ngram > cfg.max_ngram {
        let message = format!(
            "min_ngram {} exceeds max_ngram {}",
            cfg.min_ngram, cfg.max_ngram
        );
        return Err(Error::field(format!("{origin}.min_ngram"), message));
    }
    Ok(())
}

/// Distinct hashes of the character n-grams of `<word>`, sorted.
fn ngrams(word: &str, cfg: &WordVectorConfig) -> Vec<u64> {
    let chars: Vec<char> = std::iter::once('<')
        .chain(word.chars())
        .chain(std::iter::once('>'))
        .collect();
    let sizes = cfg.min_ngram as usize..=(cfg.max_ngram as usize).min(chars.len());
    let hash = |gram: &[char]| xxh3_64(gram.iter().collect::<String>().as_bytes());
    let mut out: Vec<u64> = sizes
        .flat_map(|n| chars.windows(n).map(hash).collect::<Vec<_>>())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Positive PMI of each word with the words around it (nearer ones weigh more, as in word2vec's
/// dynamic window), reduced to `dim` columns by randomized SVD. Rows are counted one word at a
/// time from where the word occurs, so no hash map of pairs is needed.
fn project_ppmi(docs: &[Vec<u32>], n: usize, cfg: &WordVectorConfig, seed: u64) -> Vec<f32> {
    let (window, dim) = (cfg.window as usize, cfg.dim as usize);
    let weight = |d: usize| (window + 1 - d) as f64 / window as f64;
    let mut occurrences: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n];
    let mut row_sum = vec![0f64; n];
    for (a, doc) in docs.iter().enumerate() {
        for (i, &w) in doc.iter().enumerate() {
            occurrences[w as usize].push((a as u32, i as u32));
            let neighbours = (1..=window)
                .map(|d| weight(d) * ((i >= d) as u8 + (i + d < doc.len()) as u8) as f64);
            row_sum[w as usize] += neighbours.sum::<f64>();
        }
    }
    // Co-occurrence is symmetric, so a word's context total is its row total.
    let ctx: Vec<f64> = row_sum
        .iter()
        .map(|s| s.powf(cfg.context_smoothing))
        .collect();
    let ctx_total: f64 = ctx.iter().sum();
    let (mut ppmi, mut count, mut touched) = (Vec::new(), vec![0f64; n], Vec::<u32>::new());
    for (w, occ) in occurrences.iter().enumerate() {
        for &(a, i) in occ {
            let (doc, i) = (&docs[a as usize], i as usize);
            for d in 1..=window {
                // `wrapping_sub` turns a position before the start into one past the end.
                for j in [i.wrapping_sub(d), i + d] {
                    if let Some(&c) = doc.get(j) {
                        if count[c as usize] == 0.0 {
                            touched.push(c);
                        }
                        count[c as usize] += weight(d);
                    }
                }
            }
        }
        // `touched` is in first-seen order, which the corpus fixes: later sums are reproducible.
        for c in touched.drain(..) {
            let pmi = (count[c as usize] * ctx_total / (row_sum[w] * ctx[c as usize])).ln() as f32;
            if pmi > 0.0 {
                ppmi.push((w as u32, c, pmi));
            }
            count[c as usize] = 0.0;
        }
    }
    // Randomized SVD (Halko et al. 2011): a seeded ±1 basis (a Johnson–Lindenstrauss projection
    // by itself), turned by power iterations into the top right-singular subspace of PPMI.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x3f0d_a7e1_5eed_0001);
    let scale = 1.0 / (dim as f32).sqrt();
    let mut basis: Vec<f32> = (0..n * dim)
        .map(|_| if rng.random::<bool>() { scale } else { -scale })
        .collect();
    for _ in 0..cfg.power_iterations {
        basis = multiply(&ppmi, &multiply(&ppmi, &basis, dim, false), dim, true);
        orthonormalise_columns(&mut basis, dim);
    }
    multiply(&ppmi, &basis, dim, false)
}

/// `P·m`, or `Pᵀ·m` when `transpose`, for a square sparse `P` given as (row, column, value).
fn multiply(p: &[(u32, u32, f32)], m: &[f32], dim: usize, transpose: bool) -> Vec<f32> {
    let mut out = vec![0f32; m.len()];
    for &(w, c, v) in p {
        let (to, from) = if transpose {
            (c as usize, w as usize)
        } else {
            (w as usize, c as usize)
        };
        out[to * dim..(to + 1) * dim]
            .iter_mut()
            .zip(&m[from * dim..(from + 1) * dim])
            .for_each(|(o, x)| *o += v * x);
    }
    out
}

/// Modified Gram–Schmidt, in f64, on the columns of a row-major matrix with `dim` columns; a
/// column that depends on earlier ones becomes zero.
fn orthonormalise_columns(m: &mut [f32], dim: usize) {
    let mut cols: Vec<Vec<f64>> = (0..dim)
        .map(|j| m.iter().skip(j).step_by(dim).map(|&x| x as f64).collect())
        .collect();
    for j in 0..dim {
        let (done, rest) = cols.split_at_mut(j);
        for prev in done.iter() {
            let d: f64 = prev.iter().zip(&rest[0]).map(|(a, b)| a * b).sum();
            rest[0].iter_mut().zip(prev).for_each(|(c, p)| *c -= d * p);
        }
        let norm = rest[0].iter().map(|x| x * x).sum::<f64>().sqrt();
        rest[0]
            .iter_mut()
            .for_each(|x| *x = if norm > 1e-9 { *x / norm } else { 0.0 });
    }
    m.iter_mut()
        .enumerate()
        .for_each(|(i, x)| *x = cols[i % dim][i / dim] as f32);
}

fn mean_of_rows(matrix: &[f32], dim: usize, ids: &[u32], out: &mut [f32]) {
    out.fill(0.0);
    for &i in ids {
        out.iter_mut()
            .zip(&matrix[i as usize * dim..(i as usize + 1) * dim])
            .for_each(|(o, x)| *o += x);
    }
    let inv = 1.0 / ids.len().max(1) as f32;
    out.iter_mut().for_each(|o| *o *= inv);
}

/// Scales `v` to unit length and returns its former norm; a zero (or non-finite) vector
/// becomes all zeros so no NaN can leak out.
fn normalise(v: &mut [f32]) -> f32 {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let ok = norm > 0.0 && norm.is_finite();
    v.iter_mut()
        .for_each(|x| *x = if ok { *x / norm } else { 0.0 });
    if ok { norm } else { 0.0 }
}

fn normalise_rows(matrix: &mut [f32], dim: usize) {
    matrix
        .chunks_exact_mut(dim)
        .for_each(|row| _ = normalise(row));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataConfig;
    use crate::data::world::{Facet, World};
    use crate::retrieval::cosine;
    use std::sync::OnceLock;

    /// The default procedural world (12k articles) and vectors trained on it, built once.
    fn trained() -> &'static (World, WordVectors) {
        static CELL: OnceLock<(World, WordVectors)> = OnceLock::new();
        CELL.get_or_init(|| {
            let world = World::build(&DataConfig::default(), 1, Path::new(".")).unwrap();
            let wv = WordVectors::train(&world.corpus, &WordVectorConfig::default(), 1).unwrap();
            (world, wv)
        })
    }

    fn mean(values: impl Iterator<Item = f32>) -> f32 {
        let (sum, n) = values.fold((0.0, 0), |(s, n), v| (s + v, n + 1));
        sum / n as f32
    }

    #[test]
    fn titles_of_one_story_are_closer_than_titles_across_categories() {
        let (world, wv) = trained();
        let facets = &world.facets.facets;
        // Up to 10 titles per story (facet) keeps the pair count small and stories weighed alike.
        let embed = |f: &Facet| {
            wv.embed(
                &f.past
                    .iter()
                    .take(10)
                    .map(|&i| world.corpus.item(i).title.as_str())
                    .collect::<Vec<_>>(),
            )
        };
        let titles: Vec<Vec<Vec<f32>>> = facets.iter().map(embed).collect();
        let pairs = |n: usize| (0..n).flat_map(move |i| (i + 1..n).map(move |j| (i, j)));
        let same = mean(
            titles
                .iter()
                .flat_map(|t| pairs(t.len()).map(|(i, j)| cosine(&t[i], &t[j]))),
        );
        let cross = mean(
            pairs(facets.len())
                .filter(|&(a, b)| facets[a].category != facets[b].category)
                .map(|(a, b)| cosine(&titles[a][0], &titles[b][0])),
        );
        eprintln!(
            "title cosine: same story {same:.3}, different categories {cross:.3}, vocabulary {}",
            wv.words.len()
        );
        assert!(
            same - cross > 0.2,
            "same story {same:.3} vs different categories {cross:.3}"
        );
    }

    #[test]
    fn misspelt_query_lands_near_its_topic() {
        let (world, wv) = trained();
        assert!(!wv.index.contains_key("quarterbak") && !wv.index.contains_key("playof"));
        let titles = |sub: &str| {
            world
                .corpus
                .items()
                .iter()
                .filter(|n| n.subcategory == sub)
                .map(|n| n.title.as_str())
                .collect::<Vec<_>>()
        };
        let query = &wv.embed(&["quarterbak playof"])[0];
        let to = |titles: &[&str]| mean(wv.embed(titles).iter().map(|t| cosine(query, t)));
        let (football, cooking) = (to(&titles("football")), to(&titles("cooking")));
        eprintln!("misspelt query vs titles: football {football:.3}, cooking {cooking:.3}");
        assert!(
            football > cooking + 0.1,
            "football {football:.3} vs cooking {cooking:.3}"
        );
    }

    #[test]
    fn training_is_deterministic_and_save_load_round_trips() {
        let (world, wv) = trained();
        let texts = [
            "Quarterback injury ahead of the playoff",
            "sourdough baking tips",
            "xqzv",
        ];
        let train = |seed| {
            WordVectors::train(&world.corpus, &WordVectorConfig::default(), seed)
                .unwrap()
                .embed(&texts)
        };
        assert_eq!(wv.embed(&texts), train(1));
        assert_ne!(wv.embed(&texts), train(2));
        let path =
            std::env::temp_dir().join(format!("quill-wv-{}/vectors.bin", std::process::id()));
        wv.save(&path).unwrap();
        assert_eq!(
            wv.embed(&texts),
            WordVectors::load(&path).unwrap().embed(&texts)
        );
        std::fs::write(&path, b"QUILLWV1garbage").unwrap();
        assert!(WordVectors::load(&path).is_err());
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn empty_and_unknown_texts_embed_to_zeros_and_others_to_unit_vectors() {
        let (_, wv) = trained();
        let v = wv.embed(&["", "the of and", "!!! 42", "quarterback playoff"]);
        assert!(
            v[..3]
                .iter()
                .all(|z| z.len() == wv.dim() && z.iter().all(|x| *x == 0.0))
        );
        let norm = v[3].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5 && v[3].iter().all(|x| x.is_finite()));
    }

    #[test]
    fn bad_configs_are_rejected_with_the_field_named() {
        let (world, _) = trained();
        let train = |cfg| {
            WordVectors::train(&world.corpus, &cfg, 1)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(
            train(WordVectorConfig {
                min_ngram: 6,
                max_ngram: 4,
                ..Default::default()
            })
            .contains("min_ngram")
        );
        assert!(
            train(WordVectorConfig {
                min_count: 1_000_000,
                ..Default::default()
            })
            .contains("min_count")
        );
        assert!(
            train(WordVectorConfig {
                dim: 0,
                ..Default::default()
            })
            .contains("dim")
        );
    }
}
