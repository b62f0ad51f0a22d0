//! The GGUF container (versions 2 and 3, little-endian): header, metadata key/values of every
//! type, tensor infos, alignment, and the tensor data section.
//!
//! Layout: magic `GGUF`, `version: u32`, `tensor_count: u64`, `kv_count: u64`; then `kv_count`
//! entries of (key string, `type: u32`, value); then `tensor_count` infos of (name string,
//! `n_dims: u32`, `ne: [u64; n_dims]`, `type: u32`, `offset: u64`); then padding to
//! `general.alignment` (default 32); then the data, each tensor at `offset` from its start.
//! Strings are `len: u64` + UTF-8 bytes; arrays are `element type: u32`, `count: u64`, elements.
//!
//! Every read is bounds-checked: a bad file is an `Error` naming the file, the byte offset and
//! what was being read, never a panic or an allocation sized by an unchecked count.

use super::dequant::{GgmlType, dequantize};
use super::value::Value;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;
/// GGML tensors have at most 4 dimensions.
const MAX_DIMS: u32 = 4;

/// One tensor's description.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// GGML's `ne`: `ne[0]` is the fastest-varying (row length), so a PyTorch `[out, in]`
    /// weight has `ne = [in, out]`.
    pub ne: Vec<u64>,
    pub ggml_type: GgmlType,
    /// Byte offset from the start of the data section.
    pub offset: u64,
    /// Bytes of data (checked to lie within the file).
    pub size: u64,
}

impl TensorInfo {
    pub fn elements(&self) -> u64 {
        self.ne.iter().product()
    }

    /// The row-major shape (slowest dimension first), e.g. `[out, in]` for a weight matrix.
    pub fn row_major_shape(&self) -> Vec<usize> {
        self.ne.iter().rev().map(|&n| n as usize).collect()
    }
}

/// A parsed GGUF file, its bytes held in memory.
#[derive(Debug)]
pub struct GgufFile {
    path: PathBuf,
    version: u32,
    alignment: u64,
    metadata: Vec<(String, Value)>,
    metadata_index: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
    data_start: usize,
    bytes: Vec<u8>,
}

