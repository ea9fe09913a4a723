//! What the gate decides: [`GateAction`]s, and the event each one is logged as.
//!
//! The gate never acts itself. The agent's I/O layer executes each action (spawn on `Admit`,
//! kill the process group or cgroup on `Abort`, stop the model on `LoadFailed`, store the
//! footprint on `LoadReady` and the learned peak on `RaiseLearnedPeak`) and stores the event
//! from [`GateAction::event`], which carries the figures behind the decision named with units:
//!
//! ```json
//! {"kind": "load_aborted", "severity": "error", "subject": "llm",
//!  "message": "aborted: available 380.0MiB fell under the kill floor 512.0MiB after 2140ms",
//!  "figures": {"available_bytes": 398458880, "floor_bytes": 536870912, "elapsed_ms": 2140,
//!              "tree_pss_bytes": 5368709120, "need_bytes": 4294967296, "consumed_bytes": 5100273664}}
//! ```
//!
//! Kinds: `load_requested`, `load_admitted`, `load_denied`, `load_duplicate`, `load_queued`,
//! `load_cancelled`, `load_aborted`, `load_exceeded_declared`, `learned_peak_raised`,
//! `load_ready`, `load_failed`, `load_timed_out`.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::budget::{millis, Budget};
use crate::event::figures::{
    LearnedPeakRaised, LoadAborted, LoadAdmitted, LoadCancelled, LoadDenied, LoadDuplicate,
    LoadExceededDeclared, LoadFailed, LoadQueued, LoadReady, LoadRequested, LoadTimedOut,
};
use crate::event::{NewEvent, Severity};
use crate::units::{format_duration, Bytes};

/// Where a model already is when it is requested again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Waiting in the queue at this 1-based position.
    Queued {
        position: usize,
    },
    Loading,
    Loaded,
}

/// Why a load that was admitted did not become ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// `load_timeout` passed since admission (ready probe never passed, or memory never settled).
    LoadTimeout { limit: Duration, probe_passed: bool },
    /// The ready probe passed but memory did not settle within `settle_timeout`.
    SettleTimeout { limit: Duration },
    /// The model's process exited during the load.
    Exited,
    /// An unload of the model arrived while it was loading (`Cancel`).
    Cancelled,
    /// The I/O layer reports the model stopped (`Unloaded`) while it was loading.
    Stopped,
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailReason::LoadTimeout {
                limit,
                probe_passed: false,
            } => write!(
                f,
                "not ready within the load timeout {}",
                format_duration(*limit)
            ),
            FailReason::LoadTimeout {
                limit,
                probe_passed: true,
            } => write!(
                f,
                "ready but memory not settled within the load timeout {}",
                format_duration(*limit)
            ),
            FailReason::SettleTimeout { limit } => write!(
                f,
                "ready but memory not settled within the settle timeout {}",
                format_duration(*limit)
            ),
            FailReason::Exited => f.write_str("process exited during the load"),
            FailReason::Cancelled => f.write_str("cancelled by an unload during the load"),
            FailReason::Stopped => f.write_str("stopped during the load"),
        }
    }
}

/// What a finished load measured, for the store and the next load of the same model.
///
/// The breakdown says where the memory is: anonymous (heap, KV cache, compute buffers),
/// file-backed (mmap'd weights, which `available` counts as reclaimable page cache), GPU; and
/// the drop in `available`, which for a model on mmap'd weights is far below what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Footprint {
    /// `available` before admission − `available` once settled.
    pub available_drop_bytes: Bytes,
    /// The largest use seen during the load: the drop in available or the tree's counted
    /// memory (PSS + GPU, mapped weights once), whichever was larger.
    pub peak_bytes: Bytes,
    /// PSS of the model's process tree at the last reading that carried it.
    pub tree_pss_bytes: Option<Bytes>,
    /// The anonymous share of `tree_pss_bytes`, where the kernel splits PSS.
    pub anon_bytes: Option<Bytes>,
    /// The file-backed share of `tree_pss_bytes` (mmap'd weights), where the kernel splits PSS.
    pub file_bytes: Option<Bytes>,
    /// GPU memory of the model at the last reading that carried it.
    pub gpu_bytes: Option<Bytes>,
    /// Marked as copying its weights to GPU memory (mapped pages counted once).
    pub gpu_offload: bool,
    /// What the ledger holds for it from now on: `max(peak, PSS + GPU)`.
    pub committed_bytes: Bytes,
    /// What its next load will be gated on: `max(declared, learned peak)`.
    pub next_need_bytes: Bytes,
}

