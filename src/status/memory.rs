//! The status document's `memory` section, from one [`MemorySample`]. Every size is a `_bytes`
//! integer; figures a board or kernel lacks (no swap, no nvmap, no PSI, no cgroup) are `null`.
//!
//! ```json
//! {"available_bytes": 3472945152, "available_from": "mem_available", "available_estimated": false,
//!  "total_bytes": 7990161408, "mem_available_bytes": 3472945152, "free_bytes": 1284423680,
//!  "buffers_bytes": 39116800, "cached_bytes": 2374414336, "swap_total_bytes": 3995070464,
//!  "swap_used_bytes": 892338176, "gpu_held_bytes": 2507145216, "cma_total_bytes": 0,
//!  "cma_free_bytes": 0,
//!  "cgroup": {"version": "v2", "limit_bytes": null, "usage_bytes": 1048576,
//!             "reclaimable_bytes": 0, "available_bytes": null, "oom_kill": 0, "failcnt": null,
//!             "events_max": 0},
//!  "pressure": {"some_avg10": 0.0, "some_avg60": 0.12, "full_avg10": 0.0, "full_avg60": 0.04},
//!  "sample_age_ms": 250}
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sources::cgroup::CgroupVersion;
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
    pub cgroup: Option<CgroupView>,
    pub pressure: Option<PressureView>,
    /// How old the sample was when the document was built (null for `--local`).
    pub sample_age_ms: Option<u64>,
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
