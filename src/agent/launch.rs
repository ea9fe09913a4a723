//! The launch plan: what the configuration says about each model and service, in the forms the
//! engine (pure [`UnitSpec`]s), the runner ([`Spec`]), the ready probes and the liveness probes
//! need.
//!
//! Built once at start-up from a validated [`Config`]; nothing here does I/O.
//!
//! A unit's `limit` is enforced twice: by the agent's own check of tree PSS plus GPU memory
//! (once a second, `agent::watch`), and by the kernel, which holds the unit's cgroup to
//! [`kernel_limit`] = `limit` + [`kernel_margin`] (`memory.max`, `memory.limit_in_bytes`).
//! The margin is there so the agent's check, with its event and supervised restart, normally
//! acts first and the kernel's OOM killer is only the backstop:
//!
//! ```text
//! limit 64MiB  → margin 64MiB (the floor)   → kernel limit 128MiB
//! limit 4GiB   → margin 409.6MiB (10 %)     → kernel limit 4.4GiB
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::agent::engine::{HealthSpec, UnitSpec};
use crate::config::container::Engine;
use crate::config::probe::{HealthCheck, HealthProbe};
use crate::config::{Config, MemoryNeed, ProgramConfig, ReadyCheck, ReadyProbe, RestartConfig};
use crate::event::figures::KernelLimitUnset;
use crate::event::NewEvent;
use crate::gate::GateConfig;
use crate::probe::{HeartbeatWatch, HttpTarget, Liveness};
use crate::runner::container::ContainerRun;
use crate::runner::Spec;
use crate::supervisor::policy::RestartPolicy;
use crate::units::Bytes;

/// A liveness probe as the I/O layer runs it: one check every `interval`, each bounded by
/// `timeout`.
#[derive(Debug, Clone)]
pub struct HealthPlan {
    pub probe: Liveness,
    pub interval: Duration,
    pub timeout: Duration,
}

/// Everything needed to start one unit and tell when it is ready.
#[derive(Debug, Clone)]
pub struct Launch {
    pub spec: Spec,
    pub ready: Option<ReadyCheck>,
    /// The liveness probe, run once the unit is running (or ready).
    pub health: Option<HealthPlan>,
    /// Pinned weights: the file and its expected sha256 (lowercase hex).
    pub weights: Option<(PathBuf, String)>,
    /// `memory = "auto"`: the weights file the need is estimated from before each load.
    pub estimate_from: Option<PathBuf>,
    /// A container image pinned by digest, compared with the engine's before each load.
    pub image_pin: Option<ImagePin>,
}

/// A container unit's `image = "name@sha256:..."`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePin {
    pub engine: Engine,
    /// The whole `image`, pin included.
    pub image: String,
}

fn image_pin(p: &ProgramConfig) -> Option<ImagePin> {
    let c = p.container.as_ref()?;
    c.digest().map(|_| ImagePin {
        engine: c.engine,
        image: c.image.clone(),
    })
}

/// The whole plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub units: Vec<UnitSpec>,
    pub launches: BTreeMap<String, Launch>,
    pub gate: GateConfig,
}

/// The smallest margin between `limit` and the kernel limit.
pub const KERNEL_MARGIN_MIN: Bytes = Bytes::from_mib(64);
/// The margin as a share of `limit`, in percent, where that is more than the floor.
pub const KERNEL_MARGIN_PERCENT: u64 = 10;

/// What the kernel limit adds to `limit`: the larger of [`KERNEL_MARGIN_MIN`] and
/// [`KERNEL_MARGIN_PERCENT`] of it. The kernel charges what the agent's PSS does not see
/// (page tables and other kernel memory, whole pages of files the tree shares with others),
/// and a tree can grow for up to a second between two of the agent's checks and for the
/// `stop_grace` of the restart that follows.
pub fn kernel_margin(limit: Bytes) -> Bytes {
    let share = Bytes(limit.get() / 100 * KERNEL_MARGIN_PERCENT);
    share.max(KERNEL_MARGIN_MIN)
}

/// The limit written to the unit's cgroup: `limit` plus [`kernel_margin`].
pub fn kernel_limit(limit: Bytes) -> Bytes {
    limit.saturating_add(kernel_margin(limit))
}

fn runner_spec(program: &ProgramConfig) -> Spec {
    let env: Vec<(String, String)> = program
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match &program.container {
        // `env` goes into the container; the client runs with the agent's environment.
        Some(container) => Spec {
            name: program.name.clone(),
            memory_limit: program.limit.map(kernel_limit),
            container: Some(ContainerRun::new(container, env)),
            ..Spec::default()
        },
        None => Spec {
            name: program.name.clone(),
            argv: program
                .command
                .as_ref()
                .map(|c| c.0.clone())
                .unwrap_or_default(),
            env,
            cwd: program.cwd.clone(),
            memory_limit: program.limit.map(kernel_limit),
            ..Spec::default()
        },
    }
}

/// With no cgroup scope (`memory.scope = "system"`) there is no cgroup to hold a kernel limit:
/// one `kernel_limit_unset` warning per unit with a `limit`, which the agent's own check then
/// enforces alone. Empty when the units run in a cgroup scope.
pub fn unbacked_limits(config: &Config, cgroup_scope: bool) -> Vec<NewEvent> {
    if cgroup_scope {
        return Vec::new();
    }
    let programs = config.models.iter().map(|m| &m.program);
    let programs = programs.chain(config.services.iter().map(|s| &s.program));
    programs
        .filter_map(|p| Some((p, p.limit?)))
        .map(|(p, limit)| {
            NewEvent::new(
                KernelLimitUnset {
                    limit_bytes: limit.get(),
                    kernel_limit_bytes: kernel_limit(limit).get(),
                    scope: "system".to_string(),
                },
                Some(&p.name),
            )
            .message(format!(
                "limit {limit} is enforced by the agent's once-a-second check only: \
                 memory.scope is \"system\", so there is no cgroup to hold the kernel \
                 limit {}",
                kernel_limit(limit)
            ))
        })
        .collect()
}

