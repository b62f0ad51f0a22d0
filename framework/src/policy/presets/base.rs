//! The largest preset; `[distill]`'s default teacher size.

use super::{PresetPlugin, PresetShape};

inventory::submit! {
    PresetPlugin {
        name: "base",
        description: "largest CPU preset; the default teacher",
        shape: PresetShape {
            vocab_size: 8192,
            hidden_size: 384,
            layers: 8,
            heads: 6,
            kv_heads: 2,
            intermediate_size: 1024,
        },
    }
}
