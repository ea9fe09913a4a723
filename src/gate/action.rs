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
use crate::event::{EventKind, NewEvent, Severity};
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

fn opt(e: NewEvent, name: &str, v: Option<Bytes>) -> NewEvent {
    match v {
        Some(b) => e.figure(name, b.get()),
        None => e,
    }
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
            } => {
                let e = NewEvent::untyped(EventKind::LoadRequested, m)
                    .message(format!("requested: need {need}"))
                    .figure("declared_bytes", declared.get())
                    .figure("need_bytes", need.get());
                opt(e, "learned_peak_bytes", *learned_peak)
            }
            GateAction::Admit(a) => NewEvent::untyped(EventKind::LoadAdmitted, m)
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
                ))
                .figure("available_bytes", a.available.get())
                .figure("total_bytes", a.total.get())
                .figure("reserve_bytes", a.reserve.get())
                .figure("reserved_bytes", a.outstanding.get())
                .figure("budget_bytes", a.budget.value().get())
                .figure("available_budget_bytes", a.budget.available.get())
                .figure("ledger_budget_bytes", a.budget.ledger.get())
                .figure("committed_bytes", a.budget.committed.get())
                .figure("need_bytes", a.need.get())
                .figure("required_bytes", a.required.get())
                .figure("reading_age_ms", millis(a.reading_age))
                .figure("waited_ms", millis(a.waited)),
            GateAction::Deny {
                need,
                required,
                total,
                reserve,
                ..
            } => NewEvent::untyped(EventKind::LoadDenied, m)
                .message(format!(
                    "denied: need {need} with headroom ({required}) can never fit in total {total} − reserve {reserve}"
                ))
                .figure("need_bytes", need.get())
                .figure("required_bytes", required.get())
                .figure("total_bytes", total.get())
                .figure("reserve_bytes", reserve.get())
                .figure("capacity_bytes", total.saturating_sub(*reserve).get()),
            GateAction::Duplicate { presence, .. } => {
                let (text, pos) = match presence {
                    Presence::Queued { position } => ("already queued", Some(*position)),
                    Presence::Loading => ("already loading", None),
                    Presence::Loaded => ("already loaded", None),
                };
                let e = NewEvent::untyped(EventKind::LoadDuplicate, m).message(format!("{text}; not queued again"));
                match pos {
                    Some(p) => e.figure("position", p),
                    None => e,
                }
            }
            GateAction::Queued {
                position,
                need,
                reason,
                ..
            } => NewEvent::untyped(EventKind::LoadQueued, m)
                .message(format!("queued at position {position}: {reason}"))
                .figure("position", *position)
                .figure("need_bytes", need.get()),
            GateAction::Withdrawn { waited, .. } => NewEvent::untyped(EventKind::LoadCancelled, m)
                .message("removed from the queue by an unload")
                .figure("waited_ms", millis(*waited)),
            GateAction::Abort(a) => {
                let e = NewEvent::untyped(EventKind::LoadAborted, m)
                    .message(format!(
                        "aborted: available {} fell under the kill floor {} after {}ms",
                        a.available,
                        a.floor,
                        millis(a.elapsed)
                    ))
                    .figure("available_bytes", a.available.get())
                    .figure("floor_bytes", a.floor.get())
                    .figure("elapsed_ms", millis(a.elapsed))
                    .figure("available_before_bytes", a.available_before.get())
                    .figure("consumed_bytes", a.consumed.get())
                    .figure("need_bytes", a.need.get());
                opt(e, "tree_pss_bytes", a.tree_pss)
            }
            GateAction::ExceededNeed {
                declared,
                need,
                consumed,
                tolerance,
                tree_pss,
                elapsed,
                ..
            } => {
                let e = NewEvent::untyped(EventKind::LoadExceededDeclared, m)
                    .message(format!(
                        "load took {consumed}, {} over its need {need} (declared {declared}; \
                         tolerance {tolerance})",
                        consumed.saturating_sub(*need)
                    ))
                    .figure("declared_bytes", declared.get())
                    .figure("need_bytes", need.get())
                    .figure("consumed_bytes", consumed.get())
                    .figure("tolerance_bytes", tolerance.get())
                    .figure("elapsed_ms", millis(*elapsed));
                opt(e, "tree_pss_bytes", *tree_pss)
            }
            GateAction::RaiseLearnedPeak { previous, peak, .. } => {
                NewEvent::untyped(EventKind::LearnedPeakRaised, m)
                    .message(format!(
                        "learned peak raised by {} to {peak} (was {previous})",
                        peak.saturating_sub(*previous)
                    ))
                    .figure("previous_bytes", previous.get())
                    .figure("peak_bytes", peak.get())
            }
            GateAction::LoadReady {
                footprint: f,
                elapsed,
                settled_in,
                ..
            } => {
                let part = |v: Option<Bytes>| v.map_or("unknown".to_string(), |b| b.to_string());
                let e = NewEvent::untyped(EventKind::LoadReady, m)
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
                    .figure("footprint_bytes", f.available_drop_bytes.get())
                    .figure("available_drop_bytes", f.available_drop_bytes.get())
                    .figure("peak_bytes", f.peak_bytes.get())
                    .figure("committed_bytes", f.committed_bytes.get())
                    .figure("next_need_bytes", f.next_need_bytes.get())
                    .figure("elapsed_ms", millis(*elapsed))
                    .figure("settle_ms", millis(*settled_in));
                let e = opt(e, "tree_pss_bytes", f.tree_pss_bytes);
                let e = opt(e, "anon_bytes", f.anon_bytes);
                opt(opt(e, "file_bytes", f.file_bytes), "gpu_bytes", f.gpu_bytes)
            }
            GateAction::LoadFailed {
                reason,
                elapsed,
                consumed,
                peak,
                ..
            } => {
                let e = match reason {
                    FailReason::Cancelled | FailReason::Stopped => NewEvent::untyped(EventKind::LoadFailed, m).severity(Severity::Info),
                    FailReason::LoadTimeout { .. } | FailReason::SettleTimeout { .. } => {
                        NewEvent::untyped(EventKind::LoadTimedOut, m)
                    }
                    _ => NewEvent::untyped(EventKind::LoadFailed, m),
                };
                let e = e
                    .figure("elapsed_ms", millis(*elapsed))
                    .figure("consumed_bytes", consumed.get())
                    .figure("peak_bytes", peak.get());
                match reason {
                    FailReason::LoadTimeout { limit, probe_passed } => e
                        .message(format!("load timed out: {reason}; the model is stopped"))
                        .figure("timeout", "load_timeout")
                        .figure("timeout_ms", millis(*limit))
                        .figure("limit_ms", millis(*limit))
                        .figure("probe_passed", *probe_passed),
                    FailReason::SettleTimeout { limit } => e
                        .message(format!("load timed out: {reason}; the model is stopped"))
                        .figure("timeout", "settle_timeout")
                        .figure("timeout_ms", millis(*limit))
                        .figure("limit_ms", millis(*limit))
                        .figure("probe_passed", true),
                    _ => e.message(format!("load failed: {reason}")),
                }
            }
        }
    }
}
