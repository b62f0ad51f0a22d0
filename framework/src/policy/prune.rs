//! Layer pruning: a student that is a copy of its teacher with fewer blocks, the blocks taken
//! evenly through the depth and initialised from the teacher's weights. It shares the
//! teacher's tokenizer, embeddings and final norm, so distillation starts from a model that
//! already reads and writes the teacher's vocabulary (the compression route of DistilBERT and
//! Minitron, applied here to depth only).

use super::{Decoder, DecoderConfig};
use crate::error::{Error, Result};

/// The `keep` of `total` block indices, spread evenly from the first block to the last: block
/// `round(i · (total − 1) / (keep − 1))` for `i` in `0..keep`. The first block reads the
/// embeddings and the last writes what the final norm and output projection were trained on,
/// so both stay. One block keeps the first. Errors when `keep` is 0 or above `total`.
pub fn evenly_spaced_blocks(total: usize, keep: usize) -> Result<Vec<usize>> {
    if keep == 0 || keep > total {
        let msg = format!("{keep}: valid values are 1 ..= {total}, the teacher's blocks");
        return Err(Error::field("distill.student_blocks", msg));
    }
    if keep == 1 {
        return Ok(vec![0]);
    }
    // Integer rounding of i·(total−1)/(keep−1): exact, and strictly increasing because the
    // step (total−1)/(keep−1) is at least 1.
    let (span, steps) = (total - 1, keep - 1);
    Ok((0..keep)
        .map(|i| (2 * i * span + steps) / (2 * steps))
        .collect())
}

impl Decoder {
    /// This decoder with only the blocks at `keep` (increasing indices, as
    /// [`evenly_spaced_blocks`] gives), and its config with that many layers. Embeddings, final
    /// norm and output projection are kept as they are. A decoder with LoRA adapters is refused:
    /// merge them first.
    pub fn pruned(self, cfg: &DecoderConfig, keep: &[usize]) -> Result<(Decoder, DecoderConfig)> {
        if self.has_adapters() {
            return Err(Error::model(
                "pruning",
                "a decoder with LoRA adapters cannot be pruned: merge them first",
            ));
        }
        let increasing = keep.windows(2).all(|w| w[0] < w[1]);
        if keep.is_empty() || !increasing || keep.iter().any(|&i| i >= self.blocks.len()) {
            let msg = format!(
                "blocks {keep:?}: valid are increasing indices below {}",
                self.blocks.len()
            );
            return Err(Error::model("pruning", msg));
        }
        let mut decoder = self;
        let blocks = std::mem::take(&mut decoder.blocks);
        decoder.blocks = blocks
            .into_iter()
            .enumerate()
            .filter_map(|(i, block)| keep.contains(&i).then_some(block))
            .collect();
        let config = DecoderConfig {
            layers: keep.len(),
            ..cfg.clone()
        };
        Ok((decoder, config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{AttentionMask, LoraSpec, find_preset};
    use burn::tensor::{Int, Tensor, TensorData};

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    fn logits(decoder: &Decoder) -> Vec<f32> {
        let device = Default::default();
        let tokens: Tensor<2, Int> =
            Tensor::from_data(TensorData::new(vec![3i64, 9, 27, 4], [1, 4]), &device);
        values(decoder.forward(tokens, &AttentionMask::causal(1, 4, &device), None))
    }

    #[test]
    fn a_pruned_decoder_is_the_kept_blocks_of_the_original() {
        let mut cfg = find_preset("pico").unwrap().config.clone();
        cfg.layers = 3;
        let full = Decoder::new(&cfg, 7, &Default::default());
        let (all, all_cfg) = full.clone().pruned(&cfg, &[0, 1, 2]).unwrap();
        assert_eq!((all_cfg, logits(&all)), (cfg.clone(), logits(&full)));
        let (last, last_cfg) = full.clone().pruned(&cfg, &[2]).unwrap();
        assert_eq!((last.blocks.len(), last_cfg.layers), (1, 1));
        assert_eq!(last_cfg.hidden_size, cfg.hidden_size);
        assert_eq!(
            values(last.blocks[0].mlp.down_proj.weight.val()),
            values(full.blocks[2].mlp.down_proj.weight.val())
        );
        assert_eq!(
            values(last.embed_tokens.weight.val()),
            values(full.embed_tokens.weight.val())
        );
        assert_ne!(logits(&last), logits(&full));
        for bad in [&[1, 0][..], &[3], &[]] {
            let msg = full.clone().pruned(&cfg, bad).unwrap_err().to_string();
            assert!(msg.contains("increasing indices below 3"), "{bad:?}: {msg}");
        }
        let spec = LoraSpec {
            rank: 2,
            alpha: 4.0,
            targets: vec![crate::policy::Projection::Q],
            blocks: Vec::new(),
        };
        let adapted = full.with_lora(&spec, &cfg, 1).unwrap();
        let msg = adapted.pruned(&cfg, &[0]).unwrap_err().to_string();
        assert!(msg.contains("merge them first"), "{msg}");
    }

    #[test]
    fn blocks_are_spread_from_the_first_to_the_last() {
        assert_eq!(
            evenly_spaced_blocks(30, 6).unwrap(),
            vec![0, 6, 12, 17, 23, 29]
        );
        assert_eq!(evenly_spaced_blocks(4, 2).unwrap(), vec![0, 3]);
        assert_eq!(evenly_spaced_blocks(5, 3).unwrap(), vec![0, 2, 4]);
        assert_eq!(evenly_spaced_blocks(7, 1).unwrap(), vec![0]);
        assert_eq!(evenly_spaced_blocks(3, 3).unwrap(), vec![0, 1, 2]);
        for (total, keep) in [(30, 29), (2, 2), (100, 7)] {
            let idx = evenly_spaced_blocks(total, keep).unwrap();
            assert_eq!(idx.len(), keep);
            assert!(idx.windows(2).all(|w| w[0] < w[1]), "{idx:?}");
            assert_eq!((idx[0], idx[keep - 1]), (0, total - 1));
        }
        for (total, keep) in [(30, 0), (30, 31)] {
            let msg = evenly_spaced_blocks(total, keep).unwrap_err().to_string();
            assert!(
                msg.contains("student_blocks") && msg.contains("1 ..= 30"),
                "{msg}"
            );
        }
    }
}
