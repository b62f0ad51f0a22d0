//! The largest point of the CPU model-size curve; the distillation sweep's teacher.

use super::{PresetPlugin, PresetShape};

inventory::submit! {
    PresetPlugin {
        name: "mini",
        description: "CPU scaling point between nano and micro",
        shape: PresetShape {
            vocab_size: 768,
            hidden_size: 96,
            layers: 3,
            heads: 4,
            kv_heads: 2,
            intermediate_size: 288,
        },
    }
}
