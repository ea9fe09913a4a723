//! Property tests of the engine's step: random sequences of commands and inputs, fed the way
//! the daemon feeds them (each `Spawn` answered at once with `Spawned` and a fresh pid, as the
//! executor does), with time moving forward. After every step:
//!
//! - at most one model is `loading`, and it is the gate's load in flight; a model the gate
//!   holds in flight is `loading` or, once its probe passed, settling as `ready`;
//! - the gate's queue is exactly the models the engine shows `queued` (no weights to verify
//!   here, so a queued model is always waiting on the gate);
//! - a model is spawned only as the gate's load in flight, a kill goes only to the load that
//!   was in flight, and a stop only to a unit that had a process;
//! - a refused command changes no unit's state;
//! - nothing panics, whatever the figures (readings up to `u64::MAX`, exits of stale pids).
//!
//! The engine comes from the one test rig (`rig.rs`), as in the unit tests.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::rig::{watch_spec, Rig, GIB};
use super::*;
use crate::agent::watch::TreeReading;

const UNITS: [&str; 5] = ["m0", "m1", "m2", "s0", "s1"];

#[derive(Debug, Clone)]
enum Op {
    Load(usize),
    Unload(usize),
    Restart(usize),
    Reading {
        available: u64,
    },
    ReadyProbe(usize),
    /// The unit's current process ends (or, with `stale`, an earlier pid's exit arrives).
    Exited {
        unit: usize,
        stale: bool,
        code: i32,
    },
    Health {
        unit: usize,
        ok: bool,
    },
    Tree {
        unit: usize,
        pss: u64,
    },
    Tick,
}

fn op() -> impl Strategy<Value = Op> {
    let unit = 0..UNITS.len();
    prop_oneof![
        3 => unit.clone().prop_map(Op::Load),
        1 => unit.clone().prop_map(Op::Unload),
        1 => unit.clone().prop_map(Op::Restart),
        4 => prop_oneof![8 => 0..4 * GIB, 1 => Just(u64::MAX), 1 => Just(0u64)]
            .prop_map(|available| Op::Reading { available }),
        2 => unit.clone().prop_map(Op::ReadyProbe),
        2 => (unit.clone(), any::<bool>(), 0..3i32)
            .prop_map(|(unit, stale, code)| Op::Exited { unit, stale, code }),
        1 => (unit.clone(), any::<bool>()).prop_map(|(unit, ok)| Op::Health { unit, ok }),
        1 => (unit.clone(), 0..8 * GIB).prop_map(|(unit, pss)| Op::Tree { unit, pss }),
        2 => Just(Op::Tick),
    ]
}

fn specs() -> Vec<UnitSpec> {
    UNITS
        .iter()
        .map(|name| {
            let model = name.starts_with('m');
            UnitSpec {
                name: name.to_string(),
                declared: model.then_some(Bytes(GIB)),
                verify_weights: false,
                estimate: false,
                gpu_offload: false,
                autostart: false,
                stop_grace: Duration::from_secs(1),
                restart: crate::supervisor::policy::RestartPolicy::default(),
                health: Some(HealthSpec {
                    kind: "http",
                    interval: Duration::from_secs(1),
                    timeout: Duration::from_millis(500),
                    failures: 2,
                }),
                awaits_ready: model,
                ready_timeout: model.then_some(Duration::from_secs(3)),
            }
        })
        .collect()
}

/// Every unit limited to 4 GiB, restarted past it: trees over it stop units mid-sequence.
fn watch() -> crate::agent::watch::Watch {
    let spec = crate::agent::watch::WatchSpec {
        max_fds: Some(64),
        leak_restart: true,
        ..watch_spec(Bytes(4 * GIB), Duration::from_secs(5))
    };
    crate::agent::watch::Watch::new(
        UNITS
            .iter()
            .map(|n| (n.to_string(), spec.clone()))
            .collect(),
    )
}

/// The engine, fed as the daemon feeds it, with the pids it handed out.
struct Harness {
    engine: Engine,
    now: Instant,
    next_pid: u32,
    /// Current and earlier pids of each unit.
    pids: BTreeMap<String, Vec<u32>>,
}

impl Harness {
    /// Feeds `actions`' follow-ups (a spawn is answered at once) and checks what each action
    /// may target, given what was in flight before the step.
    fn settle(&mut self, actions: Vec<Action>, in_flight_before: Option<String>) {
        let mut pending = actions;
        while !pending.is_empty() {
            let mut follow = Vec::new();
            for action in pending {
                match action {
                    Action::Spawn { name } => {
                        if name.starts_with('m') {
                            assert_eq!(
                                self.engine.gate().in_flight(),
                                Some(name.as_str()),
                                "a model is spawned only as the load in flight"
                            );
                        }
                        self.next_pid += 1;
                        let pid = self.next_pid;
                        self.pids.entry(name.clone()).or_default().push(pid);
                        follow.push(Input::Spawned { name, pid });
                    }
                    Action::KillNow { name } => assert_eq!(
                        in_flight_before.as_deref(),
                        Some(name.as_str()),
                        "only the load in flight is killed"
                    ),
                    Action::Stop { name, .. } => assert!(
                        self.pids.contains_key(&name),
                        "{name} is stopped without ever having had a process"
                    ),
                    _ => {}
                }
            }
            pending = Vec::new();
            for input in follow {
                pending.extend(self.engine.input(input, self.now));
            }
        }
    }

