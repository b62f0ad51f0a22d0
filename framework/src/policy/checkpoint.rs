//! Policy checkpoints: a directory with `policy.json` (format, version, the decoder's shape and
//! free-form provenance), `weights.safetensors` (burn-store) and, when given, the tokenizer's
//! `tokenizer.json`; written atomically (`io::save_dir_atomic`).

use super::config::DecoderConfig;
use super::decoder::Decoder;
use crate::bounded_read::{JSON_BYTES, read_bounded};
use crate::error::{Error, Result};
use crate::io::{save_dir_atomic, write_synced};
use burn::module::{Module, ModuleVisitor, Param};
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::{Device, Tensor};
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
    let decoder = &*decoder.for_saving();
    // Fail closed: a diverged model saved would be served and evaluated as if it were one.
    if let Some(module) = first_non_finite(decoder) {
        let msg = format!(
            "refusing to save: the weights of {module} hold NaN or infinite values (training \
             diverged; a lower learning rate usually helps)"
        );
        return Err(Error::in_file(dir, msg));
    }
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
    let text = read_bounded(&meta_path, JSON_BYTES, "a policy description")?;
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
    if let Some(module) = first_non_finite(&decoder) {
        let msg = format!("the weights of {module} hold NaN or infinite values");
        return Err(Error::in_file(&weights_path, msg));
    }
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

/// The module path of the first parameter of `module` holding a NaN or an infinity (e.g.
/// `blocks.3.attention.q_proj.weight` of a decoder); `None` when every weight is finite.
pub fn first_non_finite<M: Module>(module: &M) -> Option<String> {
    struct Finder {
        path: Vec<String>,
        found: Option<String>,
    }
    impl ModuleVisitor for Finder {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.found.is_none() && !param.val().is_finite().all().into_scalar::<bool>() {
                self.found = Some(self.path.join("."));
            }
        }
    }
    let mut finder = Finder {
        path: Vec::new(),
        found: None,
    };
    module.visit(&mut finder);
    finder.found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::find_preset;

    #[test]
    fn non_finite_weights_are_neither_saved_nor_loaded() {
        let config = find_preset("pico").unwrap().config;
        let device = Device::flex();
        let good = Decoder::new(&config, 1, &device);
        assert_eq!(first_non_finite(&good), None);
        let mut bad = good.clone();
        let up = &mut bad.blocks[1].mlp.up_proj;
        up.weight = Param::from_tensor(up.weight.val().mul_scalar(f32::NAN));
        assert_eq!(
            first_non_finite(&bad).as_deref(),
            Some("blocks.1.mlp.up_proj.weight")
        );

        let dir = std::env::temp_dir().join(format!("quill-nan-{}", std::process::id()));
        let err = save_checkpoint(&dir, &bad, &config, None, serde_json::Value::Null)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("blocks.1.mlp.up_proj.weight") && err.contains("NaN"),
            "{err}"
        );
        assert!(!dir.exists(), "nothing is written");

        // A file that holds them anyway (written by something else) is refused on load.
        save_checkpoint(&dir, &good, &config, None, serde_json::Value::Null).unwrap();
        let weights = dir.join(WEIGHTS_FILE);
        write_safetensors(&bad, SafetensorsStore::from_bytes(None), &weights).unwrap();
        let err = load_checkpoint(&dir, &device).unwrap_err().to_string();
        assert!(
            err.contains("blocks.1.mlp.up_proj") && err.contains(WEIGHTS_FILE),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
