//! Between pico and nano, so that the CPU sweep (`configs/paper.toml`) has four sizes over 11x
//! that 2 cores train in well under two hours; the distillation sweep's student.

use super::{PresetPlugin, PresetShape};

inventory::submit! {
    PresetPlugin {
        name: "tiny",
        description: "CPU scaling point between pico and nano",
        shape: PresetShape {
            vocab_size: 448,
            hidden_size: 48,
            layers: 2,
            heads: 2,
            kv_heads: 1,
            intermediate_size: 144,
        },
    }
}
