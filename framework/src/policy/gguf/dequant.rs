//! GGML tensor types: their block layouts (for size checks) and dequantisation to f32 of the
//! types Quill loads.
//!
//! Block layouts follow `ggml-common.h` (little-endian, no padding inside a block):
//!
//! | type | elements | bytes | layout | value of element `j` |
//! |---|---|---|---|---|
//! | Q4_0 | 32 | 18 | `d: f16, qs: [u8; 16]` | `(nibble - 8) * d` |
//! | Q4_1 | 32 | 20 | `d: f16, m: f16, qs: [u8; 16]` | `nibble * d + m` |
//! | Q5_0 | 32 | 22 | `d: f16, qh: u32, qs: [u8; 16]` | `((nibble \| high bit << 4) - 16) * d` |
//! | Q5_1 | 32 | 24 | `d: f16, m: f16, qh: u32, qs: [u8; 16]` | `(nibble \| high bit << 4) * d + m` |
//! | Q8_0 | 32 | 34 | `d: f16, qs: [i8; 32]` | `qs[j] * d` |
//!
//! In the 4- and 5-bit types, element `j < 16` is the low nibble of `qs[j]` and element
//! `j + 16` its high nibble; bit `j` of `qh` is the fifth bit of element `j`.

use crate::error::{Error, Result};

/// A GGML tensor type: its id in GGUF files, name, and block shape. Every type id that
/// `gguf-py` (llama.cpp's Python package) lists is known, so that a file with any of them can
/// be opened and its sizes checked; [`GgmlType::can_dequantize`] says which ones Quill converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GgmlType {
    pub id: u32,
    pub name: &'static str,
    /// Elements per block (1 for plain types).
    pub block_elements: usize,
    /// Bytes per block.
    pub block_bytes: usize,
}

/// (id, name, elements per block, bytes per block), as in gguf-py's `GGML_QUANT_SIZES`.
const TYPES: [(u32, &str, usize, usize); 34] = [
    (0, "F32", 1, 4),
    (1, "F16", 1, 2),
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 40),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (16, "IQ2_XXS", 256, 66),
    (17, "IQ2_XS", 256, 74),
    (18, "IQ3_XXS", 256, 98),
    (19, "IQ1_S", 256, 50),
    (20, "IQ4_NL", 32, 18),
    (21, "IQ3_S", 256, 110),
    (22, "IQ2_S", 256, 82),
    (23, "IQ4_XS", 256, 136),
    (24, "I8", 1, 1),
    (25, "I16", 1, 2),
    (26, "I32", 1, 4),
    (27, "I64", 1, 8),
    (28, "F64", 1, 8),
    (29, "IQ1_M", 256, 56),
    (30, "BF16", 1, 2),
    (34, "TQ1_0", 256, 54),
    (35, "TQ2_0", 256, 66),
    (39, "MXFP4", 32, 17),
    (40, "NVFP4", 64, 36),
    (41, "Q1_0", 128, 18),
];

/// The types [`dequantize`] converts.
const DEQUANTIZABLE: [&str; 8] = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"];

impl GgmlType {
    /// The type with GGUF id `id`, or `None` for an id no GGML version defines.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        TYPES
            .iter()
            .find(|t| t.0 == id)
            .map(|&(id, name, block_elements, block_bytes)| GgmlType {
                id,
                name,
                block_elements,
                block_bytes,
            })
    }

    /// The type named `name` ("Q4_1"), or `None`.
    pub fn from_name(name: &str) -> Option<GgmlType> {
        TYPES
            .iter()
            .find(|t| t.1 == name)
            .and_then(|t| GgmlType::from_id(t.0))
    }

    /// Bytes that `elements` values of this type occupy, or `None` when `elements` is not a
    /// whole number of blocks (or the size overflows).
    pub fn bytes_for(&self, elements: u64) -> Option<u64> {
        let per_block = self.block_elements as u64;
        if !elements.is_multiple_of(per_block) {
            return None;
        }
        (elements / per_block).checked_mul(self.block_bytes as u64)
    }

    /// Whether [`dequantize`] converts this type.
    pub fn can_dequantize(&self) -> bool {
        DEQUANTIZABLE.contains(&self.name)
    }
}

/// The names of the types [`dequantize`] converts, for error messages.
pub fn dequantizable_types() -> String {
    DEQUANTIZABLE.join(", ")
}

