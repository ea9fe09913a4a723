//! Readers of the device: each a pure parser of text plus a thin reader under [`Root`].

pub mod cgroup;
pub mod devfreq;
pub mod error;
pub mod meminfo;
pub mod nvml;
pub mod nvmap;
pub mod pressure;
pub mod process;
pub mod proctree;
pub mod root;

pub use error::{ParseError, SourceError};
pub use root::{ReadError, Root};
