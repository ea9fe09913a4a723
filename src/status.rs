//! The documents the agent answers with and the CLI renders: the status document (also the
//! retained MQTT `state` payload) and the per-service view. Sizes are `_bytes` integers.
//!
//! ```json
//! {"name": "llm", "kind": "model", "state": "queued", "pid": null, "memory_bytes": null,
//!  "trend": null, "restarts": 0, "restart_in_ms": null, "reason": "waiting: load of det in flight"}
//! {"name": "api", "kind": "service", "state": "running", "pid": 4242, "memory_bytes": 734003200,
//!  "trend": {"verdict": "leaking", "slope_bytes_per_hour": 75497472000, "quality": 0.98,
//!            "samples": 8, "window_s": 7.0, "configured_window_s": 8.0, "projected_s": 12.5,
//!            "limit_bytes": 1073741824, "limit_from": "limit", "reserved_bytes": 171966464},
//!  "restarts": 0, "restart_in_ms": null, "reason": null}
//! ```

use serde::{Deserialize, Serialize};

/// Service states, the contract from DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    Stopped,
    Queued,
    Loading,
    Ready,
    Running,
    BackingOff,
    GaveUp,
    Failed,
}

impl ServiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Stopped => "stopped",
            ServiceState::Queued => "queued",
            ServiceState::Loading => "loading",
            ServiceState::Ready => "ready",
            ServiceState::Running => "running",
            ServiceState::BackingOff => "backing_off",
            ServiceState::GaveUp => "gave_up",
            ServiceState::Failed => "failed",
        }
    }
}

/// One model or service as `jetgate services --json` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    pub name: String,
    /// `model` (gated) or `service`.
    pub kind: String,
    pub state: String,
    pub pid: Option<u32>,
    /// Whole process tree PSS (RSS where PSS is unavailable).
    pub memory_bytes: Option<u64>,
    /// The leak trend of `memory_bytes` (null while the unit has no process).
    #[serde(default)]
    pub trend: Option<TrendView>,
    pub restarts: u32,
    /// `backing_off`: milliseconds until the next start attempt; `null` otherwise.
    #[serde(default)]
    pub restart_in_ms: Option<u64>,
    /// Why it is in this state (queue reason, failure reason), if anything needs saying.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A unit's memory trend (`jetgate trend`): the Theil–Sen verdict over the leak window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendView {
    /// `warming_up`, `stable`, `growing` or `leaking`.
    pub verdict: String,
    /// Robust slope of tree memory (PSS plus GPU memory where known), bytes per hour.
    pub slope_bytes_per_hour: i64,
    /// Fit quality, 0 to 1 (Kendall's τ signed by the slope); under 0.3 is no trend.
    pub quality: f64,
    /// Samples in the window (one a second once warmed up).
    pub samples: usize,
    /// Seconds the samples span.
    pub window_s: f64,
    /// The configured `leak.window`, seconds.
    pub configured_window_s: f64,
    /// Seconds until `limit_bytes` at this slope (growing or leaking only).
    pub projected_s: Option<f64>,
    /// What the projection is against: the unit's `limit`, or without one the tree's memory
    /// plus what is available above the reserve.
    pub limit_bytes: Option<u64>,
    /// `limit` or `reserve`: where `limit_bytes` comes from.
    pub limit_from: Option<String>,
    /// Bytes the gate holds out of new loads' budget for this unit's projected growth.
    pub reserved_bytes: u64,
}

/// The `memory` section of the status document from one sample. Every size is a `_bytes`
/// integer; absent figures (no swap, no nvmap, no PSI, no cgroup) are `null`.
pub fn memory_json(
    sample: &crate::sources::MemorySample,
    age: Option<std::time::Duration>,
) -> serde_json::Value {
    let m = &sample.meminfo;
    let cgroup = sample.cgroup.map(|c| {
        serde_json::json!({
            "version": c.version,
            "limit_bytes": c.limit.map(crate::units::Bytes::get),
            "usage_bytes": c.usage.get(),
            "reclaimable_bytes": c.reclaimable().get(),
            "available_bytes": c.available().map(crate::units::Bytes::get),
            "oom_kill": c.counters.oom_kill,
            "failcnt": c.counters.failcnt,
            "events_max": c.counters.max,
        })
    });
    let pressure = sample.pressure.map(|p| {
        serde_json::json!({
            "some_avg10": p.some.avg10,
            "some_avg60": p.some.avg60,
            "full_avg10": p.full.map(|f| f.avg10),
            "full_avg60": p.full.map(|f| f.avg60),
        })
    });
    serde_json::json!({
        "available_bytes": sample.available.get(),
        "available_from": sample.available_from,
        "available_estimated": sample.available_estimated,
        "total_bytes": m.total.get(),
        "mem_available_bytes": m.available.get(),
        "free_bytes": m.free.get(),
        "buffers_bytes": m.buffers.get(),
        "cached_bytes": m.cached.get(),
        "swap_total_bytes": m.swap_total.get(),
        "swap_used_bytes": m.swap_used().get(),
        "gpu_held_bytes": m.nvmap_used.map(crate::units::Bytes::get),
        "cma_total_bytes": m.cma_total.map(crate::units::Bytes::get),
        "cma_free_bytes": m.cma_free.map(crate::units::Bytes::get),
        "cgroup": cgroup,
        "pressure": pressure,
        "sample_age_ms": age.map(|a| a.as_millis() as u64),
    })
}

/// The `device.board` section: the board report (`jetgate board --json`).
pub fn board_json(board: &crate::board::Detected) -> serde_json::Value {
    serde_json::to_value(crate::board::BoardReport::from(board)).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests;