impl GgufFile {
    /// Reads and parses `path`.
    pub fn open(path: &Path) -> Result<GgufFile> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        GgufFile::parse(path, bytes)
    }

    /// Parses `bytes`; `path` names the file in errors.
    pub fn parse(path: &Path, bytes: Vec<u8>) -> Result<GgufFile> {
        let mut r = Cursor {
            bytes: &bytes,
            pos: 0,
            path,
        };
        let magic = r.take(4, "the magic number")?;
        if magic != MAGIC {
            let msg = format!(
                "not a GGUF file: starts with {magic:02x?}, a GGUF file starts with \"GGUF\""
            );
            return Err(Error::in_file(path, msg));
        }
        let version = r.u32("the version")?;
        if version.swap_bytes() == 2 || version.swap_bytes() == 3 {
            return Err(Error::in_file(
                path,
                "big-endian GGUF: only little-endian files are supported",
            ));
        }
        if !(2..=3).contains(&version) {
            let msg = format!("GGUF version {version}: versions 2 and 3 are supported");
            return Err(Error::in_file(path, msg));
        }
        let tensor_count = r.u64("the tensor count")?;
        let kv_count = r.u64("the metadata count")?;
        // A key/value needs at least 12 bytes, a tensor info 24: a count the file cannot hold
        // is refused before anything is allocated for it.
        r.check_count(kv_count, 12, "metadata entries")?;
        r.check_count(tensor_count, 24, "tensor infos")?;

        let mut metadata = Vec::with_capacity(kv_count as usize);
        let mut metadata_index = HashMap::new();
        for _ in 0..kv_count {
            let at = r.pos;
            let key = r.string("a metadata key")?;
            let ty = r.u32("a metadata type")?;
            let value = r.value(ty, &key, 0)?;
            if metadata_index.insert(key.clone(), metadata.len()).is_some() {
                let msg = format!("metadata key {key:?} at byte {at} appears twice");
                return Err(Error::in_file(path, msg));
            }
            metadata.push((key, value));
        }

        let alignment = match metadata_index.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(&i) => match metadata[i].1.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() => a,
                _ => {
                    let msg = format!(
                        "general.alignment is {:?}: it must be a power of two",
                        metadata[i].1
                    );
                    return Err(Error::in_file(path, msg));
                }
            },
        };

        let mut infos = Vec::with_capacity(tensor_count as usize);
        for _ in 0..tensor_count {
            let name = r.string("a tensor name")?;
            let n_dims = r.u32("a tensor's dimension count")?;
            if n_dims > MAX_DIMS {
                let msg = format!("tensor {name:?} has {n_dims} dimensions: GGML allows at most 4");
                return Err(Error::in_file(path, msg));
            }
            let ne = (0..n_dims)
                .map(|_| r.u64("a tensor dimension"))
                .collect::<Result<Vec<u64>>>()?;
            let type_id = r.u32("a tensor type")?;
            let offset = r.u64("a tensor offset")?;
            infos.push((name, ne, type_id, offset));
        }
        let data_start = align_up(r.pos as u64, alignment);
        if data_start > bytes.len() as u64 && tensor_count > 0 {
            let msg = format!(
                "truncated: the tensor data should start at byte {data_start}, the file has {} \
                 bytes",
                bytes.len()
            );
            return Err(Error::in_file(path, msg));
        }
        let data_len = (bytes.len() as u64).saturating_sub(data_start);

        let mut tensors = Vec::with_capacity(infos.len());
        let mut tensor_index = HashMap::new();
        for (name, ne, type_id, offset) in infos {
            let info = check_tensor(path, name, ne, type_id, offset, alignment, data_len)?;
            if tensor_index
                .insert(info.name.clone(), tensors.len())
                .is_some()
            {
                let msg = format!("tensor {:?} appears twice", info.name);
                return Err(Error::in_file(path, msg));
            }
            tensors.push(info);
        }
        Ok(GgufFile {
            path: path.to_path_buf(),
            version,
            alignment,
            metadata,
            metadata_index,
            tensors,
            tensor_index,
            data_start: data_start as usize,
            bytes,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Byte offset of the data section in the file.
    pub fn data_offset(&self) -> usize {
        self.data_start
    }

    /// Every metadata entry, in file order.
    pub fn metadata(&self) -> &[(String, Value)] {
        &self.metadata
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata_index.get(key).map(|&i| &self.metadata[i].1)
    }

    /// Every tensor info, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// The raw bytes of a tensor of this file (bounds checked when the file was parsed; an info
    /// from elsewhere that does not fit is an error).
    pub fn tensor_bytes(&self, info: &TensorInfo) -> Result<&[u8]> {
        let start = (self.data_start as u64).checked_add(info.offset);
        let end = start.and_then(|s| s.checked_add(info.size));
        start
            .zip(end)
            .and_then(|(s, e)| self.bytes.get(s as usize..e as usize))
            .ok_or_else(|| {
                let msg = format!("tensor {:?} lies outside the file", info.name);
                Error::in_file(&self.path, msg)
            })
    }

    /// A tensor's values as f32 in row-major order (see `TensorInfo::row_major_shape`), or an
    /// error when it is missing or of a type Quill does not convert.
    pub fn tensor_f32(&self, name: &str) -> Result<(Vec<f32>, &TensorInfo)> {
        let info = self
            .tensor(name)
            .ok_or_else(|| Error::in_file(&self.path, format!("has no tensor {name:?}")))?;
        let what = format!("{}: tensor {name:?}", self.path.display());
        let values = dequantize(
            info.ggml_type,
            self.tensor_bytes(info)?,
            info.elements() as usize,
            &what,
        )?;
        Ok((values, info))
    }

    /// A required metadata value, or an error naming the file and the key.
    pub fn require(&self, key: &str) -> Result<&Value> {
        self.get(key)
            .ok_or_else(|| Error::in_file(&self.path, format!("metadata key {key:?} is missing")))
    }

    /// A required non-negative integer.
    pub fn require_u64(&self, key: &str) -> Result<u64> {
        let v = self.require(key)?;
        v.as_u64()
            .ok_or_else(|| self.wrong_type(key, v, "a non-negative integer"))
    }

    /// A required number.
    pub fn require_f64(&self, key: &str) -> Result<f64> {
        let v = self.require(key)?;
        v.as_f64()
            .ok_or_else(|| self.wrong_type(key, v, "a number"))
    }

    /// A required string.
    pub fn require_str(&self, key: &str) -> Result<&str> {
        let v = self.require(key)?;
        v.as_str()
            .ok_or_else(|| self.wrong_type(key, v, "a string"))
    }

    /// A required array.
    pub fn require_array(&self, key: &str) -> Result<&[Value]> {
        let v = self.require(key)?;
        v.as_array()
            .ok_or_else(|| self.wrong_type(key, v, "an array"))
    }

    fn wrong_type(&self, key: &str, v: &Value, want: &str) -> Error {
        let msg = format!("metadata {key:?} is a {}, expected {want}", v.type_name());
        Error::in_file(&self.path, msg)
    }
}

fn align_up(pos: u64, alignment: u64) -> u64 {
    pos.div_ceil(alignment) * alignment
}

fn check_tensor(
    path: &Path,
    name: String,
    ne: Vec<u64>,
    type_id: u32,
    offset: u64,
    alignment: u64,
    data_len: u64,
) -> Result<TensorInfo> {
    let fail = |msg: String| Err(Error::in_file(path, format!("tensor {name:?}: {msg}")));
    let Some(ggml_type) = GgmlType::from_id(type_id) else {
        return fail(format!("unknown GGML type id {type_id}"));
    };
    let Some(elements) = ne.iter().try_fold(1u64, |acc, &n| acc.checked_mul(n)) else {
        return fail(format!("dimensions {ne:?} overflow"));
    };
    if ne
        .first()
        .is_some_and(|&row| row % ggml_type.block_elements as u64 != 0)
    {
        return fail(format!(
            "row length {} is not a multiple of {}'s block of {}",
            ne[0], ggml_type.name, ggml_type.block_elements
        ));
    }
    let Some(size) = ggml_type.bytes_for(elements) else {
        return fail(format!("dimensions {ne:?} overflow"));
    };
    if !offset.is_multiple_of(alignment) {
        return fail(format!(
            "offset {offset} is not a multiple of the alignment {alignment}"
        ));
    }
    match offset.checked_add(size) {
        Some(end) if end <= data_len => {}
        _ => {
            return fail(format!(
                "its {size} bytes at data offset {offset} run past the end of the data section \
                 ({data_len} bytes): the file is truncated or the offset is wrong"
            ));
        }
    }
    Ok(TensorInfo {
        name,
        ne,
        ggml_type,
        offset,
        size,
    })
}

/// A bounds-checked little-endian reader over the file's bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
}

