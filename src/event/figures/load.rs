//! The figures of the gate's events: a load from its request to ready, failed or refused.
//!
//! `_bytes` are bytes, `_ms` milliseconds, `_us` microseconds. A figure that is only sometimes
//! measured (a tree's PSS before its first reading, the estimate of a model without
//! `memory = "auto"`) is left out when absent.

use serde::{Deserialize, Serialize};

/// `load_requested`: every load request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadRequested {
    pub declared_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned_peak_bytes: Option<u64>,
    pub need_bytes: u64,
    // The estimate (`memory = "auto"`; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_weights_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_kv_cache_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_compute_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_allowance_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_basis: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_ratio: Option<f64>,
}

/// `load_queued`: a request waits in the gate's queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadQueued {
    pub position: usize,
    pub need_bytes: u64,
}

/// `load_duplicate`: the model is already queued (at `position`), loading or loaded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadDuplicate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
}

/// `load_admitted`: the gate admitted a load; the budget is the smaller of the two.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadAdmitted {
    pub available_bytes: u64,
    pub total_bytes: u64,
    pub reserve_bytes: u64,
    pub reserved_bytes: u64,
    pub budget_bytes: u64,
    pub available_budget_bytes: u64,
    pub ledger_budget_bytes: u64,
    pub committed_bytes: u64,
    pub need_bytes: u64,
    pub required_bytes: u64,
    pub reading_age_ms: u64,
    pub waited_ms: u64,
    // The estimate (`memory = "auto"`; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_weights_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_kv_cache_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_compute_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_allowance_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_basis: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_ratio: Option<f64>,
}

/// `load_denied`: need with headroom can never fit in total − reserve (`capacity_bytes`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadDenied {
    pub need_bytes: u64,
    pub required_bytes: u64,
    pub total_bytes: u64,
    pub reserve_bytes: u64,
    pub capacity_bytes: u64,
}

/// `load_cancelled`: unloaded while queued.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadCancelled {
    pub waited_ms: u64,
}

/// `load_exceeded_declared`: consumption passed the need by more than the tolerance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadExceededDeclared {
    pub declared_bytes: u64,
    pub need_bytes: u64,
    pub consumed_bytes: u64,
    pub tolerance_bytes: u64,
    pub elapsed_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_pss_bytes: Option<u64>,
}

/// `learned_peak_raised`: a higher peak was learned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LearnedPeakRaised {
    pub previous_bytes: u64,
    pub peak_bytes: u64,
}

/// `load_aborted`: available fell under the kill floor; the executor adds how fast the kill
/// followed the reading (`sample_to_kill_us`) and the interpolated crossing (the rest).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadAborted {
    pub available_bytes: u64,
    pub floor_bytes: u64,
    pub elapsed_ms: u64,
    pub available_before_bytes: u64,
    pub consumed_bytes: u64,
    pub need_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_pss_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_to_kill_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crossing_to_kill_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_interval_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_available_bytes: Option<u64>,
}

/// `load_ready`: ready and settled; `footprint_bytes` = `available_drop_bytes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadReady {
    pub footprint_bytes: u64,
    pub available_drop_bytes: u64,
    pub peak_bytes: u64,
    pub committed_bytes: u64,
    pub next_need_bytes: u64,
    pub elapsed_ms: u64,
    pub settle_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_pss_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anon_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_bytes: Option<u64>,
}

/// `load_failed`: exit or stop during the load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadFailed {
    pub elapsed_ms: u64,
    pub consumed_bytes: u64,
    pub peak_bytes: u64,
}

/// `load_timed_out`: `timeout` (`load_timeout` or `settle_timeout`) passed; `limit_ms` =
/// `timeout_ms`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadTimedOut {
    pub elapsed_ms: u64,
    pub consumed_bytes: u64,
    pub peak_bytes: u64,
    pub timeout: String,
    pub timeout_ms: u64,
    pub limit_ms: u64,
    pub probe_passed: bool,
}

/// `load_refused`: pinned weights did not match, or no estimate: nothing started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadRefused {}

/// The estimate of a `memory = "auto"` model, as the engine adds it to `load_requested` and
/// `load_admitted`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EstimateFigures {
    pub bytes: u64,
    pub weights_bytes: u64,
    pub kv_cache_bytes: u64,
    pub compute_bytes: u64,
    pub allowance_bytes: u64,
    pub basis: String,
    pub ratio: Option<f64>,
}

macro_rules! set_estimate {
    ($($figures:ty),*) => {$(
        impl $figures {
            /// Sets the estimate's figures.
            pub fn set_estimate(&mut self, e: &EstimateFigures) {
                self.estimate_bytes = Some(e.bytes);
                self.estimate_weights_bytes = Some(e.weights_bytes);
                self.estimate_kv_cache_bytes = Some(e.kv_cache_bytes);
                self.estimate_compute_bytes = Some(e.compute_bytes);
                self.estimate_allowance_bytes = Some(e.allowance_bytes);
                self.estimate_basis = Some(e.basis.clone());
                self.estimate_ratio = e.ratio;
            }
        }
    )*};
}

set_estimate!(LoadRequested, LoadAdmitted);