/// IEEE 754 half precision to f32 (exact: every f16 is an f32).
pub fn f16_to_f32(bits: u16) -> f32 {
    let sign = ((bits >> 15) as u32) << 31;
    let exponent = ((bits >> 10) & 0x1f) as u32;
    let mantissa = (bits & 0x3ff) as u32;
    let magnitude = match (exponent, mantissa) {
        (0, 0) => 0,
        // Subnormal: mantissa * 2^-24, exact in f32.
        (0, m) => return sign_of(sign) * m as f32 * 2f32.powi(-24),
        (0x1f, 0) => 0xff << 23,
        (0x1f, m) => (0xff << 23) | (m << 13),
        (e, m) => ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(sign | magnitude)
}

fn sign_of(sign_bit: u32) -> f32 {
    if sign_bit == 0 { 1.0 } else { -1.0 }
}

/// bfloat16 to f32: the top half of an f32.
pub fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits((bits as u32) << 16)
}

fn half_at(block: &[u8], at: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([block[at], block[at + 1]]))
}

/// `elements` values of type `ty` stored in `bytes`, as f32. Errors (origin `what`, e.g. the
/// file and tensor) when the type is not one Quill converts or `bytes` has the wrong length.
pub fn dequantize(ty: GgmlType, bytes: &[u8], elements: usize, what: &str) -> Result<Vec<f32>> {
    if !ty.can_dequantize() {
        let msg = format!(
            "type {} (id {}) cannot be converted: Quill dequantises {}",
            ty.name,
            ty.id,
            dequantizable_types()
        );
        return Err(Error::model(what, msg));
    }
    match ty.bytes_for(elements as u64) {
        Some(n) if n == bytes.len() as u64 => {}
        expected => {
            let expected = expected.map_or_else(
                || format!("a multiple of {} elements", ty.block_elements),
                |n| format!("{n} bytes"),
            );
            let msg = format!(
                "{elements} elements of {} need {expected}, got {} bytes",
                ty.name,
                bytes.len()
            );
            return Err(Error::model(what, msg));
        }
    }
    let mut out = Vec::with_capacity(elements);
    let blocks = bytes.chunks_exact(ty.block_bytes);
    match ty.name {
        "F32" => out.extend(blocks.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        "F16" => out.extend(blocks.map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))),
        "BF16" => out.extend(blocks.map(|b| bf16_to_f32(u16::from_le_bytes([b[0], b[1]])))),
        "Q8_0" => {
            for b in blocks {
                let d = half_at(b, 0);
                out.extend(b[2..34].iter().map(|&q| q as i8 as f32 * d));
            }
        }
        "Q4_0" => {
            for b in blocks {
                let d = half_at(b, 0);
                nibbles(&b[2..18], 0, |q| (q as f32 - 8.0) * d, &mut out);
            }
        }
        "Q4_1" => {
            for b in blocks {
                let (d, m) = (half_at(b, 0), half_at(b, 2));
                nibbles(&b[4..20], 0, |q| q as f32 * d + m, &mut out);
            }
        }
        "Q5_0" => {
            for b in blocks {
                let d = half_at(b, 0);
                let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
                nibbles(&b[6..22], qh, |q| (q as f32 - 16.0) * d, &mut out);
            }
        }
        "Q5_1" => {
            for b in blocks {
                let (d, m) = (half_at(b, 0), half_at(b, 2));
                let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                nibbles(&b[8..24], qh, |q| q as f32 * d + m, &mut out);
            }
        }
        other => unreachable!("{other} is listed in DEQUANTIZABLE without a decoder"),
    }
    Ok(out)
}

