//! GGUF metadata: each key and typed value read, or skipped by seeking when the estimate does
//! not need it ([`super::KEPT_SUFFIXES`]). Values are little-endian:
//!
//! ```text
//! type  0 u8  1 i8  2 u16  3 i16  4 u32  5 i32  6 f32  7 bool  10 u64  11 i64  12 f64
//!       8 string (u64 length, bytes)    9 array (u32 element type, u64 count, values)
//! ```

use std::collections::BTreeMap;
use std::io::{Read, Seek};

use super::{
    count_fits, short_string, GgufError, KEPT_SUFFIXES, MAX_KEPT, MAX_KEPT_ARRAY, MAX_KEY,
};
use crate::estimate::bounded::{Bounded, ReadError};

/// A metadata value that was kept.
#[derive(Debug, Clone, PartialEq)]
pub enum Meta {
    /// Any integer type (a negative one is kept as its value, e.g. -1).
    Int(i128),
    Float(f64),
    Bool(bool),
    /// A string of at most 256 bytes (longer ones are kept as [`Meta::Other`]).
    Str(String),
    /// An array: its length, and its values when it is an integer array of at most
    /// 65 536 values (per-layer figures such as `head_count_kv`).
    Array {
        len: u64,
        ints: Option<Vec<i128>>,
    },
    Other,
}

/// The metadata value types of GGUF: element size, or `None` for strings and arrays.
fn fixed_size(ty: u32) -> Option<Option<u64>> {
    match ty {
        0 | 1 | 7 => Some(Some(1)), // u8, i8, bool
        2 | 3 => Some(Some(2)),     // u16, i16
        4..=6 => Some(Some(4)),     // u32, i32, f32
        10..=12 => Some(Some(8)),   // u64, i64, f64
        8 | 9 => Some(None),        // string, array
        _ => None,
    }
}

fn keep(key: &str) -> bool {
    key == "general.architecture"
        || key == "general.alignment"
        || KEPT_SUFFIXES.iter().any(|s| key.ends_with(s))
}

pub(super) fn read_kv<R: Read + Seek>(
    r: &mut Bounded<R>,
    meta: &mut BTreeMap<String, Meta>,
) -> Result<(), GgufError> {
    let key = short_string(r, "a metadata key", MAX_KEY, GgufError::KeyLength)?;
    let ty = r.u32("a metadata value type")?;
    let kept = keep(&key);
    let value = read_value(r, &key, ty, kept)?;
    if kept {
        if meta.len() >= MAX_KEPT && !meta.contains_key(&key) {
            return Err(GgufError::TooManyKept);
        }
        meta.insert(key, value);
    }
    Ok(())
}

fn read_value<R: Read + Seek>(
    r: &mut Bounded<R>,
    key: &str,
    ty: u32,
    kept: bool,
) -> Result<Meta, GgufError> {
    let bad_type = || GgufError::ValueType {
        key: key.to_string(),
        ty,
    };
    let Some(size) = fixed_size(ty).ok_or_else(bad_type)? else {
        return if ty == 8 {
            read_string_value(r, kept)
        } else {
            read_array(r, key, kept)
        };
    };
    if !kept {
        r.skip(size, "a metadata value")?;
        return Ok(Meta::Other);
    }
    Ok(scalar(r, ty)?)
}

fn scalar<R: Read + Seek>(r: &mut Bounded<R>, ty: u32) -> Result<Meta, ReadError> {
    let what = "a metadata value";
    Ok(match ty {
        6 => Meta::Float(f32::from_le_bytes(r.array(what)?).into()),
        7 => Meta::Bool(r.u8(what)? != 0),
        12 => Meta::Float(f64::from_le_bytes(r.array(what)?)),
        _ => Meta::Int(int(r, ty)?),
    })
}

/// An integer value of type `ty` (0 to 5, 10, 11; the caller checked it is one of them).
fn int<R: Read + Seek>(r: &mut Bounded<R>, ty: u32) -> Result<i128, ReadError> {
    let what = "a metadata value";
    Ok(match ty {
        0 => r.u8(what)?.into(),
        1 => (r.u8(what)? as i8).into(),
        2 => u16::from_le_bytes(r.array(what)?).into(),
        3 => i16::from_le_bytes(r.array(what)?).into(),
        4 => r.u32(what)?.into(),
        5 => i32::from_le_bytes(r.array(what)?).into(),
        10 => r.u64(what)?.into(),
        _ => i64::from_le_bytes(r.array(what)?).into(),
    })
}

fn read_string_value<R: Read + Seek>(r: &mut Bounded<R>, kept: bool) -> Result<Meta, GgufError> {
    let n = r.u64("a string's length")?;
    if kept && n <= 256 {
        let bytes = r.bytes(n, "a string")?;
        return Ok(Meta::Str(String::from_utf8_lossy(&bytes).into_owned()));
    }
    r.skip(n, "a string")?;
    Ok(Meta::Other)
}

fn read_array<R: Read + Seek>(
    r: &mut Bounded<R>,
    key: &str,
    kept: bool,
) -> Result<Meta, GgufError> {
    let ty = r.u32("an array's element type")?;
    let len = r.u64("an array's length")?;
    match fixed_size(ty) {
        None => Err(GgufError::ValueType {
            key: key.to_string(),
            ty,
        }),
        Some(None) if ty == 9 => Err(GgufError::NestedArray(key.to_string())),
        Some(None) => {
            // Strings: each at least its 8-byte length.
            count_fits(r, "array strings", len, 8)?;
            for _ in 0..len {
                let n = r.u64("a string's length")?;
                r.skip(n, "a string in an array")?;
            }
            Ok(Meta::Array { len, ints: None })
        }
        Some(Some(size)) => {
            let bytes = len.checked_mul(size).ok_or(GgufError::Count {
                what: "array values",
                count: len,
                left: r.remaining(),
            })?;
            r.check(bytes, "an array's values")?;
            let integer = !matches!(ty, 6 | 7 | 12);
            if kept && integer && len <= MAX_KEPT_ARRAY {
                let mut ints = Vec::with_capacity(len as usize);
                for _ in 0..len {
                    ints.push(int(r, ty)?);
                }
                return Ok(Meta::Array {
                    len,
                    ints: Some(ints),
                });
            }
            r.skip(bytes, "an array's values")?;
            Ok(Meta::Array { len, ints: None })
        }
    }
}