    fn states(&self) -> Vec<Option<ServiceState>> {
        UNITS.iter().map(|n| self.engine.state(n)).collect()
    }

    fn current_pid(&self, name: &str) -> Option<u32> {
        self.engine
            .pids()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, pid)| pid)
    }

    fn apply(&mut self, op: Op) {
        self.now += Duration::from_millis(50);
        let before = self.engine.gate().in_flight().map(str::to_string);
        let states = self.states();
        let command = |engine: &mut Engine, name: &str, now, which: usize| match which {
            0 => engine.load(name, now),
            1 => engine.unload(name, now),
            _ => engine.restart(name, now),
        };
        let actions = match op {
            Op::Load(u) | Op::Unload(u) | Op::Restart(u) => {
                let which = match op {
                    Op::Load(_) => 0,
                    Op::Unload(_) => 1,
                    _ => 2,
                };
                match command(&mut self.engine, UNITS[u], self.now, which) {
                    Ok(actions) => actions,
                    Err(_) => {
                        assert_eq!(self.states(), states, "a refusal changes nothing");
                        return;
                    }
                }
            }
            Op::Reading { available } => {
                let reading = MemReading {
                    available: Bytes(available),
                    total: Bytes(available.saturating_add(GIB)),
                    taken_at: self.now,
                    loading_tree_pss: None,
                    loading_tree_pss_file: None,
                    loading_gpu: None,
                };
                self.engine.input(Input::Reading(reading), self.now)
            }
            Op::ReadyProbe(u) => self.engine.input(
                Input::ReadyProbePassed {
                    name: UNITS[u].into(),
                },
                self.now,
            ),
            Op::Exited { unit, stale, code } => {
                let name = UNITS[unit];
                let pid = if stale {
                    self.pids.get(name).and_then(|p| p.first().copied())
                } else {
                    self.current_pid(name)
                };
                let Some(pid) = pid else { return };
                self.engine.input(
                    Input::Exited {
                        name: name.into(),
                        pid,
                        code: Some(code),
                        signal: None,
                    },
                    self.now,
                )
            }
            Op::Health { unit, ok } => {
                let name = UNITS[unit];
                let Some(pid) = self.current_pid(name) else {
                    return;
                };
                self.engine.input(
                    Input::Health {
                        name: name.into(),
                        pid,
                        ok,
                        detail: String::new(),
                    },
                    self.now,
                )
            }
            Op::Tree { unit, pss } => {
                let name = UNITS[unit];
                let reading = self.current_pid(name).map(|pid| TreeReading {
                    pid,
                    tree_pss: Bytes(pss),
                    pss_file: None,
                    gpu: None,
                    fds: Some(10),
                    threads: 2,
                    taken_at: self.now,
                });
                self.engine.input(
                    Input::Tree {
                        name: name.into(),
                        reading,
                    },
                    self.now,
                )
            }
            Op::Tick => {
                self.now += Duration::from_secs(1);
                self.engine.input(Input::Tick, self.now)
            }
        };
        self.settle(actions, before);
        self.check();
    }

    fn check(&self) {
        let loading: Vec<&str> = UNITS
            .iter()
            .copied()
            .filter(|n| self.engine.state(n) == Some(ServiceState::Loading))
            .collect();
        assert!(loading.len() <= 1, "two loads at once: {loading:?}");
        let in_flight = self.engine.gate().in_flight();
        if let Some(name) = loading.first() {
            assert_eq!(in_flight, Some(*name), "the loading model is the gate's");
        }
        if let Some(name) = in_flight {
            assert!(
                matches!(
                    self.engine.state(name),
                    Some(ServiceState::Loading | ServiceState::Ready)
                ),
                "the gate's load in flight {name} is {:?} in the engine",
                self.engine.state(name)
            );
        }
        let mut queued_by_gate: Vec<&str> = self.engine.gate().queued().collect();
        queued_by_gate.sort_unstable();
        let queued_by_engine: Vec<&str> = UNITS
            .iter()
            .copied()
            .filter(|n| self.engine.state(n) == Some(ServiceState::Queued))
            .collect();
        assert_eq!(
            queued_by_gate, queued_by_engine,
            "gate and engine agree on the queue"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_gates_invariants_hold_through_the_engines_step(
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let rig = Rig::watching(specs(), watch());
        let mut harness = Harness {
            engine: rig.engine,
            now: rig.t0,
            next_pid: 1000,
            pids: BTreeMap::new(),
        };
        for op in ops {
            harness.apply(op);
        }
    }
}
