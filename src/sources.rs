//! Readers of the device: each a pure parser of text plus a thin reader under [`Root`].
//!
//! | module | reads | units |
//! |---|---|---|
//! | [`meminfo`] | `/proc/meminfo` | [`crate::units::Bytes`] from kB |
//! | [`buddyinfo`] | `/proc/buddyinfo`: free blocks per order, the fragmentation figure | bytes from pages |
//! | [`pressure`] | `/proc/pressure/memory` (PSI) | percent, µs |
//! | [`refaults`] | file refaults: `/proc/vmstat`, a cgroup's `memory.stat` | bytes from pages |
//! | [`cgroup`] | cgroup v1/v2 memory controller; own or named cgroup | bytes |
//! | [`process`], [`proctree`] | `/proc/PID/{stat,smaps_rollup,status,fd}`, whole trees | bytes, ticks |
//! | [`members`] | a watched tree's kept files, `/proc/PID/task/TID/children` | pids |
//! | [`handle`] | files kept open and `pread` at offset 0 each sample | |
//! | [`nvmap`] | `/sys/kernel/debug/nvmap/iovmm/clients` (root only) | bytes from K |
//! | [`devfreq`] | GPU devfreq `load` | tenths of a percent |
//! | [`nvml`] | libnvidia-ml at run time (discrete GPUs, Thor) | bytes |
//! | [`process_gpu`] | per-process GPU memory: nvmap, else NVML | bytes |
//! | [`sampler`] | one full [`MemorySample`] for the gate | bytes |
//! | [`wake`] | kernel notifications: a cgroup v1 usage threshold (eventfd), a PSI trigger | |
//!
//! "Unsupported" (absent on this kernel or board) is never "failed": see
//! [`SourceError::is_unsupported`]. `docs/sources.md` documents every source.

pub mod buddyinfo;
#[cfg(test)]
pub(crate) mod captures;
pub mod cgroup;
pub mod devfreq;
pub mod error;
pub mod handle;
pub mod members;
pub mod meminfo;
pub mod nvmap;
pub mod nvml;
pub mod pressure;
pub mod process;
pub mod process_gpu;
pub mod proctree;
pub mod refaults;
pub mod root;
pub mod sampler;
pub mod wake;

pub use cgroup::{Cgroup, CgroupMemory, CgroupVersion};
pub use error::{ParseError, SourceError};
pub use meminfo::{parse_meminfo, read_meminfo, MemInfo};
pub use pressure::{parse_pressure, read_pressure, Pressure};
pub use process::{ProcReader, ProcessSample, PssSource, TreeDetail};
pub use process_gpu::{GpuFrom, ProcessGpu, ProcessGpuReader};
pub use proctree::{TreeSampler, TreeSummary, TreeTotals};
pub use root::{ReadError, Root};
pub use sampler::{AvailableFrom, MemorySample, Sampler, Scope, SourceId, SourceReads};
