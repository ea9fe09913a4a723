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

fn opt(v: Option<Bytes>) -> Option<u64> {
    v.map(Bytes::get)
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

    /// The event this action is logged as, with its figures named with units.
    pub fn event(&self) -> NewEvent {
        let m = Some(self.model());
        match self {
            GateAction::Requested {
                declared,
                learned_peak,
                need,
                ..
            } => NewEvent::new(
                LoadRequested {
                    declared_bytes: declared.get(),
                    learned_peak_bytes: opt(*learned_peak),
                    need_bytes: need.get(),
                    ..LoadRequested::default()
                },
                m,
            )
            .message(format!("requested: need {need}")),
            GateAction::Admit(a) => NewEvent::new(
                LoadAdmitted {
                    available_bytes: a.available.get(),
                    total_bytes: a.total.get(),
                    reserve_bytes: a.reserve.get(),
                    reserved_bytes: a.outstanding.get(),
                    budget_bytes: a.budget.value().get(),
                    available_budget_bytes: a.budget.available.get(),
                    ledger_budget_bytes: a.budget.ledger.get(),
                    committed_bytes: a.budget.committed.get(),
                    need_bytes: a.need.get(),
                    required_bytes: a.required.get(),
                    reading_age_ms: millis(a.reading_age),
                    waited_ms: millis(a.waited),
                    ..LoadAdmitted::default()
                },
                m,
            )
            .message(format!(
                "admitted: budget {} covers need {} with headroom ({} required); \
                 available budget {}, ledger budget {} ({} committed of {}), {} decided",
                a.budget.value(),
                a.need,
                a.required,
                a.budget.available,
                a.budget.ledger,
                a.budget.committed,
                a.total,
                a.budget.from().as_str()
            )),
            GateAction::Deny {
                need,
                required,
                total,
                reserve,
                ..
            } => NewEvent::new(
                LoadDenied {
                    need_bytes: need.get(),
                    required_bytes: required.get(),
                    total_bytes: total.get(),
                    reserve_bytes: reserve.get(),
                    capacity_bytes: total.saturating_sub(*reserve).get(),
                },
                m,
            )
            .message(format!(
                "denied: need {need} with headroom ({required}) can never fit in total {total} − reserve {reserve}"
            )),
            GateAction::Duplicate { presence, .. } => {
                let (text, position) = match presence {
                    Presence::Queued { position } => ("already queued", Some(*position)),
                    Presence::Loading => ("already loading", None),
                    Presence::Loaded => ("already loaded", None),
                };
                NewEvent::new(LoadDuplicate { position }, m)
                    .message(format!("{text}; not queued again"))
            }
            GateAction::Queued {
                position,
                need,
                reason,
                ..
            } => NewEvent::new(
                LoadQueued {
                    position: *position,
                    need_bytes: need.get(),
                },
                m,
            )
            .message(format!("queued at position {position}: {reason}")),
            GateAction::Withdrawn { waited, .. } => NewEvent::new(
                LoadCancelled {
                    waited_ms: millis(*waited),
                },
                m,
            )
            .message("removed from the queue by an unload"),
            GateAction::Abort(a) => NewEvent::new(
                LoadAborted {
                    available_bytes: a.available.get(),
                    floor_bytes: a.floor.get(),
                    elapsed_ms: millis(a.elapsed),
                    available_before_bytes: a.available_before.get(),
                    consumed_bytes: a.consumed.get(),
                    need_bytes: a.need.get(),
                    tree_pss_bytes: opt(a.tree_pss),
                    ..LoadAborted::default()
                },
                m,
            )
            .message(format!(
                "aborted: available {} fell under the kill floor {} after {}ms",
                a.available,
                a.floor,
                millis(a.elapsed)
            )),
            GateAction::ExceededNeed {
                declared,
                need,
                consumed,
                tolerance,
                tree_pss,
                elapsed,
                ..
            } => NewEvent::new(
                LoadExceededDeclared {
                    declared_bytes: declared.get(),
                    need_bytes: need.get(),
                    consumed_bytes: consumed.get(),
                    tolerance_bytes: tolerance.get(),
                    elapsed_ms: millis(*elapsed),
                    tree_pss_bytes: opt(*tree_pss),
                },
                m,
            )
            .message(format!(
                "load took {consumed}, {} over its need {need} (declared {declared}; \
                 tolerance {tolerance})",
                consumed.saturating_sub(*need)
            )),
            GateAction::RaiseLearnedPeak { previous, peak, .. } => NewEvent::new(
                LearnedPeakRaised {
                    previous_bytes: previous.get(),
                    peak_bytes: peak.get(),
                },
                m,
            )
            .message(format!(
                "learned peak raised by {} to {peak} (was {previous})",
                peak.saturating_sub(*previous)
            )),
            GateAction::LoadReady {
                footprint: f,
                elapsed,
                settled_in,
                ..
            } => {
                let part = |v: Option<Bytes>| v.map_or("unknown".to_string(), |b| b.to_string());
                NewEvent::new(
                    LoadReady {
                        footprint_bytes: f.available_drop_bytes.get(),
                        available_drop_bytes: f.available_drop_bytes.get(),
                        peak_bytes: f.peak_bytes.get(),
                        committed_bytes: f.committed_bytes.get(),
                        next_need_bytes: f.next_need_bytes.get(),
                        elapsed_ms: millis(*elapsed),
                        settle_ms: millis(*settled_in),
                        tree_pss_bytes: opt(f.tree_pss_bytes),
                        anon_bytes: opt(f.anon_bytes),
                        file_bytes: opt(f.file_bytes),
                        gpu_bytes: opt(f.gpu_bytes),
                    },
                    m,
                )
                .message(format!(
                    "ready and settled: committed {} (anonymous {}, file-backed {}, GPU {}{}); \
                     available fell {}; next load gated on {}",
                    f.committed_bytes,
                    part(f.anon_bytes),
                    part(f.file_bytes),
                    part(f.gpu_bytes),
                    if f.gpu_offload { ", weights on the GPU" } else { "" },
                    f.available_drop_bytes,
                    f.next_need_bytes
                ))
            }
            GateAction::LoadFailed {
                reason,
                elapsed,
                consumed,
                peak,
                ..
            } => {
                let (elapsed_ms, consumed_bytes, peak_bytes) =
                    (millis(*elapsed), consumed.get(), peak.get());
                let timed_out = |timeout: &str, limit: &Duration, probe_passed: bool| {
                    NewEvent::new(
                        LoadTimedOut {
                            elapsed_ms,
                            consumed_bytes,
                            peak_bytes,
                            timeout: timeout.into(),
                            timeout_ms: millis(*limit),
                            limit_ms: millis(*limit),
                            probe_passed,
                        },
                        m,
                    )
                    .message(format!("load timed out: {reason}; the model is stopped"))
                };
                let failed = LoadFailed {
                    elapsed_ms,
                    consumed_bytes,
                    peak_bytes,
                };
                match reason {
                    FailReason::LoadTimeout {
                        limit,
                        probe_passed,
                    } => timed_out("load_timeout", limit, *probe_passed),
                    FailReason::SettleTimeout { limit } => {
                        timed_out("settle_timeout", limit, true)
                    }
                    FailReason::Cancelled | FailReason::Stopped => NewEvent::new(failed, m)
                        .severity(Severity::Info)
                        .message(format!("load failed: {reason}")),
                    FailReason::Exited => {
                        NewEvent::new(failed, m).message(format!("load failed: {reason}"))
                    }
                }
            }
        }
    }
}
