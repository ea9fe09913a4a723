//! The engine: each model's and service's lifecycle on top of the load gate, as pure code.
//!
//! [`Engine::command`] (a [`Command`] of an operator) and [`Engine::input`] (everything else)
//! take one input and `now` and return [`Action`]s for the I/O layer (spawn, kill, stop, store events and footprints, answer waiters). No clock
//! reads, no I/O, no tokio: the daemon feeds readings, child exits, probe results and control
//! commands in, and executes what comes out, in order.
//!
//! ```text
//! load ─► [verify weights] ─► [estimate] ─► gate Request ─► queued ─► loading ─► ready
//!                                   │            │         │ abort / fail / exit
//!                                   └─ denied    └─ unload └─► failed
//! unload of a ready model ─► stopping ─► (exit) ─► stopped, gate Unloaded
//! ```
//!
//! Supervision (docs/agent.md, "Supervision"; see `supervise.rs`): an unexpected exit, a
//! liveness probe failing K times in a row, or a ready probe not passed within `ready.timeout`
//! (`ready.rs`) asks the unit's [`RestartTracker`] what to do:
//!
//! ```text
//! running/ready ─exit, health_failed or ready_timeout─► backing_off (restart_at) ─Tick ≥ restart_at─► load again
//!                                    └─► gave_up (crash loop) ─ `restart NAME` ─► revived, load again
//! ```
//!
//! The jitter draw is injected ([`Engine::with_draw`]; `rand` by default), so tests are exact.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::agent::pressure::{PressureReading, PressureWatch};
use crate::agent::watch::{TreeReading, Watch};
use crate::estimate::Estimate;
use crate::event::NewEvent;
use crate::gate::{DecisionCounts, Gate, GateInput, MemReading, SamplingMode};
use crate::status::ServiceState;
use crate::supervisor::policy::{RestartPolicy, RestartTracker};
use crate::units::Bytes;

/// Where restart jitter comes from: a draw in `[0, 1)`.
pub type Draw = fn() -> f64;

/// What the engine knows of a configured model or service.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitSpec {
    pub name: String,
    /// `Some(declared need)` for a gated model, `None` for a plain service.
    pub declared: Option<Bytes>,
    /// Pinned weights to verify before each load.
    pub verify_weights: bool,
    /// `memory = "auto"`: the need is estimated from the weights before each load
    /// (`estimated.rs`); `declared` is then zero.
    pub estimate: bool,
    /// A model whose weights are copied to GPU memory: its mapped file pages count once.
    pub gpu_offload: bool,
    pub autostart: bool,
    pub stop_grace: Duration,
    /// Backoff, crash-loop cap and proven uptime.
    pub restart: RestartPolicy,
    /// The liveness probe, if configured (the I/O layer runs it).
    pub health: Option<HealthSpec>,
    /// Liveness is probed only once the ready probe passed (always for a model; a service
    /// without a ready probe is probed from its start).
    pub awaits_ready: bool,
    /// `ready.timeout`: a ready probe that has not passed this long after the start was asked
    /// for is a failed start (`ready_timeout`, see `ready.rs`). `None` without a ready probe.
    pub ready_timeout: Option<Duration>,
}

/// What the engine needs to know of a liveness probe: how many failures in a row fail it,
/// and the figures its events carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSpec {
    /// `http`, `tcp`, `exec` or `heartbeat`.
    pub kind: &'static str,
    pub interval: Duration,
    pub timeout: Duration,
    pub failures: u32,
}

/// A decision for the I/O layer.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Check the pinned weights, then feed [`Input::WeightsChecked`] back.
    VerifyWeights { name: String },
    /// Estimate the model's memory from its weights, then feed [`Input::Estimated`] back.
    Estimate { name: String },
    /// Start the process (its ready probe too, for a model).
    Spawn { name: String },
    /// Probe the liveness of process `pid` every interval, feeding [`Input::Health`] back,
    /// until it is stopped or exits.
    WatchHealth { name: String, pid: u32 },
    /// Kill the whole process group (and cgroup) now: a load is eating the reserve.
    KillNow { name: String },
    /// SIGTERM the process group, wait `grace`, then SIGKILL.
    Stop { name: String, grace: Duration },
    /// Store this event.
    Event(NewEvent),
    /// Store the footprint measured by a completed load.
    RecordFootprint {
        name: String,
        footprint: crate::gate::Footprint,
    },
    /// Store a higher learned peak for the model.
    RecordPeak { name: String, peak: Bytes },
    /// Store the ratio of a load's peak to the estimate it was admitted on.
    RecordEstimateRatio {
        name: String,
        estimate: Bytes,
        ratio: f64,
    },
    /// A load reached its end (ready, or not): answer `load --wait` requesters.
    LoadFinished {
        name: String,
        state: ServiceState,
        reason: Option<String>,
    },
}

