//! The smallest point of the CPU model-size curve (`configs/paper.toml`).

use super::{PresetPlugin, PresetShape};

inventory::submit! {
    PresetPlugin {
        name: "pico",
        description: "smallest point of the CPU scaling curve",
        shape: PresetShape {
            vocab_size: 384,
            hidden_size: 32,
            layers: 2,
            heads: 2,
            kv_heads: 1,
            intermediate_size: 96,
        },
    }
}
