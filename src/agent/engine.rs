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
use crate::gate::{Gate, GateAction, GateInput, MemReading, Presence, SamplingMode};
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

    fn weights_checked(
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
        match result {
            Ok(()) => self.request(name, declared, now),
            Err(reason) => {
                self.set(name, ServiceState::Failed, Some(reason.clone()));
                vec![
                    Action::Event(
                        NewEvent::error("load_refused", Some(name))
                            .message(format!("load refused, nothing started: {reason}")),
                    ),
                    Action::LoadFinished {
                        name: name.into(),
                        state: ServiceState::Failed,
                        reason: Some(reason),
                    },
                ]
            }
        }
    }

    fn spawn_failed(&mut self, name: &str, error: String, now: Instant) -> Vec<Action> {
        let mut out = vec![Action::Event(
            NewEvent::error("spawn_failed", Some(name))
                .message(format!("could not start: {error}")),
        )];
        if self.gate.in_flight() == Some(name) {
            out.extend(self.gate_step(GateInput::Exited { model: name.into() }, now));
        }
        self.set(
            name,
            ServiceState::Failed,
            Some(format!("could not start: {error}")),
        );
        out
    }

    fn exited(
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
        if unit.pid != Some(pid) {
            return Vec::new();
        }
        unit.pid = None;
        unit.memory = None;
        let expected = std::mem::take(&mut unit.stopping);
        let restart = std::mem::take(&mut unit.restart_after_stop);
        let was = unit.state;
        let mut out = Vec::new();
        let mut event = if expected {
            NewEvent::info("unloaded", Some(name)).message("stopped on request")
        } else {
            NewEvent::warning("service_exited", Some(name)).message(describe_exit(code, signal))
        };
        if let Some(c) = code {
            event = event.figure("exit_code", c);
        }
        if let Some(s) = signal {
            event = event.figure("signal", s);
        }
        out.push(Action::Event(event));
        // The gate decides what an exit means for a load in flight (LoadFailed), and frees
        // the model's place for the next request either way.
        out.extend(self.gate_step(GateInput::Exited { model: name.into() }, now));
        let state_now = self.state(name);
        if state_now == Some(was) && was != ServiceState::Failed {
            let (state, reason) = if expected {
                (ServiceState::Stopped, None)
            } else {
                (ServiceState::Failed, Some(describe_exit(code, signal)))
            };
            self.set(name, state, reason);
        }
        if restart {
            if let Some(u) = self.units.get_mut(name) {
                u.restarts += 1;
            }
            if let Ok(actions) = self.load(name, now) {
                out.extend(actions);
            }
        }
        out
    }

    /// A load ended (ready or not): set the unit's state and answer `load --wait` requesters.
    fn finish(
        &mut self,
        name: &str,
        state: ServiceState,
        reason: Option<String>,
        out: &mut Vec<Action>,
    ) {
        self.set(name, state, reason.clone());
        out.push(Action::LoadFinished {
            name: name.to_string(),
            state,
            reason,
        });
    }

    /// Steps the gate and turns its decisions into unit states and actions.
    fn gate_step(&mut self, input: GateInput, now: Instant) -> Vec<Action> {
        let decisions = self.gate.step(input, now);
        let mut out = Vec::with_capacity(decisions.len() * 2);
        for decision in decisions {
            self.apply(decision, &mut out);
        }
        out
    }

    fn apply(&mut self, decision: GateAction, out: &mut Vec<Action>) {
        let name = decision.model().to_string();
        // An abort must reach the process before anything slower (event storage) happens.
        if let GateAction::Abort(a) = &decision {
            out.push(Action::KillNow { name: name.clone() });
            let reason = format!(
                "aborted: available {} fell under the kill floor {}",
                a.available, a.floor
            );
            self.finish(&name, ServiceState::Failed, Some(reason), out);
        }
        let event = decision.event();
        match decision {
            GateAction::Admit(_) => {
                self.set(&name, ServiceState::Loading, None);
                out.push(Action::Spawn { name: name.clone() });
            }
            GateAction::Queued { reason, .. } => {
                self.set(&name, ServiceState::Queued, Some(reason))
            }
            GateAction::Deny { .. } => {
                let reason = event.message.clone();
                self.finish(&name, ServiceState::Failed, Some(reason), out);
            }
            GateAction::Withdrawn { .. } => {
                let reason = Some("unloaded while queued".to_string());
                self.finish(&name, ServiceState::Stopped, reason, out);
            }
            GateAction::RaiseLearnedPeak { peak, .. } => {
                self.learned.insert(name.clone(), peak);
                out.push(Action::RecordPeak {
                    name: name.clone(),
                    peak,
                });
            }
            GateAction::LoadReady { footprint, .. } => {
                out.push(Action::RecordFootprint {
                    name: name.clone(),
                    footprint,
                });
                self.finish(&name, ServiceState::Ready, None, out);
            }
            GateAction::LoadFailed { reason, .. } => {
                let aborted = self.state(&name) == Some(ServiceState::Failed);
                let text = if aborted {
                    self.units.get(&name).and_then(|u| u.reason.clone())
                } else {
                    Some(reason.to_string())
                };
                let alive = self.units.get(&name).is_some_and(|u| u.pid.is_some());
                if alive && !aborted {
                    let grace = self
                        .units
                        .get(&name)
                        .map_or(Duration::ZERO, |u| u.spec.stop_grace);
                    if let Some(u) = self.units.get_mut(&name) {
                        u.stopping = true;
                    }
                    out.push(Action::Stop {
                        name: name.clone(),
                        grace,
                    });
                }
                self.finish(&name, ServiceState::Failed, text, out);
            }
            GateAction::Duplicate { presence, .. } => {
                let state = match presence {
                    Presence::Queued { .. } => ServiceState::Queued,
                    Presence::Loading => ServiceState::Loading,
                    Presence::Loaded => ServiceState::Ready,
                };
                self.set(&name, state, None);
            }
            GateAction::Requested { .. }
            | GateAction::Abort(_)
            | GateAction::ExceededNeed { .. } => {}
        }
        out.push(Action::Event(event));
    }
}

