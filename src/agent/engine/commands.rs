//! The engine's commands: `load`, `unload`, `restart` (from the control socket, MQTT, or a
//! supervisor decision such as a limit restart) and the autostart at start-up. Each takes `now`
//! and returns actions, or a [`Refusal`] that changed nothing.

use std::time::Instant;

use super::{Action, Engine, Phase, Refusal, StopIntent};
use crate::gate::GateInput;

/// What an operator (CLI or fleet) asks of one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Load(String),
    Unload(String),
    Restart(String),
}

impl Command {
    /// The unit the command names.
    pub fn name(&self) -> &str {
        match self {
            Command::Load(n) | Command::Unload(n) | Command::Restart(n) => n,
        }
    }
}

impl Engine {
    /// One command at `now`: its actions, or why it was refused (then nothing changed).
    pub fn command(&mut self, command: &Command, now: Instant) -> Result<Vec<Action>, Refusal> {
        match command {
            Command::Load(name) => self.load(name, now),
            Command::Unload(name) => self.unload(name, now),
            Command::Restart(name) => self.restart(name, now),
        }
    }

    /// Requests for every autostart unit: services first, then models, each in configuration
    /// order (the order `jetgate config check` lists under "at agent start"). Services are not
    /// gated, so starting them first lets the gate see their memory before it admits a model.
    pub fn start(&mut self, now: Instant) -> Vec<Action> {
        let autostart = |gated: bool| {
            self.order
                .iter()
                .filter_map(|name| self.units.get(name))
                .filter(move |u| u.spec.autostart && u.spec.declared.is_some() == gated)
                .map(|u| u.spec.name.clone())
        };
        let names: Vec<String> = autostart(false).chain(autostart(true)).collect();
        let mut out = Vec::new();
        for name in names {
            if let Ok(actions) = self.load(&name, now) {
                out.extend(actions);
            }
        }
        out
    }

    /// `load NAME`: verify (if pinned), then ask the gate; services start directly.
    /// A unit that gave up is revived (the operator asked for it); one backing off is refused
    /// (`restart` starts it at once).
    pub fn load(&mut self, name: &str, now: Instant) -> Result<Vec<Action>, Refusal> {
        self.tick_clock(now);
        let unit = self.unit(name)?;
        match unit.phase {
            Phase::Queued
            | Phase::Loading
            | Phase::Ready
            | Phase::Running
            | Phase::BackingOff { .. } => {
                return Err(Refusal::Already {
                    name: name.to_string(),
                    state: unit.state().as_str(),
                })
            }
            Phase::Stopped | Phase::GaveUp | Phase::Failed => {}
        }
        if let Some(pid) = unit.pid() {
            return Err(Refusal::StillStopping {
                name: name.to_string(),
                pid,
            });
        }
        let mut out = self.revive(name);
        out.extend(self.start_unit(name, now));
        Ok(out)
    }

    /// Starts a unit whatever its state: a service spawns, a model is verified, estimated (with
    /// `memory = "auto"`) and requested.
    pub(super) fn start_unit(&mut self, name: &str, now: Instant) -> Vec<Action> {
        let Some(unit) = self.units.get(name) else {
            return Vec::new();
        };
        let (declared, verify) = (unit.spec.declared, unit.spec.verify_weights);
        let estimate = unit.spec.estimate;
        let Some(declared) = declared else {
            return self.spawn_service(name, now);
        };
        if verify {
            self.set(
                name,
                Phase::Queued,
                Some("verifying its pins (weights sha256, image digest)".into()),
            );
            return vec![Action::VerifyWeights {
                name: name.to_string(),
            }];
        }
        if estimate {
            return self.ask_estimate(name);
        }
        self.request(name, declared, now)
    }

    /// `unload NAME`: off the queue, abort a load, or stop a running process.
    pub fn unload(&mut self, name: &str, now: Instant) -> Result<Vec<Action>, Refusal> {
        self.tick_clock(now);
        let unit = self.unit(name)?;
        let phase = unit.phase;
        let mut out = Vec::new();
        match phase {
            Phase::Queued | Phase::Loading => {
                let gated = self.gate_step(GateInput::Cancel { model: name.into() }, now);
                out.extend(gated);
                if phase == Phase::Queued {
                    self.set(name, Phase::Stopped, Some("unloaded while queued".into()));
                }
            }
            Phase::Ready | Phase::Running => {
                if let Some(u) = self.units.get_mut(name) {
                    u.ask_stop(StopIntent::Requested);
                    u.reason = Some("stopping on request".into());
                }
                self.stop(name, &mut out);
            }
            Phase::BackingOff { .. } => out.extend(self.cancel_restart(name)),
            Phase::Stopped | Phase::GaveUp | Phase::Failed => {
                // A process still on its way out after a `restart`: not started again.
                let process = self.units.get_mut(name).and_then(|u| u.process.as_mut());
                if let Some(p) = process.filter(|p| p.stop == Some(StopIntent::ThenStart)) {
                    p.stop = Some(StopIntent::Requested);
                }
            }
        }
        Ok(out)
    }

    /// `restart NAME`: stop if running, then load again (through the gate for a model). A unit
    /// backing off starts at once; one that gave up is revived first.
    pub fn restart(&mut self, name: &str, now: Instant) -> Result<Vec<Action>, Refusal> {
        self.tick_clock(now);
        let unit = self.unit(name)?;
        if unit.pid().is_some() {
            if let Some(u) = self.units.get_mut(name) {
                u.ask_stop(StopIntent::ThenStart);
            }
            let mut out = Vec::new();
            self.stop(name, &mut out);
            return Ok(out);
        }
        match unit.phase {
            Phase::Queued | Phase::Loading => Err(Refusal::Already {
                name: name.to_string(),
                state: unit.state().as_str(),
            }),
            Phase::BackingOff { .. } => {
                if let Some(u) = self.units.get_mut(name) {
                    u.restarts += 1;
                }
                Ok(self.start_unit(name, now))
            }
            Phase::Stopped | Phase::Ready | Phase::Running | Phase::GaveUp | Phase::Failed => {
                self.load(name, now)
            }
        }
    }
}
