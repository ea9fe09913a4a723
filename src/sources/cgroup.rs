//! cgroup memory (v1 and v2): where a cgroup is, and what its memory controller says.
//!
//! Owns [`Cgroup`] (a resolved cgroup directory and its version), [`CgroupMemory`] (one
//! reading: limit, usage, file pages, OOM counters), the pure parsers in [`parse`], the
//! resolution of the agent's own cgroup and of a named one in [`resolve`], and the reader in
//! [`read`]. All figures are [`Bytes`]; the kernel prints plain byte counts.
//!
//! ```text
//! v1 /sys/fs/cgroup/memory/<path>/memory.limit_in_bytes  9223372036854771712  (= unlimited → None)
//! v2 /sys/fs/cgroup/<path>/memory.max                     max                  (= unlimited → None)
//! ```
//!
//! The cgroup-scoped figure of the memory model (docs/agent.md) is [`CgroupMemory::available`]:
//! `limit − usage + reclaimable`, where reclaimable is the inactive file pages
//! ([`CgroupMemory::reclaimable`]), because usage counts the page cache that the kernel will
//! drop before it OOM-kills anything in the group.

pub mod parse;
pub mod read;
pub mod resolve;

use std::path::PathBuf;

use crate::units::Bytes;

pub use parse::OomCounters;
pub use read::CgroupFiles;
pub use resolve::{named_cgroup, own_cgroup, parse_cgroup_spec, resolve_own};

/// Which cgroup interface a hierarchy speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    /// Legacy hierarchy, memory controller mounted on its own (`/sys/fs/cgroup/memory`).
    V1,
    /// Unified hierarchy (`/sys/fs/cgroup`).
    V2,
}

impl CgroupVersion {
    /// The published name: `v1` or `v2`.
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupVersion::V1 => "v1",
            CgroupVersion::V2 => "v2",
        }
    }
}

/// A resolved memory cgroup: its directory as the system sees it (joined under the
/// [`super::Root`] when read), e.g. `/sys/fs/cgroup/memory/process_api/14abe...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    pub version: CgroupVersion,
    pub dir: PathBuf,
}

/// One reading of a cgroup's memory controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CgroupMemory {
    pub version: CgroupVersion,
    /// `None` when the group has no limit (v1 `PAGE_COUNTER_MAX`, v2 `max`).
    pub limit: Option<Bytes>,
    /// v1 `memory.usage_in_bytes`, v2 `memory.current` (includes page cache).
    pub usage: Bytes,
    /// File-backed pages charged to the group: v1 `total_cache`, v2 `file`.
    pub file: Option<Bytes>,
    /// Inactive file pages: v1 `total_inactive_file`, v2 `inactive_file`.
    pub inactive_file: Option<Bytes>,
    pub counters: OomCounters,
}

impl CgroupMemory {
    /// Memory the kernel reclaims before it OOM-kills in this group: the inactive file pages
    /// (zero when `memory.stat` does not say).
    pub fn reclaimable(&self) -> Bytes {
        self.inactive_file.unwrap_or(Bytes::ZERO)
    }

    /// Room left in the group: `limit − usage + reclaimable`, never above the limit; `None`
    /// when the group has no limit (then only the system figure bounds it).
    pub fn available(&self) -> Option<Bytes> {
        self.limit
            .map(|limit| cgroup_available(limit, self.usage, self.reclaimable()))
    }
}

/// `limit − usage + reclaimable` with saturation, capped at `limit` (reclaimable pages are
/// part of usage, so the sum can only exceed the limit when the counters race).
pub fn cgroup_available(limit: Bytes, usage: Bytes, reclaimable: Bytes) -> Bytes {
    limit
        .saturating_sub(usage.saturating_sub(reclaimable))
        .min(limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn available_adds_back_inactive_file_pages() {
        let m = CgroupMemory {
            version: CgroupVersion::V2,
            limit: Some(Bytes::from_mib(1024)),
            usage: Bytes::from_mib(900),
            file: Some(Bytes::from_mib(500)),
            inactive_file: Some(Bytes::from_mib(300)),
            counters: OomCounters::default(),
        };
        assert_eq!(m.reclaimable(), Bytes::from_mib(300));
        assert_eq!(m.available(), Some(Bytes::from_mib(1024 - 900 + 300)));
    }

    #[test]
    fn an_unlimited_group_has_no_cgroup_available() {
        let m = CgroupMemory {
            version: CgroupVersion::V1,
            limit: None,
            usage: Bytes::from_mib(10),
            file: None,
            inactive_file: None,
            counters: OomCounters::default(),
        };
        assert_eq!(m.available(), None);
        assert_eq!(m.reclaimable(), Bytes::ZERO);
    }

    #[test]
    fn usage_over_the_limit_gives_zero_not_an_underflow() {
        assert_eq!(
            cgroup_available(Bytes(100), Bytes(150), Bytes(10)),
            Bytes::ZERO
        );
    }

    proptest! {
        #[test]
        fn cgroup_available_never_exceeds_the_limit(l in 0u64..1<<40, u in 0u64..1<<40, r in 0u64..1<<40) {
            prop_assert!(cgroup_available(Bytes(l), Bytes(u), Bytes(r)) <= Bytes(l));
        }
    }
}
