//! Supervision as pure engine code: a start is recorded (`service_started`), liveness results
//! are counted K in a row (`health_failed` → a supervised stop), every unexpected end is judged
//! by the unit's restart policy (`restart_scheduled` with a timer, or `gave_up`), due restarts
//! fire on [`Input::Tick`](super::Input::Tick), and an operator's `load`/`restart` revives a unit
//! that gave up.
//!
//! Probe results and exits are keyed by pid: those of an earlier process change nothing.
//!
//! A stop's grace shortens to [`CRITICAL_STOP_GRACE`] while available memory is under the
//! reserve: a process that takes its full grace to exit holds memory a load or the kernel needs
//! now (`stop_hastened` carries the figures).

use std::time::{Duration, Instant};

use super::{Action, Engine, Phase, Process, Refusal, ServiceState, StopIntent, SupervisorStop};
use crate::event::figures::{
    GaveUp, HealthFailed, RestartCancelled, RestartScheduled, Revived, ServiceStarted, StopHastened,
};
use crate::event::{EventKind, NewEvent};
use crate::probe::Verdict;
use crate::supervisor::policy::Decision;

/// The longest grace a stop gets while available memory is under the reserve.
pub const CRITICAL_STOP_GRACE: Duration = Duration::from_secs(2);

/// How a process ended, for the supervisor's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ended {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Engine {
    /// The process of `name` started as `pid`.
    pub(super) fn spawned(&mut self, name: &str, pid: u32, now: Instant) -> Vec<Action> {
        let Some(u) = self.units.get_mut(name) else {
            return Vec::new();
        };
        u.process = Some(Process {
            pid,
            started_at: now,
            stop: None,
        });
        u.health.reset();
        let kind = if u.spec.declared.is_some() {
            "model"
        } else {
            "service"
        };
        let event = NewEvent::new(
            ServiceStarted {
                pid,
                kind: kind.into(),
                restarts: u.restarts,
                attempt: u.tracker.next_attempt(),
            },
            Some(name),
        )
        .message(format!("{kind} {name} started as pid {pid}"));
        let mut out = vec![Action::Event(event)];
        if u.spec.declared.is_none() && !u.spec.awaits_ready {
            out.extend(self.watch_health(name));
        }
        out
    }

    /// A service's ready probe passed: its liveness is watched from now on.
    pub(super) fn service_ready(&mut self, name: &str) -> Vec<Action> {
        let running = self.units.get(name).is_some_and(|u| {
            u.spec.declared.is_none() && u.spec.awaits_ready && u.phase == Phase::Running
        });
        if running {
            self.watch_health(name)
        } else {
            Vec::new()
        }
    }

    /// Liveness probing of the current process, if the unit has a probe.
    pub(super) fn watch_health(&self, name: &str) -> Vec<Action> {
        match self.units.get(name) {
            Some(u) if u.spec.health.is_some() && !u.stopping() => match u.pid() {
                Some(pid) => vec![Action::WatchHealth {
                    name: name.to_string(),
                    pid,
                }],
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// A supervisor decision made outside the engine (the watcher: a memory limit, a leak
    /// projected to reach its limit) stops the running process; its exit is then judged by the
    /// restart policy like a crash, so a unit that keeps passing its limit backs off and ends
    /// in `gave_up` instead of looping. `cause` is the kind of the event that decided it.
    pub fn intervene(
        &mut self,
        name: &str,
        cause: &str,
        detail: String,
        now: Instant,
    ) -> Result<Vec<Action>, Refusal> {
        self.tick_clock(now);
        let u = self
            .units
            .get_mut(name)
            .ok_or_else(|| Refusal::UnknownName(name.to_string()))?;
        let live = matches!(u.phase, Phase::Running | Phase::Ready);
        if u.pid().is_none() || u.stopping() || !live {
            return Err(Refusal::Already {
                name: name.to_string(),
                state: if u.stopping() {
                    "stopping"
                } else {
                    u.state().as_str()
                },
            });
        }
        u.reason = Some(format!("{cause}: {detail}"));
        u.ask_stop(StopIntent::Supervisor(SupervisorStop {
            cause: cause.to_string(),
            detail,
        }));
        let mut out = Vec::new();
        self.stop(name, &mut out);
        Ok(out)
    }

    /// One liveness result; K failures in a row stop the process for a supervised restart.
    pub(super) fn health_result(
        &mut self,
        name: &str,
        pid: u32,
        ok: bool,
        detail: String,
        now: Instant,
    ) -> Vec<Action> {
        let Some(u) = self.units.get_mut(name) else {
            return Vec::new();
        };
        let live = matches!(u.phase, Phase::Running | Phase::Ready);
        if u.pid() != Some(pid) || u.stopping() || !live {
            return Vec::new(); // an earlier process, or one already on its way out
        }
        let Some(spec) = u.spec.health.clone() else {
            return Vec::new();
        };
        if u.health.record(ok) != Verdict::Failed {
            return Vec::new();
        }
        let failures = u.health.failures();
        u.health.reset();
        let uptime = u
            .process
            .as_ref()
            .map_or(0, |p| ms(now.saturating_duration_since(p.started_at)));
        u.ask_stop(StopIntent::Supervisor(SupervisorStop {
            cause: EventKind::HealthFailed.as_str().into(),
            detail: detail.clone(),
        }));
        u.reason = Some(format!("health failed: {detail}"));
        let message = format!(
            "{} {} probe failures in a row ({detail}): restarting",
            failures, spec.kind
        );
        let event = NewEvent::new(
            HealthFailed {
                failures,
                probe: spec.kind.into(),
                detail,
                interval_ms: ms(spec.interval),
                timeout_ms: ms(spec.timeout),
                pid,
                uptime_ms: uptime,
            },
            Some(name),
        )
        .message(message);
        let mut out = vec![Action::Event(event)];
        self.stop(name, &mut out);
        out
    }

    /// SIGTERM, grace, SIGKILL; the grace shortens while memory is under the reserve.
    pub(super) fn stop(&mut self, name: &str, out: &mut Vec<Action>) {
        let Some(configured) = self.units.get(name).map(|u| u.spec.stop_grace) else {
            return;
        };
        let reserve = self.gate.config().reserve;
        let mut grace = configured;
        if let Some(available) = self.available.filter(|a| *a < reserve) {
            grace = configured.min(CRITICAL_STOP_GRACE);
            if grace < configured {
                out.push(Action::Event(
                    NewEvent::new(
                        StopHastened {
                            grace_ms: ms(grace),
                            configured_grace_ms: ms(configured),
                            available_bytes: available.get(),
                            reserve_bytes: reserve.get(),
                        },
                        Some(name),
                    )
                    .message(format!(
                        "available {available} is under the reserve {reserve}: stop grace \
                         {grace:?} instead of {configured:?}"
                    )),
                ));
            }
        }
        out.push(Action::Stop {
            name: name.to_string(),
            grace,
        });
    }

    /// The process of `name`, started at `started`, ended unasked (or after failed health
    /// checks) at `now`, in state `was`: restart it after a backoff, or give up. Returns nothing
    /// for a unit that is not supervised in that state (an aborted load stays failed: the gate
    /// decided).
    pub(super) fn judge_exit(
        &mut self,
        name: &str,
        was: ServiceState,
        started: Instant,
        ended: Ended,
        (cause, why): (&str, &str),
        now: Instant,
    ) -> Vec<Action> {
        let supervised = matches!(
            was,
            ServiceState::Running | ServiceState::Ready | ServiceState::Loading
        );
        let Some(u) = self.units.get_mut(name).filter(|_| supervised) else {
            return Vec::new();
        };
        let uptime = ms(now.saturating_duration_since(started));
        let policy = *u.tracker.policy();
        let event = match u.tracker.on_exit(now, started) {
            Decision::Restart { after, attempt } => {
                u.phase = Phase::BackingOff {
                    restart_at: now + after,
                };
                u.reason = Some(format!("{why}; restart attempt {attempt} after {after:?}"));
                NewEvent::new(
                    RestartScheduled {
                        attempt,
                        backoff_ms: ms(after),
                        ceiling_ms: ms(policy.ceiling(attempt)),
                        uptime_ms: uptime,
                        cause: cause.into(),
                        exit_code: ended.code,
                        signal: ended.signal,
                    },
                    Some(name),
                )
                .message(format!(
                    "{why}: restarting in {after:?} (attempt {attempt}, backoff ceiling {:?})",
                    policy.ceiling(attempt)
                ))
            }
            Decision::GiveUp {
                restarts_in_window,
                window,
            } => {
                u.phase = Phase::GaveUp;
                u.reason = Some(format!(
                    "gave up after {why}: {restarts_in_window} exits within {window:?}; \
                     `jetgate restart {name}` revives it"
                ));
                NewEvent::new(
                    GaveUp {
                        restarts_in_window,
                        window_ms: ms(window),
                        max_restarts: policy.max_restarts,
                        uptime_ms: uptime,
                        cause: cause.into(),
                        exit_code: ended.code,
                        signal: ended.signal,
                    },
                    Some(name),
                )
                .message(format!(
                    "crash loop: {restarts_in_window} exits within {window:?} (more than \
                     {}); no restart until an operator asks",
                    policy.max_restarts
                ))
            }
        };
        vec![Action::Event(event)]
    }

    /// Starts every unit whose backoff has run out by `now`.
    pub(super) fn fire_due_restarts(&mut self, now: Instant) -> Vec<Action> {
        let due: Vec<String> = self
            .units
            .values()
            .filter(|u| matches!(u.phase, Phase::BackingOff { restart_at } if restart_at <= now))
            .map(|u| u.spec.name.clone())
            .collect();
        let mut out = Vec::new();
        for name in due {
            if let Some(u) = self.units.get_mut(&name) {
                u.restarts += 1;
                u.reason = None;
            }
            out.extend(self.start_unit(&name, now));
        }
        out
    }

    /// `unload` of a unit backing off: the pending restart is cancelled.
    pub(super) fn cancel_restart(&mut self, name: &str) -> Vec<Action> {
        let Some(u) = self.units.get_mut(name) else {
            return Vec::new();
        };
        u.phase = Phase::Stopped;
        u.reason = Some("unloaded while backing off".into());
        vec![Action::Event(
            NewEvent::new(
                RestartCancelled {
                    restarts: u.restarts,
                },
                Some(name),
            )
            .message("unloaded while backing off: the pending restart is cancelled"),
        )]
    }

    /// An operator asked for a unit that gave up: forget the crash loop.
    pub(super) fn revive(&mut self, name: &str) -> Vec<Action> {
        let Some(u) = self.units.get_mut(name) else {
            return Vec::new();
        };
        if !u.tracker.has_given_up() {
            return Vec::new();
        }
        u.tracker.revive();
        vec![Action::Event(
            NewEvent::new(
                Revived {
                    restarts: u.restarts,
                    state: u.state().as_str().into(),
                },
                Some(name),
            )
            .message("an operator asked again: the crash-loop count starts over"),
        )]
    }
}
