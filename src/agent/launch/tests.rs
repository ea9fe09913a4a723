use super::*;
use crate::event::EventKind;

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
    assert_eq!(llm.spec.memory_limit, None, "no `limit`: no kernel limit");
}

#[test]
fn the_kernel_limit_is_the_limit_plus_the_larger_of_64_mib_and_a_tenth() {
    assert_eq!(kernel_margin(Bytes::from_mib(64)), Bytes::from_mib(64));
    assert_eq!(kernel_limit(Bytes::from_mib(64)), Bytes::from_mib(128));
    // The floor holds up to 640 MiB; a tenth above it.
    assert_eq!(kernel_margin(Bytes::from_mib(640)), Bytes::from_mib(64));
    assert_eq!(kernel_margin(Bytes::from_gib(4)), Bytes(429_496_720));
    assert_eq!(
        kernel_limit(Bytes::from_gib(4)),
        Bytes(4 * Bytes::GIB + 429_496_720)
    );
    assert_eq!(kernel_limit(Bytes(1)), Bytes(1 + 64 * Bytes::MIB));
    assert_eq!(kernel_limit(Bytes(u64::MAX)), Bytes(u64::MAX), "saturates");
}

#[test]
fn without_a_cgroup_scope_each_limit_is_reported_as_having_no_kernel_backstop() {
    let text = r#"
[[service]]
name = "api"
command = ["api"]
limit = "64MiB"

[[service]]
name = "free"
command = ["free"]
"#;
    let config = Config::from_toml_str(text).unwrap();
    assert!(unbacked_limits(&config, true).is_empty());
    let events = unbacked_limits(&config, false);
    assert_eq!(events.len(), 1, "only the unit with a limit: {events:?}");
    let e = &events[0];
    assert_eq!(e.kind, EventKind::KernelLimitUnset);
    assert_eq!(e.subject.as_deref(), Some("api"));
    assert_eq!(e.figures["limit_bytes"], 64 * Bytes::MIB);
    assert_eq!(e.figures["kernel_limit_bytes"], 128 * Bytes::MIB);
    assert_eq!(e.figures["scope"], "system");
}

#[test]
fn a_limit_reaches_the_runner_as_the_kernel_limit_of_models_and_services() {
    let text = r#"
[[model]]
name = "llm"
command = ["llama-server"]
memory = "4GiB"
limit = "4GiB"
ready = { http = "http://127.0.0.1:8080/health" }

[[service]]
name = "api"
command = ["api"]
limit = "64MiB"
"#;
    let plan = plan(&Config::from_toml_str(text).unwrap(), Bytes::from_mib(512));
    assert_eq!(
        plan.launches["llm"].spec.memory_limit,
        Some(kernel_limit(Bytes::from_gib(4)))
    );
    assert_eq!(
        plan.launches["api"].spec.memory_limit,
        Some(Bytes::from_mib(128))
    );
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
    assert_eq!(plan.units[1].ready_timeout, Some(Duration::from_secs(300)));
    assert_eq!(beat.ready_timeout, None);
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

#[test]
fn a_container_unit_reaches_the_runner_as_a_container_with_its_env_and_its_pin() {
    let pin = format!("sha256:{}", "a".repeat(64));
    let text = format!(
        r#"
[[model]]
name = "llm"
memory = "1GiB"
ready = {{ tcp = "127.0.0.1:8080" }}
env = {{ CUDA_VISIBLE_DEVICES = "0" }}
limit = "2GiB"
container = {{ engine = "docker", image = "llama@{pin}", args = ["-c", "4096"], options = ["--runtime", "nvidia"] }}

[[service]]
name = "web"
container = {{ engine = "podman", image = "nginx:1" }}
"#
    );
    let plan = plan(&Config::from_toml_str(&text).unwrap(), Bytes::from_mib(512));
    let llm = &plan.launches["llm"];
    assert!(
        llm.spec.argv.is_empty() && llm.spec.env.is_empty(),
        "{:?}",
        llm.spec
    );
    let run = llm.spec.container.as_ref().unwrap();
    assert_eq!(run.env, vec![("CUDA_VISIBLE_DEVICES".into(), "0".into())]);
    assert_eq!(run.args, ["-c", "4096"]);
    assert_eq!(
        llm.spec.memory_limit,
        Some(kernel_limit(Bytes::from_gib(2)))
    );
    let image_pin = llm.image_pin.as_ref().unwrap();
    assert_eq!(image_pin.image, format!("llama@{pin}"));
    assert!(
        plan.units[0].verify_weights,
        "a pinned image is verified before each load"
    );
    assert!(plan.launches["web"].image_pin.is_none());
}
