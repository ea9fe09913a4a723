//! The engine: each model's and service's lifecycle on top of the load gate, as pure code.
//!
//! [`Engine::command`] and [`Engine::input`] take one input and `now` and return [`Action`]s for
//! the I/O layer (spawn, kill, stop, store events and footprints, answer waiters). No clock
//! reads, no I/O, no tokio: the daemon feeds readings, child exits, probe results and control
//! commands in, and executes what comes out, in order.
//!
//! ```text
//! load ─► [verify weights] ─► gate Request ─► queued ─► loading ─► ready
//!                                   │            │         │ abort / fail / exit
//!                                   └─ denied    └─ unload └─► failed
//! unload of a ready model ─► stopping ─► (exit) ─► stopped, gate Unloaded
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::event::NewEvent;
use crate::gate::{Gate, GateInput, MemReading, SamplingMode};
use crate::status::{ServiceState, ServiceView};
use crate::units::Bytes;

/// What the engine knows of a configured model or service.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitSpec {
    pub name: String,
    /// `Some(declared need)` for a gated model, `None` for a plain service.
    pub declared: Option<Bytes>,
    /// Pinned weights to verify before each load.
    pub verify_weights: bool,
    pub autostart: bool,
    pub stop_grace: Duration,
}

/// A decision for the I/O layer.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Check the pinned weights, then feed [`Input::WeightsChecked`] back.
    VerifyWeights { name: String },
    /// Start the process (its ready probe too, for a model).
    Spawn { name: String },
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
    /// The process tree of `name` whose leader was `pid` has ended.
    Exited {
        name: String,
        pid: u32,
        code: Option<i32>,
        signal: Option<i32>,
    },
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

#[derive(Debug, Clone)]
struct Unit {
    spec: UnitSpec,
    state: ServiceState,
    pid: Option<u32>,
    restarts: u32,
    reason: Option<String>,
    /// An exit is expected (we asked it to stop).
    stopping: bool,
    /// Start again once the expected exit arrives (`restart`).
    restart_after_stop: bool,
    /// Tree memory, refreshed by the daemon for the views.
    memory: Option<Bytes>,
    /// The leak trend of `memory`, refreshed with it.
    trend: Option<crate::status::TrendView>,
}

/// All units and the gate. One owner: the daemon's core loop.
#[derive(Debug)]
pub struct Engine {
    gate: Gate,
    units: BTreeMap<String, Unit>,
    /// Learned peaks from the store, by model.
    learned: BTreeMap<String, Bytes>,
}

impl Engine {
    pub fn new(gate: Gate, specs: Vec<UnitSpec>, learned: BTreeMap<String, Bytes>) -> Engine {
        let units = specs
            .into_iter()
            .map(|spec| {
                let unit = Unit {
                    spec: spec.clone(),
                    state: ServiceState::Stopped,
                    pid: None,
                    restarts: 0,
                    reason: None,
                    stopping: false,
                    restart_after_stop: false,
                    memory: None,
                    trend: None,
                };
                (spec.name, unit)
            })
            .collect();
        Engine {
            gate,
            units,
            learned,
        }
    }

    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    pub fn sampling_mode(&self) -> SamplingMode {
        self.gate.sampling_mode()
    }

    /// The model whose load is in flight, with its pid once spawned.
    pub fn loading(&self) -> Option<(&str, Option<u32>)> {
        let name = self.gate.in_flight()?;
        Some((name, self.units.get(name).and_then(|u| u.pid)))
    }

