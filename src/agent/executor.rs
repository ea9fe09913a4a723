//! The executor: carries out the engine's [`Action`]s (spawn, kill, stop, store, reply) and turns
//! what happens to children (exits, output lines, probe results, weights hashes) back into
//! engine [`Input`]s. It owns the runner's child handles, the ready probes, the store and the
//! requesters waiting on a load.
//!
//! Inputs that follow an action at once (a spawn's pid, a cached weights hash) are returned
//! from [`Executor::execute`] so the core applies them before anything else can interleave;
//! slower outcomes (probes, hashing, zombie reaping) arrive later on the feedback channel.
//!
//! - `health.rs`: liveness probes of running units, off the core loop.
//! - `zombies.rs`: reaping adopted orphans on a blocking thread, counted, events rate-limited.
//! - `reaction.rs`: how fast an abort's kill followed the floor crossing.
//! - `stopping.rs`: a stop or kill that failed (or a tree that survived SIGKILL) as its event.
//! - `weights.rs`: pinned weights verified before a load.
//! - `estimate.rs`: a `memory = "auto"` model's memory estimated from its weights before a load.
#![allow(clippy::disallowed_methods)] // stamps footprints with the wall clock

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use crate::agent::engine::{Action, Input};
use crate::agent::launch::Launch;
use crate::clock;
use crate::config::ReadyCheck;
use crate::control::Response;
use crate::event::figures::CgroupLeft;
use crate::event::NewEvent;
use crate::probe::{file_exists, http_get, tcp_connect, HttpTarget, LogMatcher};
use crate::runner::{ChildExit, ChildOutput, Runner, RunningChild};
use crate::status::{LoadOutcome, ServiceState};
use crate::store::hash::FileStamp;
use crate::store::{Footprint, StoreWriter};
use crate::tasks::Tasks;
use crate::units::Bytes;

/// How often an http, tcp or file ready probe is tried while a model loads.
pub const READY_POLL: Duration = Duration::from_millis(100);
/// How long one ready-probe attempt may take.
pub const READY_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);

/// The reading being applied and the one before it, so an abort can say how fast it reacted.
#[derive(Debug, Clone, Copy)]
pub struct ReadingContext {
    pub available: Bytes,
    pub taken_at: Instant,
    /// The previous reading (available, when), if any.
    pub previous: Option<(Bytes, Instant)>,
}

/// Outcomes that arrive later, on the feedback channel.
#[derive(Debug)]
pub enum Feedback {
    Engine(Input),
    /// A refresh of the units' trees has ended (each tree came as its own
    /// [`Input::Tree`]); the reader is handed back for the next refresh.
    TreesRead {
        reader: Box<crate::sources::TreeSampler>,
    },
    Hashed {
        name: String,
        path: PathBuf,
        stamp: Option<FileStamp>,
        result: Result<String, String>,
    },
    /// Zombies reaped by one scan.
    Reaped {
        count: usize,
    },
    /// A container unit's pinned image was compared with the engine's local digests.
    ImageChecked {
        name: String,
        result: Result<(), String>,
    },
}

mod containers;
mod estimate;
mod health;
mod reaction;
mod stopping;
mod weights;
mod zombies;

pub use reaction::crossing;
pub use zombies::{ZombieCount, REAP_INTERVAL, ZOMBIE_EVENT_EVERY};

pub struct Executor {
    runner: Runner,
    launches: HashMap<String, Launch>,
    children: HashMap<String, RunningChild>,
    probes: HashMap<String, AbortHandle>,
    /// Liveness probe tasks, by unit.
    health: HashMap<String, AbortHandle>,
    log_matchers: HashMap<String, LogMatcher>,
    waiters: HashMap<String, Vec<oneshot::Sender<Response>>>,
    /// The store's one writer: events, footprints and hashes are sent to it, never written
    /// on the core loop.
    store: StoreWriter,
    feedback: mpsc::UnboundedSender<Feedback>,
    reading: Option<ReadingContext>,
    /// When the last kill signal was sent (for the abort's timing figures).
    last_kill: Option<Instant>,
    zombies: ZombieCount,
    /// Stops, probes, hashes and zombie scans are spawned through the agent's tasks.
    tasks: Tasks,
    /// A child was ever started (only then can orphans, and so zombies, come to us).
    spawned_any: bool,
}

