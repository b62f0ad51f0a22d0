//! Saving and loading a cleaner: a directory with `cleaner.json` (format, feature scheme and the
//! config, whose `buckets` and `hidden` fix the shapes) and `weights.safetensors`.

use super::cleaner::{Cleaner, SECTION};
use super::config::CleanerConfig;
use super::features::{FEATURE_SCHEME, MAX_CHARS};
use super::model::NoiseNet;
use crate::config::Section;
use crate::device::DeviceKind;
use crate::error::{Error, Result};
use crate::io::write_synced;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs;
use std::path::Path;

pub const META_FILE: &str = "cleaner.json";
pub const WEIGHTS_FILE: &str = "weights.safetensors";
const FORMAT: &str = "quill-cleaner";
const VERSION: u32 = 1;

/// The contents of `cleaner.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    format: String,
    version: u32,
    /// Must equal this build's `FEATURE_SCHEME`, or the weights would see different features.
    feature_scheme: String,
    max_chars: usize,
    config: CleanerConfig,
}

impl Cleaner {
    /// Saves into `dir` atomically: both files are written into a fresh sibling directory which
    /// then replaces `dir` by rename, so a reader never sees half a cleaner, nor weights from one
    /// save beside a config from another. An existing `dir` must be a saved cleaner or empty.
    pub fn save(&self, dir: &Path) -> Result<()> {
        crate::io::save_dir_atomic(dir, META_FILE, "a saved cleaner", |staging| {
            self.write_files(staging)
        })
    }

    fn write_files(&self, staging: &Path) -> Result<()> {
        let mut store = SafetensorsStore::from_bytes(None);
        let weights_path = staging.join(WEIGHTS_FILE);
        self.net.save_into(&mut store).map_err(|e| {
            Error::model(
                weights_path.display().to_string(),
                format!("serialising weights: {e}"),
            )
        })?;
        let bytes = store.get_bytes().map_err(|e| {
            Error::model(
                weights_path.display().to_string(),
                format!("serialising weights: {e}"),
            )
        })?;
        write_synced(&weights_path, &bytes)?;
        let meta = Meta {
            format: FORMAT.into(),
            version: VERSION,
            feature_scheme: FEATURE_SCHEME.into(),
            max_chars: MAX_CHARS,
            config: self.config.clone(),
        };
        let json =
            serde_json::to_vec_pretty(&meta).map_err(|e| Error::model(META_FILE, e.to_string()))?;
        write_synced(&staging.join(META_FILE), &json)
    }

    /// Loads a cleaner saved by [`Cleaner::save`] onto a device of `kind` (the saved config's
    /// device is replaced by `kind`).
    pub fn load(dir: &Path, kind: DeviceKind) -> Result<Cleaner> {
        if !dir.is_dir() {
            return Err(Error::in_file(
                dir,
                "no saved cleaner here: not an existing directory",
            ));
        }
        let meta_path = dir.join(META_FILE);
        let meta_text = fs::read(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
        let meta: Meta = serde_json::from_slice(&meta_text).map_err(|e| {
            Error::in_file(&meta_path, format!("not a valid cleaner description: {e}"))
        })?;
        if meta.format != FORMAT || meta.version != VERSION {
            return Err(Error::in_file(
                &meta_path,
                format!(
                    "format {:?} version {}; this build reads {FORMAT:?} version {VERSION}",
                    meta.format, meta.version
                ),
            ));
        }
        if meta.feature_scheme != FEATURE_SCHEME || meta.max_chars != MAX_CHARS {
            return Err(Error::in_file(
                &meta_path,
                format!(
                    "feature_scheme {:?} (max_chars {}) differs from this build's {FEATURE_SCHEME:?} \
                     (max_chars {MAX_CHARS}); retrain the cleaner",
                    meta.feature_scheme, meta.max_chars
                ),
            ));
        }
        let mut config = meta.config;
        config
            .validate(SECTION)
            .map_err(|e| Error::in_file(&meta_path, format!("config: {e}")))?;
        config.device = kind;

        let weights_path = dir.join(WEIGHTS_FILE);
        let bytes = fs::read(&weights_path).map_err(|e| Error::io(&weights_path, e))?;
        check_shapes(&bytes, &config, &weights_path)?;
        let device = crate::device::device(kind)?;
        // The seed is irrelevant: every weight is overwritten by the load below.
        let mut net = NoiseNet::new(config.buckets as usize, config.hidden as usize, 0, &device);
        let mut store = SafetensorsStore::from_bytes(Some(bytes));
        net.load_from(&mut store).map_err(|e| {
            Error::model(
                weights_path.display().to_string(),
                format!("loading weights: {e}"),
            )
        })?;
        // A cleaner of NaN weights would silently keep (or drop) every signal.
        if let Some(tensor) = crate::policy::first_non_finite(&net) {
            let msg = format!("the weights of {tensor} hold NaN or infinite values");
            return Err(Error::in_file(&weights_path, msg));
        }
        Ok(Cleaner {
            net,
            config,
            device,
        })
    }
}

/// Compares the tensor shapes in the safetensors header with `buckets` and `hidden` from
/// `cleaner.json`, so a mismatch is reported by field name instead of as a Burn shape error.
fn check_shapes(bytes: &[u8], config: &CleanerConfig, weights_path: &Path) -> Result<()> {
    let corrupt =
        |why: &str| Error::in_file(weights_path, format!("not a valid safetensors file: {why}"));
    let header_len = bytes
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .ok_or_else(|| corrupt("shorter than its 8-byte header length"))?;
    let header = usize::try_from(header_len)
        .ok()
        .and_then(|len| bytes.get(8..8usize.checked_add(len)?))
        .ok_or_else(|| corrupt("header length exceeds the file"))?;
    #[derive(Deserialize)]
    struct Entry {
        shape: Vec<usize>,
    }
    let mut entries: HashMap<String, serde_json::Value> =
        serde_json::from_slice(header).map_err(|e| corrupt(&format!("header is not JSON: {e}")))?;
    entries.remove("__metadata__");
    let shape = |name: &str| -> Result<Vec<usize>> {
        let value = entries
            .get(name)
            .ok_or_else(|| corrupt(&format!("tensor {name} is missing")))?;
        serde_json::from_value::<Entry>(value.clone())
            .map(|e| e.shape)
            .map_err(|e| corrupt(&format!("tensor {name}: {e}")))
    };
    let (buckets, hidden) = (config.buckets as usize, config.hidden as usize);
    for (tensor, expected) in [
        ("hidden.weight", vec![buckets, hidden]),
        ("out.weight", vec![hidden, 2]),
    ] {
        let found = shape(tensor)?;
        if found != expected {
            let field = if found.first() != expected.first() && tensor == "hidden.weight" {
                "buckets"
            } else {
                "hidden"
            };
            return Err(Error::in_file(
                weights_path,
                format!(
                    "tensor {tensor} has shape {found:?} but {META_FILE} says buckets = {buckets}, \
                     hidden = {hidden} (expected {expected:?}): field `{field}` does not match the weights"
                ),
            ));
        }
    }
    Ok(())
}
