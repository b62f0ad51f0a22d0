//! The quickstart's policy, and the one tests and smoke runs train.

use super::{PresetPlugin, PresetShape};

inventory::submit! {
    PresetPlugin {
        name: "nano",
        description: "the quickstart policy; tests and smoke runs",
        shape: PresetShape {
            vocab_size: 512,
            hidden_size: 64,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            intermediate_size: 192,
        },
    }
}
