//! The documents the agent answers with and the CLI renders: the status document (also the
//! retained MQTT `state` payload) and the per-service view. Sizes are `_bytes` integers.
//!
//! ```json
//! {"name": "llm", "kind": "model", "state": "queued", "pid": null, "memory_bytes": null,
//!  "restarts": 0, "reason": "waiting: load of det in flight"}
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
    /// Why it is in this state (queue reason, failure reason), if anything needs saying.
    #[serde(default)]
    pub reason: Option<String>,
}
