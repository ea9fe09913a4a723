//! ONNX models: the bytes of their weights, read from the protobuf without reading the weights.
//!
//! ```text
//! ModelProto  7: graph GraphProto
//! GraphProto  5: initializer TensorProto (repeated)   15: sparse_initializer (1: values, 2: indices)
//!             1: node NodeProto → 5: attribute → 5: t, 10: tensors (constants), 6: g, 11: graphs
//! TensorProto 1: dims (int64)   2: data_type   6: string_data   9: raw_data
//!             13: external_data (1: key, 2: value; "length" is the byte count)
//! ```
//!
//! A tensor's bytes are `Π dims × element size` of its `data_type` (sub-byte types rounded up;
//! strings: the strings' lengths), or its `raw_data` or external `length` where that is larger.
//! Every length is checked against the end of its enclosing message before it is used, and the
//! weights' bytes are skipped by seeking, so a 2 GiB model costs a few thousand small reads.
//! Subgraphs (an `If`'s branches, a `Loop`'s body) nest at most [`MAX_DEPTH`] deep.

use std::io::{Read, Seek};

use super::bounded::{Bounded, ReadError};

/// Nested graphs deeper than this are refused.
pub const MAX_DEPTH: u32 = 16;
/// More dimensions than this are refused.
const MAX_DIMS: usize = 64;
/// `external_data` keys and values longer than this are skipped unread.
const MAX_ENTRY: u64 = 4096;

/// Why an ONNX model was refused.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("a varint at byte {0} is longer than 10 bytes")]
    Varint(u64),
    #[error("wire type {wire} of field {field} at byte {at} (protobuf groups are not ONNX)")]
    WireType { field: u64, wire: u64, at: u64 },
    #[error(
        "a field at byte {at} ends at byte {end}, past the end of its message at byte {limit}"
    )]
    PastMessage { at: u64, end: u64, limit: u64 },
    #[error("graphs nested more than {MAX_DEPTH} deep")]
    Depth,
    #[error(
        "tensor {tensor:?} has ONNX data type {ty}, which this jetgate does not know: no estimate"
    )]
    DataType { tensor: String, ty: u64 },
    #[error("tensor {tensor:?}: its shape {dims:?} is negative, overflows or has over {MAX_DIMS} dimensions")]
    Shape { tensor: String, dims: Vec<i64> },
    #[error("the file has no graph (field 7 of ModelProto)")]
    NoGraph,
}

/// What the weights of a model add up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Weights {
    /// Initializers, sparse initializers' parts and constant tensors counted.
    pub tensors: u64,
    pub bytes: u64,
    /// Of `bytes`, those stored in external files.
    pub external_bytes: u64,
}

/// Bits per element of ONNX `TensorProto.DataType` (strings: 0, sized by their lengths).
fn element_bits(ty: u64) -> Option<u64> {
    Some(match ty {
        8 => 0,                        // STRING
        2 | 3 | 9 | 17..=20 | 24 => 8, // UINT8, INT8, BOOL, FLOAT8 variants, FLOAT8E8M0
        4 | 5 | 10 | 16 => 16,         // UINT16, INT16, FLOAT16, BFLOAT16
        1 | 6 | 12 => 32,              // FLOAT, INT32, UINT32
        7 | 11 | 13 | 14 => 64,        // INT64, DOUBLE, UINT64, COMPLEX64
        15 => 128,                     // COMPLEX128
        21..=23 => 4,                  // UINT4, INT4, FLOAT4E2M1
        25 | 26 => 2,                  // UINT2, INT2
        _ => return None,
    })
}

struct Parser<R> {
    r: Bounded<R>,
    weights: Weights,
}

/// Reads a model of `len` bytes (the reader at byte 0).
pub fn read_weights<R: Read + Seek>(inner: R, len: u64) -> Result<Weights, OnnxError> {
    let mut p = Parser {
        r: Bounded::new(inner, len),
        weights: Weights::default(),
    };
    let mut graph = false;
    while p.r.pos() < len {
        let (field, wire, at) = p.tag()?;
        if field == 7 && wire == 2 {
            let end = p.len_end(len, at)?;
            p.graph(end, 0)?;
            graph = true;
        } else {
            p.skip(field, wire, len, at)?;
        }
    }
    if !graph {
        return Err(OnnxError::NoGraph);
    }
    Ok(p.weights)
}

