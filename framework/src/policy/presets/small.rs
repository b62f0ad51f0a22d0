//! A mid-point for longer runs and GPUs.

use super::{PresetPlugin, PresetShape};

inventory::submit! {
    PresetPlugin {
        name: "small",
        description: "CPU scaling mid-point",
        shape: PresetShape {
            vocab_size: 4096,
            hidden_size: 256,
            layers: 6,
            heads: 8,
            kv_heads: 4,
            intermediate_size: 768,
        },
    }
}
