//! LoRA adapters in PEFT's files, so that `PeftModel.from_pretrained(base, dir)` loads what
//! Quill trains and Quill loads what PEFT trains:
//! - `adapter_config.json`: `peft_type` `LORA`, `r`, `lora_alpha`, `target_modules`,
//!   `layers_to_transform` (absent: every block), `bias` `none`;
//! - `adapter_model.safetensors`: for block `N` and projection `P` of `self_attn` or `mlp`,
//!   `base_model.model.model.layers.N.<self_attn|mlp>.P.lora_A.weight` `[rank, in]` and
//!   `...lora_B.weight` `[out, rank]` (PyTorch's layout; Quill's adapter holds the transposes).
//!
//! Written by hand with the `safetensors` crate rather than through burn-store: each tensor's
//! key, transpose and (for GGUF decoders) Q/K column order are explicit here, and PEFT variants
//! Quill does not implement (rsLoRA, DoRA, biases, per-module ranks) are refused by name.

use super::config::{DecoderConfig, RopeLayout};
use super::decoder::Decoder;
use super::hf_export::halves_order;
use super::lora::{BlockAdapters, LoraAdapter, LoraSpec, Projection};
use crate::bounded_read::{JSON_BYTES, read_text_bounded};
use crate::error::{Error, Result};
use crate::io::{save_dir_atomic, write_synced};
use burn::module::Param;
use burn::tensor::{Int, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

pub const ADAPTER_CONFIG: &str = "adapter_config.json";
pub const ADAPTER_WEIGHTS: &str = "adapter_model.safetensors";

fn key(block: usize, p: Projection, matrix: &str) -> String {
    format!(
        "base_model.model.model.layers.{block}.{}.{}.lora_{matrix}.weight",
        p.parent(),
        p.as_str()
    )
}

/// Saves the adapters of `decoder` (shape `cfg`, adapted as `spec`) into `dir` as PEFT does;
/// `base` is written as `base_model_name_or_path` (the weights the adapters apply to).
pub fn save_peft_adapter(
    dir: &Path,
    decoder: &Decoder,
    cfg: &DecoderConfig,
    spec: &LoraSpec,
    base: &str,
) -> Result<()> {
    if !decoder.has_adapters() {
        return Err(Error::in_file(dir, "the decoder has no adapters to save"));
    }
    let mut tensors: BTreeMap<String, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for (i, adapters) in decoder.adapters.iter().enumerate() {
        for p in Projection::ALL {
            let Some(a) = adapters.get(p) else { continue };
            let mut up = a.up.val();
            if let Some(order) = halves_columns(cfg, p) {
                let device = up.device();
                let n = order.len();
                up = up.select(
                    1,
                    Tensor::<1, Int>::from_data(TensorData::new(order, [n]), &device),
                );
            }
            tensors.insert(key(i, p, "A"), torch_layout(a.down.val()));
            tensors.insert(key(i, p, "B"), torch_layout(up));
        }
    }
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(k, (shape, bytes))| {
            let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map_err(|e| Error::in_file(dir, format!("tensor {k}: {e}")))?;
            Ok((k.clone(), view))
        })
        .collect::<Result<_>>()?;
    // As PEFT writes it (transformers checks this field of a model file).
    let metadata = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::in_file(dir, format!("serialising the adapter: {e}")))?;
    let config = adapter_config(spec, base);
    let config = serde_json::to_vec_pretty(&config)
        .map_err(|e| Error::in_file(dir, format!("writing {ADAPTER_CONFIG}: {e}")))?;
    save_dir_atomic(dir, ADAPTER_CONFIG, "a PEFT adapter", |staging| {
        write_synced(&staging.join(ADAPTER_WEIGHTS), &bytes)?;
        // Written last: its presence marks a complete adapter.
        write_synced(&staging.join(ADAPTER_CONFIG), &config)
    })
}

/// The `adapter_config.json` of `spec`, with PEFT's defaults for what Quill does not vary.
fn adapter_config(spec: &LoraSpec, base: &str) -> Value {
    let targets: Vec<&str> = spec.targets.iter().map(|p| p.as_str()).collect();
    let layers = (!spec.blocks.is_empty()).then(|| spec.blocks.clone());
    json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base,
        "r": spec.rank,
        "lora_alpha": spec.alpha,
        "lora_dropout": 0.0,
        "target_modules": targets,
        "layers_to_transform": layers,
        "bias": "none",
        "fan_in_fan_out": false,
        "use_rslora": false,
        "use_dora": false,
        "init_lora_weights": true,
        "inference_mode": true,
        "modules_to_save": null,
        "rank_pattern": {},
        "alpha_pattern": {},
    })
}

