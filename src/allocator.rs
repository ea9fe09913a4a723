//! The agent's own heap, from jemalloc's statistics (the binary's global allocator, see
//! `src/main.rs` and `docs/jemalloc.md`). jemalloc caches its counters: [`read`] advances the
//! epoch first so the figures are current. Sizes in bytes. The agent reports them under
//! `agent.allocator` in its status document:
//!
//! ```json
//! {"allocated_bytes": 1843200, "active_bytes": 2150400, "resident_bytes": 6291456,
//!  "mapped_bytes": 8388608, "retained_bytes": 3145728, "metadata_bytes": 2490368}
//! ```
//!
//! `allocated` is what the program holds; `resident` is what jemalloc keeps in RAM (allocated
//! plus its caches, dirty pages not yet returned and metadata): the part of the agent's
//! RSS that is its heap. A library or test binary that does not install jemalloc as its
//! global allocator reads near-zero figures.

use serde::Serialize;
use tikv_jemalloc_ctl::{epoch, stats};

/// One reading of jemalloc's statistics (`stats.*` mallctls), in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AllocatorStats {
    /// Bytes allocated by the program (`stats.allocated`).
    pub allocated_bytes: u64,
    /// Bytes in active pages, a multiple of the page size (`stats.active`).
    pub active_bytes: u64,
    /// Bytes in physically resident data pages mapped by jemalloc (`stats.resident`).
    pub resident_bytes: u64,
    /// Bytes in active extents mapped by jemalloc (`stats.mapped`).
    pub mapped_bytes: u64,
    /// Bytes retained as virtual memory for reuse, not resident (`stats.retained`).
    pub retained_bytes: u64,
    /// Bytes of jemalloc's own metadata (`stats.metadata`).
    pub metadata_bytes: u64,
}

/// Advances jemalloc's statistics epoch and reads the counters; `None` when jemalloc refuses
/// (built without statistics), which the status document shows as `null`.
pub fn read() -> Option<AllocatorStats> {
    epoch::advance().ok()?;
    let bytes = |n: usize| n as u64;
    Some(AllocatorStats {
        allocated_bytes: bytes(stats::allocated::read().ok()?),
        active_bytes: bytes(stats::active::read().ok()?),
        resident_bytes: bytes(stats::resident::read().ok()?),
        mapped_bytes: bytes(stats::mapped::read().ok()?),
        retained_bytes: bytes(stats::retained::read().ok()?),
        metadata_bytes: bytes(stats::metadata::read().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_consistent_figures_after_advancing_the_epoch() {
        // This test binary's global allocator is the system one, but jemalloc is linked and
        // answers: its own metadata is resident once initialised.
        let s = read().expect("jemalloc statistics are compiled in");
        assert!(s.active_bytes >= s.allocated_bytes, "{s:?}");
        assert!(s.mapped_bytes >= s.active_bytes, "{s:?}");
        assert!(s.metadata_bytes > 0, "{s:?}");
    }
}
