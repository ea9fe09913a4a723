//! One unit as the engine holds it: where it is in its life ([`Phase`], each phase with the
//! data only it has) and its process while it has one ([`Process`], with why the engine asked
//! it to stop, if it did).
//!
//! ```text
//! Stopped ─load─► Queued ─admit─► Loading ─ready─► Ready        (a model, through the gate)
//! Stopped ─load─► Running                                       (a service)
//! Ready/Running ─exit─► BackingOff { restart_at } ─due─► Queued/Running
//!                                └─ crash loop ─► GaveUp ─restart─► Queued/Running
//! any with a process ─stop asked─► same phase, Process { stop: Some(..) } ─exit─► ...
//! ```

use std::time::Instant;

use super::{Draw, UnitSpec};
use crate::gate::FailReason;
use crate::probe::HealthTracker;
use crate::status::ServiceState;
use crate::supervisor::policy::RestartTracker;
use crate::units::Bytes;

/// Where a unit is in its life. What only one phase knows lives in that phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Stopped,
    /// Waiting for the gate (or for its weights to be verified).
    Queued,
    /// The gate's load in flight.
    Loading,
    /// A model whose load completed.
    Ready,
    /// A service started.
    Running,
    /// Its process ended unasked; the next start is due at `restart_at` (fired by a tick).
    BackingOff {
        restart_at: Instant,
    },
    /// A crash loop: no restart until an operator asks.
    GaveUp,
    Failed,
}

impl Phase {
    /// The state the views and the contracts show.
    pub(super) fn state(self) -> ServiceState {
        match self {
            Phase::Stopped => ServiceState::Stopped,
            Phase::Queued => ServiceState::Queued,
            Phase::Loading => ServiceState::Loading,
            Phase::Ready => ServiceState::Ready,
            Phase::Running => ServiceState::Running,
            Phase::BackingOff { .. } => ServiceState::BackingOff,
            Phase::GaveUp => ServiceState::GaveUp,
            Phase::Failed => ServiceState::Failed,
        }
    }
}

/// A unit's process, from its spawn to its exit.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Process {
    pub pid: u32,
    /// For uptime and the restart policy's attempt reset.
    pub started_at: Instant,
    /// Why the engine asked it to stop (`None`: it was not asked); its exit is judged by it.
    pub stop: Option<StopIntent>,
}

/// Why the engine asked a process to stop.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum StopIntent {
    /// `unload`: the exit is expected.
    Requested,
    /// The gate failed its load (a timeout): the exit is expected, and its event says why the
    /// process was stopped (not `unloaded`, which is an operator's request).
    LoadFailed(FailReason),
    /// `restart`: start again once it has exited.
    ThenStart,
    /// The supervisor (failed health checks, a memory limit, a leak): the exit is judged by
    /// the restart policy, with this cause and detail.
    Supervisor(SupervisorStop),
}

/// Why the supervisor stopped a unit: `cause` is the event kind that decided it
/// (`health_failed`, `memory_limit_exceeded`, `leak_restart`...), `detail` the figures in words.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SupervisorStop {
    pub cause: String,
    pub detail: String,
}

#[derive(Debug)]
pub(super) struct Unit {
    pub spec: UnitSpec,
    pub phase: Phase,
    pub process: Option<Process>,
    pub restarts: u32,
    pub reason: Option<String>,
    /// Tree memory, refreshed from the tree inputs for the views.
    pub memory: Option<Bytes>,
    /// GPU memory (nvmap) the tree holds, refreshed with `memory`; `None` where unknown.
    pub gpu: Option<Bytes>,
    /// The leak trend of `memory`, refreshed with it.
    pub trend: Option<crate::status::TrendView>,
    pub tracker: RestartTracker<Draw>,
    pub health: HealthTracker,
    /// The ready probe being waited for since the start was asked for (`ready.rs`).
    pub ready_wait: Option<super::ready::ReadyWait>,
}

impl Unit {
    pub(super) fn new(spec: UnitSpec, draw: Draw) -> Unit {
        let failures = spec.health.as_ref().map_or(1, |h| h.failures);
        Unit {
            tracker: RestartTracker::new(spec.restart, draw),
            health: HealthTracker::new(failures),
            spec,
            phase: Phase::Stopped,
            process: None,
            restarts: 0,
            reason: None,
            memory: None,
            gpu: None,
            trend: None,
            ready_wait: None,
        }
    }

    pub(super) fn state(&self) -> ServiceState {
        self.phase.state()
    }

    pub(super) fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.pid)
    }

    /// The engine asked its process to stop and it has not exited yet.
    pub(super) fn stopping(&self) -> bool {
        self.process.as_ref().is_some_and(|p| p.stop.is_some())
    }

    /// Records why its process is being stopped (nothing when it has none).
    pub(super) fn ask_stop(&mut self, intent: StopIntent) {
        if let Some(p) = self.process.as_mut() {
            p.stop = Some(intent);
        }
    }
}