/// A `[rows, cols]` Burn tensor as PyTorch's `[cols, rows]` little-endian f32 bytes.
fn torch_layout(t: Tensor<2>) -> (Vec<usize>, Vec<u8>) {
    let [rows, cols] = t.dims();
    let values = t.transpose().into_data().convert::<f32>();
    let bytes = values.as_bytes().to_vec();
    (vec![cols, rows], bytes)
}

/// For Q and K of a GGUF decoder (adjacent rotary pairs): the column order that gives Hugging
/// Face's halves layout, which PEFT adapters are in.
fn halves_columns(cfg: &DecoderConfig, p: Projection) -> Option<Vec<i64>> {
    let heads = match p {
        Projection::Q => cfg.heads,
        Projection::K => cfg.kv_heads,
        _ => return None,
    };
    (cfg.rope_layout == RopeLayout::AdjacentPairs).then(|| halves_order(heads, cfg.head_dim()))
}

/// The fields of `adapter_config.json` Quill reads; the others are PEFT's bookkeeping.
#[derive(Deserialize)]
struct PeftConfig {
    peft_type: String,
    r: usize,
    lora_alpha: f64,
    target_modules: Value,
    #[serde(default)]
    layers_to_transform: Option<Value>,
    #[serde(default = "no_bias")]
    bias: String,
    #[serde(default)]
    fan_in_fan_out: bool,
    #[serde(default)]
    use_rslora: bool,
    #[serde(default)]
    use_dora: bool,
    #[serde(default)]
    modules_to_save: Option<Value>,
    #[serde(default)]
    layer_replication: Option<Value>,
    #[serde(default)]
    rank_pattern: BTreeMap<String, Value>,
    #[serde(default)]
    alpha_pattern: BTreeMap<String, Value>,
}

fn no_bias() -> String {
    "none".into()
}

/// Reads a PEFT LoRA adapter from `dir` and attaches it to `decoder` (shape `cfg`), whose base
/// is then frozen. Errors name the file and the field or tensor at fault.
pub fn load_peft_adapter(dir: &Path, decoder: Decoder, cfg: &DecoderConfig) -> Result<Decoder> {
    let spec = read_adapter_config(dir)?;
    spec.check(cfg, &dir.join(ADAPTER_CONFIG).display().to_string())?;
    let path = dir.join(ADAPTER_WEIGHTS);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::in_file(&path, format!("not a safetensors file: {e}")))?;
    let mut expected = 0usize;
    let mut adapters = Vec::with_capacity(decoder.blocks.len());
    for (i, block) in decoder.blocks.iter().enumerate() {
        let mut out = BlockAdapters::empty();
        for &p in spec.targets.iter().filter(|_| spec.adapts_block(i)) {
            let [d_in, d_out] = p.linear(block).weight.dims();
            let device = p.linear(block).weight.device();
            let down = read_matrix(&file, &path, &key(i, p, "A"), [spec.rank, d_in])?;
            let mut up = read_matrix(&file, &path, &key(i, p, "B"), [d_out, spec.rank])?;
            expected += 2;
            if let Some(order) = halves_columns(cfg, p) {
                // The inverse permutation: halves column j came from adjacent column order[j].
                let mut inverse = vec![0i64; order.len()];
                for (j, &from) in order.iter().enumerate() {
                    inverse[from as usize] = j as i64;
                }
                up = permute_rows(up, &inverse, spec.rank);
            }
            // PyTorch's `[out, in]` to Burn's `[in, out]`.
            let burn_layout = |values: Vec<f32>, shape: [usize; 2]| {
                let t = Tensor::<2>::from_data(TensorData::new(values, shape), &device);
                Param::from_tensor(t.transpose())
            };
            *out.slot_mut(p) = Some(LoraAdapter {
                down: burn_layout(down, [spec.rank, d_in]),
                up: burn_layout(up, [d_out, spec.rank]),
                scale: spec.scale(),
            });
        }
        adapters.push(out);
    }
    if file.len() != expected {
        let extra = file
            .names()
            .into_iter()
            .find(|n| !is_expected(n, &spec, decoder.blocks.len()))
            .map_or_else(String::new, |n| format!(" (first: {n})"));
        let msg = format!(
            "{} tensors where {ADAPTER_CONFIG} implies {expected}{extra}",
            file.len()
        );
        return Err(Error::in_file(&path, msg));
    }
    decoder.with_adapters(adapters)
}

