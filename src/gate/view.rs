//! A read-only snapshot of the gate for `jetgate status`, `jetgate top` and the MQTT state.
//!
//! Owns nothing: [`Gate::snapshot`] copies the figures out at `now`. Sizes are bytes (fields end
//! in `_bytes`), ages and waits are milliseconds (`_ms`), so the JSON is plain:
//!
//! ```json
//! {"reserve_bytes": 536870912, "budget_bytes": 1073741824, "available_bytes": 2684354560,
//!  "available_budget_bytes": 1073741824, "ledger_budget_bytes": 1395864371,
//!  "budget_from": "available", "total_bytes": 3221225472, "committed_bytes": 1188298752,
//!  "committed": [{"model": "det", "committed_bytes": 1188298752, "peak_bytes": 1188298752,
//!                 "live_bytes": 1180000000, "from": "peak", "gpu_offload": false}],
//!  "outstanding_bytes": 1178599424, "reserved_bytes": 104857600, "reading_age_ms": 40,
//!  "in_flight": {"model": "llm", "elapsed_ms": 1800, "phase": "loading",
//!                "need_bytes": 1073741824, "consumed_bytes": 0},
//!  "queue": [{"model": "asr", "need_bytes": 1073741824,
//!             "reason": "waiting: load of llm in flight", "waiting_ms": 1200}],
//!  "reservations": [{"key": "leak:api", "bytes": 104857600}]}
//! ```
//!
//! `budget_bytes` (the smaller of `available_budget_bytes` and `ledger_budget_bytes`, named by
//! `budget_from`), `available_bytes` and `total_bytes` are null before the first reading.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::ledger::CommittedFrom;
use super::load::LoadPhase;
use super::{budget, BudgetFrom, Gate};
use crate::units::Bytes;

/// Where the load in flight is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Admitted, waiting for its ready probe.
    Loading,
    /// Ready probe passed, waiting for memory to settle.
    Settling,
}

impl Phase {
    /// The published name: `loading` or `settling`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Loading => "loading",
            Phase::Settling => "settling",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlightView {
    pub model: String,
    /// Since admission.
    pub elapsed_ms: u64,
    pub phase: Phase,
    pub need_bytes: Bytes,
    /// `available` before admission − `available` now.
    pub consumed_bytes: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct QueuedView {
    pub model: String,
    pub need_bytes: Bytes,
    pub reason: String,
    pub waiting_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationView {
    pub key: String,
    pub bytes: Bytes,
}

/// One loaded model's line in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentView {
    pub model: String,
    /// `max(peak_bytes, live_bytes)`.
    pub committed_bytes: Bytes,
    pub peak_bytes: Bytes,
    /// The latest tree reading, counted (PSS + GPU, mapped weights once); 0 before the first.
    pub live_bytes: Bytes,
    pub from: CommittedFrom,
    pub gpu_offload: bool,
}

/// The gate as `jetgate status` shows it (the status document's `gate` section). Readers take
/// what they find: a missing figure reads as 0, `None` or empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GateView {
    pub reserve_bytes: Bytes,
    /// The budget a load is admitted on: the smaller of the two below, or null before the
    /// first reading.
    pub budget_bytes: Option<Bytes>,
    /// `available − reserve − outstanding`.
    pub available_budget_bytes: Option<Bytes>,
    /// `total − committed − reserve − outstanding`.
    pub ledger_budget_bytes: Option<Bytes>,
    /// Which of the two is `budget_bytes`.
    pub budget_from: Option<BudgetFrom>,
    pub available_bytes: Option<Bytes>,
    /// The scope's total: the cgroup limit, or physical memory.
    pub total_bytes: Option<Bytes>,
    /// Σ committed over the loaded models.
    pub committed_bytes: Bytes,
    pub committed: Vec<CommitmentView>,
    /// The load in flight's `need − consumed` plus external reservations.
    pub outstanding_bytes: Bytes,
    /// The external reservations alone (a leaking unit's projected growth, `leak:NAME`).
    pub reserved_bytes: Bytes,
    pub reading_age_ms: Option<u64>,
    pub in_flight: Option<InFlightView>,
    pub queue: Vec<QueuedView>,
    pub reservations: Vec<ReservationView>,
}

impl Gate {
    /// The gate's state at `now`, for display. Reasons are those of the last step.
    pub fn snapshot(&self, now: Instant) -> GateView {
        let outstanding = self.outstanding();
        let reading = self.reading.as_ref();
        let budget = reading.map(|r| self.budget_of(r, outstanding));
        GateView {
            reserve_bytes: self.config.reserve,
            budget_bytes: budget.map(|b| b.value()),
            available_budget_bytes: budget.map(|b| b.available),
            ledger_budget_bytes: budget.map(|b| b.ledger),
            budget_from: budget.map(|b| b.from()),
            available_bytes: reading.map(|r| r.available),
            total_bytes: reading.map(|r| r.total),
            committed_bytes: self.ledger.total(),
            committed: self
                .ledger
                .iter()
                .map(|(model, c)| CommitmentView {
                    model: model.to_string(),
                    committed_bytes: c.committed(),
                    peak_bytes: c.peak,
                    live_bytes: c.live(),
                    from: c.from(),
                    gpu_offload: c.gpu_offload,
                })
                .collect(),
            outstanding_bytes: outstanding,
            reserved_bytes: self.reservations.values().copied().sum(),
            reading_age_ms: reading
                .map(|r| budget::millis(now.saturating_duration_since(r.taken_at))),
            in_flight: self.load.as_ref().map(|l| InFlightView {
                model: l.model.clone(),
                elapsed_ms: budget::millis(now.saturating_duration_since(l.admitted_at)),
                phase: match l.phase {
                    LoadPhase::Loading => Phase::Loading,
                    LoadPhase::Settling { .. } => Phase::Settling,
                },
                need_bytes: l.need,
                consumed_bytes: l.consumed,
            }),
            queue: self
                .queue
                .iter()
                .map(|w| QueuedView {
                    model: w.model.clone(),
                    need_bytes: w.need,
                    reason: w.reason.clone(),
                    waiting_ms: budget::millis(now.saturating_duration_since(w.requested_at)),
                })
                .collect(),
            reservations: self
                .reservations
                .iter()
                .map(|(key, bytes)| ReservationView {
                    key: key.clone(),
                    bytes: *bytes,
                })
                .collect(),
        }
    }
}
