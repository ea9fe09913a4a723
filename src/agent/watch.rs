//! The per-unit watcher: memory limits, fd and thread limits, and leak trends, as pure code.
//!
//! The daemon reads every running unit's process tree once a second (off the core loop) and
//! feeds each unit's [`Observation`] here with `now`; [`Watch::observe`] returns
//! [`WatchAction`]s: events to store, restarts to ask of the engine, and reservations for the
//! gate. No clock reads, no I/O (docs/architecture.md, "Conventions"). Sizes are [`Bytes`]; slopes bytes per hour.
//!
//! Decisions, each an event with its figures:
//!
//! ```text
//! tree PSS + GPU > limit                ─► memory_limit_exceeded (error) + restart
//! fds > max_fds, threads > max_threads  ─► fd_limit_exceeded / thread_limit_exceeded, once per
//!                                          excursion (back at or under the limit ends it);
//!                                          on_limit = "restart": error + restart
//! verdict turns leaking                 ─► leak_suspected (warning), once per episode, and the
//!                                          gate holds slope × window of projected growth
//! leaking, leak.restart, projected time
//!   to the limit ≤ LEAK_RESTART_LEAD    ─► leak_restart (warning) + restart
//! leaking ends (same process)           ─► leak_cleared (info), reservation released
//! ```
//!
//! Trend samples are the limited figure (tree PSS plus GPU memory where known), taken only
//! while the unit serves (a model ready, a service running) and not during the first
//! `leak.warmup` of that; a verdict then needs samples spanning `leak.warmup` again, so a
//! server's warm-up growth is never fitted. Each new process (a new pid) starts a fresh trend
//! and a fresh episode; at most one restart is asked per process.
//!
//! The projection is against the unit's `limit`; without one, against its current memory plus
//! what is available above the gate's reserve (`limit_from: "reserve"`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::config::{Config, OnLimit, ProgramConfig};
use crate::event::figures::{FdLimitExceeded, MemoryLimitExceeded, ThreadLimitExceeded};
use crate::event::{EventKind, NewEvent, Severity};
use crate::status::{LimitFrom, TrendView};
use crate::supervisor::trend::{Assessment, Trend, TrendConfig};
use crate::units::Bytes;

/// A leaking unit with `leak.restart` is restarted once its projected time to the limit falls
/// to this: longer than the default 10 s stop grace plus two 1 s refreshes, so the stop
/// finishes before the limit is reached at the projected rate.
pub const LEAK_RESTART_LEAD: Duration = Duration::from_secs(30);

/// Key prefix of a leaking unit's reservation in the gate (`leak:api`).
pub const RESERVATION_PREFIX: &str = "leak:";

/// What the configuration says to watch on one unit.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchSpec {
    pub limit: Option<Bytes>,
    pub max_fds: Option<u64>,
    pub max_threads: Option<u64>,
    pub on_limit: OnLimit,
    pub leak_window: Duration,
    pub leak_warmup: Duration,
    pub leak_restart: bool,
}

impl WatchSpec {
    pub fn from_program(p: &ProgramConfig) -> WatchSpec {
        WatchSpec {
            limit: p.limit,
            max_fds: p.max_fds,
            max_threads: p.max_threads,
            on_limit: p.on_limit,
            leak_window: p.leak.window.0,
            leak_warmup: p.leak.warmup.0,
            leak_restart: p.leak.restart,
        }
    }
}

/// One unit's tree as the daemon's refresh read it (off the core loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeReading {
    pub pid: u32,
    pub tree_pss: Bytes,
    /// The file-backed share of `tree_pss` (mmap'd weights), where the kernel splits PSS.
    pub pss_file: Option<Bytes>,
    /// Per-process GPU memory (nvmap, else NVML) summed over the members; `None` where
    /// neither is readable.
    pub gpu: Option<Bytes>,
    pub fds: Option<u64>,
    pub threads: u64,
    /// When the tree was read: the trend's sample time.
    pub taken_at: Instant,
}

