//! The engine's reactions to what happens to units outside a command: a weights check that
//! finished, a spawn that failed, a process tree that ended (matched by pid, so a late exit of
//! an earlier incarnation changes nothing). An exit nobody asked for, or one after failed health
//! checks, goes to the restart policy (`supervise.rs`).

use std::time::Instant;

use super::supervise::Ended;
use super::{Action, Engine, Phase, ServiceState, StopIntent};
use crate::event::figures::{LoadRefused, ServiceExited, SpawnFailed, Unloaded};
use crate::event::{EventKind, NewEvent, Severity};
use crate::gate::{FailReason, GateInput};

impl Engine {
    pub(super) fn weights_checked(
        &mut self,
        name: &str,
        result: Result<(), String>,
        now: Instant,
    ) -> Vec<Action> {
        let Some(declared) = self.units.get(name).and_then(|u| u.spec.declared) else {
            return Vec::new();
        };
        if self.state(name) != Some(ServiceState::Queued) {
            return Vec::new(); // unloaded while verifying
        }
        let estimate = self.units.get(name).is_some_and(|u| u.spec.estimate);
        match result {
            Ok(()) if estimate => self.ask_estimate(name),
            Ok(()) => self.request(name, declared, now),
            Err(reason) => self.refuse_load(name, reason),
        }
    }

    /// A load refused before the gate saw it (weights that do not match their pin, a model
    /// that cannot be estimated): failed with the reason, nothing started.
    pub(super) fn refuse_load(&mut self, name: &str, reason: String) -> Vec<Action> {
        self.set(name, Phase::Failed, Some(reason.clone()));
        vec![
            Action::Event(
                NewEvent::new(LoadRefused {}, Some(name))
                    .message(format!("load refused, nothing started: {reason}")),
            ),
            Action::LoadFinished {
                name: name.into(),
                state: ServiceState::Failed,
                reason: Some(reason),
            },
        ]
    }

    pub(super) fn spawn_failed(&mut self, name: &str, error: String, now: Instant) -> Vec<Action> {
        let mut out = vec![Action::Event(
            NewEvent::new(SpawnFailed {}, Some(name)).message(format!("could not start: {error}")),
        )];
        if self.gate.in_flight() == Some(name) {
            out.extend(self.gate_step(GateInput::Exited { model: name.into() }, now));
        }
        self.set(
            name,
            Phase::Failed,
            Some(format!("could not start: {error}")),
        );
        out
    }

    pub(super) fn exited(
        &mut self,
        name: &str,
        pid: u32,
        code: Option<i32>,
        signal: Option<i32>,
        now: Instant,
    ) -> Vec<Action> {
        let Some(unit) = self.units.get_mut(name) else {
            return Vec::new();
        };
        // Only the exit of the process we track means anything; a late exit of an earlier
        // incarnation must not fail the load of the current one.
        if unit.pid() != Some(pid) {
            return Vec::new();
        }
        let Some(process) = unit.process.take() else {
            return Vec::new();
        };
        unit.memory = None;
        unit.gpu = None;
        unit.ready_wait = None;
        let expected = process.stop.is_some();
        let restart = process.stop == Some(StopIntent::ThenStart);
        let failed_load = match process.stop {
            Some(StopIntent::LoadFailed(reason)) => Some(reason),
            _ => None,
        };
        let supervisor_stop = match process.stop {
            Some(StopIntent::Supervisor(stop)) => Some(stop),
            _ => None,
        };
        let was = unit.state();
        let mut out = Vec::new();
        let exit = describe_exit(code, signal);
        let exited = |cause: String| {
            let figures = ServiceExited {
                cause,
                exit_code: code,
                signal,
            };
            NewEvent::new(figures, Some(name))
        };
        let event = match (&supervisor_stop, failed_load, expected) {
            (Some(stop), _, _) => exited(stop.cause.clone()).message(format!(
                "stopped by the supervisor ({}: {}): {exit}",
                stop.cause, stop.detail
            )),
            (None, Some(reason), _) => exited(failed_load_cause(reason))
                .severity(Severity::Info)
                .message(format!(
                    "stopped because its load failed ({reason}): {exit}"
                )),
            (None, None, true) => NewEvent::new(
                Unloaded {
                    exit_code: code,
                    signal,
                },
                Some(name),
            )
            .message("stopped on request"),
            (None, None, false) => exited("exit".into()).message(exit.clone()),
        };
        let ended = Ended { code, signal };
        out.push(Action::Event(event));
        // The watcher forgets the process at once: a leaking unit's reservation goes back to
        // the gate now, not at the next refresh (there may be none when nothing else runs).
        out.extend(self.unwatch(name, now));
        // The gate decides what an exit means for a load in flight (LoadFailed), and frees
        // the model's place for the next request either way.
        out.extend(self.gate_step(GateInput::Exited { model: name.into() }, now));
        let state_now = self.state(name);
        if state_now == Some(was) && was != ServiceState::Failed {
            let (phase, reason) = if expected && supervisor_stop.is_none() {
                (Phase::Stopped, None)
            } else {
                (Phase::Failed, Some(exit.clone()))
            };
            self.set(name, phase, reason);
        }
        if restart {
            if let Some(u) = self.units.get_mut(name) {
                u.restarts += 1;
            }
            if let Ok(actions) = self.load(name, now) {
                out.extend(actions);
            }
        } else if let Some(stop) = supervisor_stop {
            let why = format!("stopped by the supervisor ({}), {exit}", stop.cause);
            let cause = (stop.cause.as_str(), why.as_str());
            // The supervisor stops only a live unit; a load the gate failed meanwhile (its
            // load timeout during a ready timeout's grace) is still judged as that unit.
            let was = match was {
                ServiceState::Failed => ServiceState::Loading,
                other => other,
            };
            out.extend(self.judge_exit(name, was, process.started_at, ended, cause, now));
        } else if !expected {
            let cause = ("exit", exit.as_str());
            out.extend(self.judge_exit(name, was, process.started_at, ended, cause, now));
        }
        out
    }
}

/// The `cause` of the exit of a process stopped because its load failed: the kind of the
/// event that said why (`load_timed_out`, else `load_failed`).
fn failed_load_cause(reason: FailReason) -> String {
    match reason {
        FailReason::LoadTimeout { .. } | FailReason::SettleTimeout { .. } => {
            EventKind::LoadTimedOut.to_string()
        }
        _ => EventKind::LoadFailed.to_string(),
    }
}

pub(super) fn describe_exit(code: Option<i32>, signal: Option<i32>) -> String {
    match (code, signal) {
        (Some(c), _) => format!("exited with code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        (None, None) => "exited".to_string(),
    }
}
