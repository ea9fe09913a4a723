//! `ready.timeout` as a pure decision: a unit whose ready probe has not passed within its
//! timeout has failed to start. The wait starts when the engine asks for the start (a
//! model's admission, a service's spawn), ends when the probe passes or the process ends, and
//! is judged at every input's `now` (the timer is [`Input::Tick`](super::Input::Tick)).
//!
//! ```text
//! Loading/Running, probe not passed, now ≥ since + timeout
//!   ─► ready_timeout {timeout_ms, waited_ms, pid} ─► supervised stop ─(exit)─► restart policy
//! ```
//!
//! Like a crash, the exit that follows goes to the restart policy (`restart_scheduled`, or
//! `gave_up` once the crash-loop cap is passed): a probe that hangs never leaves a unit
//! `running` or `loading` forever. For a model the gate's `gate.load_timeout` still bounds the
//! whole load (admission to settled); both clocks start at admission, and this one is judged
//! first at the same instant, so a `ready.timeout` equal to `gate.load_timeout` acts
//! (`config check` refuses a longer one: it could never act).

use std::time::{Duration, Instant};

use super::{Action, Engine, Phase, StopIntent, SupervisorStop};
use crate::event::figures::ReadyTimeout;
use crate::event::{EventKind, NewEvent};

/// A ready probe being waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ReadyWait {
    pub since: Instant,
    pub timeout: Duration,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Engine {
    /// The start of `name` was asked for at `now`: its ready probe is waited for from now.
    pub(super) fn await_ready(&mut self, name: &str, now: Instant) {
        if let Some(u) = self.units.get_mut(name) {
            u.ready_wait = u.spec.ready_timeout.map(|timeout| ReadyWait {
                since: now,
                timeout,
            });
        }
    }

    /// The ready probe of `name` passed: nothing is waited for any more.
    pub(super) fn ready_passed(&mut self, name: &str) {
        if let Some(u) = self.units.get_mut(name) {
            u.ready_wait = None;
        }
    }

    /// Every unit whose ready probe ran out of time by `now` is stopped as a failed start.
    pub(super) fn expire_ready_waits(&mut self, now: Instant) -> Vec<Action> {
        let due: Vec<String> = self
            .units
            .values()
            .filter(|u| {
                let waiting = matches!(u.phase, Phase::Loading | Phase::Running);
                u.ready_wait
                    .is_some_and(|w| now.saturating_duration_since(w.since) >= w.timeout)
                    && waiting
                    && u.pid().is_some()
                    && !u.stopping()
            })
            .map(|u| u.spec.name.clone())
            .collect();
        let mut out = Vec::new();
        for name in due {
            out.extend(self.ready_timed_out(&name, now));
        }
        out
    }

    fn ready_timed_out(&mut self, name: &str, now: Instant) -> Vec<Action> {
        let Some(u) = self.units.get_mut(name) else {
            return Vec::new();
        };
        let (Some(wait), Some(pid)) = (u.ready_wait.take(), u.pid()) else {
            return Vec::new();
        };
        let waited = now.saturating_duration_since(wait.since);
        let kind = if u.spec.declared.is_some() {
            "model"
        } else {
            "service"
        };
        let detail = format!(
            "ready probe not passed within ready.timeout {:?} (waited {:?})",
            wait.timeout, waited
        );
        u.reason = Some(format!("ready_timeout: {detail}"));
        u.ask_stop(StopIntent::Supervisor(SupervisorStop {
            cause: EventKind::ReadyTimeout.as_str().into(),
            detail: detail.clone(),
        }));
        let event = NewEvent::new(
            ReadyTimeout {
                timeout_ms: ms(wait.timeout),
                waited_ms: ms(waited),
                pid,
                kind: kind.into(),
            },
            Some(name),
        )
        .message(format!(
            "{kind} {name}: {detail}: stopping it as a failed start"
        ));
        let mut out = vec![Action::Event(event)];
        self.stop(name, &mut out);
        out
    }
}
