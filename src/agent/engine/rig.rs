//! The engine's one test rig: unit specs, the gate's settings, a fixed jitter draw (0.5:
//! every backoff is half its ceiling) and instants built from one base, shared by the unit
//! tests (`tests.rs`, `supervise_tests.rs`) and the property test (`props.rs`).
#![allow(clippy::disallowed_methods)] // one base instant per rig; every other is base + ms

use super::*;
use crate::event::EventKind;
use crate::gate::GateConfig;

pub(super) const GIB: u64 = 1 << 30;
pub(super) const MS: Duration = Duration::from_millis(1);

/// A watch spec with `limit` (restart past it), a 60 s leak window and `warmup`, no leak restart.
pub(super) fn watch_spec(limit: Bytes, warmup: Duration) -> crate::agent::watch::WatchSpec {
    crate::agent::watch::WatchSpec {
        limit: Some(limit),
        max_fds: None,
        max_threads: None,
        on_limit: crate::config::OnLimit::Restart,
        leak_window: Duration::from_secs(60),
        leak_warmup: warmup,
        leak_restart: false,
    }
}

pub(super) fn half() -> f64 {
    0.5
}

pub(super) fn policy() -> RestartPolicy {
    RestartPolicy {
        initial: 200 * MS,
        max: Duration::from_secs(1),
        max_restarts: 3,
        window: Duration::from_secs(60),
        reset_after: Duration::from_secs(10),
    }
}

pub(super) fn service(name: &str, health: Option<u32>) -> UnitSpec {
    UnitSpec {
        name: name.into(),
        declared: None,
        verify_weights: false,
        estimate: false,
        gpu_offload: false,
        autostart: false,
        stop_grace: Duration::from_secs(10),
        restart: policy(),
        health: health.map(|failures| HealthSpec {
            kind: "http",
            interval: Duration::from_secs(1),
            timeout: 500 * MS,
            failures,
        }),
        awaits_ready: false,
        ready_timeout: None,
    }
}

pub(super) struct Rig {
    pub engine: Engine,
    pub t0: Instant,
}

impl Rig {
    pub(super) fn new(specs: Vec<UnitSpec>) -> Rig {
        Rig::watching(specs, crate::agent::watch::Watch::default())
    }

    pub(super) fn watching(specs: Vec<UnitSpec>, watch: crate::agent::watch::Watch) -> Rig {
        let t0 = Instant::now();
        let mut cfg = GateConfig::with_reserve(Bytes(GIB / 2));
        cfg.settle_window = 200 * MS;
        let gate = Gate::new(cfg);
        let engine = Engine::new(gate, specs, BTreeMap::new())
            .with_draw(half)
            .with_watch(watch);
        Rig { engine, t0 }
    }

    pub(super) fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    pub(super) fn input(&mut self, ms: u64, input: Input) -> Vec<Action> {
        let now = self.at(ms);
        self.engine.input(input, now)
    }

    pub(super) fn spawned(&mut self, ms: u64, name: &str, pid: u32) -> Vec<Action> {
        self.input(
            ms,
            Input::Spawned {
                name: name.into(),
                pid,
            },
        )
    }

    pub(super) fn exited(&mut self, ms: u64, name: &str, pid: u32, code: i32) -> Vec<Action> {
        self.input(
            ms,
            Input::Exited {
                name: name.into(),
                pid,
                code: Some(code),
                signal: None,
            },
        )
    }

    pub(super) fn health(&mut self, ms: u64, name: &str, pid: u32, ok: bool) -> Vec<Action> {
        let detail = if ok { "http 200" } else { "http 500" }.to_string();
        self.input(
            ms,
            Input::Health {
                name: name.into(),
                pid,
                ok,
                detail,
            },
        )
    }

    pub(super) fn reading(&mut self, ms: u64, available: u64) -> Vec<Action> {
        let now = self.at(ms);
        let r = MemReading {
            available: Bytes(available),
            total: Bytes(3 * GIB),
            taken_at: now,
            loading_tree_pss: None,
            loading_tree_pss_file: None,
            loading_gpu: None,
        };
        self.engine.input(Input::Reading(r), now)
    }

    pub(super) fn state(&self, name: &str) -> String {
        self.engine
            .view(name)
            .map(|v| v.state.to_string())
            .unwrap_or_default()
    }

    /// Drives one admitted model to ready: spawned, probe passed, memory settled.
    pub(super) fn finish_load(&mut self, name: &str, from_ms: u64, available: u64) -> Vec<Action> {
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

pub(super) fn event(actions: &[Action], kind: EventKind) -> Option<&NewEvent> {
    actions.iter().find_map(|a| match a {
        Action::Event(e) if e.kind == kind => Some(e),
        _ => None,
    })
}

pub(super) fn spawns(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Spawn { .. }))
        .count()
}

pub(super) fn spec(name: &str, declared: Option<u64>) -> UnitSpec {
    UnitSpec {
        name: name.into(),
        declared: declared.map(Bytes),
        verify_weights: false,
        estimate: false,
        gpu_offload: false,
        autostart: false,
        stop_grace: Duration::from_secs(1),
        restart: crate::supervisor::policy::RestartPolicy::default(),
        health: None,
        awaits_ready: declared.is_some(),
        ready_timeout: None,
    }
}

pub(super) fn kinds(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            Action::Event(e) => e.kind.to_string(),
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
