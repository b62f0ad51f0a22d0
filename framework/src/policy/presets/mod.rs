//! The from-scratch presets, one file each: a shape by named fields, registered with
//! `inventory::submit!` like every other extension point. Adding a preset is one new file here
//! (plus its `mod` line); `quill presets` lists them smallest first, about 37k to 16M
//! parameters. pico, tiny, nano and mini (11x) are the model-size curve `configs/paper.toml`
//! trains on 2 CPU cores; micro and up are for longer runs and GPUs.

mod base;
mod micro;
mod mini;
mod nano;
mod pico;
mod small;
mod tiny;

use super::config::{DecoderConfig, RopeLayout};
use crate::error::{Error, Result};

/// A decoder's shape: what a preset file declares.
#[derive(Debug, Clone, Copy)]
pub struct PresetShape {
    /// The tokenizer vocabulary that suits the model (a large vocabulary would dominate a
    /// small model's parameters).
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub layers: usize,
    pub heads: usize,
    /// Key/value heads (grouped-query attention); `heads` is a multiple of it.
    pub kv_heads: usize,
    /// The MLP's width.
    pub intermediate_size: usize,
}

/// A registered preset.
pub struct PresetPlugin {
    pub name: &'static str,
    pub description: &'static str,
    pub shape: PresetShape,
}

inventory::collect!(PresetPlugin);

/// A from-scratch preset: its decoder config, with the vocabulary that suits it.
#[derive(Debug, Clone)]
pub struct Preset {
    pub name: &'static str,
    pub description: &'static str,
    pub config: DecoderConfig,
}

impl Preset {
    fn of(plugin: &PresetPlugin) -> Preset {
        let s = plugin.shape;
        Preset {
            name: plugin.name,
            description: plugin.description,
            config: DecoderConfig {
                vocab_size: s.vocab_size,
                hidden_size: s.hidden_size,
                layers: s.layers,
                heads: s.heads,
                kv_heads: s.kv_heads,
                intermediate_size: s.intermediate_size,
                max_positions: 1024,
                rope_theta: 10_000.0,
                rope_layout: RopeLayout::Halves,
                rms_eps: 1e-5,
                qkv_bias: false,
                tie_embeddings: true,
            },
        }
    }

    /// This preset with the vocabulary its tokenizer actually has (BPE training may stop short
    /// of the requested size on a small corpus).
    pub fn with_vocab(&self, vocab_size: usize) -> DecoderConfig {
        DecoderConfig {
            vocab_size,
            ..self.config.clone()
        }
    }
}

/// Every registered preset, smallest first (by parameter count, then name).
pub fn presets() -> Vec<Preset> {
    let mut all: Vec<Preset> = inventory::iter::<PresetPlugin>
        .into_iter()
        .map(Preset::of)
        .collect();
    all.sort_by_key(|p| (p.config.param_count(), p.name));
    all
}

/// The preset of a name, or an error listing the valid names.
pub fn find_preset(name: &str) -> Result<Preset> {
    let all = presets();
    all.iter().find(|p| p.name == name).cloned().ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|p| p.name).collect();
        Error::field(
            "policy.preset",
            format!(
                "unknown preset {name:?}: valid presets are {}",
                names.join(", ")
            ),
        )
    })
}