fn is_expected(name: &str, spec: &LoraSpec, blocks: usize) -> bool {
    (0..blocks).filter(|&i| spec.adapts_block(i)).any(|i| {
        spec.targets
            .iter()
            .any(|&p| name == key(i, p, "A") || name == key(i, p, "B"))
    })
}

/// Rows `[out, rank]` reordered so that row `k` of the result is row `from[k]`.
fn permute_rows(values: Vec<f32>, from: &[i64], rank: usize) -> Vec<f32> {
    from.iter()
        .flat_map(|&r| values[r as usize * rank..(r as usize + 1) * rank].to_vec())
        .collect()
}

/// The f32 values of the 2-d tensor `name` of shape `shape` (f32, f16 or bf16 on file).
fn read_matrix(file: &SafeTensors, path: &Path, name: &str, shape: [usize; 2]) -> Result<Vec<f32>> {
    let view = file
        .tensor(name)
        .map_err(|_| Error::in_file(path, format!("no tensor {name}")))?;
    if view.shape() != shape {
        let msg = format!(
            "tensor {name} has shape {:?}, expected {shape:?}",
            view.shape()
        );
        return Err(Error::in_file(path, msg));
    }
    let data = view.data();
    let values: Vec<f32> = match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        other => {
            let msg = format!("tensor {name} is {other:?}; valid types are F32, F16 and BF16");
            return Err(Error::in_file(path, msg));
        }
    };
    if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
        return Err(Error::in_file(path, format!("tensor {name} holds {bad}")));
    }
    Ok(values)
}

/// The adapter spec of `dir/adapter_config.json`; PEFT options Quill does not implement are
/// errors naming them.
pub fn read_adapter_config(dir: &Path) -> Result<LoraSpec> {
    let path = dir.join(ADAPTER_CONFIG);
    let text = read_text_bounded(&path, JSON_BYTES, "a PEFT adapter config")?;
    let c: PeftConfig = serde_json::from_str(&text)
        .map_err(|e| Error::in_file(&path, format!("not a PEFT adapter config: {e}")))?;
    let refuse = |field: &str, value: String, valid: &str| {
        let msg = format!("{field} = {value} is not supported: {valid}");
        Err(Error::in_file(&path, msg))
    };
    if c.peft_type != "LORA" {
        return refuse("peft_type", c.peft_type, "only LORA adapters load");
    }
    if c.bias != "none" {
        return refuse("bias", c.bias, "only \"none\" (no trained biases)");
    }
    for (field, on) in [
        ("fan_in_fan_out", c.fan_in_fan_out),
        ("use_rslora", c.use_rslora),
        ("use_dora", c.use_dora),
    ] {
        if on {
            return refuse(field, "true".into(), "only false");
        }
    }
    for (field, value) in [
        ("modules_to_save", &c.modules_to_save),
        ("layer_replication", &c.layer_replication),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_null()) {
            return refuse(
                field,
                v.to_string(),
                "only null (adapters on the base's own blocks)",
            );
        }
    }
    if !c.rank_pattern.is_empty() || !c.alpha_pattern.is_empty() {
        return refuse(
            "rank_pattern/alpha_pattern",
            "non-empty".into(),
            "one rank and alpha",
        );
    }
    let targets = parse_targets(&c.target_modules)
        .map_err(|e| Error::in_file(&path, format!("target_modules: {e}")))?;
    let index = |v: &Value| v.as_u64().map(|n| n as usize);
    let blocks = match &c.layers_to_transform {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(index).collect(),
        Some(one) => index(one).map(|b| vec![b]),
    };
    let Some(blocks) = blocks else {
        let value = c.layers_to_transform.unwrap_or_default().to_string();
        return refuse(
            "layers_to_transform",
            value,
            "null, a block index or a list of them",
        );
    };
    Ok(LoraSpec {
        rank: c.r,
        alpha: c.lora_alpha,
        targets,
        blocks,
    })
}

fn parse_targets(value: &Value) -> std::result::Result<Vec<Projection>, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "{value} is not a list (a regular expression is not supported); valid names: {}",
            Projection::NAMES.join(", ")
        ));
    };
    items
        .iter()
        .map(|v| {
            let name = v.as_str().unwrap_or_default();
            name.parse::<Projection>()
        })
        .collect()
}
