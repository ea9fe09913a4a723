//! The launch plan: what the configuration says about each model and service, in the forms the
//! engine (pure [`UnitSpec`]s), the runner ([`Spec`]), the ready probes and the liveness probes
//! need.
//!
//! Built once at start-up from a validated [`Config`]; nothing here does I/O.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::agent::engine::{HealthSpec, UnitSpec};
use crate::config::probe::{HealthCheck, HealthProbe};
use crate::config::{Config, MemoryNeed, ProgramConfig, ReadyCheck, RestartConfig};
use crate::gate::GateConfig;
use crate::probe::{HeartbeatWatch, HttpTarget, Liveness};
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
}

/// The whole plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub units: Vec<UnitSpec>,
    pub launches: BTreeMap<String, Launch>,
    pub gate: GateConfig,
}

fn runner_spec(program: &ProgramConfig) -> Spec {
    Spec {
        name: program.name.clone(),
        argv: program.command.0.clone(),
        env: program
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        cwd: program.cwd.clone(),
        memory_limit: None,
        ..Spec::default()
    }
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

fn unit_spec(p: &ProgramConfig, declared: Option<Bytes>, verify: bool, ready: bool) -> UnitSpec {
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
        awaits_ready: ready,
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
        let verify = model.weights.is_some() && model.sha256.is_some();
        // `memory = "auto"`: gated on the estimate, so nothing is declared.
        let declared = model.memory.declared().unwrap_or(Bytes::ZERO);
        let estimate_from = match model.memory {
            MemoryNeed::Auto => model.weights.clone(),
            MemoryNeed::Declared(_) => None,
        };
        units.push(UnitSpec {
            estimate: estimate_from.is_some(),
            gpu_offload: model.gpu_offload,
            ..unit_spec(p, Some(declared), verify, true)
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
            },
        );
    }
    for service in &config.services {
        let p = &service.program;
        units.push(unit_spec(p, None, false, service.ready.is_some()));
        launches.insert(
            p.name.clone(),
            Launch {
                spec: runner_spec(p),
                ready: service.ready.as_ref().map(|r| r.check.clone()),
                health: health(p).map(|(plan, _)| plan),
                weights: None,
                estimate_from: None,
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
mod tests {
    use super::*;

    #[test]
    fn builds_units_and_launches_from_the_configuration() {
        let text = r#"
[memory]
reserve = "1GiB"

[[model]]
name = "llm"
command = ["llama-server", "-m", "/models/x.gguf"]
memory = "4GiB"
weights = "/models/x.gguf"
sha256 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
ready = { http = "http://127.0.0.1:8080/health" }
env = { CUDA_VISIBLE_DEVICES = "0" }

[[service]]
name = "exporter"
command = ["node-exporter"]
autostart = true
"#;
        let config = Config::from_toml_str(text).unwrap();
        let plan = plan(&config, Bytes::from_mib(512));
        assert_eq!(plan.gate.reserve, Bytes::from_gib(1));
        assert_eq!(plan.gate.kill_floor, Bytes::from_mib(512));
        assert_eq!(plan.units.len(), 2);
        assert_eq!(plan.units[0].declared, Some(Bytes::from_gib(4)));
        assert!(plan.units[0].verify_weights);
        assert_eq!(plan.units[1].declared, None);
        assert!(plan.units[1].autostart);
        let llm = &plan.launches["llm"];
        assert_eq!(llm.spec.argv, vec!["llama-server", "-m", "/models/x.gguf"]);
        assert_eq!(
            llm.spec.env,
            vec![("CUDA_VISIBLE_DEVICES".into(), "0".into())]
        );
        assert_eq!(llm.weights.as_ref().unwrap().1, "a".repeat(64));
        assert!(!plan.units[0].estimate && llm.estimate_from.is_none());
    }

    #[test]
    fn an_auto_memory_model_is_estimated_from_its_weights_and_declares_nothing() {
        let text = r#"
[[model]]
name = "llm"
command = ["llama-server", "-m", "/models/x.gguf", "-c", "4096"]
memory = "auto"
weights = "/models/x.gguf"
ready = { http = "http://127.0.0.1:8080/health" }
"#;
        let plan = plan(&Config::from_toml_str(text).unwrap(), Bytes::from_mib(512));
        let unit = &plan.units[0];
        assert!(unit.estimate && !unit.verify_weights);
        assert_eq!(unit.declared, Some(Bytes::ZERO));
        let llm = &plan.launches["llm"];
        assert_eq!(llm.estimate_from, Some(PathBuf::from("/models/x.gguf")));
        assert_eq!(llm.weights, None);
    }

    #[test]
    fn carries_restart_policy_and_liveness_probe_to_the_engine_and_the_executor() {
        let text = r#"
[[service]]
name = "beat"
command = ["srv"]
health = { heartbeat = "/run/beat", stale_after = "5s", interval = "1s", timeout = "500ms", failures = 2 }
restart = { initial = "200ms", max = "1s", max_restarts = 3, window = "1m", reset_after = "2m" }

[[service]]
name = "plain"
command = ["srv"]
ready = { tcp = "127.0.0.1:9" }
"#;
        let config = Config::from_toml_str(text).unwrap();
        let plan = plan(&config, Bytes::from_mib(512));
        let beat = &plan.units[0];
        assert_eq!(beat.restart.initial, Duration::from_millis(200));
        assert_eq!(beat.restart.max_restarts, 3);
        assert_eq!(beat.restart.reset_after, Duration::from_secs(120));
        let health = beat.health.as_ref().unwrap();
        assert_eq!((health.kind, health.failures), ("heartbeat", 2));
        assert!(!beat.awaits_ready);
        let probe = plan.launches["beat"].health.as_ref().unwrap();
        assert_eq!(probe.interval, Duration::from_secs(1));
        assert!(matches!(
            &probe.probe,
            Liveness::Heartbeat(watch) if watch.stale_after == Duration::from_secs(5)
        ));
        assert!(plan.units[1].health.is_none());
        assert!(plan.units[1].awaits_ready);
        assert!(plan.launches["plain"].health.is_none());
    }

    #[test]
    fn uses_the_board_reserve_when_the_configuration_names_none() {
        let config = Config::embedded_default();
        assert_eq!(
            plan(&config, Bytes::from_mib(768)).gate.reserve,
            Bytes::from_mib(768)
        );
    }
}