/// The restart policy from `restart = { ... }`.
pub fn restart_policy(r: &RestartConfig) -> RestartPolicy {
    RestartPolicy {
        initial: r.initial.0,
        max: r.max.0,
        max_restarts: r.max_restarts,
        window: r.window.0,
        reset_after: r.reset_after.0,
    }
}

/// The probe the I/O layer runs and the figures the engine counts with; `None` without a
/// `health` table (or with an URL the probe cannot use, which `config check` reports first).
fn health(program: &ProgramConfig) -> Option<(HealthPlan, HealthSpec)> {
    let h: &HealthProbe = program.health.as_ref()?;
    let (kind, probe) = match &h.check {
        HealthCheck::Http(url) => match HttpTarget::parse(url) {
            Ok(t) => ("http", Liveness::Http(t)),
            Err(e) => {
                tracing::error!("health probe of {}: {e}; not probed", program.name);
                return None;
            }
        },
        HealthCheck::Tcp(addr) => ("tcp", Liveness::Tcp(addr.clone())),
        HealthCheck::Exec(argv) => ("exec", Liveness::Exec(argv.0.clone())),
        HealthCheck::Heartbeat { path, stale_after } => (
            "heartbeat",
            Liveness::Heartbeat(HeartbeatWatch::new(path.clone(), stale_after.0)),
        ),
    };
    let plan = HealthPlan {
        probe,
        interval: h.interval.0,
        timeout: h.timeout.0,
    };
    let spec = HealthSpec {
        kind,
        interval: h.interval.0,
        timeout: h.timeout.0,
        failures: h.failures,
    };
    Some((plan, spec))
}

fn unit_spec(
    p: &ProgramConfig,
    declared: Option<Bytes>,
    verify: bool,
    ready: Option<&ReadyProbe>,
) -> UnitSpec {
    UnitSpec {
        name: p.name.clone(),
        declared,
        verify_weights: verify,
        estimate: false,
        gpu_offload: false,
        autostart: p.autostart,
        stop_grace: p.stop_grace.0,
        restart: restart_policy(&p.restart),
        health: health(p).map(|(_, spec)| spec),
        awaits_ready: ready.is_some(),
        ready_timeout: ready.map(|r| r.timeout.0),
    }
}

/// The gate's policy from `[memory]` and `[gate]`, with the board's default reserve where the
/// configuration names none.
pub fn gate_config(config: &Config, board_reserve: Bytes) -> GateConfig {
    let reserve = config.memory.reserve_or(board_reserve);
    GateConfig {
        reserve,
        headroom: config.memory.headroom,
        kill_floor: config.memory.kill_floor_for(reserve),
        fresh_within: config.memory.fresh_within.0,
        settle_window: config.gate.settle_window.0,
        settle_tolerance: config.gate.settle_tolerance,
        settle_timeout: config.gate.settle_timeout.0,
        load_timeout: config.gate.load_timeout.0,
        overshoot_tolerance: config.gate.overshoot_tolerance,
        overshoot_tolerance_percent: config.gate.overshoot_tolerance_percent,
    }
}

/// Builds the plan; models first, then services, each in file order.
pub fn plan(config: &Config, board_reserve: Bytes) -> Plan {
    let mut units = Vec::new();
    let mut launches = BTreeMap::new();
    for model in &config.models {
        let p = &model.program;
        let verify = (model.weights.is_some() && model.sha256.is_some()) || image_pin(p).is_some();
        // `memory = "auto"`: gated on the estimate, so nothing is declared.
        let declared = model.memory.declared().unwrap_or(Bytes::ZERO);
        let estimate_from = match model.memory {
            MemoryNeed::Auto => model.weights.clone(),
            MemoryNeed::Declared(_) => None,
        };
        units.push(UnitSpec {
            estimate: estimate_from.is_some(),
            gpu_offload: model.gpu_offload,
            ..unit_spec(p, Some(declared), verify, Some(&model.ready))
        });
        let weights = match (&model.weights, &model.sha256) {
            (Some(path), Some(sum)) => Some((path.clone(), sum.to_ascii_lowercase())),
            _ => None,
        };
        launches.insert(
            p.name.clone(),
            Launch {
                spec: runner_spec(p),
                ready: Some(model.ready.check.clone()),
                health: health(p).map(|(plan, _)| plan),
                weights,
                estimate_from,
                image_pin: image_pin(p),
            },
        );
    }
    for service in &config.services {
        let p = &service.program;
        units.push(unit_spec(p, None, false, service.ready.as_ref()));
        launches.insert(
            p.name.clone(),
            Launch {
                spec: runner_spec(p),
                ready: service.ready.as_ref().map(|r| r.check.clone()),
                health: health(p).map(|(plan, _)| plan),
                weights: None,
                estimate_from: None,
                image_pin: None,
            },
        );
    }
    Plan {
        units,
        launches,
        gate: gate_config(config, board_reserve),
    }
}

#[cfg(test)]
mod tests;
