//! What attention may look at: the key/value cache of incremental decoding, and the mask of
//! padding and causality.

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

/// Keys (after rotary) and values of every layer for the columns decoded so far.
///
/// Each is kept in a buffer `[batch, kv_heads, capacity, head_dim]` with room to spare, and a
/// decoding step writes its column in place: appending by concatenation copied the whole cache
/// at every step, in all, quadratic in the completion length (a tenth of the sampling time of
/// the `micro` preset at 128 x 64). Attention reads a view of the filled columns.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<(Option<Tensor<4>>, Option<Tensor<4>>)>,
    len: usize,
    /// Columns to allocate at the first write, set by `reserve`.
    reserved: usize,
}

impl KvCache {
    pub fn new(layers: usize) -> Self {
        KvCache {
            layers: vec![(None, None); layers],
            len: 0,
            reserved: 0,
        }
    }

    /// Columns (positions) held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes room for `columns` columns in all, so that appending up to that many copies
    /// nothing. Without it the buffers double when full.
    pub fn reserve(&mut self, columns: usize) {
        self.reserved = self.reserved.max(columns);
    }

    /// Writes layer `layer`'s keys and values of the new columns after the `len()` held and
    /// returns views of all of them.
    pub(super) fn append(
        &mut self,
        layer: usize,
        k_new: Tensor<4>,
        v_new: Tensor<4>,
    ) -> (Tensor<4>, Tensor<4>) {
        let (start, reserved) = (self.len, self.reserved);
        let (k, v) = &mut self.layers[layer];
        (
            write(k, k_new, start, reserved),
            write(v, v_new, start, reserved),
        )
    }

    /// Keeps, as row `i`, the current row `rows[i]` of every layer (rows may repeat): the
    /// cache of prompts prefilled once, copied to each row that shares them.
    pub(super) fn select_rows(&mut self, rows: &[usize], device: &Device) {
        let ids: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
        let index = Tensor::<1, Int>::from_data(TensorData::new(ids, [rows.len()]), device);
        for (k, v) in self.layers.iter_mut() {
            for slot in [k, v] {
                *slot = slot.take().map(|t| t.select(0, index.clone()));
            }
        }
    }

    pub(super) fn advance(&mut self, columns: usize) {
        self.len += columns;
    }
}

/// Writes `new` `[b, kv, n, d]` to columns `start..start + n` of the buffer in `slot` and
/// returns a view of columns `0..start + n`. Burn writes in place when the buffer is not
/// shared: the view handed to attention is dropped before the next step. A cloned cache
/// shares buffers until one of them is written, which copies it first.
fn write(slot: &mut Option<Tensor<4>>, new: Tensor<4>, start: usize, reserved: usize) -> Tensor<4> {
    let [b, kv, n, d] = new.dims();
    let end = start + n;
    if new.is_tracked() {
        // Differentiating through the cache: plain concatenation, whose gradient is simple.
        let all = match slot.take() {
            Some(past) => Tensor::cat(vec![past.narrow(2, 0, start), new], 2),
            None => new,
        };
        *slot = Some(all.clone());
        return all;
    }
    let buffer = match slot.take() {
        Some(buffer) if buffer.dims()[2] >= end => buffer,
        old => {
            let capacity = end
                .max(reserved)
                .max(2 * old.as_ref().map_or(0, |o| o.dims()[2]));
            let fresh = Tensor::zeros([b, kv, capacity, d], &new.device());
            match old {
                Some(past) if start > 0 => {
                    fresh.slice_assign([0..b, 0..kv, 0..start, 0..d], past.narrow(2, 0, start))
                }
                _ => fresh,
            }
        }
    };
    let buffer = buffer.slice_assign([0..b, 0..kv, start..end, 0..d], new);
    *slot = Some(buffer.clone());
    buffer.narrow(2, 0, end)
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

    fn column(value: f32) -> Tensor<4> {
        Tensor::from_data(
            TensorData::new(vec![value; 2], [1, 1, 1, 2]),
            &Device::flex(),
        )
    }

    fn keys(view: Tensor<4>) -> Vec<f32> {
        view.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn appends_grow_the_buffers_and_clones_stay_independent() {
        let mut cache = KvCache::new(1);
        cache.reserve(2);
        for i in 0..5 {
            // Past the reserved two columns the buffer doubles; earlier columns survive.
            let (k, v) = cache.append(0, column(i as f32), column(-(i as f32)));
            cache.advance(1);
            let want: Vec<f32> = (0..=i).flat_map(|c| [c as f32; 2]).collect();
            assert_eq!(keys(k), want);
            assert_eq!(keys(v), want.iter().map(|x| -x).collect::<Vec<_>>());
        }
        let mut fork = cache.clone();
        let (forked, _) = fork.append(0, column(9.0), column(9.0));
        let (original, _) = cache.append(0, column(7.0), column(7.0));
        assert_eq!(keys(forked)[10..], [9.0, 9.0]);
        assert_eq!(keys(original)[10..], [7.0, 7.0]);
    }

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