/// The figures behind an admission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub model: String,
    pub need: Bytes,
    /// `need × (1 + headroom)`, what the budget had to cover.
    pub required: Bytes,
    pub available: Bytes,
    /// The scope's total (cgroup limit or physical memory).
    pub total: Bytes,
    pub reserve: Bytes,
    /// External reservations outstanding at admission.
    pub outstanding: Bytes,
    /// Both budgets (available and ledger); the smaller one admitted the load.
    pub budget: Budget,
    pub reading_age: Duration,
    /// Time in the queue (zero when admitted on request).
    pub waited: Duration,
}

/// The figures behind an abort: the I/O layer kills the loading process group at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abort {
    pub model: String,
    pub available: Bytes,
    pub floor: Bytes,
    pub elapsed: Duration,
    pub tree_pss: Option<Bytes>,
    pub available_before: Bytes,
    pub consumed: Bytes,
    pub need: Bytes,
}

/// One decision of the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateAction {
    /// A request arrived (always first for a `Request` input).
    Requested {
        model: String,
        declared: Bytes,
        learned_peak: Option<Bytes>,
        need: Bytes,
    },
    /// Start the model now; sample at the loading rate until it ends.
    Admit(Admission),
    /// The request can never fit: `need × (1 + headroom) > total − reserve`.
    Deny {
        model: String,
        need: Bytes,
        required: Bytes,
        total: Bytes,
        reserve: Bytes,
    },
    /// The model is already queued, loading or loaded; nothing was queued.
    Duplicate { model: String, presence: Presence },
    /// Waiting; `reason` says for what (the view keeps it current).
    Queued {
        model: String,
        position: usize,
        need: Bytes,
        reason: String,
    },
    /// A queued request was removed by an unload before it was admitted.
    Withdrawn { model: String, waited: Duration },
    /// Kill the loading process group now: `available` fell under the kill floor.
    Abort(Abort),
    /// The load passed its need; logged, learned peak raised, not killed.
    ExceededNeed {
        model: String,
        declared: Bytes,
        need: Bytes,
        consumed: Bytes,
        /// How far past need was still not over it.
        tolerance: Bytes,
        tree_pss: Option<Bytes>,
        elapsed: Duration,
    },
    /// Store a larger learned peak for the model; its next load is gated on it.
    RaiseLearnedPeak {
        model: String,
        previous: Bytes,
        peak: Bytes,
    },
    /// Ready and settled; store the footprint. The next queued request is considered.
    LoadReady {
        model: String,
        footprint: Footprint,
        elapsed: Duration,
        settled_in: Duration,
    },
    /// Stop the model: the load did not complete.
    LoadFailed {
        model: String,
        reason: FailReason,
        elapsed: Duration,
        consumed: Bytes,
        peak: Bytes,
    },
}

impl GateAction {
    /// The model the action is about.
    pub fn model(&self) -> &str {
        match self {
            GateAction::Admit(a) => &a.model,
            GateAction::Abort(a) => &a.model,
            GateAction::Requested { model, .. }
            | GateAction::Deny { model, .. }
            | GateAction::Duplicate { model, .. }
            | GateAction::Queued { model, .. }
            | GateAction::Withdrawn { model, .. }
            | GateAction::ExceededNeed { model, .. }
            | GateAction::RaiseLearnedPeak { model, .. }
            | GateAction::LoadReady { model, .. }
            | GateAction::LoadFailed { model, .. } => model,
        }
    }
}

mod event;
