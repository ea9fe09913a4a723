//! Liveness probes of running units, off the core loop: one tokio task per unit probes every
//! `interval` (the first check one interval after the start), each check bounded by `timeout`
//! (http and tcp time out; exec kills its process group; heartbeat watches the file's mtime
//! change on the monotonic clock, blind to wall-clock steps), and feeds each result back as [`Input::Health`] keyed by the pid it
//! watches, so a result about an earlier process is ignored by the engine.
//!
//! The task ends when the unit is stopped, killed or exits (`cancel_probe`), or when the core
//! loop stops listening.
#![allow(clippy::disallowed_methods)] // a heartbeat's first look reads its wall-clock age

use std::time::{Duration, Instant, SystemTime};

use tokio::time::MissedTickBehavior;

use super::{Executor, Feedback};
use crate::agent::engine::Input;
use crate::probe::ProbeOutcome;

impl Executor {
    /// Starts probing the liveness of `pid`, replacing any earlier watch of `name`.
    pub(super) fn watch_health(&mut self, name: &str, pid: u32) {
        if let Some(task) = self.health.remove(name) {
            task.abort();
        }
        let Some(plan) = self.launches.get(name).and_then(|l| l.health.clone()) else {
            return;
        };
        let feedback = self.feedback.clone();
        let unit = name.to_string();
        let interval = plan.interval.max(Duration::from_millis(10));
        let mut probe = plan.probe.clone();
        let task = self.tasks.spawn_until_shutdown(async move {
            let start = tokio::time::Instant::now() + interval;
            let mut ticks = tokio::time::interval_at(start, interval);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let outcome = match probe
                    .check(plan.timeout, SystemTime::now(), Instant::now())
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(e) => ProbeOutcome::fail(e.to_string(), Duration::ZERO),
                };
                let input = Input::Health {
                    name: unit.clone(),
                    pid,
                    ok: outcome.ok,
                    detail: outcome.detail,
                };
                if feedback.send(Feedback::Engine(input)).is_err() {
                    return;
                }
            }
        });
        self.health.insert(name.to_string(), task.abort_handle());
    }
}