/// Inputs other than commands.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Reading(MemReading),
    WeightsChecked {
        name: String,
        result: Result<(), String>,
    },
    /// The estimate of a `memory = "auto"` model (an error says why there is none).
    Estimated {
        name: String,
        result: Result<Estimate, String>,
    },
    Spawned {
        name: String,
        pid: u32,
    },
    SpawnFailed {
        name: String,
        error: String,
    },
    ReadyProbePassed {
        name: String,
    },
    /// One liveness probe of process `pid` (results of an earlier process are ignored).
    Health {
        name: String,
        pid: u32,
        ok: bool,
        detail: String,
    },
    /// The process tree of `name` whose leader was `pid` has ended.
    Exited {
        name: String,
        pid: u32,
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// The kernel's OOM killer acted in the cgroup of `name`'s tree led by `pid`, which has
    /// ended; its [`Input::Exited`] follows.
    OomKilled {
        name: String,
        pid: u32,
        code: Option<i32>,
        signal: Option<i32>,
        oom: crate::runner::OomKill,
    },
    /// One unit's process tree from a refresh (`None`: it could not be read), for the views
    /// and the watcher's limits and leak trends.
    Tree {
        name: String,
        reading: Option<TreeReading>,
    },
    /// The scope's PSI and file refaults from a refresh: pressure and thrashing are judged.
    Pressure(PressureReading),
    Tick,
}

/// Why a command was refused (the reply says it; nothing changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no model or service named {0:?} in the configuration")]
    UnknownName(String),
    #[error("{name} is already {state}")]
    Already { name: String, state: &'static str },
    #[error("{name} is still stopping (pid {pid}); try again once it has exited")]
    StillStopping { name: String, pid: u32 },
}

/// All units and the gate. One owner: the daemon's core loop.
#[derive(Debug)]
pub struct Engine {
    gate: Gate,
    units: BTreeMap<String, Unit>,
    /// Unit names in the order of the specs (the configuration's): the start-up order.
    order: Vec<String>,
    /// Learned peaks from the store, by model.
    learned: BTreeMap<String, Bytes>,
    /// `memory = "auto"`: learned peak ÷ estimate, by model (from the store, then each load).
    ratios: BTreeMap<String, f64>,
    /// `memory = "auto"`: the estimate each model's latest load was requested on.
    estimates: BTreeMap<String, Estimated>,
    /// The latest `now` seen: the views say "next attempt in" relative to it.
    clock: Option<Instant>,
    /// The latest available memory (a stop's grace shortens under the reserve).
    available: Option<Bytes>,
    /// Limits, fd and thread counts and leak trends of each unit's tree.
    watch: Watch,
    /// Memory pressure and thrashing, from the refresh's PSI and refault figures.
    pressure: PressureWatch,
    /// The GPU allocates from the device's DRAM (a Jetson): a tree's GPU memory counts in the
    /// gate's ledger. A discrete GPU's memory is its own: shown and limited, never charged to
    /// DRAM.
    gpu_shares_dram: bool,
    /// The gate's decisions since start, by decision and reason (for the metrics).
    decisions: DecisionCounts,
}

fn random_draw() -> f64 {
    rand::random::<f64>()
}

impl Engine {
    pub fn new(gate: Gate, specs: Vec<UnitSpec>, learned: BTreeMap<String, Bytes>) -> Engine {
        let order = specs.iter().map(|s| s.name.clone()).collect();
        let units = specs
            .into_iter()
            .map(|spec| (spec.name.clone(), Unit::new(spec, random_draw)))
            .collect();
        Engine {
            gate,
            units,
            order,
            learned,
            ratios: BTreeMap::new(),
            estimates: BTreeMap::new(),
            clock: None,
            available: None,
            watch: Watch::default(),
            pressure: PressureWatch::new(crate::config::MemoryConfig::default().pressure_high),
            gpu_shares_dram: true,
            decisions: DecisionCounts::default(),
        }
    }

    /// Whether the device's GPU allocates from its DRAM (true, a Jetson, unless told).
    pub fn with_gpu_shares_dram(mut self, shares: bool) -> Engine {
        self.gpu_shares_dram = shares;
        self
    }

    /// Judges pressure against `memory.pressure_high` (percent).
    pub fn with_pressure_high(mut self, pressure_high: f64) -> Engine {
        self.pressure = PressureWatch::new(pressure_high);
        self
    }

    /// Watches units' trees with `watch` (limits, leaks); without it nothing is watched.
    pub fn with_watch(mut self, watch: Watch) -> Engine {
        self.watch = watch;
        self
    }

    /// The learned ratios of `memory = "auto"` models (learned peak ÷ estimate), from the store.
    pub fn with_ratios(mut self, ratios: BTreeMap<String, f64>) -> Engine {
        self.ratios = ratios;
        self
    }

    /// Replaces the jitter draw (tests use a fixed one). Call before any input.
    pub fn with_draw(mut self, draw: Draw) -> Engine {
        for unit in self.units.values_mut() {
            unit.tracker = RestartTracker::new(unit.spec.restart, draw);
        }
        self
    }

    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    pub fn sampling_mode(&self) -> SamplingMode {
        self.gate.sampling_mode()
    }

