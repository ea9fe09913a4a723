//! The queue half of the gate: requests, duplicates, denials, withdrawals and admission.
//!
//! Owns no state of its own: these are [`Gate`] methods over its FIFO queue. A request is
//! denied at once when it can never fit (`need × (1 + headroom) > total − reserve`), answered
//! as a duplicate when its model is already queued, loading or loaded, and otherwise queued
//! with a reason the operator can read; `pump` admits the head when it fits, never a later one:
//!
//! ```text
//! waiting: load of llm in flight
//! waiting: no fresh memory reading
//! waiting: budget 412.0MiB < need 1.0GiB × 1.10
//! waiting: budget 412.0MiB < need 1.0GiB × 1.10 (300.0MiB reserved for leak:api)
//! waiting: budget 307.0MiB < need 1.0GiB × 1.10 (committed 2.2GiB to det, track of total 3.0GiB; available shows 2.0GiB)
//! waiting: behind llm in the queue
//! ```
//!
//! A duplicate leaves the earlier request as it was: its step may still admit that request
//! (a timeout at the start of the step freed the slot), so `Duplicate` can be followed by an
//! `Admit` of the same model, which is the queued request's, with its need.
//!
//! Sizes are [`Bytes`]; `now` and reading times are [`Instant`]s given by the caller.

use std::time::Instant;

use super::load::{Load, LoadPhase};
use super::{budget, Admission, Budget, BudgetFrom, FailReason, Gate, GateAction, Presence};
use crate::units::Bytes;

#[derive(Debug, Clone)]
pub(super) struct Waiting {
    pub(super) model: String,
    pub(super) declared: Bytes,
    pub(super) need: Bytes,
    pub(super) gpu_offload: bool,
    pub(super) requested_at: Instant,
    pub(super) reason: String,
}

impl Gate {
    pub(super) fn request(
        &mut self,
        model: String,
        declared: Bytes,
        learned_peak: Option<Bytes>,
        gpu_offload: bool,
        now: Instant,
        out: &mut Vec<GateAction>,
    ) {
        if let Some(p) = learned_peak {
            let known = self.learned.entry(model.clone()).or_default();
            *known = (*known).max(p);
        }
        let need = budget::need(declared, self.learned.get(&model).copied());
        out.push(GateAction::Requested {
            model: model.clone(),
            declared,
            learned_peak,
            need,
        });
        if let Some(presence) = self.presence(&model) {
            out.push(GateAction::Duplicate { model, presence });
            return;
        }
        let required = budget::required(need, self.config.headroom);
        if let Some(r) = &self.reading {
            if budget::never_fits(required, r.total, self.config.reserve) {
                out.push(self.deny(model, need, r.total));
                return;
            }
        }
        self.queue.push_back(Waiting {
            model: model.clone(),
            declared,
            need,
            gpu_offload,
            requested_at: now,
            reason: String::new(),
        });
        self.pump(now, out);
        if let Some(i) = self.queue.iter().position(|w| w.model == model) {
            let w = &self.queue[i];
            out.push(GateAction::Queued {
                model,
                position: i + 1,
                need,
                reason: w.reason.clone(),
            });
        }
    }

    pub(super) fn presence(&self, model: &str) -> Option<Presence> {
        if let Some(i) = self.queue.iter().position(|w| w.model == model) {
            Some(Presence::Queued { position: i + 1 })
        } else if self.in_flight() == Some(model) {
            Some(Presence::Loading)
        } else if self.ledger.contains(model) {
            Some(Presence::Loaded)
        } else {
            None
        }
    }

    pub(super) fn deny(&self, model: String, need: Bytes, total: Bytes) -> GateAction {
        GateAction::Deny {
            model,
            need,
            required: budget::required(need, self.config.headroom),
            total,
            reserve: self.config.reserve,
        }
    }

    /// Removes a queued request, or fails the load in flight with `reason`.
    pub(super) fn withdraw(
        &mut self,
        model: &str,
        reason: FailReason,
        now: Instant,
        out: &mut Vec<GateAction>,
    ) {
        if let Some(i) = self.queue.iter().position(|w| w.model == model) {
            if let Some(w) = self.queue.remove(i) {
                out.push(GateAction::Withdrawn {
                    model: w.model,
                    waited: now.saturating_duration_since(w.requested_at),
                });
            }
        } else if self.in_flight() == Some(model) {
            self.fail(reason, now, out);
        }
    }

