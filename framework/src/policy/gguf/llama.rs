//! A GGUF file of the `llama` architecture (SmolLM2, Llama 2/3 layouts) as a `DecoderConfig`
//! and a loaded `Decoder`.
//!
//! Names and shapes (GGML `ne` order, `ne[0]` the row length):
//!
//! | GGUF tensor | `ne` | Quill parameter |
//! |---|---|---|
//! | `token_embd.weight` | `[hidden, vocab]` | `embed_tokens.weight` `[vocab, hidden]` |
//! | `blk.N.attn_q/k/v/output.weight` | `[in, out]` | `attention.{q,k,v,o}_proj.weight` `[in, out]` |
//! | `blk.N.ffn_gate/up/down.weight` | `[in, out]` | `mlp.{gate,up,down}_proj.weight` |
//! | `blk.N.attn_norm.weight`, `blk.N.ffn_norm.weight` | `[hidden]` | `input_norm`, `post_attention_norm` |
//! | `output_norm.weight` | `[hidden]` | `norm` |
//! | `output.weight` (absent when tied) | `[hidden, vocab]` | `lm_head` |
//!
//! A GGUF matrix is stored row-major `[out, in]` (as in PyTorch), Burn's `Linear` wants
//! `[in, out]`: every projection is transposed on load. llama.cpp's converter permuted the Q/K
//! rows so that rotary pairs are adjacent, hence `RopeLayout::AdjacentPairs` with the weights
//! used as they are.

use super::reader::GgufFile;
use super::tokenizer::GgufTokenizer;
use crate::error::{Error, Result};
use crate::policy::{Decoder, DecoderConfig, RopeLayout};
use burn::module::Param;
use burn::nn::{Linear, RmsNorm};
use burn::tensor::{Device, TensorData};
use std::path::Path;

/// The most positions a GGUF model gets (prompt + completion): the rotary tables and the KV
/// cache grow with it, and Quill's prompts are far shorter than SmolLM2's 8192-token context.
pub const MAX_POSITIONS_CAP: usize = 2048;

/// A GGUF model ready to generate: the decoder, its shape and its tokenizer.
#[derive(Debug)]
pub struct GgufModel {
    pub decoder: Decoder,
    pub config: DecoderConfig,
    pub tokenizer: GgufTokenizer,
}

/// Reads `path` and loads its decoder (on `device`) and tokenizer.
pub fn load_gguf_model(path: &Path, device: &Device) -> Result<GgufModel> {
    let file = GgufFile::open(path)?;
    let tokenizer = GgufTokenizer::from_gguf(&file)?;
    let (decoder, config) = load_llama(&file, device)?;
    if tokenizer.vocab_size() != config.vocab_size {
        let msg = format!(
            "the tokenizer has {} tokens but token_embd.weight has {} rows",
            tokenizer.vocab_size(),
            config.vocab_size
        );
        return Err(Error::in_file(path, msg));
    }
    Ok(GgufModel {
        decoder,
        config,
        tokenizer,
    })
}

fn usize_of(file: &GgufFile, key: &str) -> Result<usize> {
    let v = file.require_u64(key)?;
    usize::try_from(v)
        .ok()
        .filter(|&n| n <= 1 << 24)
        .ok_or_else(|| Error::in_file(file.path(), format!("{key} is {v}: too large")))
}

