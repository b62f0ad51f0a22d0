//! The decoder's shape (`DecoderConfig`, saved beside every checkpoint) and the from-scratch
//! presets that the model-size scaling curve runs over.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// How rotary embeddings pair the coordinates of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RopeLayout {
    /// Coordinate i pairs with i + d/2 (Hugging Face Llama/Qwen `rotate_half`); Quill's own
    /// checkpoints use it too.
    Halves,
    /// Coordinate 2i pairs with 2i + 1: llama.cpp's GGUF converter permutes the Q/K rows of
    /// Hugging Face checkpoints into this layout.
    AdjacentPairs,
}

/// One Llama-family decoder: RMSNorm, rotary positions, SwiGLU MLP, grouped-query attention,
/// optional QKV bias (Qwen2) and optional tied input/output embeddings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoderConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub layers: usize,
    /// Query heads; `hidden_size / heads` is the head dimension.
    pub heads: usize,
    /// Key/value heads (grouped-query attention); divides `heads`.
    pub kv_heads: usize,
    /// Width of the SwiGLU MLP.
    pub intermediate_size: usize,
    /// Longest sequence (prompt + completion) the rotary tables cover.
    pub max_positions: usize,
    pub rope_theta: f64,
    pub rope_layout: RopeLayout,
    pub rms_eps: f64,
    pub qkv_bias: bool,
    pub tie_embeddings: bool,
}

impl DecoderConfig {
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.heads.max(1)
    }

    /// Checks the shape constraints; `what` names the config in errors (a file or preset).
    pub fn validate(&self, what: &str) -> Result<()> {
        let fail = |field: &str, msg: String| Err(Error::field(format!("{what}: {field}"), msg));
        for (field, value) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("layers", self.layers),
            ("heads", self.heads),
            ("kv_heads", self.kv_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_positions", self.max_positions),
        ] {
            if value == 0 {
                return fail(field, "is 0: valid values are >= 1".into());
            }
        }
        if !self.hidden_size.is_multiple_of(self.heads) {
            let msg = format!(
                "hidden_size {} is not a multiple of heads {}",
                self.hidden_size, self.heads
            );
            return fail("heads", msg);
        }
        if !self.heads.is_multiple_of(self.kv_heads) {
            let msg = format!(
                "heads {} is not a multiple of kv_heads {}",
                self.heads, self.kv_heads
            );
            return fail("kv_heads", msg);
        }
        if !self.head_dim().is_multiple_of(2) {
            let msg = format!(
                "head dimension {} is odd: rotary needs it even",
                self.head_dim()
            );
            return fail("heads", msg);
        }
        if !(self.rope_theta > 0.0 && self.rms_eps > 0.0) {
            let msg = format!(
                "rope_theta {} and rms_eps {} must be > 0",
                self.rope_theta, self.rms_eps
            );
            return fail("rope_theta", msg);
        }
        Ok(())
    }

    /// Trainable parameters, computed from the shapes (tested against the built module).
    pub fn param_count(&self) -> usize {
        let (h, kv) = (self.hidden_size, self.kv_heads * self.head_dim());
        let bias = if self.qkv_bias { h + 2 * kv } else { 0 };
        let attention = h * h + 2 * h * kv + bias + h * h;
        let mlp = 3 * h * self.intermediate_size;
        let layer = attention + mlp + 2 * h;
        let embeddings = self.vocab_size * h;
        let head = if self.tie_embeddings { 0 } else { embeddings };
        embeddings + self.layers * layer + h + head
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::presets::{find_preset, presets};

    #[test]
    fn presets_span_thirty_times_in_parameters_and_validate() {
        let counts: Vec<usize> = presets()
            .iter()
            .map(|p| {
                p.config.validate(p.name).unwrap();
                p.config.param_count()
            })
            .collect();
        assert!(counts.windows(2).all(|w| w[0] < w[1]), "{counts:?}");
        assert!(counts[counts.len() - 1] >= 30 * counts[0], "{counts:?}");
    }

    #[test]
    fn param_count_by_hand_for_nano() {
        let c = find_preset("nano").unwrap().config;
        // Tied embedding 512x64; per layer: q 64x64, k and v 64x32 each, o 64x64, MLP 3x64x192,
        // two norms of 64; the final norm 64.
        let layer = 4096 + 2 * 2048 + 4096 + 3 * 64 * 192 + 128;
        assert_eq!(c.param_count(), 512 * 64 + 2 * layer + 64);
    }

    #[test]
    fn param_count_by_hand_for_tiny() {
        let c = find_preset("tiny").unwrap().config;
        // Tied embedding 448x48; per layer: q and o 48x48, k and v 48x24 (one KV head of two),
        // MLP 3x48x144, two norms of 48; the final norm 48.
        let layer = 2 * 2304 + 2 * 1152 + 3 * 48 * 144 + 96;
        assert_eq!(c.param_count(), 448 * 48 + 2 * layer + 48);
        assert_eq!(c.param_count(), 77_040);
    }

    #[test]
    fn bad_shapes_and_names_are_clear_errors() {
        let mut c = find_preset("nano").unwrap().config;
        c.kv_heads = 3;
        let err = c.validate("policy.json").unwrap_err().to_string();
        assert!(
            err.contains("heads 4 is not a multiple of kv_heads 3"),
            "{err}"
        );
        let err = find_preset("huge").unwrap_err().to_string();
        assert!(
            err.contains("\"huge\"") && err.contains("pico, tiny, nano, mini, micro, small, base"),
            "{err}"
        );
    }
}
