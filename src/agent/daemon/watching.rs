//! The watcher's I/O edge: reading each running unit's tree (PSS, GPU memory, fds, threads)
//! on the refresh's blocking thread, and carrying out the pure watcher's decisions in the core
//! loop: events stored, restarts through the engine, reservations through the gate.
#![allow(clippy::disallowed_methods)] // stamps each tree reading and decision with the monotonic clock

use std::collections::BTreeSet;
use std::time::Instant;

use super::Agent;
use crate::agent::engine::Action;
use crate::agent::watch::{Observation, TreeReading, WatchAction};
use crate::event::NewEvent;
use crate::sources::nvmap::read_nvmap_clients;
use crate::sources::TreeSampler;
use crate::status::ServiceState;

/// Reads each `(name, pid)` tree at full detail (fds included); GPU memory from nvmap's
/// per-process figures, read once for all trees, where this board and user can read them.
pub(super) fn read_trees(
    reader: &mut TreeSampler,
    pids: Vec<(String, u32)>,
) -> Vec<(String, Option<TreeReading>)> {
    let nvmap = read_nvmap_clients(reader.reader().root()).ok();
    let mut members = Vec::new();
    pids.into_iter()
        .map(|(name, pid)| {
            let totals = reader.sample(pid).ok().flatten();
            let reading = totals.map(|t| {
                members.clear();
                members.extend(reader.members().iter().map(|m| m.pid));
                TreeReading {
                    pid,
                    tree_pss: t.pss,
                    gpu: nvmap.as_ref().map(|c| c.for_pids(&members)),
                    fds: (t.fds_unknown < t.processes).then_some(t.fds),
                    threads: t.threads,
                    taken_at: Instant::now(),
                }
            });
            (name, reading)
        })
        .collect()
}

impl Agent {
    /// Applies one refresh: memory for the views, then the watcher's judgement of each tree.
    pub(super) fn memory_refreshed(&mut self, figures: Vec<(String, Option<TreeReading>)>) {
        let reserve = self.engine.gate().config().reserve;
        let room = self
            .latest
            .as_ref()
            .map(|(s, _)| s.available.saturating_sub(reserve));
        let live: BTreeSet<(String, u32)> = self.engine.pids().into_iter().collect();
        for (name, reading) in figures {
            self.engine.set_memory(
                &name,
                reading.as_ref().map(|r| r.tree_pss),
                reading.as_ref().and_then(|r| r.gpu),
            );
            // A reading of a process that has since been replaced judges nothing.
            let Some(r) = reading.filter(|r| live.contains(&(name.clone(), r.pid))) else {
                continue;
            };
            let serving = matches!(
                self.engine.state(&name),
                Some(ServiceState::Ready | ServiceState::Running)
            );
            let obs = Observation {
                pid: r.pid,
                tree_pss: r.tree_pss,
                gpu: r.gpu,
                fds: r.fds,
                threads: r.threads,
                serving,
                room,
            };
            let actions = self.watch.observe(&name, &obs, r.taken_at);
            self.watched(actions);
            self.engine.set_trend(&name, self.watch.view(&name));
        }
        let gone: Vec<String> = self
            .watch
            .watched()
            .filter(|n| !live.iter().any(|(name, _)| name == n))
            .map(str::to_string)
            .collect();
        for name in gone {
            let actions = self.watch.gone(&name);
            self.watched(actions);
            self.engine.set_trend(&name, None);
        }
    }

    /// Carries out the watcher's decisions, in order.
    fn watched(&mut self, actions: Vec<WatchAction>) {
        for action in actions {
            let now = Instant::now();
            match action {
                WatchAction::Event(event) => self.drive(vec![Action::Event(event)]),
                WatchAction::Restart { name, cause } => match self.engine.intervene(
                    &name,
                    &cause,
                    format!("the watcher decided ({cause})"),
                    now,
                ) {
                    Ok(actions) => self.drive(actions),
                    Err(refusal) => {
                        self.executor.record(
                            NewEvent::warning("restart_refused", Some(&name))
                                .message(format!("the watcher's restart was refused: {refusal}")),
                        );
                    }
                },
                WatchAction::Reserve { key, bytes } => {
                    let actions = self.engine.reserve(&key, Some(bytes), now);
                    self.drive(actions);
                }
                WatchAction::Release { key } => {
                    let actions = self.engine.reserve(&key, None, now);
                    self.drive(actions);
                }
            }
        }
    }
}
