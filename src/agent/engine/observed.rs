//! The engine's side of the per-unit watcher ([`crate::agent::watch`]): each unit's process
//! tree from a refresh ([`Input::Tree`]) updates a loaded model's commitment in the gate's
//! ledger, then goes through the watcher's pure judgement, and each
//! of its decisions is carried out here, in the same step: events stored, restarts as
//! supervised interventions (judged by the restart policy), reservations of a leaking unit's
//! projected growth through the gate (a release may admit the head of the queue).
//!
//! [`Input::Tree`]: super::Input::Tree

use std::collections::BTreeSet;
use std::time::Instant;

use super::{Action, Engine};
use crate::agent::pressure::{Finding, PressureReading};
use crate::agent::watch::{Observation, TreeReading, WatchAction};
use crate::event::figures::{
    MemoryThrashing, PressureCleared, PressureHigh, RestartRefused, ThrashingCleared,
};
use crate::event::NewEvent;
use crate::gate::{GateInput, Usage};
use crate::status::ServiceState;
use crate::units::Bytes;

impl Engine {
    /// Applies one unit's tree: memory for the views, then the watcher's judgement if the tree
    /// is still served by the process it was read from; then ends the watching of units that
    /// no longer run.
    pub(super) fn tree_read(
        &mut self,
        name: String,
        reading: Option<TreeReading>,
        now: Instant,
    ) -> Vec<Action> {
        let room = self
            .available
            .map(|a| a.saturating_sub(self.gate.config().reserve));
        let live: BTreeSet<(String, u32)> = self.pids().into_iter().collect();
        let mut out = Vec::new();
        self.set_memory(
            &name,
            reading.as_ref().map(|r| r.tree_pss),
            reading.as_ref().and_then(|r| r.gpu),
        );
        // A reading of a process that has since been replaced judges nothing.
        if let Some(r) = reading.filter(|r| live.contains(&(name.clone(), r.pid))) {
            if self.gate.ledger().contains(&name) {
                let usage = Usage {
                    pss: r.tree_pss,
                    pss_file: r.pss_file,
                    gpu: r.gpu.filter(|_| self.gpu_shares_dram),
                };
                let model = name.clone();
                out.extend(self.gate_step(GateInput::Usage { model, usage }, now));
            }
            let serving = matches!(
                self.state(&name),
                Some(ServiceState::Ready | ServiceState::Running)
            );
            let observation = Observation {
                pid: r.pid,
                tree_pss: r.tree_pss,
                gpu: r.gpu,
                fds: r.fds,
                threads: r.threads,
                serving,
                room,
            };
            let decisions = self.watch.observe(&name, &observation, r.taken_at);
            out.extend(self.carry_out(decisions, now));
            let trend = self.watch.view(&name);
            self.set_trend(&name, trend);
        }
        let gone: Vec<String> = self
            .watch
            .watched()
            .filter(|n| !live.iter().any(|(name, _)| name == n))
            .map(str::to_string)
            .collect();
        for name in gone {
            out.extend(self.unwatch(&name, now));
        }
        out
    }

    /// `name` has no process any more: the watcher releases what it held for it.
    pub(super) fn unwatch(&mut self, name: &str, now: Instant) -> Vec<Action> {
        let decisions = self.watch.gone(name);
        self.set_trend(name, None);
        self.carry_out(decisions, now)
    }

    /// The watcher's decisions, in order, as the engine's own actions.
    fn carry_out(&mut self, decisions: Vec<WatchAction>, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        for decision in decisions {
            match decision {
                WatchAction::Event(event) => out.push(Action::Event(event)),
                WatchAction::Restart { name, cause } => {
                    let detail = format!("the watcher decided ({cause})");
                    match self.intervene(&name, &cause, detail, now) {
                        Ok(actions) => out.extend(actions),
                        Err(refusal) => out.push(Action::Event(
                            NewEvent::new(RestartRefused {}, Some(&name))
                                .message(format!("the watcher's restart was refused: {refusal}")),
                        )),
                    }
                }
                WatchAction::Reserve { key, bytes } => {
                    out.extend(self.reserve(&key, Some(bytes), now))
                }
                WatchAction::Release { key } => out.extend(self.reserve(&key, None, now)),
            }
        }
        out
    }

