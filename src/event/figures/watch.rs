//! The figures of the watchers' events: memory sources, GPU allocation failures, limits, leaks,
//! pressure and thrashing, containment.

use serde::{Deserialize, Serialize};

/// `sample_failed`: a memory sample failed (the message says why).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SampleFailed {}

/// `gpu_alloc_failed`: a model printed a GPU allocation failure; a figure that could not be
/// read is `null`, and `unreadable` says what was not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuAllocFailed {
    pub form: String,
    pub requested_bytes: Option<u64>,
    pub mem_available_bytes: Option<u64>,
    pub mem_free_bytes: Option<u64>,
    pub cma_total_bytes: Option<u64>,
    pub cma_free_bytes: Option<u64>,
    pub free_high_order_bytes: Option<u64>,
    pub high_order: u32,
    pub largest_free_block_bytes: Option<u64>,
    pub state: Option<String>,
    pub pid: Option<u32>,
    pub tree_pss_bytes: Option<u64>,
    pub gpu_bytes: Option<u64>,
    pub suppressed_lines: u64,
    pub line: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// `source_unavailable`: a source that was read no longer is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceUnavailable {
    pub source: String,
    pub error: String,
}

/// `source_recovered`: that source is read again (`error`: the one it had).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceRecovered {
    pub source: String,
    pub unavailable_ms: u64,
    pub error: String,
}

/// `memory_limit_exceeded`: tree memory passed the unit's limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryLimitExceeded {
    pub tree_pss_bytes: u64,
    pub gpu_bytes: Option<u64>,
    pub memory_bytes: u64,
    pub limit_bytes: u64,
    pub pid: u32,
}

/// `oom_killed`: the kernel's OOM killer killed in a unit's cgroup; what was not measured
/// is `null`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OomKilled {
    pub pid: u32,
    pub oom_kills: u64,
    pub kernel_limit_bytes: Option<u64>,
    pub limit_bytes: Option<u64>,
    pub margin_bytes: Option<u64>,
    pub peak_bytes: Option<u64>,
    pub usage_bytes: Option<u64>,
    pub limit_hits: Option<u64>,
    pub tree_pss_bytes: Option<u64>,
    pub gpu_bytes: Option<u64>,
    pub memory_bytes: Option<u64>,
    /// Exit code, or the signal that ended it (the other is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
}

/// `kernel_limit_unset`: a unit's `limit` has no kernel backstop.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KernelLimitUnset {
    pub limit_bytes: u64,
    pub kernel_limit_bytes: u64,
    pub scope: String,
}

/// `containment_degraded`: no cgroup for the units; trees followed by parent pid every
/// `walk_ms`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainmentDegraded {
    pub reason: String,
    pub walk_ms: u64,
}

/// `fd_limit_exceeded`: open fds passed `max_fds`; `on_limit`: `restart` or `warn`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FdLimitExceeded {
    pub fds: u64,
    pub max_fds: u64,
    pub pid: u32,
    pub on_limit: String,
}

/// `thread_limit_exceeded`: threads passed `max_threads`; `on_limit`: `restart` or `warn`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThreadLimitExceeded {
    pub threads: u64,
    pub max_threads: u64,
    pub pid: u32,
    pub on_limit: String,
}

/// `leak_suspected`: the leak trend turned `leaking`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeakSuspected {
    pub slope_bytes_per_hour: i64,
    pub window_s: f64,
    pub samples: usize,
    pub quality: f64,
    /// Seconds to the limit at this slope; `null` without a limit or a rising slope.
    pub projected_s: Option<f64>,
    pub limit_bytes: Option<u64>,
    pub limit_from: Option<String>,
    pub tree_pss_bytes: u64,
    pub gpu_bytes: Option<u64>,
    pub memory_bytes: u64,
    pub reserved_bytes: u64,
    pub horizon_s: f64,
    pub pid: u32,
}

/// `leak_restart`: restarted ahead of the limit because of a leak (the figures of
/// [`LeakSuspected`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeakRestart {
    pub slope_bytes_per_hour: i64,
    pub window_s: f64,
    pub samples: usize,
    pub quality: f64,
    /// Seconds to the limit at this slope; `null` without a limit or a rising slope.
    pub projected_s: Option<f64>,
    pub limit_bytes: Option<u64>,
    pub limit_from: Option<String>,
    pub tree_pss_bytes: u64,
    pub gpu_bytes: Option<u64>,
    pub memory_bytes: u64,
    pub reserved_bytes: u64,
    pub horizon_s: f64,
    pub pid: u32,
}

impl From<LeakSuspected> for LeakRestart {
    fn from(f: LeakSuspected) -> LeakRestart {
        LeakRestart {
            slope_bytes_per_hour: f.slope_bytes_per_hour,
            window_s: f.window_s,
            samples: f.samples,
            quality: f.quality,
            projected_s: f.projected_s,
            limit_bytes: f.limit_bytes,
            limit_from: f.limit_from,
            tree_pss_bytes: f.tree_pss_bytes,
            gpu_bytes: f.gpu_bytes,
            memory_bytes: f.memory_bytes,
            reserved_bytes: f.reserved_bytes,
            horizon_s: f.horizon_s,
            pid: f.pid,
        }
    }
}

/// `leak_cleared`: no longer leaking; the reservation is released.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeakCleared {
    pub slope_bytes_per_hour: i64,
    pub samples: usize,
    pub released_bytes: u64,
    pub pid: u32,
}

/// `restart_refused`: the engine refused a watcher's restart (the message says why).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestartRefused {}

/// `pressure_high`: PSI memory some avg10 reached the threshold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PressureHigh {
    pub some_avg10_percent: f64,
    pub threshold_percent: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_avg10_percent: Option<f64>,
}

/// `pressure_cleared`: pressure fell under half the threshold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PressureCleared {
    pub some_avg10_percent: f64,
    pub threshold_percent: f64,
}

/// `memory_thrashing`: file pages refaulted fast while tasks stalled on memory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryThrashing {
    pub refault_bytes_per_second: u64,
    pub some_avg10_percent: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_avg10_percent: Option<f64>,
    pub evicted_bytes: u64,
    pub committed_bytes: u64,
}

/// `thrashing_cleared`: refaults or stalls fell back under half their thresholds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThrashingCleared {
    pub refault_bytes_per_second: u64,
    pub some_avg10_percent: f64,
}