/// One refresh of one unit's process tree, with what the core knows about the unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// The tree's root (the process the engine started).
    pub pid: u32,
    pub tree_pss: Bytes,
    /// GPU memory of the tree's members (nvmap, else NVML), where known per process.
    pub gpu: Option<Bytes>,
    /// Open fds over the tree; `None` when no member's fd directory was readable.
    pub fds: Option<u64>,
    pub threads: u64,
    /// A model ready or a service running: only then is its memory trended.
    pub serving: bool,
    /// Available memory above the gate's reserve, for the projection of a unit with no limit.
    pub room: Option<Bytes>,
}

impl Observation {
    /// The figure limits and trends are on: tree PSS plus GPU memory where known.
    pub fn memory(&self) -> Bytes {
        self.tree_pss + self.gpu.unwrap_or(Bytes::ZERO)
    }
}

/// A decision for the daemon.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchAction {
    Event(NewEvent),
    /// Stop the unit for a supervised restart (the engine's `intervene`: the exit is judged
    /// by the restart policy, so a unit that keeps passing its limit ends in `gave_up`).
    /// `cause` is the kind of the event that decided it.
    Restart {
        name: String,
        cause: String,
    },
    /// Hold `bytes` out of new loads' budget under `key`.
    Reserve {
        key: String,
        bytes: Bytes,
    },
    Release {
        key: String,
    },
}

/// One process's watch state.
#[derive(Debug, Clone)]
struct Watched {
    pid: u32,
    trend: Trend,
    /// Since when the unit serves (trend samples start `warmup` after it).
    serving_since: Option<Instant>,
    /// Origin of the trend's sample times.
    origin: Instant,
    fds_over: bool,
    threads_over: bool,
    restart_asked: bool,
    reserved: Bytes,
    last: Option<(Assessment, Option<(Bytes, LimitFrom)>)>,
}

/// Every unit's watch state. One owner: the daemon's core loop.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    specs: BTreeMap<String, WatchSpec>,
    units: BTreeMap<String, Watched>,
}

impl Watch {
    pub fn new(specs: BTreeMap<String, WatchSpec>) -> Watch {
        Watch {
            specs,
            units: BTreeMap::new(),
        }
    }

    /// The specs of every configured model and service.
    pub fn from_config(config: &Config) -> Watch {
        let programs = config.models.iter().map(|m| &m.program);
        let programs = programs.chain(config.services.iter().map(|s| &s.program));
        Watch::new(
            programs
                .map(|p| (p.name.clone(), WatchSpec::from_program(p)))
                .collect(),
        )
    }

    /// Judges one refresh of `name`'s tree at `now`.
    pub fn observe(&mut self, name: &str, obs: &Observation, now: Instant) -> Vec<WatchAction> {
        let Some(spec) = self.specs.get(name).cloned() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if self.units.get(name).is_some_and(|w| w.pid != obs.pid) {
            out.extend(self.gone(name)); // a new process: a fresh trend and episode
        }
        let w = self
            .units
            .entry(name.to_string())
            .or_insert_with(|| Watched {
                pid: obs.pid,
                trend: Trend::new(TrendConfig {
                    window: spec.leak_window,
                    warmup: spec.leak_warmup.min(spec.leak_window),
                    ..TrendConfig::default()
                }),
                serving_since: None,
                origin: now,
                fds_over: false,
                threads_over: false,
                restart_asked: false,
                reserved: Bytes::ZERO,
                last: None,
            });
        limits(name, &spec, w, obs, &mut out);
        leak(name, &spec, w, obs, now, &mut out);
        out
    }

    /// `name` has no process any more: its reservation is released and its state dropped.
    pub fn gone(&mut self, name: &str) -> Vec<WatchAction> {
        match self.units.remove(name) {
            Some(w) if w.reserved > Bytes::ZERO => vec![WatchAction::Release {
                key: reservation_key(name),
            }],
            _ => Vec::new(),
        }
    }

    /// The configured `limit` of `name`.
    pub fn limit(&self, name: &str) -> Option<Bytes> {
        self.specs.get(name).and_then(|s| s.limit)
    }

    /// Units being watched (those with a process at the last refresh).
    pub fn watched(&self) -> impl Iterator<Item = &str> {
        self.units.keys().map(String::as_str)
    }