/// The decoder shape of a `llama`-architecture GGUF file.
pub fn llama_config(file: &GgufFile) -> Result<DecoderConfig> {
    let fail = |msg: String| Error::in_file(file.path(), msg);
    let arch = file.require_str("general.architecture")?;
    if arch != "llama" {
        return Err(fail(format!(
            "general.architecture is {arch:?}: only \"llama\" is supported"
        )));
    }
    let heads = usize_of(file, "llama.attention.head_count")?;
    let kv_heads = match file.get("llama.attention.head_count_kv") {
        None => heads,
        Some(_) => usize_of(file, "llama.attention.head_count_kv")?,
    };
    let rope_theta = match file.get("llama.rope.freq_base") {
        None => 10_000.0,
        Some(_) => file.require_f64("llama.rope.freq_base")?,
    };
    if let Some(v) = file.get("llama.rope.scaling.type") {
        let kind = v.as_str().unwrap_or("?");
        let factor = file
            .get("llama.rope.scaling.factor")
            .and_then(|f| f.as_f64())
            .unwrap_or(1.0);
        if kind != "none" && factor != 1.0 {
            return Err(fail(format!(
                "rope scaling {kind:?} with factor {factor}: Quill's rotary embedding has no \
                 scaling"
            )));
        }
    }
    let embed = file
        .tensor("token_embd.weight")
        .ok_or_else(|| fail("has no tensor \"token_embd.weight\"".into()))?;
    if embed.ne.len() != 2 {
        return Err(fail(format!(
            "token_embd.weight has shape {:?}: expected [hidden, vocab]",
            embed.ne
        )));
    }
    let vocab_size = embed.ne[1] as usize;
    if let Some(v) = file.get("llama.vocab_size")
        && v.as_u64() != Some(vocab_size as u64)
    {
        return Err(fail(format!(
            "llama.vocab_size is {v:?} but token_embd.weight has {vocab_size} rows"
        )));
    }
    let config = DecoderConfig {
        vocab_size,
        hidden_size: usize_of(file, "llama.embedding_length")?,
        layers: usize_of(file, "llama.block_count")?,
        heads,
        kv_heads,
        intermediate_size: usize_of(file, "llama.feed_forward_length")?,
        max_positions: usize_of(file, "llama.context_length")?.min(MAX_POSITIONS_CAP),
        rope_theta,
        rope_layout: RopeLayout::AdjacentPairs,
        rms_eps: file.require_f64("llama.attention.layer_norm_rms_epsilon")?,
        qkv_bias: false,
        tie_embeddings: file.tensor("output.weight").is_none(),
    };
    config.validate(&file.path().display().to_string())?;
    if let Some(v) = file.get("llama.rope.dimension_count")
        && v.as_u64() != Some(config.head_dim() as u64)
    {
        return Err(fail(format!(
            "llama.rope.dimension_count is {v:?} but the head dimension is {}: partial rotary \
             is not supported",
            config.head_dim()
        )));
    }
    Ok(config)
}

/// The decoder of a `llama`-architecture GGUF file on `device`, with its shape.
pub fn load_llama(file: &GgufFile, device: &Device) -> Result<(Decoder, DecoderConfig)> {
    let cfg = llama_config(file)?;
    // Before anything is allocated: the shapes in the metadata are only trusted once every
    // tensor (whose size the reader checked against the file) agrees with them.
    check_tensors(file, &cfg)?;
    let (h, kv) = (cfg.hidden_size, cfg.kv_heads * cfg.head_dim());
    let ff = cfg.intermediate_size;
    // The seed is irrelevant: every parameter is overwritten below.
    let mut decoder = Decoder::zeroed(&cfg, device);
    let loader = Loader { file, device };
    decoder.embed_tokens.weight = loader.matrix("token_embd.weight", h, cfg.vocab_size, false)?;
    for (i, block) in decoder.blocks.iter_mut().enumerate() {
        let name = |t: &str| format!("blk.{i}.{t}.weight");
        let attention = &mut block.attention;
        loader.linear(&mut attention.q_proj, &name("attn_q"), h, h)?;
        loader.linear(&mut attention.k_proj, &name("attn_k"), h, kv)?;
        loader.linear(&mut attention.v_proj, &name("attn_v"), h, kv)?;
        loader.linear(&mut attention.o_proj, &name("attn_output"), h, h)?;
        loader.linear(&mut block.mlp.gate_proj, &name("ffn_gate"), h, ff)?;
        loader.linear(&mut block.mlp.up_proj, &name("ffn_up"), h, ff)?;
        loader.linear(&mut block.mlp.down_proj, &name("ffn_down"), ff, h)?;
        loader.norm(&mut block.input_norm, &name("attn_norm"), h)?;
        loader.norm(&mut block.post_attention_norm, &name("ffn_norm"), h)?;
    }
    loader.norm(&mut decoder.norm, "output_norm.weight", h)?;
    if let Some(head) = decoder.lm_head.as_mut() {
        loader.linear(head, "output.weight", h, cfg.vocab_size)?;
    }
    Ok((decoder, cfg))
}

/// Every tensor a llama decoder of shape `cfg` reads, with its GGML `ne`.
fn expected_tensors(cfg: &DecoderConfig) -> Vec<(String, Vec<u64>)> {
    let (h, kv) = (
        cfg.hidden_size as u64,
        (cfg.kv_heads * cfg.head_dim()) as u64,
    );
    let (ff, vocab) = (cfg.intermediate_size as u64, cfg.vocab_size as u64);
    let mut out = vec![
        ("token_embd.weight".to_string(), vec![h, vocab]),
        ("output_norm.weight".to_string(), vec![h]),
    ];
    if !cfg.tie_embeddings {
        out.push(("output.weight".to_string(), vec![h, vocab]));
    }
    for i in 0..cfg.layers {
        for (t, ne) in [
            ("attn_q", vec![h, h]),
            ("attn_k", vec![h, kv]),
            ("attn_v", vec![h, kv]),
            ("attn_output", vec![h, h]),
            ("ffn_gate", vec![h, ff]),
            ("ffn_up", vec![h, ff]),
            ("ffn_down", vec![ff, h]),
            ("attn_norm", vec![h]),
            ("ffn_norm", vec![h]),
        ] {
            out.push((format!("blk.{i}.{t}.weight"), ne));
        }
    }
    out
}

