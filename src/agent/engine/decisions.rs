//! The engine's half that turns the gate's decisions into unit states and I/O actions: an
//! abort's kill first, every load ending answered through one path ([`Engine::finish`]).

use std::time::Instant;

use super::{Action, Engine, Phase, StopIntent};
use crate::gate::{GateAction, GateInput, Presence};
use crate::status::ServiceState;

impl Engine {
    /// A load ended (ready or not): set the unit's state and answer `load --wait` requesters.
    pub(super) fn finish(
        &mut self,
        name: &str,
        phase: Phase,
        reason: Option<String>,
        out: &mut Vec<Action>,
    ) {
        self.set(name, phase, reason.clone());
        out.push(Action::LoadFinished {
            name: name.to_string(),
            state: phase.state(),
            reason,
        });
    }

    /// Steps the gate and turns its decisions into unit states and actions.
    pub(super) fn gate_step(&mut self, input: GateInput, now: Instant) -> Vec<Action> {
        let decisions = self.gate.step(input, now);
        let mut out = Vec::with_capacity(decisions.len() * 2);
        for decision in decisions {
            self.apply(decision, now, &mut out);
        }
        out
    }

    fn apply(&mut self, decision: GateAction, now: Instant, out: &mut Vec<Action>) {
        self.decisions.count(&decision);
        let name = decision.model().to_string();
        // An abort must reach the process before anything slower (event storage) happens.
        if let GateAction::Abort(a) = &decision {
            out.push(Action::KillNow { name: name.clone() });
            let reason = format!(
                "aborted: available {} fell under the kill floor {}",
                a.available, a.floor
            );
            self.finish(&name, Phase::Failed, Some(reason), out);
        }
        let event = decision.event();
        let estimated = matches!(
            decision,
            GateAction::Requested { .. } | GateAction::Admit(_)
        );
        match decision {
            GateAction::Admit(_) => {
                self.set(&name, Phase::Loading, None);
                self.await_ready(&name, now);
                out.push(Action::Spawn { name: name.clone() });
            }
            GateAction::Queued { reason, .. } => self.set(&name, Phase::Queued, Some(reason)),
            GateAction::Deny { .. } => {
                let reason = event.message.clone();
                self.finish(&name, Phase::Failed, Some(reason), out);
            }
            GateAction::Withdrawn { .. } => {
                let reason = Some("unloaded while queued".to_string());
                self.finish(&name, Phase::Stopped, reason, out);
            }
            GateAction::RaiseLearnedPeak { peak, .. } => {
                self.learned.insert(name.clone(), peak);
                out.push(Action::RecordPeak {
                    name: name.clone(),
                    peak,
                });
                out.extend(self.learn_ratio(&name, peak, true));
            }
            GateAction::LoadReady { footprint, .. } => {
                out.push(Action::RecordFootprint {
                    name: name.clone(),
                    footprint,
                });
                out.extend(self.learn_ratio(&name, footprint.peak_bytes, false));
                self.finish(&name, Phase::Ready, None, out);
                out.extend(self.watch_health(&name));
            }
            GateAction::LoadFailed { reason, .. } => {
                let aborted = self.state(&name) == Some(ServiceState::Failed);
                // Already being stopped (a ready timeout): that stop's intent and reason stand,
                // so its exit still goes to the restart policy.
                let stopping = self.units.get(&name).is_some_and(|u| u.stopping());
                let text = if aborted || stopping {
                    self.units.get(&name).and_then(|u| u.reason.clone())
                } else {
                    Some(reason.to_string())
                };
                let alive = self.units.get(&name).is_some_and(|u| u.pid().is_some());
                if alive && !aborted && !stopping {
                    if let Some(u) = self.units.get_mut(&name) {
                        // An unload already asked (Cancelled) keeps its own intent.
                        if !u.stopping() {
                            u.ask_stop(StopIntent::LoadFailed(reason));
                        }
                    }
                    self.stop(&name, out);
                }
                self.finish(&name, Phase::Failed, text, out);
            }
            GateAction::Duplicate { presence, .. } => {
                let phase = match presence {
                    Presence::Queued { .. } => Phase::Queued,
                    Presence::Loading => Phase::Loading,
                    Presence::Loaded => Phase::Ready,
                };
                self.set(&name, phase, None);
            }
            GateAction::Requested { .. }
            | GateAction::Abort(_)
            | GateAction::ExceededNeed { .. } => {}
        }
        let event = match estimated {
            true => self.estimate_figures(&name, event),
            false => event,
        };
        out.push(Action::Event(event));
    }
}
