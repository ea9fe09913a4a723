//! The GGUF header (llama.cpp's model format), read without reading the tensors: the tensor
//! count and every tensor's type and shape give the weights' bytes; a few metadata values give
//! the model's shape for the KV cache ([`super::llama`]).
//!
//! ```text
//! "GGUF"  u32 version (2 or 3)  u64 tensor count  u64 metadata count
//! metadata × count:  string key, u32 value type, value   (arrays: u32 type, u64 n, n values)
//! tensor info × count:  string name, u32 n_dims, u64 × n_dims, u32 ggml type, u64 offset
//! padding to `general.alignment` (32), then the tensor data
//! ```
//!
//! Strings are a u64 length and that many bytes. Every count and length is checked against the
//! bytes left in the file before it is used, values nobody needs are skipped by seeking, and
//! only a bounded set of metadata is kept ([`KEPT_SUFFIXES`]), so a hostile header costs at
//! most its own length in reading and a few kilobytes of memory.

use std::collections::BTreeMap;
use std::io::{Read, Seek};

use super::bounded::{Bounded, ReadError};
use super::ggml;
use crate::units::Bytes;

mod meta;
use meta::read_kv;
pub use meta::Meta;

/// `general.alignment` when the file names none.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;
/// ggml's `GGML_MAX_NAME`: a tensor name and its NUL.
const MAX_NAME: u64 = 64;
/// Longer keys are refused (real ones are under 100 bytes).
const MAX_KEY: u64 = 1024;
/// Metadata keys whose values are kept (with `general.architecture` and `general.alignment`);
/// all others are skipped.
pub const KEPT_SUFFIXES: [&str; 11] = [
    ".context_length",
    ".block_count",
    ".embedding_length",
    ".feed_forward_length",
    ".attention.head_count",
    ".attention.head_count_kv",
    ".attention.key_length",
    ".attention.value_length",
    ".vocab_size",
    "tokenizer.ggml.tokens",
    "tokenizer.ggml.merges",
];
/// At most this many kept keys (distinct prefixes could otherwise repeat a kept suffix).
const MAX_KEPT: usize = 256;
/// More tensors or metadata entries than this are refused (real models have thousands).
const MAX_COUNT: u64 = 1 << 20;
/// Per-layer arrays longer than this are not kept (no model has this many layers).
const MAX_KEPT_ARRAY: u64 = 65_536;

/// Why a GGUF header was refused.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("not a GGUF file: it starts with {0:?}, not \"GGUF\"")]
    Magic([u8; 4]),
    #[error("GGUF version {0} is not supported (2 or 3)")]
    Version(u32),
    #[error(
        "{count} {what} cannot fit in the {left} bytes left in the file (or are over {MAX_COUNT})"
    )]
    Count {
        what: &'static str,
        count: u64,
        left: u64,
    },
    #[error("a metadata key of {0} bytes (at most {MAX_KEY})")]
    KeyLength(u64),
    #[error("metadata key {key:?} has value type {ty}, which GGUF does not define")]
    ValueType { key: String, ty: u32 },
    #[error("metadata key {0:?} is an array of arrays, which GGUF does not allow")]
    NestedArray(String),
    #[error("metadata key {key:?} should be {expected}")]
    KeyType { key: String, expected: &'static str },
    #[error("more than {MAX_KEPT} model-shape metadata keys")]
    TooManyKept,
    #[error("`general.alignment` {0} is not a power of two")]
    Alignment(u64),
    #[error("a tensor name of {0} bytes (ggml allows {max})", max = MAX_NAME - 1)]
    NameLength(u64),
    #[error("tensor {tensor:?} has {n} dimensions (ggml allows 1 to {MAX_DIMS})")]
    Dims { tensor: String, n: u32 },
    #[error("tensor {tensor:?}: its shape {dims:?} overflows")]
    Shape { tensor: String, dims: Vec<u64> },
    #[error("tensor {tensor:?} has ggml type {id}, which this jetgate does not know: no estimate")]
    TensorType { tensor: String, id: u32 },
    #[error("tensor {tensor:?}: rows of {ne0} values are not whole {ty} blocks of {block}")]
    Blocks {
        tensor: String,
        ty: &'static str,
        ne0: u64,
        block: u64,
    },
    #[error(
        "tensor {tensor:?}: its offset {offset} is not a multiple of the alignment {alignment}"
    )]
    Misaligned {
        tensor: String,
        offset: u64,
        alignment: u64,
    },
    #[error(
        "tensor {tensor:?} ends at byte {end} of the data, past the {data} bytes the file holds"
    )]
    DataPastEnd { tensor: String, end: u64, data: u64 },
}

/// What the header says: the tensors' total size and the kept metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufHeader {
    pub version: u32,
    pub tensors: u64,
    /// Σ over tensors of ggml's `nbytes`: values / block × block bytes.
    pub tensor_bytes: Bytes,
    pub alignment: u64,
    /// Where the tensor data starts.
    pub data_offset: u64,
    pub meta: BTreeMap<String, Meta>,
}