impl Executor {
    pub fn new(
        runner: Runner,
        launches: HashMap<String, Launch>,
        store: StoreWriter,
        feedback: mpsc::UnboundedSender<Feedback>,
        tasks: Tasks,
    ) -> Executor {
        Executor {
            runner,
            launches,
            children: HashMap::new(),
            probes: HashMap::new(),
            health: HashMap::new(),
            log_matchers: HashMap::new(),
            waiters: HashMap::new(),
            store,
            feedback,
            reading: None,
            last_kill: None,
            zombies: ZombieCount::default(),
            tasks,
            spawned_any: false,
        }
    }

    /// The reading about to be applied (set before each reading is fed to the engine).
    pub fn set_reading(&mut self, context: ReadingContext) {
        self.reading = Some(context);
    }

    pub fn store(&self) -> &StoreWriter {
        &self.store
    }

    /// Sends an event to the store without waiting; a store failure is logged by the writer,
    /// never fatal (the event is traced here first).
    pub fn record(&mut self, event: NewEvent) {
        event.log();
        self.store.record(event);
    }

    /// Answers `load --wait` once the load of `name` ends.
    pub fn wait_for(&mut self, name: &str, reply: oneshot::Sender<Response>) {
        let waiting = self.waiters.entry(name.to_string()).or_default();
        waiting.retain(|w| !w.is_closed()); // hung up; the rest are bounded by MAX_CONNECTIONS
        waiting.push(reply);
    }

    /// Carries out `actions` in order; returns inputs that follow from them at once.
    pub fn execute(&mut self, actions: Vec<Action>) -> Vec<Input> {
        let mut follow = Vec::new();
        for action in actions {
            match action {
                Action::KillNow { name } => self.kill_now(&name),
                Action::Spawn { name } => follow.extend(self.spawn(&name)),
                Action::WatchHealth { name, pid } => self.watch_health(&name, pid),
                Action::Stop { name, grace } => self.stop(&name, grace),
                Action::Event(event) => {
                    let event = self.with_reaction_figures(event);
                    self.record(event);
                }
                Action::RecordFootprint { name, footprint } => {
                    let now_ms = clock::now_unix_ms();
                    let what = format!("footprint of {name} not stored");
                    self.store.submit(what, move |store| {
                        let previous = store.footprint(&name)?;
                        // The learned peak is raised only by `RecordPeak` (past the gate's
                        // tolerance), so a restart gates on what this run would have.
                        let fp = Footprint {
                            peak_bytes: previous.map_or(Bytes::ZERO, |p| p.peak_bytes),
                            settled_bytes: footprint.available_drop_bytes,
                            tree_pss_bytes: footprint.tree_pss_bytes.unwrap_or(Bytes::ZERO),
                            gpu_bytes: footprint.gpu_bytes,
                            anon_bytes: footprint.anon_bytes,
                            file_bytes: footprint.file_bytes,
                            loads: previous.map_or(0, |p| p.loads) + 1,
                            updated_ms: now_ms,
                        };
                        store.record_footprint(&name, fp).map(drop)
                    });
                }
                Action::RecordPeak { name, peak } => self.record_peak(&name, peak),
                Action::LoadFinished {
                    name,
                    state,
                    reason,
                } => self.answer_waiters(&name, state, reason),
                Action::VerifyWeights { name } => follow.extend(self.verify_pins(&name)),
                Action::Estimate { name } => self.estimate(&name),
                Action::RecordEstimateRatio {
                    name,
                    estimate,
                    ratio,
                } => self.store.submit(
                    format!("estimate ratio of {name} not stored"),
                    move |store| {
                        store
                            .record_estimate_ratio(&name, estimate, ratio)
                            .map(drop)
                    },
                ),
            }
        }
        follow
    }

