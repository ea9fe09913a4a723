//! ggml's tensor types: how many values one block holds and how many bytes it takes, as the
//! vendored ggml defines them (its block structs; the same table as gguf-py's
//! `GGML_QUANT_SIZES`). A row of `n` values of type `t` takes
//! `n / t.block × t.size` bytes, and `n` must be a whole number of blocks.
//!
//! ```text
//! id  name    block  bytes      id  name     block  bytes
//!  0  f32         1      4       8  q8_0        32     34
//!  1  f16         1      2      12  q4_K       256    144
//!  2  q4_0       32     18      30  bf16         1      2
//! ```
//!
//! Ids that ggml removed (4, 5, 31 to 33, 36 to 38) and ids past the table are unknown: a file
//! that uses one is refused, never sized by a guess.

/// One ggml tensor type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GgmlType {
    pub id: u32,
    /// ggml's name (`ggml_type_name`), as llama.cpp's `--cache-type-k` takes it.
    pub name: &'static str,
    /// Values per block.
    pub block: u64,
    /// Bytes per block.
    pub size: u64,
}

const QK_K: u64 = 256;

const fn t(id: u32, name: &'static str, block: u64, size: u64) -> GgmlType {
    GgmlType {
        id,
        name,
        block,
        size,
    }
}

/// Every type ggml knows, by id.
pub const TYPES: &[GgmlType] = &[
    t(0, "f32", 1, 4),
    t(1, "f16", 1, 2),
    t(2, "q4_0", 32, 2 + 16),
    t(3, "q4_1", 32, 2 + 2 + 16),
    t(6, "q5_0", 32, 2 + 4 + 16),
    t(7, "q5_1", 32, 2 + 2 + 4 + 16),
    t(8, "q8_0", 32, 2 + 32),
    t(9, "q8_1", 32, 2 + 2 + 32),
    t(10, "q2_K", QK_K, 2 + 2 + QK_K / 16 + QK_K / 4),
    t(11, "q3_K", QK_K, 2 + QK_K / 4 + QK_K / 8 + 12),
    t(12, "q4_K", QK_K, 2 + 2 + QK_K / 2 + 12),
    t(13, "q5_K", QK_K, 2 + 2 + QK_K / 2 + QK_K / 8 + 12),
    t(14, "q6_K", QK_K, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16),
    t(15, "q8_K", QK_K, 4 + QK_K + QK_K / 8),
    t(16, "iq2_xxs", QK_K, 2 + QK_K / 4),
    t(17, "iq2_xs", QK_K, 2 + QK_K / 4 + QK_K / 32),
    t(18, "iq3_xxs", QK_K, 2 + QK_K / 4 + QK_K / 8),
    t(19, "iq1_s", QK_K, 2 + QK_K / 8 + QK_K / 16),
    t(20, "iq4_nl", 32, 2 + 16),
    t(21, "iq3_s", QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4),
    t(22, "iq2_s", QK_K, 2 + QK_K / 4 + QK_K / 16),
    t(23, "iq4_xs", QK_K, 2 + 2 + QK_K / 2 + QK_K / 64),
    t(24, "i8", 1, 1),
    t(25, "i16", 1, 2),
    t(26, "i32", 1, 4),
    t(27, "i64", 1, 8),
    t(28, "f64", 1, 8),
    t(29, "iq1_m", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32),
    t(30, "bf16", 1, 2),
    t(34, "tq1_0", QK_K, 2 + 4 * 13),
    t(35, "tq2_0", QK_K, 2 + 64),
    t(39, "mxfp4", 32, 1 + 16),
    t(40, "nvfp4", 64, 4 + 32),
    t(41, "q1_0", 128, 2 + 16),
    t(42, "q2_0", 64, 2 + 16),
];

/// The type with ggml id `id`, if ggml knows it.
pub fn by_id(id: u32) -> Option<GgmlType> {
    TYPES.iter().copied().find(|t| t.id == id)
}

/// The type ggml calls `name` (`f16`, `q8_0`, ...).
pub fn by_name(name: &str) -> Option<GgmlType> {
    TYPES.iter().copied().find(|t| t.name == name)
}

impl GgmlType {
    /// Bytes of a row of `n` values: `None` when `n` is not a whole number of blocks or the
    /// figure overflows.
    pub fn row_bytes(self, n: u64) -> Option<u64> {
        if n % self.block != 0 {
            return None;
        }
        (n / self.block).checked_mul(self.size)
    }
}

/// Published by name (`"q8_0"`).
impl serde::Serialize for GgmlType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}