fn describe_exit(code: Option<i32>, signal: Option<i32>) -> String {
    match (code, signal) {
        (Some(c), _) => format!("exited with code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        (None, None) => "exited".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::GateConfig;

    const GIB: u64 = 1 << 30;

    fn spec(name: &str, declared: Option<u64>) -> UnitSpec {
        UnitSpec {
            name: name.into(),
            declared: declared.map(Bytes),
            verify_weights: false,
            autostart: false,
            stop_grace: Duration::from_secs(1),
        }
    }

    struct Rig {
        engine: Engine,
        t0: Instant,
        now: Instant,
    }

    impl Rig {
        fn new(specs: Vec<UnitSpec>) -> Rig {
            #[allow(clippy::disallowed_methods)] // one base instant for the whole test
            let t0 = Instant::now();
            let mut cfg = GateConfig::with_reserve(Bytes(GIB / 2));
            cfg.settle_window = Duration::from_millis(200);
            let engine = Engine::new(Gate::new(cfg), specs, BTreeMap::new());
            Rig {
                engine,
                t0,
                now: t0,
            }
        }

        fn at(&mut self, ms: u64) -> Instant {
            self.now = self.t0 + Duration::from_millis(ms);
            self.now
        }

        fn reading(&mut self, ms: u64, available: u64) -> Vec<Action> {
            let now = self.at(ms);
            let r = MemReading {
                available: Bytes(available),
                total: Bytes(3 * GIB),
                taken_at: now,
                loading_tree_pss: None,
                loading_gpu: None,
            };
            self.engine.input(Input::Reading(r), now)
        }

        /// Drives one admitted model to ready: spawned, probe passed, memory settled.
        fn finish_load(&mut self, name: &str, from_ms: u64, available: u64) -> Vec<Action> {
            let now = self.at(from_ms);
            self.engine.input(
                Input::Spawned {
                    name: name.into(),
                    pid: 100,
                },
                now,
            );
            self.engine
                .input(Input::ReadyProbePassed { name: name.into() }, now);
            let mut out = Vec::new();
            for i in 0..6 {
                out.extend(self.reading(from_ms + i * 100, available));
            }
            out
        }
    }

    fn kinds(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .map(|a| match a {
                Action::Event(e) => e.kind.clone(),
                Action::Spawn { name } => format!("spawn:{name}"),
                Action::KillNow { name } => format!("kill:{name}"),
                Action::Stop { name, .. } => format!("stop:{name}"),
                Action::LoadFinished { name, state, .. } => {
                    format!("finished:{name}:{}", state.as_str())
                }
                other => format!("{other:?}")
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string(),
            })
            .collect()
    }

    #[test]
    fn refuses_a_name_the_configuration_does_not_have() {
        let mut rig = Rig::new(vec![spec("a", Some(GIB))]);
        let now = rig.at(0);
        assert_eq!(
            rig.engine.load("nope", now).unwrap_err(),
            Refusal::UnknownName("nope".into())
        );
    }

    #[test]
    fn admits_two_holds_the_third_with_its_reason_and_admits_it_after_an_unload() {
        let mut rig = Rig::new(vec![
            spec("a", Some(GIB)),
            spec("b", Some(GIB)),
            spec("c", Some(GIB)),
        ]);
        rig.reading(0, 3 * GIB);
        let now = rig.at(1);
        assert!(kinds(&rig.engine.load("a", now).unwrap()).contains(&"spawn:a".to_string()));
        let out = rig.finish_load("a", 10, 2 * GIB);
        assert!(
            kinds(&out).contains(&"finished:a:ready".to_string()),
            "{:?}",
            kinds(&out)
        );

        let now = rig.at(700);
        rig.reading(700, 2 * GIB);
        assert!(kinds(&rig.engine.load("b", now).unwrap()).contains(&"spawn:b".to_string()));
        rig.finish_load("b", 710, GIB);

        let now = rig.at(1400);
        rig.reading(1400, GIB);
        let out = rig.engine.load("c", now).unwrap();
        assert!(!kinds(&out).contains(&"spawn:c".to_string()));
        let c = rig.engine.view("c").unwrap();
        assert_eq!(c.state, "queued");
        assert!(c.reason.unwrap().contains("budget"));

        let now = rig.at(1500);
        let out = rig.engine.unload("a", now).unwrap();
        assert_eq!(kinds(&out), vec!["stop:a"]);
        let out = rig.engine.input(
            Input::Exited {
                name: "a".into(),
                pid: 100,
                code: Some(0),
                signal: None,
            },
            now,
        );
        assert!(kinds(&out).contains(&"unloaded".to_string()));
        assert_eq!(rig.engine.view("a").unwrap().state, "stopped");
        let out = rig.reading(1600, 2 * GIB);
        assert!(
            kinds(&out).contains(&"spawn:c".to_string()),
            "{:?}",
            kinds(&out)
        );
        assert_eq!(rig.engine.view("c").unwrap().state, "loading");
    }

    #[test]
    fn kills_a_load_before_anything_else_when_it_eats_the_reserve() {
        let mut rig = Rig::new(vec![spec("liar", Some(GIB / 4))]);
        rig.reading(0, 2 * GIB);
        let now = rig.at(1);
        rig.engine.load("liar", now).unwrap();
        rig.engine.input(
            Input::Spawned {
                name: "liar".into(),
                pid: 7,
            },
            now,
        );
        let out = rig.reading(50, GIB / 8);
        assert_eq!(kinds(&out).first().map(String::as_str), Some("kill:liar"));
        assert!(kinds(&out).contains(&"load_aborted".to_string()));
        assert!(out
            .iter()
            .any(|a| matches!(a, Action::RecordPeak { name, .. } if name == "liar")));
        assert!(kinds(&out).contains(&"finished:liar:failed".to_string()));
        assert_eq!(rig.engine.view("liar").unwrap().state, "failed");
        // The abort already killed it: no graceful stop on top.
        assert!(!kinds(&out).iter().any(|k| k.starts_with("stop:")));
    }

    #[test]
    fn refuses_a_load_whose_weights_do_not_match_and_starts_nothing() {
        let mut s = spec("pinned", Some(GIB));
        s.verify_weights = true;
        let mut rig = Rig::new(vec![s]);
        rig.reading(0, 3 * GIB);
        let now = rig.at(1);
        let out = rig.engine.load("pinned", now).unwrap();
        assert_eq!(
            out,
            vec![Action::VerifyWeights {
                name: "pinned".into()
            }]
        );
        let out = rig.engine.input(
            Input::WeightsChecked {
                name: "pinned".into(),
                result: Err("sha256 mismatch".into()),
            },
            now,
        );
        assert!(!kinds(&out).iter().any(|k| k.starts_with("spawn")));
        assert!(kinds(&out).contains(&"load_refused".to_string()));
        assert_eq!(rig.engine.view("pinned").unwrap().state, "failed");
    }

    #[test]
    fn an_unload_takes_a_queued_model_off_the_queue() {
        let mut rig = Rig::new(vec![spec("a", Some(2 * GIB)), spec("b", Some(GIB))]);
        rig.reading(0, 3 * GIB);
        let now = rig.at(1);
        rig.engine.load("a", now).unwrap();
        rig.engine.load("b", now).unwrap();
        assert_eq!(rig.engine.view("b").unwrap().state, "queued");
        let out = rig.engine.unload("b", now).unwrap();
        assert!(kinds(&out).contains(&"finished:b:stopped".to_string()));
        assert_eq!(rig.engine.view("b").unwrap().state, "stopped");
    }

    #[test]
    fn a_model_that_dies_while_loading_fails_its_load() {
        let mut rig = Rig::new(vec![spec("a", Some(GIB))]);
        rig.reading(0, 3 * GIB);
        let now = rig.at(1);
        rig.engine.load("a", now).unwrap();
        rig.engine.input(
            Input::Spawned {
                name: "a".into(),
                pid: 9,
            },
            now,
        );
        let out = rig.engine.input(
            Input::Exited {
                name: "a".into(),
                pid: 9,
                code: Some(3),
                signal: None,
            },
            now,
        );
        assert!(kinds(&out).contains(&"load_failed".to_string()));
        assert!(kinds(&out).contains(&"finished:a:failed".to_string()));
        assert_eq!(rig.engine.view("a").unwrap().state, "failed");
        assert!(rig.engine.gate().in_flight().is_none());
    }

    #[test]
    fn ignores_the_late_exit_of_an_earlier_process_and_waits_for_the_old_one_to_go() {
        let mut rig = Rig::new(vec![spec("a", Some(GIB / 4))]);
        rig.reading(0, 3 * GIB);
        let now = rig.at(1);
        rig.engine.load("a", now).unwrap();
        rig.engine.input(
            Input::Spawned {
                name: "a".into(),
                pid: 41,
            },
            now,
        );
        rig.reading(10, 100 << 20); // under the floor: aborted, kill sent
        assert!(matches!(
            rig.engine.load("a", now),
            Err(Refusal::StillStopping { pid: 41, .. })
        ));
        let stale = Input::Exited {
            name: "a".into(),
            pid: 40,
            code: None,
            signal: Some(9),
        };
        assert!(rig.engine.input(stale, now).is_empty());
        let gone = Input::Exited {
            name: "a".into(),
            pid: 41,
            code: None,
            signal: Some(9),
        };
        rig.engine.input(gone, now);
        rig.reading(20, 3 * GIB);
        // Once the old process is gone the request reaches the gate again, judged on the peak
        // it learned from the abort (2.9 GiB of 3 GiB: now it can never fit).
        let again = kinds(&rig.engine.load("a", rig.now).unwrap());
        assert!(again.contains(&"load_requested".to_string()), "{again:?}");
        assert!(again.contains(&"load_denied".to_string()), "{again:?}");
    }

    #[test]
    fn a_second_load_of_a_loading_model_is_refused_not_queued_twice() {
        let mut rig = Rig::new(vec![spec("a", Some(GIB))]);
        rig.reading(0, 3 * GIB);
        let now = rig.at(1);
        rig.engine.load("a", now).unwrap();
        assert!(matches!(
            rig.engine.load("a", now),
            Err(Refusal::Already { .. })
        ));
    }
}