    /// Something has a deadline finer than a second or waits on a reading: a load queued or in
    /// flight, a unit starting, backing off or waiting for its ready probe (the sampling pace).
    pub fn busy(&self) -> bool {
        self.gate.in_flight().is_some()
            || self.gate.queued().next().is_some()
            || self.units.values().any(|u| {
                u.ready_wait.is_some()
                    || matches!(
                        u.phase,
                        Phase::Queued | Phase::Loading | Phase::BackingOff { .. }
                    )
            })
    }

    /// The model whose load is in flight, with its pid once spawned.
    pub fn loading(&self) -> Option<(&str, Option<u32>)> {
        let name = self.gate.in_flight()?;
        Some((name, self.units.get(name).and_then(Unit::pid)))
    }

    /// Running units' pids, for memory refresh and shutdown.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.units
            .values()
            .filter_map(|u| u.pid().map(|p| (u.spec.name.clone(), p)))
            .collect()
    }

    /// The tree memory and GPU memory the views show for `name`.
    fn set_memory(&mut self, name: &str, memory: Option<Bytes>, gpu: Option<Bytes>) {
        if let Some(u) = self.units.get_mut(name) {
            u.memory = memory;
            u.gpu = gpu;
        }
    }

    pub fn state(&self, name: &str) -> Option<ServiceState> {
        self.units.get(name).map(Unit::state)
    }

    /// Everything that is not a command.
    pub fn input(&mut self, input: Input, now: Instant) -> Vec<Action> {
        self.tick_clock(now);
        // Ready waits that ran out are decided before anything else at `now`: before the gate
        // sees the same instant, so a model's `ready.timeout` equal to `gate.load_timeout`
        // still acts (its wait started at admission, the load's clock too).
        let mut out = self.expire_ready_waits(now);
        out.extend(self.dispatch(input, now));
        out
    }

    fn dispatch(&mut self, input: Input, now: Instant) -> Vec<Action> {
        match input {
            Input::Reading(r) => {
                self.available = Some(r.available);
                self.gate_step(GateInput::Reading(r), now)
            }
            Input::Tick => {
                let mut out = self.gate_step(GateInput::Tick, now);
                out.extend(self.fire_due_restarts(now));
                out
            }
            Input::ReadyProbePassed { name } => {
                self.ready_passed(&name);
                let mut out = self.service_ready(&name);
                out.extend(self.gate_step(GateInput::ReadyProbePassed { model: name }, now));
                out
            }
            Input::WeightsChecked { name, result } => self.weights_checked(&name, result, now),
            Input::Estimated { name, result } => self.estimated(&name, result, now),
            Input::Spawned { name, pid } => self.spawned(&name, pid, now),
            Input::Health {
                name,
                pid,
                ok,
                detail,
            } => self.health_result(&name, pid, ok, detail, now),
            Input::SpawnFailed { name, error } => self.spawn_failed(&name, error, now),
            Input::Exited {
                name,
                pid,
                code,
                signal,
            } => self.exited(&name, pid, code, signal, now),
            Input::OomKilled {
                name,
                pid,
                code,
                signal,
                oom,
            } => self.oom_killed(&name, pid, supervise::Ended { code, signal }, &oom),
            Input::Tree { name, reading } => self.tree_read(name, reading, now),
            Input::Pressure(reading) => self.pressure_read(&reading),
        }
    }

    fn tick_clock(&mut self, now: Instant) {
        self.clock = Some(self.clock.map_or(now, |c| c.max(now)));
    }

    fn unit(&self, name: &str) -> Result<&Unit, Refusal> {
        self.units
            .get(name)
            .ok_or_else(|| Refusal::UnknownName(name.to_string()))
    }

    fn set(&mut self, name: &str, phase: Phase, reason: Option<String>) {
        if let Some(u) = self.units.get_mut(name) {
            u.phase = phase;
            u.reason = reason;
        }
    }

    fn request(&mut self, name: &str, declared: Bytes, now: Instant) -> Vec<Action> {
        let learned_peak = self.learned.get(name).copied();
        let gpu_offload = self.units.get(name).is_some_and(|u| u.spec.gpu_offload);
        self.gate_step(
            GateInput::Request {
                model: name.into(),
                declared,
                learned_peak,
                gpu_offload,
            },
            now,
        )
    }

    fn spawn_service(&mut self, name: &str, now: Instant) -> Vec<Action> {
        self.set(name, Phase::Running, None);
        self.await_ready(name, now);
        vec![Action::Spawn { name: name.into() }]
    }
}

mod backstop;
#[cfg(test)]
mod backstop_tests;
mod commands;
pub use commands::Command;
mod decisions;
mod estimated;
#[cfg(test)]
mod estimated_tests;
mod inputs;
mod observed;
#[cfg(test)]
mod props;
mod ready;
#[cfg(test)]
mod ready_tests;
#[cfg(test)]
mod rig;
mod supervise;
#[cfg(test)]
mod supervise_tests;
#[cfg(test)]
mod tests;
mod unit;
mod views;
#[cfg(test)]
mod watch_tests;

use estimated::Estimated;
use unit::{Phase, Process, StopIntent, SupervisorStop, Unit};
