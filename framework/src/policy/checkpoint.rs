//! Policy checkpoints: a directory with `policy.json` (format, version, the decoder's shape and
//! free-form provenance), `weights.safetensors` (burn-store) and, when given, the tokenizer's
//! `tokenizer.json`; written atomically (`io::save_dir_atomic`).

use super::config::DecoderConfig;
use super::decoder::Decoder;
use crate::error::{Error, Result};
use crate::io::{save_dir_atomic, write_synced};
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const POLICY_FILE: &str = "policy.json";
pub const WEIGHTS_FILE: &str = "weights.safetensors";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
const FORMAT: &str = "quill-policy";
const VERSION: u32 = 1;

/// The contents of `policy.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    format: String,
    version: u32,
    config: DecoderConfig,
    /// Where the weights came from (preset, training stage, step); not read back by Quill.
    #[serde(default)]
    provenance: serde_json::Value,
}

/// Saves `decoder` (of shape `config`) and, when given, the tokenizer's JSON into `dir`.
pub fn save_checkpoint(
    dir: &Path,
    decoder: &Decoder,
    config: &DecoderConfig,
    tokenizer_json: Option<&[u8]>,
    provenance: serde_json::Value,
) -> Result<()> {
    save_dir_atomic(dir, POLICY_FILE, "a policy checkpoint", |staging| {
        let store = SafetensorsStore::from_bytes(None);
        write_safetensors(decoder, store, &staging.join(WEIGHTS_FILE))?;
        if let Some(json) = tokenizer_json {
            write_synced(&staging.join(TOKENIZER_FILE), json)?;
        }
        let meta = Meta {
            format: FORMAT.into(),
            version: VERSION,
            config: config.clone(),
            provenance,
        };
        let json = serde_json::to_vec_pretty(&meta)
            .map_err(|e| Error::model(POLICY_FILE, e.to_string()))?;
        // Written last: its presence marks a complete checkpoint.
        write_synced(&staging.join(POLICY_FILE), &json)
    })
}

/// Serialises `decoder` through `store` (with its key mapping and adapters) into `path`.
pub(crate) fn write_safetensors(
    decoder: &Decoder,
    mut store: SafetensorsStore,
    path: &Path,
) -> Result<()> {
    let fail = |e: String| Error::in_file(path, format!("serialising weights: {e}"));
    decoder
        .save_into(&mut store)
        .map_err(|e| fail(e.to_string()))?;
    let bytes = store.get_bytes().map_err(|e| fail(e.to_string()))?;
    write_synced(path, &bytes)
}

/// Loads a checkpoint saved by `save_checkpoint` onto `device`: the decoder and its shape.
/// The tokenizer, if saved, is `dir/tokenizer.json`.
pub fn load_checkpoint(dir: &Path, device: &Device) -> Result<(Decoder, DecoderConfig)> {
    let meta_path = dir.join(POLICY_FILE);
    let text = std::fs::read(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
    let meta: Meta = serde_json::from_slice(&text)
        .map_err(|e| Error::in_file(&meta_path, format!("not a policy description: {e}")))?;
    if meta.format != FORMAT || meta.version != VERSION {
        let msg = format!(
            "format {:?} version {}; this build reads {FORMAT:?} version {VERSION}",
            meta.format, meta.version
        );
        return Err(Error::in_file(&meta_path, msg));
    }
    meta.config.validate(&meta_path.display().to_string())?;
    let weights_path = dir.join(WEIGHTS_FILE);
    // Every weight is overwritten below.
    let mut decoder = Decoder::zeroed(&meta.config, device);
    let mut store = SafetensorsStore::from_file(&weights_path);
    let result = decoder
        .load_from(&mut store)
        .map_err(|e| Error::in_file(&weights_path, format!("loading weights: {e}")))?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        let missing: Vec<&str> = result.missing.iter().map(|(k, _)| k.as_str()).collect();
        let msg = format!(
            "does not match {POLICY_FILE}'s shapes: missing {missing:?}, errors {:?}",
            result.errors
        );
        return Err(Error::in_file(&weights_path, msg));
    }
    Ok((decoder, meta.config))
}