/// Every expected tensor is present with the config's shape, and there is no other: a tensor
/// this mapping does not place (a bias, a rotary factor table, ...) would leave a model that
/// runs but computes something else.
fn check_tensors(file: &GgufFile, cfg: &DecoderConfig) -> Result<()> {
    let fail = |msg: String| Err(Error::in_file(file.path(), msg));
    let expected = expected_tensors(cfg);
    for (name, ne) in &expected {
        match file.tensor(name) {
            None => return fail(format!("has no tensor {name:?}")),
            Some(t) if &t.ne != ne => {
                return fail(format!(
                    "tensor {name:?} has shape {:?}: the metadata's shape needs {ne:?} (GGML \
                     order, row length first)",
                    t.ne
                ));
            }
            Some(_) => {}
        }
    }
    let names: std::collections::HashSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    let unexpected: Vec<&str> = file
        .tensors()
        .iter()
        .map(|t| t.name.as_str())
        .filter(|n| !names.contains(n))
        .collect();
    if unexpected.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = unexpected.iter().take(5).copied().collect();
    fail(format!(
        "{} tensors that a llama decoder without biases does not have, e.g. {shown:?}",
        unexpected.len()
    ))
}

struct Loader<'a> {
    file: &'a GgufFile,
    device: &'a Device,
}

impl Loader<'_> {
    /// A 2-d tensor of `ne = [cols, rows]`, as Burn data `[rows, cols]` or, with `transpose`,
    /// `[cols, rows]`.
    fn matrix(
        &self,
        name: &str,
        cols: usize,
        rows: usize,
        transpose: bool,
    ) -> Result<Param<burn::tensor::Tensor<2>>> {
        // Shapes were checked by `check_tensors`.
        let (values, _) = self.file.tensor_f32(name)?;
        let data = if transpose {
            TensorData::new(transposed(&values, rows, cols), [cols, rows])
        } else {
            TensorData::new(values, [rows, cols])
        };
        Ok(Param::from_data(data, self.device))
    }

    /// A projection from `d_in` to `d_out`: stored `[out, in]`, Burn's `[in, out]`.
    fn linear(&self, linear: &mut Linear, name: &str, d_in: usize, d_out: usize) -> Result<()> {
        linear.weight = self.matrix(name, d_in, d_out, true)?;
        Ok(())
    }

    fn norm(&self, norm: &mut RmsNorm, name: &str, size: usize) -> Result<()> {
        let (values, _) = self.file.tensor_f32(name)?;
        norm.gamma = Param::from_data(TensorData::new(values, [size]), self.device);
        Ok(())
    }
}