    /// Running units' pids, for memory refresh and shutdown.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.units
            .values()
            .filter_map(|u| u.pid.map(|p| (u.spec.name.clone(), p)))
            .collect()
    }

    pub fn set_memory(&mut self, name: &str, memory: Option<Bytes>) {
        if let Some(u) = self.units.get_mut(name) {
            u.memory = memory;
        }
    }

    pub fn state(&self, name: &str) -> Option<ServiceState> {
        self.units.get(name).map(|u| u.state)
    }

    pub fn views(&self) -> Vec<ServiceView> {
        self.units
            .values()
            .map(|u| ServiceView {
                name: u.spec.name.clone(),
                kind: if u.spec.declared.is_some() {
                    "model"
                } else {
                    "service"
                }
                .to_string(),
                state: u.state.as_str().to_string(),
                pid: u.pid,
                memory_bytes: u.memory.map(Bytes::get),
                trend: u.trend.clone(),
                restarts: u.restarts,
                // A queued model's reason changes as the gate re-evaluates: read it live.
                reason: match u.state {
                    ServiceState::Queued => self
                        .gate
                        .queue_reason(&u.spec.name)
                        .map(str::to_string)
                        .or_else(|| u.reason.clone()),
                    _ => u.reason.clone(),
                },
            })
            .collect()
    }

    pub fn view(&self, name: &str) -> Option<ServiceView> {
        self.views().into_iter().find(|v| v.name == name)
    }

    /// Requests for every autostart unit, in configuration order.
    pub fn start(&mut self, now: Instant) -> Vec<Action> {
        let names: Vec<String> = self
            .units
            .values()
            .filter(|u| u.spec.autostart)
            .map(|u| u.spec.name.clone())
            .collect();
        let mut out = Vec::new();
        for name in names {
            if let Ok(actions) = self.load(&name, now) {
                out.extend(actions);
            }
        }
        out
    }

    /// `load NAME`: verify (if pinned), then ask the gate; services start directly.
    pub fn load(&mut self, name: &str, now: Instant) -> Result<Vec<Action>, Refusal> {
        let unit = self.unit(name)?;
        match unit.state {
            ServiceState::Queued
            | ServiceState::Loading
            | ServiceState::Ready
            | ServiceState::Running => {
                return Err(Refusal::Already {
                    name: name.to_string(),
                    state: unit.state.as_str(),
                })
            }
            _ => {}
        }
        if let Some(pid) = unit.pid {
            return Err(Refusal::StillStopping {
                name: name.to_string(),
                pid,
            });
        }
        let spec = unit.spec.clone();
        let Some(declared) = spec.declared else {
            return Ok(self.spawn_service(name));
        };
        if spec.verify_weights {
            self.set(
                name,
                ServiceState::Queued,
                Some("verifying weights sha256".into()),
            );
            return Ok(vec![Action::VerifyWeights {
                name: name.to_string(),
            }]);
        }
        Ok(self.request(name, declared, now))
    }

    /// `unload NAME`: off the queue, abort a load, or stop a running process.
    pub fn unload(&mut self, name: &str, now: Instant) -> Result<Vec<Action>, Refusal> {
        let unit = self.unit(name)?;
        let state = unit.state;
        let grace = unit.spec.stop_grace;
        let mut out = Vec::new();
        match state {
            ServiceState::Queued | ServiceState::Loading => {
                let gated = self.gate_step(GateInput::Cancel { model: name.into() }, now);
                out.extend(gated);
                if state == ServiceState::Queued {
                    self.set(
                        name,
                        ServiceState::Stopped,
                        Some("unloaded while queued".into()),
                    );
                }
            }
            ServiceState::Ready | ServiceState::Running => {
                if let Some(u) = self.units.get_mut(name) {
                    u.stopping = true;
                    u.reason = Some("stopping on request".into());
                }
                out.push(Action::Stop {
                    name: name.into(),
                    grace,
                });
            }
            _ => {
                if let Some(u) = self.units.get_mut(name) {
                    u.restart_after_stop = false;
                }
            }
        }
        Ok(out)
    }

    /// `restart NAME`: stop if running, then load again (through the gate for a model).
    pub fn restart(&mut self, name: &str, now: Instant) -> Result<Vec<Action>, Refusal> {
        let unit = self.unit(name)?;
        if unit.pid.is_some() {
            let grace = unit.spec.stop_grace;
            if let Some(u) = self.units.get_mut(name) {
                u.stopping = true;
                u.restart_after_stop = true;
            }
            return Ok(vec![Action::Stop {
                name: name.into(),
                grace,
            }]);
        }
        if matches!(unit.state, ServiceState::Queued | ServiceState::Loading) {
            return Err(Refusal::Already {
                name: name.to_string(),
                state: unit.state.as_str(),
            });
        }
        self.load(name, now)
    }

    /// Everything that is not a command.
    pub fn input(&mut self, input: Input, now: Instant) -> Vec<Action> {
        match input {
            Input::Reading(r) => self.gate_step(GateInput::Reading(r), now),
            Input::Tick => self.gate_step(GateInput::Tick, now),
            Input::ReadyProbePassed { name } => {
                self.gate_step(GateInput::ReadyProbePassed { model: name }, now)
            }
            Input::WeightsChecked { name, result } => self.weights_checked(&name, result, now),
            Input::Spawned { name, pid } => {
                if let Some(u) = self.units.get_mut(&name) {
                    u.pid = Some(pid);
                }
                Vec::new()
            }
            Input::SpawnFailed { name, error } => self.spawn_failed(&name, error, now),
            Input::Exited {
                name,
                pid,
                code,
                signal,
            } => self.exited(&name, pid, code, signal, now),
        }
    }

    fn unit(&self, name: &str) -> Result<&Unit, Refusal> {
        self.units
            .get(name)
            .ok_or_else(|| Refusal::UnknownName(name.to_string()))
    }

    fn set(&mut self, name: &str, state: ServiceState, reason: Option<String>) {
        if let Some(u) = self.units.get_mut(name) {
            u.state = state;
            u.reason = reason;
        }
    }

    fn request(&mut self, name: &str, declared: Bytes, now: Instant) -> Vec<Action> {
        let learned_peak = self.learned.get(name).copied();
        self.gate_step(
            GateInput::Request {
                model: name.into(),
                declared,
                learned_peak,
            },
            now,
        )
    }

    fn spawn_service(&mut self, name: &str) -> Vec<Action> {
        self.set(name, ServiceState::Running, None);
        vec![Action::Spawn { name: name.into() }]
    }
}

mod decisions;
mod inputs;
mod observed;
#[cfg(test)]
mod tests;