impl GgufHeader {
    /// `general.architecture`, e.g. `llama`.
    pub fn architecture(&self) -> Option<&str> {
        match self.meta.get("general.architecture") {
            Some(Meta::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// A non-negative integer value.
    pub fn uint(&self, key: &str) -> Option<u64> {
        match self.meta.get(key) {
            Some(Meta::Int(v)) => u64::try_from(*v).ok(),
            _ => None,
        }
    }

    /// The kept value of `key`.
    pub fn get(&self, key: &str) -> Option<&Meta> {
        self.meta.get(key)
    }
}

/// Reads the header from a file of `len` bytes (the reader at byte 0).
pub fn read_header<R: Read + Seek>(inner: R, len: u64) -> Result<GgufHeader, GgufError> {
    let mut r = Bounded::new(inner, len);
    let magic = r.array::<4>("the magic")?;
    if &magic != b"GGUF" {
        return Err(GgufError::Magic(magic));
    }
    let version = r.u32("the version")?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::Version(version));
    }
    let tensors = r.u64("the tensor count")?;
    let kvs = r.u64("the metadata count")?;
    // The smallest metadata entry: key length, empty key, type, a one-byte value.
    count_fits(&r, "metadata entries", kvs, 8 + 4 + 1)?;
    let mut meta = BTreeMap::new();
    for _ in 0..kvs {
        read_kv(&mut r, &mut meta)?;
    }
    // The smallest tensor info: name length, one-byte name, n_dims, one dim, type, offset.
    count_fits(&r, "tensors", tensors, 8 + 1 + 4 + 8 + 4 + 8)?;
    let alignment = match meta.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(Meta::Int(a)) => match u64::try_from(*a) {
            Ok(a) if a.is_power_of_two() => a,
            _ => return Err(GgufError::Alignment(u64::try_from(*a).unwrap_or(0))),
        },
        Some(_) => {
            return Err(GgufError::KeyType {
                key: "general.alignment".into(),
                expected: "an unsigned integer",
            })
        }
    };
    let mut total: u64 = 0;
    let mut furthest: Option<(u64, String)> = None;
    for _ in 0..tensors {
        let info = read_tensor_info(&mut r)?;
        if info.offset % alignment != 0 {
            return Err(GgufError::Misaligned {
                tensor: info.name,
                offset: info.offset,
                alignment,
            });
        }
        let end = info.offset.checked_add(info.bytes);
        total = total
            .checked_add(info.bytes)
            .ok_or_else(|| GgufError::Shape {
                tensor: info.name.clone(),
                dims: info.dims.clone(),
            })?;
        match end {
            None => {
                return Err(GgufError::DataPastEnd {
                    tensor: info.name,
                    end: u64::MAX,
                    data: 0,
                })
            }
            Some(end) if furthest.as_ref().is_none_or(|(e, _)| end > *e) => {
                furthest = Some((end, info.name));
            }
            Some(_) => {}
        }
    }
    let data_offset = r.pos().div_ceil(alignment).saturating_mul(alignment);
    if let Some((end, tensor)) = furthest {
        let data = len.saturating_sub(data_offset);
        if end > data {
            return Err(GgufError::DataPastEnd { tensor, end, data });
        }
    }
    Ok(GgufHeader {
        version,
        tensors,
        tensor_bytes: Bytes(total),
        alignment,
        data_offset,
        meta,
    })
}

fn count_fits<R: Read + Seek>(
    r: &Bounded<R>,
    what: &'static str,
    count: u64,
    smallest: u64,
) -> Result<(), GgufError> {
    let left = r.remaining();
    if count > MAX_COUNT || count.checked_mul(smallest).is_none_or(|need| need > left) {
        return Err(GgufError::Count { what, count, left });
    }
    Ok(())
}

/// A string that is kept: read when at most `max` bytes, else an error from `too_long`.
fn short_string<R: Read + Seek>(
    r: &mut Bounded<R>,
    what: &'static str,
    max: u64,
    too_long: fn(u64) -> GgufError,
) -> Result<String, GgufError> {
    let n = r.u64(what)?;
    if n > max {
        return Err(too_long(n));
    }
    let bytes = r.bytes(n, what)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

struct TensorInfo {
    name: String,
    dims: Vec<u64>,
    bytes: u64,
    offset: u64,
}

fn read_tensor_info<R: Read + Seek>(r: &mut Bounded<R>) -> Result<TensorInfo, GgufError> {
    let name = short_string(r, "a tensor name", MAX_NAME - 1, GgufError::NameLength)?;
    let n = r.u32("a tensor's dimension count")?;
    if !(1..=MAX_DIMS).contains(&n) {
        return Err(GgufError::Dims { tensor: name, n });
    }
    let mut dims = Vec::with_capacity(n as usize);
    for _ in 0..n {
        dims.push(r.u64("a tensor dimension")?);
    }
    let id = r.u32("a tensor's type")?;
    let offset = r.u64("a tensor's offset")?;
    let Some(ty) = ggml::by_id(id) else {
        return Err(GgufError::TensorType { tensor: name, id });
    };
    // ggml holds dimensions as int64_t: each, and their product, must fit.
    let fits = dims.iter().all(|d| i64::try_from(*d).is_ok())
        && dims
            .iter()
            .try_fold(1u64, |acc, d| acc.checked_mul(*d))
            .is_some_and(|e| i64::try_from(e).is_ok());
    if !fits {
        return Err(GgufError::Shape { tensor: name, dims });
    }
    let ne0 = dims[0];
    let Some(row) = ty.row_bytes(ne0) else {
        return Err(GgufError::Blocks {
            tensor: name,
            ty: ty.name,
            ne0,
            block: ty.block,
        });
    };
    let rows = dims[1..]
        .iter()
        .try_fold(1u64, |acc, d| acc.checked_mul(*d));
    let Some(bytes) = rows.and_then(|rows| row.checked_mul(rows)) else {
        return Err(GgufError::Shape { tensor: name, dims });
    };
    Ok(TensorInfo {
        name,
        dims,
        bytes,
        offset,
    })
}