/// The 32 elements of a 4/5-bit block: low nibbles are elements 0..16, high nibbles 16..32;
/// bit `j` of `qh` (zero for 4-bit types) is the fifth bit of element `j`.
fn nibbles(qs: &[u8], qh: u32, value: impl Fn(u8) -> f32, out: &mut Vec<f32>) {
    let high = |j: usize| (((qh >> j) & 1) << 4) as u8;
    for (j, &q) in qs.iter().enumerate() {
        out.push(value((q & 0x0f) | high(j)));
    }
    for (j, &q) in qs.iter().enumerate() {
        out.push(value((q >> 4) | high(j + 16)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(name: &str) -> GgmlType {
        GgmlType::from_name(name).unwrap()
    }

    // f16 bit patterns used below: 1.0 = 0x3c00, 0.5 = 0x3800, -2.0 = 0xc000, 0.25 = 0x3400.
    const ONE: [u8; 2] = 0x3c00u16.to_le_bytes();
    const HALF: [u8; 2] = 0x3800u16.to_le_bytes();
    const MINUS_TWO: [u8; 2] = 0xc000u16.to_le_bytes();
    const QUARTER: [u8; 2] = 0x3400u16.to_le_bytes();

    #[test]
    fn f16_and_bf16_bit_patterns() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8001), -(2f32.powi(-24)));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
        assert_eq!(bf16_to_f32(0xc040), -3.0);
        let bytes = [0x00, 0x3c, 0x00, 0xc0];
        let got = dequantize(ty("F16"), &bytes, 2, "t").unwrap();
        assert_eq!(got, vec![1.0, -2.0]);
    }

    #[test]
    fn q8_0_block_by_hand() {
        // d = 0.5; qs = 0, 1, -1, 2, -2, ..., 127, -128 pattern over 32 values.
        let qs: Vec<i8> = (0..32)
            .map(|j: i32| [0, 1, -1, 127, -128][j as usize % 5] as i8)
            .collect();
        let mut block = HALF.to_vec();
        block.extend(qs.iter().map(|&q| q as u8));
        let got = dequantize(ty("Q8_0"), &block, 32, "t").unwrap();
        let want: Vec<f32> = (0..32)
            .map(|j| [0.0, 0.5, -0.5, 63.5, -64.0][j % 5])
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn q4_0_block_by_hand() {
        // d = -2; byte j holds low nibble j % 16 (element j) and high nibble 15 - j (element
        // j + 16); values are (q - 8) * d.
        let mut block = MINUS_TWO.to_vec();
        block.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let got = dequantize(ty("Q4_0"), &block, 32, "t").unwrap();
        assert_eq!(got[0], 16.0); // q 0
        assert_eq!(got[8], 0.0); // q 8
        assert_eq!(got[15], -14.0); // q 15
        assert_eq!(got[16], -14.0); // q 15 in the high nibble of byte 0
        assert_eq!(got[31], 16.0); // q 0 in the high nibble of byte 15
        for j in 0..16 {
            assert_eq!(got[j], (j as f32 - 8.0) * -2.0);
            assert_eq!(got[j + 16], ((15 - j) as f32 - 8.0) * -2.0);
        }
    }

    #[test]
    fn q4_1_blocks_by_hand() {
        // Two blocks: d = 0.5, m = -2 then d = 0.25, m = 1. Values are q * d + m.
        let mut bytes = Vec::new();
        bytes.extend(HALF);
        bytes.extend(MINUS_TWO);
        bytes.extend((0..16u8).map(|j| j | (3 << 4)));
        bytes.extend(QUARTER);
        bytes.extend(ONE);
        bytes.extend([0xf0u8; 16]); // low nibble 0, high nibble 15
        let got = dequantize(ty("Q4_1"), &bytes, 64, "t").unwrap();
        assert_eq!(&got[..4], &[-2.0, -1.5, -1.0, -0.5]);
        assert_eq!(got[15], 5.5);
        assert!(got[16..32].iter().all(|&v| v == -0.5));
        assert!(got[32..48].iter().all(|&v| v == 1.0));
        assert!(got[48..64].iter().all(|&v| v == 4.75));
    }

    #[test]
    fn q5_blocks_by_hand() {
        // Q5_0, d = 1: element 0 has nibble 3 and no high bit -> 3 - 16 = -13; element 1 has
        // nibble 0 and high bit (bit 1 of qh) -> 16 - 16 = 0; element 17 takes the high nibble
        // of byte 1 (15) and bit 17 -> 31 - 16 = 15.
        let mut block = ONE.to_vec();
        block.extend(((1u32 << 1) | (1 << 17)).to_le_bytes());
        let mut qs = [0u8; 16];
        qs[0] = 3;
        qs[1] = 0xf0;
        block.extend(qs);
        let got = dequantize(ty("Q5_0"), &block, 32, "t").unwrap();
        assert_eq!(
            (got[0], got[1], got[2], got[16], got[17]),
            (-13.0, 0.0, -16.0, -16.0, 15.0)
        );

        // Q5_1, d = 0.5, m = 1: same quants -> q * 0.5 + 1.
        let mut block = HALF.to_vec();
        block.extend(ONE);
        block.extend(((1u32 << 1) | (1 << 17)).to_le_bytes());
        block.extend(qs);
        let got = dequantize(ty("Q5_1"), &block, 32, "t").unwrap();
        assert_eq!((got[0], got[1], got[2], got[17]), (2.5, 9.0, 1.0, 16.5));
    }

    #[test]
    fn wrong_sizes_and_unsupported_types_are_errors() {
        let err = dequantize(ty("Q4_1"), &[0; 19], 32, "f.gguf: w").unwrap_err();
        assert!(err.to_string().contains("need 20 bytes, got 19"), "{err}");
        let err = dequantize(ty("Q8_0"), &[0; 34], 31, "w").unwrap_err();
        assert!(err.to_string().contains("a multiple of 32"), "{err}");
        let err = dequantize(ty("Q6_K"), &[0; 210], 256, "w").unwrap_err();
        assert!(
            err.to_string().contains("Q6_K (id 14) cannot be converted"),
            "{err}"
        );
        assert!(GgmlType::from_id(4).is_none() && GgmlType::from_id(99).is_none());
        assert_eq!(ty("Q4_1").bytes_for(576 * 192), Some(576 * 192 / 32 * 20));
    }
}
