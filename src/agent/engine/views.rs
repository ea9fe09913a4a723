//! What `jetgate services` and the status document show of each unit: state, pid, memory,
//! restarts, and for a unit backing off the time until its next attempt, as of the engine's
//! latest input (at most one core tick old); and the gate's decisions counted since start.

use super::{Engine, Phase, Unit};
use crate::gate::DecisionCounts;
use crate::status::{ServiceKind, ServiceView};
use crate::units::Bytes;

impl Engine {
    pub fn views(&self) -> Vec<ServiceView> {
        self.units.values().map(|u| self.view_of(u)).collect()
    }

    /// The gate's decisions since start, by decision and reason (the metrics' counters).
    pub fn decisions(&self) -> &DecisionCounts {
        &self.decisions
    }

    pub fn view(&self, name: &str) -> Option<ServiceView> {
        self.units.get(name).map(|u| self.view_of(u))
    }

    fn view_of(&self, u: &Unit) -> ServiceView {
        let restart_in_ms = match (u.phase, self.clock) {
            (Phase::BackingOff { restart_at }, Some(now)) => {
                Some(restart_at.saturating_duration_since(now).as_millis() as u64)
            }
            _ => None,
        };
        ServiceView {
            name: u.spec.name.clone(),
            kind: if u.spec.declared.is_some() {
                ServiceKind::Model
            } else {
                ServiceKind::Service
            },
            state: u.state(),
            pid: u.pid(),
            memory_bytes: u.memory.map(Bytes::get),
            gpu_bytes: u.gpu.map(Bytes::get),
            trend: u.trend.clone(),
            restarts: u.restarts,
            restart_in_ms,
            estimate: self.estimate_view(&u.spec.name),
            // A queued model's reason changes as the gate re-evaluates: read it live.
            reason: match u.phase {
                Phase::Queued => self
                    .gate
                    .queue_reason(&u.spec.name)
                    .map(str::to_string)
                    .or_else(|| u.reason.clone()),
                _ => u.reason.clone(),
            },
        }
    }
}
