//! The documents the agent answers with and the CLI renders: the status document (also the
//! retained MQTT `state` payload) and the per-service view. Sizes are `_bytes` integers.
//!
//! ```json
//! {"name": "llm", "kind": "model", "state": "queued", "pid": null, "memory_bytes": null,
//!  "restarts": 0, "restart_in_ms": null, "reason": "waiting: load of det in flight"}
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
    pub restarts: u32,
    /// `backing_off`: milliseconds until the next start attempt; `null` otherwise.
    #[serde(default)]
    pub restart_in_ms: Option<u64>,
    /// Why it is in this state (queue reason, failure reason), if anything needs saying.
    #[serde(default)]
    pub reason: Option<String>,
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