    /// Judges the scope's pressure and refaults; what started or ended is an event, naming the
    /// loaded models whose mapped pages are being evicted. Never an action beyond the event.
    pub(super) fn pressure_read(&mut self, reading: &PressureReading) -> Vec<Action> {
        let findings = self.pressure.observe(reading);
        findings
            .into_iter()
            .map(|f| Action::Event(self.pressure_event(f)))
            .collect()
    }

    fn pressure_event(&self, finding: Finding) -> NewEvent {
        let percent = |v: f64| (v * 100.0).round() / 100.0;
        match finding {
            Finding::PressureHigh {
                some_avg10,
                full_avg10,
                threshold,
            } => {
                let figures = PressureHigh {
                    some_avg10_percent: percent(some_avg10),
                    threshold_percent: percent(threshold),
                    full_avg10_percent: full_avg10.map(percent),
                };
                NewEvent::new(figures, None).message(format!(
                    "memory pressure high: tasks stalled on memory {some_avg10:.1} % of the \
                     last 10 s (memory.pressure_high {threshold:.1} %)"
                ))
            }
            Finding::PressureCleared {
                some_avg10,
                threshold,
            } => NewEvent::new(
                PressureCleared {
                    some_avg10_percent: percent(some_avg10),
                    threshold_percent: percent(threshold),
                },
                None,
            )
            .message(format!(
                "memory pressure back to {some_avg10:.1} % (under half of {threshold:.1} %)"
            )),
            Finding::Thrashing {
                refault_rate,
                some_avg10,
                full_avg10,
            } => {
                let evicted = self.gate.ledger().evicted();
                let total: Bytes = evicted.iter().map(|(_, b)| *b).sum();
                let names: Vec<String> = evicted
                    .iter()
                    .map(|(name, bytes)| format!("{name} ({bytes} of its mapped pages)"))
                    .collect();
                let whose = if names.is_empty() {
                    "no loaded model has lost mapped pages yet".to_string()
                } else {
                    format!("evicted from {}", names.join(", "))
                };
                let figures = MemoryThrashing {
                    refault_bytes_per_second: refault_rate.get(),
                    some_avg10_percent: percent(some_avg10),
                    full_avg10_percent: full_avg10.map(percent),
                    evicted_bytes: total.get(),
                    committed_bytes: self.gate.ledger().total().get(),
                };
                NewEvent::new(figures, None).message(format!(
                    "memory thrashing: {refault_rate}/s of file pages read back soon after \
                     eviction, tasks stalled {some_avg10:.1} % of the last 10 s; {whose}"
                ))
            }
            Finding::ThrashingCleared {
                refault_rate,
                some_avg10,
            } => NewEvent::new(
                ThrashingCleared {
                    refault_bytes_per_second: refault_rate.get(),
                    some_avg10_percent: percent(some_avg10),
                },
                None,
            )
            .message(format!(
                "thrashing over: {refault_rate}/s refaulted, tasks stalled {some_avg10:.1} %"
            )),
        }
    }

    /// Sets the trend the views show for `name` (`None`: no process, no trend).
    fn set_trend(&mut self, name: &str, trend: Option<crate::status::TrendView>) {
        if let Some(u) = self.units.get_mut(name) {
            u.trend = trend;
        }
    }

    /// Holds `bytes` out of every new load's budget under `key`, or releases it (`None`).
    fn reserve(&mut self, key: &str, bytes: Option<Bytes>, now: Instant) -> Vec<Action> {
        let input = match bytes {
            Some(bytes) => GateInput::Reserve {
                key: key.to_string(),
                bytes,
            },
            None => GateInput::Release {
                key: key.to_string(),
            },
        };
        self.gate_step(input, now)
    }
}
