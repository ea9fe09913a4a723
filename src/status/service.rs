//! The service row: one model or service as `jetgate services --json`, `jetgate trend` and the
//! status document's `services` list show it, with its state, kind and leak trend as enums.
//!
//! ```json
//! {"name": "llm", "kind": "model", "state": "queued", "pid": null, "memory_bytes": null,
//!  "gpu_bytes": null, "trend": null, "restarts": 0, "restart_in_ms": null, "reason": "waiting: load of det in flight"}
//! {"name": "api", "kind": "service", "state": "running", "pid": 4242, "memory_bytes": 734003200,
//!  "gpu_bytes": 0, "trend": {"verdict": "leaking", "slope_bytes_per_hour": 75497472000, "quality": 0.98,
//!            "samples": 8, "window_s": 7.0, "configured_window_s": 8.0, "projected_s": 12.5,
//!            "limit_bytes": 1073741824, "limit_from": "limit", "reserved_bytes": 171966464},
//!  "restarts": 0, "restart_in_ms": null, "reason": null, "estimate": null}
//! ```
//!
//! A `memory = "auto"` model's row carries its `estimate` ([`super::EstimateView`]).

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::supervisor::trend::Verdict as TrendVerdict;

/// Service states, as published: `stopped`, `queued`, `loading`, `ready` (a model loaded and
/// verified), `running`, `backing_off`, `gave_up`, `failed`.
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

/// Whether a unit is gated (`model`) or only supervised (`service`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    Model,
    Service,
}

impl ServiceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Model => "model",
            ServiceKind::Service => "service",
        }
    }
}

impl TrendVerdict {
    /// The published name: `stable`, `growing`, `leaking` or `warming_up`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrendVerdict::Stable => "stable",
            TrendVerdict::Growing => "growing",
            TrendVerdict::Leaking => "leaking",
            TrendVerdict::WarmingUp => "warming_up",
        }
    }
}

/// `Display` as the published name, and equality with it (`state == "ready"`), for the
/// enums of the service row: one definition instead of one pair of impls per enum.
macro_rules! published_name {
    ($($t:ty),+) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    )+};
}

published_name!(ServiceState, ServiceKind, TrendVerdict, LimitFrom);

/// What a trend's projection runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitFrom {
    /// The unit's configured `limit`.
    Limit,
    /// Without a limit: the tree's memory plus what is available above the gate's reserve.
    Reserve,
}

impl LimitFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitFrom::Limit => "limit",
            LimitFrom::Reserve => "reserve",
        }
    }
}

/// One model or service as `jetgate services --json` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    pub name: String,
    /// `model` (gated) or `service`.
    pub kind: ServiceKind,
    pub state: ServiceState,
    pub pid: Option<u32>,
    /// Whole process tree PSS (RSS where PSS is unavailable).
    pub memory_bytes: Option<u64>,
    /// GPU memory the process tree holds (nvmap); null where the board has no per-process
    /// figure or the unit has no process.
    #[serde(default)]
    pub gpu_bytes: Option<u64>,
    /// The leak trend of `memory_bytes` (null while the unit has no process).
    #[serde(default)]
    pub trend: Option<TrendView>,
    #[serde(default)]
    pub restarts: u32,
    /// `backing_off`: milliseconds until the next start attempt; `null` otherwise.
    #[serde(default)]
    pub restart_in_ms: Option<u64>,
    /// Why it is in this state (queue reason, failure reason), if anything needs saying.
    #[serde(default)]
    pub reason: Option<String>,
    /// A `memory = "auto"` model's estimate, once one was made (null otherwise).
    #[serde(default)]
    pub estimate: Option<super::EstimateView>,
}

/// A unit's memory trend (`jetgate trend`): the Theil–Sen verdict over the leak window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendView {
    pub verdict: TrendVerdict,
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
    /// Where `limit_bytes` comes from.
    pub limit_from: Option<LimitFrom>,
    /// Bytes the gate holds out of new loads' budget for this unit's projected growth.
    pub reserved_bytes: u64,
}