impl<R: Read + Seek> Parser<R> {
    fn varint(&mut self) -> Result<u64, OnnxError> {
        let at = self.r.pos();
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.r.u8("a varint")?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(OnnxError::Varint(at))
    }

    /// The next field's number, wire type and position.
    fn tag(&mut self) -> Result<(u64, u64, u64), OnnxError> {
        let at = self.r.pos();
        let tag = self.varint()?;
        Ok((tag >> 3, tag & 7, at))
    }

    /// A length-delimited field's end, checked against its message's `limit`.
    fn len_end(&mut self, limit: u64, at: u64) -> Result<u64, OnnxError> {
        let n = self.varint()?;
        let end = self.r.pos().saturating_add(n);
        if end > limit {
            return Err(OnnxError::PastMessage { at, end, limit });
        }
        Ok(end)
    }

    fn skip_to(&mut self, end: u64) -> Result<(), OnnxError> {
        let n = end.saturating_sub(self.r.pos());
        Ok(self.r.skip(n, "a field")?)
    }

    fn skip(&mut self, field: u64, wire: u64, limit: u64, at: u64) -> Result<(), OnnxError> {
        match wire {
            0 => self.varint().map(drop),
            1 => Ok(self.r.skip(8, "a fixed64")?),
            5 => Ok(self.r.skip(4, "a fixed32")?),
            2 => {
                let end = self.len_end(limit, at)?;
                self.skip_to(end)
            }
            _ => Err(OnnxError::WireType { field, wire, at }),
        }
    }

    fn graph(&mut self, end: u64, depth: u32) -> Result<(), OnnxError> {
        if depth > MAX_DEPTH {
            return Err(OnnxError::Depth);
        }
        while self.r.pos() < end {
            let (field, wire, at) = self.tag()?;
            match (field, wire) {
                (5, 2) => {
                    let e = self.len_end(end, at)?;
                    self.tensor(e)?;
                }
                (15, 2) => {
                    let e = self.len_end(end, at)?;
                    self.sparse(e)?;
                }
                (1, 2) => {
                    let e = self.len_end(end, at)?;
                    self.node(e, depth)?;
                }
                _ => self.skip(field, wire, end, at)?,
            }
        }
        Ok(())
    }

    fn sparse(&mut self, end: u64) -> Result<(), OnnxError> {
        while self.r.pos() < end {
            let (field, wire, at) = self.tag()?;
            if (field == 1 || field == 2) && wire == 2 {
                let e = self.len_end(end, at)?;
                self.tensor(e)?;
            } else {
                self.skip(field, wire, end, at)?;
            }
        }
        Ok(())
    }

    fn node(&mut self, end: u64, depth: u32) -> Result<(), OnnxError> {
        while self.r.pos() < end {
            let (field, wire, at) = self.tag()?;
            if field == 5 && wire == 2 {
                let e = self.len_end(end, at)?;
                self.attribute(e, depth)?;
            } else {
                self.skip(field, wire, end, at)?;
            }
        }
        Ok(())
    }

    fn attribute(&mut self, end: u64, depth: u32) -> Result<(), OnnxError> {
        while self.r.pos() < end {
            let (field, wire, at) = self.tag()?;
            match (field, wire) {
                (5 | 10, 2) => {
                    let e = self.len_end(end, at)?;
                    self.tensor(e)?;
                }
                (22, 2) => {
                    let e = self.len_end(end, at)?;
                    self.sparse(e)?;
                }
                (6 | 11, 2) => {
                    let e = self.len_end(end, at)?;
                    self.graph(e, depth + 1)?;
                }
                _ => self.skip(field, wire, end, at)?,
            }
        }
        Ok(())
    }