    /// The trend of `name` for the views; `None` when it has no process.
    pub fn view(&self, name: &str) -> Option<TrendView> {
        let w = self.units.get(name)?;
        let window = self
            .specs
            .get(name)
            .map_or(0.0, |s| s.leak_window.as_secs_f64());
        let (a, limit) = match &w.last {
            Some((a, limit)) => (*a, *limit),
            None => (w.trend.verdict(None, Bytes::ZERO), None),
        };
        Some(TrendView {
            verdict: a.verdict,
            slope_bytes_per_hour: a.slope_bytes_per_hour.round() as i64,
            quality: round3(a.quality),
            samples: a.samples,
            window_s: round3(a.window_secs),
            configured_window_s: window,
            projected_s: a.time_to_limit.map(|d| round3(d.as_secs_f64())),
            limit_bytes: limit.map(|(b, _)| b.get()),
            limit_from: limit.map(|(_, from)| from),
            reserved_bytes: w.reserved.get(),
        })
    }
}

/// The gate reservation key of a leaking unit.
pub fn reservation_key(name: &str) -> String {
    format!("{RESERVATION_PREFIX}{name}")
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Asks for one restart of this process.
fn restart(name: &str, cause: &str, w: &mut Watched, out: &mut Vec<WatchAction>) {
    if !std::mem::replace(&mut w.restart_asked, true) {
        out.push(WatchAction::Restart {
            name: name.to_string(),
            cause: cause.to_string(),
        });
    }
}

/// The memory limit, then fds and threads.
fn limits(
    name: &str,
    spec: &WatchSpec,
    w: &mut Watched,
    obs: &Observation,
    out: &mut Vec<WatchAction>,
) {
    let memory = obs.memory();
    if let Some(limit) = spec.limit {
        if memory > limit && !w.restart_asked {
            out.push(WatchAction::Event(
                NewEvent::new(
                    MemoryLimitExceeded {
                        tree_pss_bytes: obs.tree_pss.get(),
                        gpu_bytes: obs.gpu.map(Bytes::get),
                        memory_bytes: memory.get(),
                        limit_bytes: limit.get(),
                        pid: obs.pid,
                    },
                    Some(name),
                )
                .message(format!(
                    "tree memory {memory} passed the limit {limit}: restarting"
                )),
            ));
            restart(name, EventKind::MemoryLimitExceeded.as_str(), w, out);
        }
    }
    // Each count with the event of its kind: (subject, count, max, pid, on_limit) → event.
    type Event = fn(Option<&str>, u64, u64, u32, String) -> NewEvent;
    let fd_event: Event = |subject, fds, max_fds, pid, on_limit| {
        NewEvent::new(
            FdLimitExceeded {
                fds,
                max_fds,
                pid,
                on_limit,
            },
            subject,
        )
    };
    let thread_event: Event = |subject, threads, max_threads, pid, on_limit| {
        NewEvent::new(
            ThreadLimitExceeded {
                threads,
                max_threads,
                pid,
                on_limit,
            },
            subject,
        )
    };
    let counts = [
        (
            EventKind::FdLimitExceeded,
            fd_event,
            "fds",
            "max_fds",
            obs.fds,
            spec.max_fds,
            &mut w.fds_over,
        ),
        (
            EventKind::ThreadLimitExceeded,
            thread_event,
            "threads",
            "max_threads",
            Some(obs.threads),
            spec.max_threads,
            &mut w.threads_over,
        ),
    ];
    let mut wants_restart = None;
    for (kind, event, figure, max_name, count, max, over) in counts {
        let (Some(count), Some(max)) = (count, max) else {
            continue;
        };
        if count <= max {
            *over = false;
            continue;
        }
        if std::mem::replace(over, true) {
            continue; // the same excursion
        }
        let restarting = spec.on_limit == OnLimit::Restart && !w.restart_asked;
        let on_limit = if restarting { "restart" } else { "warn" };
        let event = event(Some(name), count, max, obs.pid, on_limit.to_string());
        let event = if restarting {
            event.severity(Severity::Error)
        } else {
            event
        };
        let then = if restarting {
            "restarting"
        } else {
            "warning only"
        };
        out.push(WatchAction::Event(event.message(format!(
            "{count} {figure} in the tree passed {max_name} {max}: {then}"
        ))));
        if restarting && wants_restart.is_none() {
            wants_restart = Some(kind);
        }
    }
    if let Some(cause) = wants_restart {
        restart(name, cause.as_str(), w, out);
    }
}

mod leak;
use leak::leak;

#[cfg(test)]
mod tests;