/// Names a metadata value in errors without formatting a string for every value read.
#[derive(Clone, Copy)]
struct ValueOf<'a>(&'a str);

impl Display for ValueOf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the value of {:?}", self.0)
    }
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64, what: impl Display) -> Result<&'a [u8]> {
        let left = (self.bytes.len() - self.pos) as u64;
        if n > left {
            let msg = format!(
                "truncated at byte {}: {what} needs {n} bytes, {left} are left",
                self.pos
            );
            return Err(Error::in_file(self.path, msg));
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.bytes[start..self.pos])
    }

    fn array<const N: usize>(&mut self, what: impl Display) -> Result<[u8; N]> {
        let b = self.take(N as u64, what)?;
        Ok(b.try_into().expect("take returned N bytes"))
    }

    fn u32(&mut self, what: impl Display) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: impl Display) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Refuses `count` items of at least `min_bytes` each when fewer bytes are left.
    fn check_count(&self, count: u64, min_bytes: u64, what: &str) -> Result<()> {
        let left = (self.bytes.len() - self.pos) as u64;
        if count.saturating_mul(min_bytes) > left {
            let msg = format!(
                "truncated or corrupt at byte {}: {count} {what} cannot fit in the {left} bytes \
                 left",
                self.pos
            );
            return Err(Error::in_file(self.path, msg));
        }
        Ok(())
    }

    fn string(&mut self, what: impl Display + Copy) -> Result<String> {
        let at = self.pos;
        let len = self.u64(what)?;
        let raw = self.take(len, what)?;
        String::from_utf8(raw.to_vec()).map_err(|_| {
            Error::in_file(self.path, format!("{what} at byte {at} is not valid UTF-8"))
        })
    }

    /// A value of GGUF type id `ty` for metadata `key`; `depth` counts enclosing arrays.
    fn value(&mut self, ty: u32, key: &str, depth: usize) -> Result<Value> {
        let what = ValueOf(key);
        Ok(match ty {
            0 => Value::U8(self.array::<1>(what)?[0]),
            1 => Value::I8(self.array::<1>(what)?[0] as i8),
            2 => Value::U16(u16::from_le_bytes(self.array(what)?)),
            3 => Value::I16(i16::from_le_bytes(self.array(what)?)),
            4 => Value::U32(self.u32(what)?),
            5 => Value::I32(i32::from_le_bytes(self.array(what)?)),
            6 => Value::F32(f32::from_le_bytes(self.array(what)?)),
            7 => match self.array::<1>(what)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => {
                    let msg = format!("{what} is a bool stored as {b}: valid are 0 and 1");
                    return Err(Error::in_file(self.path, msg));
                }
            },
            8 => Value::String(self.string(what)?),
            9 => {
                // Nested arrays are legal GGUF but no model uses them deeply.
                if depth >= 8 {
                    let msg = format!("{what} nests arrays more than 8 deep");
                    return Err(Error::in_file(self.path, msg));
                }
                let element_type = self.u32(what)?;
                let count = self.u64(what)?;
                let min_bytes = match element_type {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    8 | 10..=12 => 8,
                    9 => 12,
                    other => {
                        let msg = format!(
                            "metadata {key:?} is an array of unknown type {other}: valid types \
                             are 0 to 12"
                        );
                        return Err(Error::in_file(self.path, msg));
                    }
                };
                self.check_count(count, min_bytes, &format!("elements of {key:?}"))?;
                let mut items = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    items.push(self.value(element_type, key, depth + 1)?);
                }
                Value::Array(items)
            }
            10 => Value::U64(self.u64(what)?),
            11 => Value::I64(i64::from_le_bytes(self.array(what)?)),
            12 => Value::F64(f64::from_le_bytes(self.array(what)?)),
            other => {
                let msg = format!(
                    "metadata {key:?} has unknown value type {other} (at byte {}): valid types \
                     are 0 to 12",
                    self.pos - 4
                );
                return Err(Error::in_file(self.path, msg));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_file::{Builder, put_str};
    use super::*;

    fn sample() -> Builder {
        let mut arr = Vec::new();
        arr.extend(8u32.to_le_bytes());
        arr.extend(2u64.to_le_bytes());
        put_str(&mut arr, "a b");
        put_str(&mut arr, "é");
        let mut ints = Vec::new();
        ints.extend(5u32.to_le_bytes());
        ints.extend(3u64.to_le_bytes());
        for v in [1i32, -2, 3] {
            ints.extend(v.to_le_bytes());
        }
        let f32s: Vec<u8> = [1.5f32, -2.0, 0.25, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        Builder::new()
            .kv_str("general.architecture", "llama")
            .kv_u32("llama.block_count", 2)
            .kv("f", 6, &0.5f32.to_le_bytes())
            .kv("b", 7, &[1])
            .kv("i8", 1, &[0xff])
            .kv("u64", 10, &7u64.to_le_bytes())
            .kv("f64", 12, &2.25f64.to_le_bytes())
            .kv("strings", 9, &arr)
            .kv("ints", 9, &ints)
            .tensor("w", &[3, 2], 0, &f32s)
            .tensor("h", &[2], 1, &[0x00, 0x3c, 0x00, 0xc0])
    }

    fn parse(bytes: Vec<u8>) -> Result<GgufFile> {
        GgufFile::parse(Path::new("m.gguf"), bytes)
    }

    #[test]
    fn reads_every_value_type_and_tensor() {
        for version in [2, 3] {
            let mut b = sample();
            b.version = version;
            let f = parse(b.build()).unwrap();
            assert_eq!(f.version(), version);
            assert_eq!(f.alignment(), 32);
            assert_eq!(f.data_offset() % 32, 0);
            assert_eq!(f.require_str("general.architecture").unwrap(), "llama");
            assert_eq!(f.require_u64("llama.block_count").unwrap(), 2);
            assert_eq!(f.require_f64("f").unwrap(), 0.5);
            assert_eq!(f.get("b"), Some(&Value::Bool(true)));
            assert_eq!(f.get("i8"), Some(&Value::I8(-1)));
            assert_eq!(f.require_u64("u64").unwrap(), 7);
            assert_eq!(f.require_f64("f64").unwrap(), 2.25);
            let strings = f.require_array("strings").unwrap();
            assert_eq!(
                strings,
                &[Value::String("a b".into()), Value::String("é".into())]
            );
            let ints = f.require_array("ints").unwrap();
            assert_eq!(ints, &[Value::I32(1), Value::I32(-2), Value::I32(3)]);
            assert_eq!(f.metadata().len(), 9);
            let (w, info) = f.tensor_f32("w").unwrap();
            assert_eq!(info.row_major_shape(), vec![2, 3]);
            assert_eq!(w, vec![1.5, -2.0, 0.25, 4.0, 5.0, 6.0]);
            let (h, info) = f.tensor_f32("h").unwrap();
            assert_eq!((h, info.offset), (vec![1.0, -2.0], 32));
        }
    }

    #[test]
    fn honours_general_alignment() {
        let f32s: Vec<u8> = [1.0f32, 2.0, 3.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut b = Builder::new().kv_u32("general.alignment", 64);
        b.align = 64;
        let b = b
            .tensor("a", &[3], 0, &f32s)
            .tensor("h", &[2], 1, &[0x00, 0x3c, 0x00, 0xc0]);
        let f = parse(b.build()).unwrap();
        assert_eq!((f.alignment(), f.data_offset() % 64), (64, 0));
        assert_eq!(f.tensor("h").unwrap().offset, 64);
        assert_eq!(f.tensor_f32("a").unwrap().0, vec![1.0, 2.0, 3.0]);
        assert_eq!(f.tensor_f32("h").unwrap().0, vec![1.0, -2.0]);

        // The default alignment (32) places "h" at 32: not a multiple of the declared 64.
        let mut bad = sample().kv_u32("general.alignment", 64);
        bad.align = 64; // header padding only: the tensors were placed at 32-byte offsets
        let err = parse(bad.build()).unwrap_err().to_string();
        assert!(err.contains("not a multiple of the alignment 64"), "{err}");
    }

    fn error_of(bytes: Vec<u8>) -> String {
        let err = parse(bytes).unwrap_err().to_string();
        assert!(err.starts_with("m.gguf: "), "{err}");
        err
    }

    #[test]
    fn bad_files_are_errors_naming_the_problem() {
        let good = sample().build();

        let err = error_of(b"PK\x03\x04 not a gguf".to_vec());
        assert!(err.contains("not a GGUF file"), "{err}");
        let err = error_of(Vec::new());
        assert!(err.contains("truncated at byte 0"), "{err}");

        let mut v1 = good.clone();
        v1[4] = 1;
        assert!(error_of(v1).contains("GGUF version 1"));
        let mut big_endian = good.clone();
        big_endian[4..8].copy_from_slice(&3u32.to_be_bytes());
        assert!(error_of(big_endian).contains("big-endian"));

        // Every truncation point fails cleanly, never panics.
        for cut in 0..good.len() {
            let err = error_of(good[..cut].to_vec());
            assert!(err.contains("truncat"), "cut at {cut}: {err}");
        }

        // A count no file could hold.
        let mut huge = good.clone();
        huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(error_of(huge).contains("cannot fit"));

        let err = error_of(sample().kv("x", 13, &[0]).build());
        assert!(err.contains("\"x\" has unknown value type 13"), "{err}");
        let err = error_of(sample().kv("x", 7, &[2]).build());
        assert!(err.contains("bool stored as 2"), "{err}");
        let err = error_of(sample().kv_str("general.architecture", "x").build());
        assert!(err.contains("appears twice"), "{err}");
        let err = error_of(sample().tensor("q", &[32], 99, &[0; 32]).build());
        assert!(err.contains("\"q\": unknown GGML type id 99"), "{err}");
        let err = error_of(sample().tensor("q", &[31], 8, &[0; 34]).build());
        assert!(
            err.contains("not a multiple of Q8_0's block of 32"),
            "{err}"
        );
        let err = error_of(sample().tensor("q", &[1, 1, 1, 1, 1], 0, &[0; 4]).build());
        assert!(err.contains("5 dimensions"), "{err}");
        let err = error_of(
            sample()
                .kv("general.alignment", 4, &3u32.to_le_bytes())
                .build(),
        );
        assert!(err.contains("power of two"), "{err}");

        // A tensor whose data lies past the end.
        let mut b = sample();
        b.infos.truncate(b.infos.len() - 8);
        b.infos.extend(4096u64.to_le_bytes());
        let err = error_of(b.build());
        assert!(
            err.contains("\"h\": its 4 bytes at data offset 4096 run past"),
            "{err}"
        );

        // Garbage after a valid magic.
        let mut garbage = b"GGUF".to_vec();
        garbage.extend(3u32.to_le_bytes());
        garbage.extend((0..200u32).map(|i| (i * 97 % 251) as u8));
        assert!(parse(garbage).is_err());
    }

    #[test]
    fn missing_and_mistyped_metadata_name_the_key() {
        let f = parse(sample().build()).unwrap();
        let err = f
            .require_u64("llama.context_length")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "m.gguf: metadata key \"llama.context_length\" is missing"
        );
        let err = f
            .require_u64("general.architecture")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is a string, expected a non-negative integer"),
            "{err}"
        );
        let err = f.tensor_f32("nope").unwrap_err().to_string();
        assert!(err.contains("has no tensor \"nope\""), "{err}");
    }
}