    fn tensor(&mut self, end: u64) -> Result<(), OnnxError> {
        let mut t = Tensor::default();
        while self.r.pos() < end {
            let (field, wire, at) = self.tag()?;
            match (field, wire) {
                (1, 0) => t.dims.push(self.varint()? as i64),
                (1, 2) => {
                    let e = self.len_end(end, at)?;
                    while self.r.pos() < e {
                        let d = self.varint()? as i64;
                        t.dims.push(d);
                        if t.dims.len() > MAX_DIMS {
                            return Err(t.shape_error());
                        }
                    }
                }
                (2, 0) => t.data_type = Some(self.varint()?),
                (6, 2) => {
                    let e = self.len_end(end, at)?;
                    t.strings = t.strings.saturating_add(e - self.r.pos());
                    self.skip_to(e)?;
                }
                (8, 2) => {
                    let e = self.len_end(end, at)?;
                    let n = e - self.r.pos();
                    let bytes = self.r.bytes(n.min(256), "a tensor name")?;
                    t.name = String::from_utf8_lossy(&bytes).into_owned();
                    self.skip_to(e)?;
                }
                (9, 2) => {
                    let e = self.len_end(end, at)?;
                    t.raw = e - self.r.pos();
                    self.skip_to(e)?;
                }
                (13, 2) => {
                    let e = self.len_end(end, at)?;
                    if let Some(n) = self.external_length(e)? {
                        t.external = Some(n);
                    }
                }
                _ => self.skip(field, wire, end, at)?,
            }
            if t.dims.len() > MAX_DIMS {
                return Err(t.shape_error());
            }
        }
        let bytes = t.bytes()?;
        let w = &mut self.weights;
        w.tensors += 1;
        w.bytes = w.bytes.saturating_add(bytes);
        if t.external.is_some() {
            w.external_bytes = w.external_bytes.saturating_add(bytes);
        }
        Ok(())
    }

    /// One `external_data` entry: the byte count when its key is `length`.
    fn external_length(&mut self, end: u64) -> Result<Option<u64>, OnnxError> {
        let (mut key, mut value) = (None, None);
        while self.r.pos() < end {
            let (field, wire, at) = self.tag()?;
            if (field == 1 || field == 2) && wire == 2 {
                let e = self.len_end(end, at)?;
                let n = e - self.r.pos();
                if n <= MAX_ENTRY {
                    let text =
                        String::from_utf8_lossy(&self.r.bytes(n, "external data")?).into_owned();
                    *(if field == 1 { &mut key } else { &mut value }) = Some(text);
                }
                self.skip_to(e)?;
            } else {
                self.skip(field, wire, end, at)?;
            }
        }
        Ok(match key.as_deref() {
            Some("length") => value.and_then(|v| v.trim().parse().ok()),
            _ => None,
        })
    }
}

/// What one TensorProto says about its size.
#[derive(Default)]
struct Tensor {
    name: String,
    dims: Vec<i64>,
    data_type: Option<u64>,
    raw: u64,
    strings: u64,
    external: Option<u64>,
}

impl Tensor {
    fn shape_error(&self) -> OnnxError {
        OnnxError::Shape {
            tensor: self.name.clone(),
            dims: self.dims.iter().copied().take(MAX_DIMS + 1).collect(),
        }
    }

    fn bytes(&self) -> Result<u64, OnnxError> {
        let ty = self.data_type.unwrap_or(0);
        let bits = element_bits(ty).ok_or_else(|| OnnxError::DataType {
            tensor: self.name.clone(),
            ty,
        })?;
        let elements = self.dims.iter().try_fold(1u64, |acc, d| {
            u64::try_from(*d).ok().and_then(|d| acc.checked_mul(d))
        });
        let elements = elements.ok_or_else(|| self.shape_error())?;
        let computed = if bits == 0 {
            self.strings
        } else {
            elements
                .checked_mul(bits)
                .ok_or_else(|| self.shape_error())?
                .div_ceil(8)
        };
        Ok(computed.max(self.raw).max(self.external.unwrap_or(0)))
    }
}
