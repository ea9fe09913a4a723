//! The event each [`GateAction`] is logged as, with the figures behind the decision.

use std::time::Duration;

use super::*;

fn opt(v: Option<Bytes>) -> Option<u64> {
    v.map(Bytes::get)
}

impl GateAction {
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