    /// Denies queued requests that can no longer ever fit, admits the head if it fits, and
    /// brings every waiting reason up to date.
    pub(super) fn pump(&mut self, now: Instant, out: &mut Vec<GateAction>) {
        if let Some(total) = self.reading.as_ref().map(|r| r.total) {
            let (reserve, headroom) = (self.config.reserve, self.config.headroom);
            let mut i = 0;
            while i < self.queue.len() {
                let w = &self.queue[i];
                if budget::never_fits(budget::required(w.need, headroom), total, reserve) {
                    if let Some(w) = self.queue.remove(i) {
                        out.push(self.deny(w.model, w.need, total));
                    }
                } else {
                    i += 1;
                }
            }
        }
        if self.load.is_none() {
            if let Some(admission) = self.try_admit_head(now) {
                out.push(GateAction::Admit(admission));
            }
        }
        let head_reason = self
            .queue
            .front()
            .map(|w| self.blocking_reason(w.need, now));
        let head_model = self.queue.front().map(|w| w.model.clone());
        for (i, w) in self.queue.iter_mut().enumerate() {
            w.reason = match (&self.load, i, &head_reason, &head_model) {
                (Some(l), _, _, _) => format!("waiting: load of {} in flight", l.model),
                (None, 0, Some(r), _) => r.clone(),
                (None, _, _, Some(h)) => format!("waiting: behind {h} in the queue"),
                _ => String::new(),
            };
        }
    }

    pub(super) fn try_admit_head(&mut self, now: Instant) -> Option<Admission> {
        let r = self.reading.as_ref()?;
        let head = self.queue.front()?;
        if !budget::is_fresh(r.taken_at, now, self.config.fresh_within) {
            return None;
        }
        let outstanding = self.outstanding();
        let budget = self.budget_of(r, outstanding);
        let required = budget::required(head.need, self.config.headroom);
        if budget.value() < required {
            return None;
        }
        let w = self.queue.pop_front()?;
        let admission = Admission {
            model: w.model.clone(),
            need: w.need,
            required,
            available: r.available,
            total: r.total,
            reserve: self.config.reserve,
            outstanding,
            budget,
            reading_age: now.saturating_duration_since(r.taken_at),
            waited: now.saturating_duration_since(w.requested_at),
        };
        self.load = Some(Load {
            model: w.model,
            declared: w.declared,
            need: w.need,
            gpu_offload: w.gpu_offload,
            admitted_at: now,
            available_before: r.available,
            consumed: Bytes::ZERO,
            peak: Bytes::ZERO,
            recorded_peak: w.need,
            usage: None,
            exceeded: false,
            phase: LoadPhase::Loading,
        });
        Some(admission)
    }

    /// Both budgets at reading `r`: what it shows free, and what the ledger leaves.
    pub(super) fn budget_of(&self, r: &super::MemReading, outstanding: Bytes) -> Budget {
        Budget::of(
            r.available,
            r.total,
            self.ledger.total(),
            self.config.reserve,
            outstanding,
        )
    }

    /// Why a request needing `need` cannot be admitted now, as shown to the operator.
    pub(super) fn blocking_reason(&self, need: Bytes, now: Instant) -> String {
        if let Some(l) = &self.load {
            return format!("waiting: load of {} in flight", l.model);
        }
        let fresh = self
            .reading
            .as_ref()
            .filter(|r| budget::is_fresh(r.taken_at, now, self.config.fresh_within));
        let Some(r) = fresh else {
            return "waiting: no fresh memory reading".to_string();
        };
        let budget = self.budget_of(r, self.outstanding());
        let mut reason = format!(
            "waiting: budget {} < need {need} × {:.2}",
            budget.value(),
            1.0 + self.config.headroom.max(0.0)
        );
        if budget.from() == BudgetFrom::Ledger {
            let names: Vec<&str> = self.ledger.names().collect();
            reason.push_str(&format!(
                " (committed {} to {} of total {}; available shows {})",
                budget.committed,
                names.join(", "),
                r.total,
                budget.available
            ));
        }
        if !self.reservations.is_empty() {
            let held: Bytes = self.reservations.values().copied().sum();
            let keys: Vec<&str> = self.reservations.keys().map(String::as_str).collect();
            reason.push_str(&format!(" ({held} reserved for {})", keys.join(", ")));
        }
        reason
    }
}
