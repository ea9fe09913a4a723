//! Readers of the device: each a pure parser of text plus a thin reader under [`Root`].

pub mod root;

pub use root::{ReadError, Root};
