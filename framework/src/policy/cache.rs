//! What attention may look at: the key/value cache of incremental decoding, and the mask of
//! padding and causality.

use burn::tensor::{Bool, Device, Tensor, TensorData};

/// Keys (after rotary) and values of every layer for the columns decoded so far:
/// `[batch, kv_heads, columns, head_dim]` each.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<(Option<Tensor<4>>, Option<Tensor<4>>)>,
    len: usize,
}

impl KvCache {
    pub fn new(layers: usize) -> Self {
        KvCache {
            layers: vec![(None, None); layers],
            len: 0,
        }
    }

    /// Columns (positions) held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn layer(&mut self, i: usize) -> (&mut Option<Tensor<4>>, &mut Option<Tensor<4>>) {
        let (k, v) = &mut self.layers[i];
        (k, v)
    }

    pub(super) fn advance(&mut self, columns: usize) {
        self.len += columns;
    }
}

/// Which keys each new query may attend to, for a forward pass over `new` columns appended
/// after `total - new` cached ones. Query column q sees key column k when k <= q (causal) and
/// k holds a real token; padding keys are hidden from real queries. A padding query sees the
/// padding keys too: rows are never fully hidden, so softmax stays finite, and what padding
/// rows compute is never read.
#[derive(Debug, Clone)]
pub struct AttentionMask {
    /// `[batch, 1, new, total]`, true = hidden.
    hidden_b1st: Tensor<4, Bool>,
    new: usize,
}

impl AttentionMask {
    /// `valid[row][col]` for every column so far (cached and new; all rows the same length),
    /// of which the last `new` are being computed now.
    pub fn new(valid: &[Vec<bool>], new: usize, device: &Device) -> Self {
        let batch = valid.len();
        let total = valid.first().map_or(0, Vec::len);
        assert!(new <= total, "{new} new columns of {total}");
        assert!(
            valid.iter().all(|r| r.len() == total),
            "ragged validity rows"
        );
        let start = total - new;
        let mut hidden = Vec::with_capacity(batch * new * total);
        for row in valid {
            for q in start..total {
                hidden.extend((0..total).map(|k| k > q || (!row[k] && row[q])));
            }
        }
        let data = TensorData::new(hidden, [batch, 1, new, total]);
        AttentionMask {
            hidden_b1st: Tensor::from_data(data, device),
            new,
        }
    }

    /// Plain causal attention over `batch` rows of `seq` real tokens.
    pub fn causal(batch: usize, seq: usize, device: &Device) -> Self {
        Self::new(&vec![vec![true; seq]; batch], seq, device)
    }

    pub fn new_columns(&self) -> usize {
        self.new
    }

    pub(super) fn hidden_b1st(&self) -> Tensor<4, Bool> {
        self.hidden_b1st.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_hidden_from_real_queries_only_and_the_future_from_all() {
        // Row 0: one left pad then two tokens; row 1: three tokens. Last two columns are new.
        let valid = vec![vec![false, true, true], vec![true, true, true]];
        let mask = AttentionMask::new(&valid, 2, &Device::flex());
        let got: Vec<bool> = mask.hidden_b1st().into_data().try_to_vec::<bool>().unwrap();
        #[rustfmt::skip]
        let want = vec![
            // row 0, query col 1: the pad key 0 hidden, key 2 in the future
            true, false, true,
            // row 0, query col 2
            true, false, false,
            // row 1, query col 1
            false, false, true,
            // row 1, query col 2
            false, false, false,
        ];
        assert_eq!(got, want);
        // A padding query sees earlier padding: its row is never all hidden.
        let pads = AttentionMask::new(&[vec![false, false, true]], 3, &Device::flex());
        let got: Vec<bool> = pads.hidden_b1st().into_data().try_to_vec::<bool>().unwrap();
        assert_eq!(
            got,
            vec![false, true, true, false, false, true, true, true, false]
        );
    }
}
