//! Above mini: the GPU sweep's second size (`configs/paper-gpu.toml`).

use super::{PresetPlugin, PresetShape};

inventory::submit! {
    PresetPlugin {
        name: "micro",
        description: "CPU scaling point above mini; the GPU sweep's second size",
        shape: PresetShape {
            vocab_size: 1024,
            hidden_size: 128,
            layers: 4,
            heads: 4,
            kv_heads: 2,
            intermediate_size: 384,
        },
    }
}
