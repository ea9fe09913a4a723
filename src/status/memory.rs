//! The status document's `memory` section, from one [`MemorySample`] and `/proc/buddyinfo`.
//! Every size is a `_bytes` integer; figures a board or kernel lacks (no swap, no nvmap, no
//! PSI, no cgroup, no CMA, no buddyinfo) are `null`.
//!
//! ```json
//! {"available_bytes": 3472945152, "available_from": "mem_available", "available_estimated": false,
//!  "total_bytes": 7990161408, "mem_available_bytes": 3472945152, "free_bytes": 1284423680,
//!  "buffers_bytes": 39116800, "cached_bytes": 2374414336, "swap_total_bytes": 3995070464,
//!  "swap_used_bytes": 892338176, "gpu_held_bytes": 2507145216, "cma_total_bytes": 0,
//!  "cma_free_bytes": 0,
//!  "fragmentation": {"high_order": 4, "block_bytes": 65536, "free_high_order_bytes": 438042624,
//!                    "largest_free_block_bytes": 16777216, "free_bytes": 1284423680},
//!  "cgroup": {"version": "v2", "limit_bytes": null, "usage_bytes": 1048576,
//!             "reclaimable_bytes": 0, "available_bytes": null, "oom_kill": 0, "failcnt": null,
//!             "events_max": 0},
//!  "pressure": {"some_avg10": 0.0, "some_avg60": 0.12, "full_avg10": 0.0, "full_avg60": 0.04},
//!  "sample_age_ms": 250}
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sources::buddyinfo::{read_buddyinfo, BuddyInfo, HIGH_ORDER};
use crate::sources::cgroup::CgroupVersion;
use crate::sources::process::page_size;
use crate::sources::Root;
use crate::sources::{AvailableFrom, MemorySample};
use crate::units::Bytes;

/// The `memory` section. Readers take what they find: a missing figure reads as 0 or `None`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryView {
    /// Room for a new allocation per the memory model (swap excluded).
    pub available_bytes: u64,
    pub available_from: AvailableFrom,
    /// True when `MemAvailable` itself was estimated (kernel < 3.14).
    pub available_estimated: bool,
    pub total_bytes: u64,
    pub mem_available_bytes: u64,
    pub free_bytes: u64,
    pub buffers_bytes: u64,
    pub cached_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_used_bytes: u64,
    /// `NvMapMemUsed`: memory the GPU driver holds (null where the kernel prints none: R36
    /// and later, Thor, non-Jetson).
    pub gpu_held_bytes: Option<u64>,
    pub cma_total_bytes: Option<u64>,
    pub cma_free_bytes: Option<u64>,
    /// Free memory by block size, from `/proc/buddyinfo` (null where it cannot be read).
    pub fragmentation: Option<FragmentationView>,
    pub cgroup: Option<CgroupView>,
    pub pressure: Option<PressureView>,
    /// How old the sample was when the document was built (null for `--local`).
    pub sample_age_ms: Option<u64>,
}

/// How fragmented free memory is: what of it lies in blocks large enough for big GPU pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FragmentationView {
    /// The smallest order counted as high: blocks of 2^order pages.
    pub high_order: u32,
    /// The size of one block of `high_order` (64 KiB with 4 KiB pages).
    pub block_bytes: u64,
    /// Free memory in blocks of `high_order` and up.
    pub free_high_order_bytes: u64,
    /// The largest free block; null when nothing is free.
    pub largest_free_block_bytes: Option<u64>,
    /// All free memory the buddy allocator holds (`MemFree` as it sees it).
    pub free_bytes: u64,
}

impl FragmentationView {
    /// The view of `buddy` for pages of `page_size` bytes.
    pub fn from_buddyinfo(buddy: &BuddyInfo, page_size: u64) -> FragmentationView {
        FragmentationView {
            high_order: HIGH_ORDER,
            block_bytes: page_size.saturating_mul(1 << HIGH_ORDER),
            free_high_order_bytes: buddy.free_high_order(page_size).get(),
            largest_free_block_bytes: buddy
                .largest_free_order()
                .and_then(|o| 1u64.checked_shl(o))
                .map(|pages| pages.saturating_mul(page_size)),
            free_bytes: buddy.free(page_size).get(),
        }
    }

    /// `/proc/buddyinfo` read under `root` now; `None` where it cannot be read (a fixture
    /// tree without it), which the document shows as `null`.
    pub fn read(root: &Root) -> Option<FragmentationView> {
        let buddy = read_buddyinfo(root).ok()?;
        Some(FragmentationView::from_buddyinfo(&buddy, page_size()))
    }
}

/// The scope cgroup, or the agent's own with scope system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupView {
    pub version: CgroupVersion,
    /// Null when the group has no limit.
    pub limit_bytes: Option<u64>,
    pub usage_bytes: u64,
    pub reclaimable_bytes: u64,
    pub available_bytes: Option<u64>,
    pub oom_kill: Option<u64>,
    pub failcnt: Option<u64>,
    pub events_max: Option<u64>,
}

/// Memory pressure (PSI), percent of time stalled.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PressureView {
    pub some_avg10: f32,
    pub some_avg60: f32,
    pub full_avg10: Option<f32>,
    pub full_avg60: Option<f32>,
}

impl MemoryView {
    /// The same section with the fragmentation figures (read separately: the sampler's fast
    /// loop never reads buddyinfo).
    pub fn with_fragmentation(mut self, fragmentation: Option<FragmentationView>) -> MemoryView {
        self.fragmentation = fragmentation;
        self
    }

    /// The section for `sample`, taken `age` before the document (`None`: just taken).
    pub fn from_sample(sample: &MemorySample, age: Option<Duration>) -> MemoryView {
        let m = &sample.meminfo;
        MemoryView {
            available_bytes: sample.available.get(),
            available_from: sample.available_from,
            available_estimated: sample.available_estimated,
            total_bytes: m.total.get(),
            mem_available_bytes: m.available.get(),
            free_bytes: m.free.get(),
            buffers_bytes: m.buffers.get(),
            cached_bytes: m.cached.get(),
            swap_total_bytes: m.swap_total.get(),
            swap_used_bytes: m.swap_used().get(),
            gpu_held_bytes: m.nvmap_used.map(Bytes::get),
            cma_total_bytes: m.cma_total.map(Bytes::get),
            cma_free_bytes: m.cma_free.map(Bytes::get),
            fragmentation: None,
            cgroup: sample.cgroup.map(|c| CgroupView {
                version: c.version,
                limit_bytes: c.limit.map(Bytes::get),
                usage_bytes: c.usage.get(),
                reclaimable_bytes: c.reclaimable().get(),
                available_bytes: c.available().map(Bytes::get),
                oom_kill: c.counters.oom_kill,
                failcnt: c.counters.failcnt,
                events_max: c.counters.max,
            }),
            pressure: sample.pressure.map(|p| PressureView {
                some_avg10: p.some.avg10,
                some_avg60: p.some.avg60,
                full_avg10: p.full.map(|f| f.avg10),
                full_avg60: p.full.map(|f| f.avg60),
            }),
            sample_age_ms: age.map(|a| a.as_millis() as u64),
        }
    }
}