/// `values` (row-major `[rows, cols]`) as row-major `[cols, rows]`.
fn transposed(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const TILE: usize = 32;
    let mut out = vec![0f32; values.len()];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    out[c * rows + r] = values[r * cols + c];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_file::Builder;
    use super::*;
    use crate::policy::{AttentionMask, Policy};
    use burn::tensor::{Int, Tensor};

    fn f32_bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// The metadata of the tiny llama below (hidden 16, 2 blocks, 4 heads, 2 KV heads, MLP 24).
    fn llama_metadata() -> Builder {
        Builder::new()
            .kv_str("general.architecture", "llama")
            .kv_u32("llama.block_count", 2)
            .kv_u32("llama.context_length", 4096)
            .kv_u32("llama.embedding_length", 16)
            .kv_u32("llama.feed_forward_length", 24)
            .kv_u32("llama.attention.head_count", 4)
            .kv_u32("llama.attention.head_count_kv", 2)
            .kv("llama.rope.freq_base", 6, &10_000f32.to_le_bytes())
            .kv(
                "llama.attention.layer_norm_rms_epsilon",
                6,
                &1e-5f32.to_le_bytes(),
            )
    }

    /// A tiny llama GGUF (F32 tensors) whose weights come from a seeded Quill decoder with
    /// halves-layout rotary, converted the way llama.cpp's converter does: Q/K rows permuted
    /// to adjacent pairs, matrices stored `[out, in]`.
    fn tiny_builder(tied: bool) -> (Builder, Decoder) {
        let cfg = DecoderConfig {
            vocab_size: 40,
            hidden_size: 16,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            intermediate_size: 24,
            max_positions: 32,
            rope_theta: 10_000.0,
            rope_layout: RopeLayout::Halves,
            rms_eps: 1e-5,
            qkv_bias: false,
            tie_embeddings: tied,
        };
        let device = Device::flex();
        let mut reference = Decoder::new(&cfg, 3, &device);
        // Sharpen attention (initial weights give near-uniform attention, where a wrong rotary
        // pairing would hardly show) and the output logits.
        for blk in reference.blocks.iter_mut() {
            let a = &mut blk.attention;
            a.q_proj.weight = Param::from_tensor(a.q_proj.weight.val() * 25.0);
            a.k_proj.weight = Param::from_tensor(a.k_proj.weight.val() * 25.0);
        }
        reference.embed_tokens.weight =
            Param::from_tensor(reference.embed_tokens.weight.val() * 10.0);
        let vals = |p: &Param<Tensor<2>>| p.val().into_data().try_to_vec::<f32>().unwrap();
        let vec1 = |p: &Param<Tensor<1>>| p.val().into_data().try_to_vec::<f32>().unwrap();
        // Burn [in, out] -> GGUF rows [out, in]; for Q/K also permute each head's rows from
        // halves (i, i + d/2) to adjacent pairs (2i, 2i + 1).
        let rows_of = |w: Vec<f32>, d_in: usize, d_out: usize, heads: Option<usize>| {
            let t = transposed(&w, d_in, d_out);
            let Some(heads) = heads else { return t };
            let d = d_out / heads;
            let mut out = vec![0f32; t.len()];
            for head in 0..heads {
                for i in 0..d / 2 {
                    for (dst, src) in [(2 * i, i), (2 * i + 1, i + d / 2)] {
                        let (dst, src) = ((head * d + dst) * d_in, (head * d + src) * d_in);
                        out[dst..dst + d_in].copy_from_slice(&t[src..src + d_in]);
                    }
                }
            }
            out
        };
        let (h, kv, ff) = (16u64, 8u64, 24u64);
        let mut b = llama_metadata().tensor(
            "token_embd.weight",
            &[h, 40],
            0,
            &f32_bytes(&vals(&reference.embed_tokens.weight)),
        );
        for (i, blk) in reference.blocks.iter().enumerate() {
            let a = &blk.attention;
            let m = &blk.mlp;
            let mats = [
                ("attn_q", &a.q_proj.weight, h, h, Some(4)),
                ("attn_k", &a.k_proj.weight, h, kv, Some(2)),
                ("attn_v", &a.v_proj.weight, h, kv, None),
                ("attn_output", &a.o_proj.weight, h, h, None),
                ("ffn_gate", &m.gate_proj.weight, h, ff, None),
                ("ffn_up", &m.up_proj.weight, h, ff, None),
                ("ffn_down", &m.down_proj.weight, ff, h, None),
            ];
            for (name, w, d_in, d_out, heads) in mats {
                let rows = rows_of(vals(w), d_in as usize, d_out as usize, heads);
                b = b.tensor(
                    &format!("blk.{i}.{name}.weight"),
                    &[d_in, d_out],
                    0,
                    &f32_bytes(&rows),
                );
            }
            // Non-trivial norm weights, so that a swapped norm would show.
            let g: Vec<f32> = vec1(&blk.input_norm.gamma)
                .iter()
                .enumerate()
                .map(|(j, v)| v + j as f32 * 0.01)
                .collect();
            b = b.tensor(
                &format!("blk.{i}.attn_norm.weight"),
                &[h],
                0,
                &f32_bytes(&g),
            );
            b = b.tensor(
                &format!("blk.{i}.ffn_norm.weight"),
                &[h],
                0,
                &f32_bytes(&vec1(&blk.post_attention_norm.gamma)),
            );
        }
        b = b.tensor(
            "output_norm.weight",
            &[h],
            0,
            &f32_bytes(&vec1(&reference.norm.gamma)),
        );
        if let Some(head) = &reference.lm_head {
            let rows = rows_of(vals(&head.weight), 16, 40, None);
            b = b.tensor("output.weight", &[h, 40], 0, &f32_bytes(&rows));
        }
        // Give the reference the same perturbed norm weights.
        for blk in reference.blocks.iter_mut() {
            let g: Vec<f32> = vec1(&blk.input_norm.gamma)
                .iter()
                .enumerate()
                .map(|(j, v)| v + j as f32 * 0.01)
                .collect();
            blk.input_norm.gamma = Param::from_data(TensorData::new(g, [16]), &device);
        }
        (b, reference)
    }

    #[test]
    fn converted_llama_gguf_computes_the_same_logits() {
        let device = Device::flex();
        for tied in [true, false] {
            let (b, reference) = tiny_builder(tied);
            let bytes = b.build();
            let file = GgufFile::parse(Path::new("tiny.gguf"), bytes).unwrap();
            let (decoder, cfg) = load_llama(&file, &device).unwrap();
            assert_eq!(cfg.rope_layout, RopeLayout::AdjacentPairs);
            assert_eq!(cfg.tie_embeddings, tied);
            assert_eq!(cfg.max_positions, MAX_POSITIONS_CAP);
            let ids: Vec<i64> = vec![3, 17, 5, 39, 2, 9, 0, 8];
            let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, 8]), &device);
            let mask = AttentionMask::causal(1, 8, &device);
            let want = reference.logits(tokens.clone(), &mask, None);
            let want = want.into_data().try_to_vec::<f32>().unwrap();
            let max_diff = |d: &Decoder| {
                let got = d.logits(tokens.clone(), &mask, None);
                let got = got.into_data().try_to_vec::<f32>().unwrap();
                want.iter()
                    .zip(&got)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max)
            };
            let diff = max_diff(&decoder);
            assert!(diff < 1e-4, "tied {tied}: logits differ by {diff}");
            // Exported as a Hugging Face checkpoint (Q/K permuted back to halves) and loaded
            // again, it still computes the same logits.
            let dir = std::env::temp_dir()
                .join(format!("quill-gguf-export-{tied}-{}", std::process::id()));
            crate::policy::hf_export::save_hf_checkpoint(&dir, &decoder, &cfg, None).unwrap();
            let (exported, shape) = crate::policy::hf::load_hf_decoder(&dir, &device).unwrap();
            assert_eq!(shape.rope_layout, RopeLayout::Halves);
            let diff = max_diff(&exported);
            assert!(diff < 1e-4, "tied {tied}: exported logits differ by {diff}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn wrong_architecture_shapes_and_extra_tensors_are_errors() {
        let device = Device::flex();
        let file = GgufFile::parse(Path::new("tiny.gguf"), tiny_builder(true).0.build()).unwrap();
        assert!(load_llama(&file, &device).is_ok());

        // An extra tensor (a bias this decoder has no place for) is refused.
        let mut extra = tiny_builder(true).0;
        extra = extra.tensor("blk.0.attn_q.bias", &[16], 0, &[0; 64]);
        let f = GgufFile::parse(Path::new("x.gguf"), extra.build()).unwrap();
        let err = load_llama(&f, &device).unwrap_err().to_string();
        assert!(
            err.contains("1 tensors") && err.contains("blk.0.attn_q.bias"),
            "{err}"
        );

        // Tensors that disagree with the metadata, or are missing, are refused before the
        // decoder is allocated.
        let zeros = [0u8; 16 * 40 * 4];
        let bad = llama_metadata()
            .tensor("token_embd.weight", &[16, 40], 0, &zeros)
            .tensor("output_norm.weight", &[8], 0, &zeros[..32]);
        let f = GgufFile::parse(Path::new("x.gguf"), bad.build()).unwrap();
        let err = load_llama(&f, &device).unwrap_err().to_string();
        assert!(
            err.contains("\"output_norm.weight\" has shape [8]") && err.contains("[16]"),
            "{err}"
        );
        let missing = llama_metadata().tensor("token_embd.weight", &[16, 40], 0, &zeros);
        let f = GgufFile::parse(Path::new("x.gguf"), missing.build()).unwrap();
        let err = load_llama(&f, &device).unwrap_err().to_string();
        assert!(
            err.contains("has no tensor \"output_norm.weight\""),
            "{err}"
        );

        let qwen = Builder::new()
            .kv_str("general.architecture", "qwen2")
            .build();
        let f = GgufFile::parse(Path::new("q.gguf"), qwen).unwrap();
        let err = llama_config(&f).unwrap_err().to_string();
        assert!(err.contains("general.architecture is \"qwen2\""), "{err}");
    }

    #[test]
    fn transpose_moves_rows_to_columns() {
        let v: Vec<f32> = (0..6).map(|x| x as f32).collect();
        assert_eq!(transposed(&v, 2, 3), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        let big: Vec<f32> = (0..70 * 45).map(|x| x as f32).collect();
        let t = transposed(&big, 70, 45);
        assert_eq!(transposed(&t, 45, 70), big);
        assert_eq!(t[44 * 70 + 69], big[69 * 45 + 44]);
    }
}