    fn record_peak(&mut self, name: &str, peak: Bytes) {
        let now_ms = clock::now_unix_ms();
        let key = name.to_string();
        self.store
            .submit(format!("learned peak of {name} not stored"), move |store| {
                let fp = match store.footprint(&key)? {
                    Some(p) => Footprint {
                        peak_bytes: peak,
                        updated_ms: now_ms,
                        ..p
                    },
                    None => Footprint {
                        peak_bytes: peak,
                        settled_bytes: Bytes::ZERO,
                        tree_pss_bytes: Bytes::ZERO,
                        gpu_bytes: None,
                        anon_bytes: None,
                        file_bytes: None,
                        loads: 0,
                        updated_ms: now_ms,
                    },
                };
                store.record_footprint(&key, fp).map(drop)
            });
    }

    fn answer_waiters(&mut self, name: &str, state: ServiceState, reason: Option<String>) {
        for waiter in self.waiters.remove(name).unwrap_or_default() {
            let _ = waiter.send(Response::ok(LoadOutcome {
                name: name.to_string(),
                state,
                reason: reason.clone(),
            }));
        }
    }

    /// The cgroup of `name` when it runs as a container: its tree is read from the cgroup's
    /// members, not from the client's descendants.
    pub fn container_cgroup(&self, name: &str) -> Option<std::path::PathBuf> {
        let child = self.children.get(name)?;
        child.container_cgroup().map(|cg| cg.path.clone())
    }

    fn kill_now(&mut self, name: &str) {
        if let Some(child) = self.children.get(name) {
            if let Err(e) = child.kill_now() {
                let event = stopping::stop_failure_event(name, stopping::Step::Kill, &e);
                self.record(event);
            }
            self.last_kill = Some(Instant::now());
        }
        self.cancel_probe(name);
    }

    fn stop(&mut self, name: &str, grace: Duration) {
        self.cancel_probe(name);
        if let Some(child) = self.children.get(name).cloned() {
            let name = name.to_string();
            let store = self.store.clone();
            self.tasks.spawn(async move {
                if let Err(e) = child.stop(grace).await {
                    let event = stopping::stop_failure_event(&name, stopping::Step::Stop, &e);
                    event.log();
                    store.record(event);
                }
            });
        }
    }

    fn spawn(&mut self, name: &str) -> Vec<Input> {
        let Some(launch) = self.launches.get(name).cloned() else {
            return vec![Input::SpawnFailed {
                name: name.into(),
                error: "not in the launch plan".into(),
            }];
        };
        let child = match self.runner.spawn(&launch.spec) {
            Ok(child) => child,
            Err(e) => {
                return vec![Input::SpawnFailed {
                    name: name.into(),
                    error: e.to_string(),
                }]
            }
        };
        let pid = u32::try_from(child.pid()).unwrap_or(0);
        self.spawned_any = true;
        self.children.insert(name.to_string(), child);
        let spawned = Input::Spawned {
            name: name.into(),
            pid,
        };
        match launch.ready {
            None => vec![spawned],
            Some(check) => {
                self.start_ready_probe(name, check);
                vec![spawned]
            }
        }
    }

    fn start_ready_probe(&mut self, name: &str, check: ReadyCheck) {
        let passed = Feedback::Engine(Input::ReadyProbePassed { name: name.into() });
        let feedback = self.feedback.clone();
        let task = match check {
            ReadyCheck::Log(pattern) => {
                match LogMatcher::new(&pattern) {
                    Ok(m) => {
                        self.log_matchers.insert(name.to_string(), m);
                    }
                    Err(e) => tracing::error!("ready probe of {name}: {e}"),
                }
                return;
            }
            ReadyCheck::Http(url) => match HttpTarget::parse(&url) {
                Ok(target) => self.tasks.spawn_until_shutdown(async move {
                    while !http_get(&target, READY_ATTEMPT_TIMEOUT).await.ok {
                        tokio::time::sleep(READY_POLL).await;
                    }
                    let _ = feedback.send(passed);
                }),
                Err(e) => {
                    tracing::error!("ready probe of {name}: {e}");
                    return;
                }
            },
            ReadyCheck::Tcp(addr) => self.tasks.spawn_until_shutdown(async move {
                while !tcp_connect(&addr, READY_ATTEMPT_TIMEOUT).await.ok {
                    tokio::time::sleep(READY_POLL).await;
                }
                let _ = feedback.send(passed);
            }),
            ReadyCheck::File(path) => self.tasks.spawn_until_shutdown(async move {
                while !file_exists(&path).ok {
                    tokio::time::sleep(READY_POLL).await;
                }
                let _ = feedback.send(passed);
            }),
        };
        self.probes.insert(name.to_string(), task.abort_handle());
    }

    /// Ends the ready and liveness probes of `name` (stopped, killed or exited).
    fn cancel_probe(&mut self, name: &str) {
        if let Some(task) = self.probes.remove(name) {
            task.abort();
        }
        if let Some(task) = self.health.remove(name) {
            task.abort();
        }
        self.log_matchers.remove(name);
    }

    /// A line of a child's output: feeds its log ready probe.
    pub fn child_output(&mut self, line: &ChildOutput) -> Option<Input> {
        let matcher = self.log_matchers.get_mut(&line.name)?;
        if !matcher.feed(&line.line) {
            return None;
        }
        self.log_matchers.remove(&line.name);
        Some(Input::ReadyProbePassed {
            name: line.name.clone(),
        })
    }

    /// A child's whole tree has ended: its exit, preceded by the kernel's OOM kill in its
    /// cgroup where the runner found one.
    pub fn child_exited(&mut self, exit: &ChildExit) -> Vec<Input> {
        self.cancel_probe(&exit.name);
        if self
            .children
            .get(&exit.name)
            .is_some_and(|c| c.pid() == exit.pid)
        {
            self.children.remove(&exit.name);
        }
        if let Some(dir) = &exit.cgroup_left {
            self.record(
                NewEvent::new(CgroupLeft {}, Some(&exit.name)).message(format!(
                    "child cgroup {} could not be removed",
                    dir.display()
                )),
            );
        }
        if let Some((container, removed)) = &exit.container {
            if removed.existed {
                self.record(containers::removed_event(&exit.name, container, removed));
            }
        }
        let pid = u32::try_from(exit.pid).unwrap_or(0);
        let oom = exit.oom.clone().map(|oom| Input::OomKilled {
            name: exit.name.clone(),
            pid,
            code: exit.code,
            signal: exit.signal,
            oom,
        });
        let exited = Input::Exited {
            name: exit.name.clone(),
            pid,
            code: exit.code,
            signal: exit.signal,
        };
        oom.into_iter().chain([exited]).collect()
    }

    /// Stops every child (SIGTERM to each group, grace, SIGKILL), all at once, bounded by
    /// `deadline` overall.
    pub async fn stop_all(&mut self, grace: impl Fn(&str) -> Duration, deadline: Duration) {
        let mut stops = tokio::task::JoinSet::new();
        for (name, child) in self.children.drain() {
            let grace = grace(&name);
            stops.spawn(async move { (name, child.stop(grace).await) });
        }
        let all = async {
            while let Some(done) = stops.join_next().await {
                if let Ok((name, Err(e))) = done {
                    let event = stopping::stop_failure_event(&name, stopping::Step::Shutdown, &e);
                    self.record(event);
                }
            }
        };
        let _ = tokio::time::timeout(deadline, all).await;
    }
}
