//! The walk's table: the base configuration and, for every documented key, the change that
//! sets it and what of the derived parts must show it.

use std::path::Path;

use super::*;
use crate::sources::Root;

mod container;
mod mqtt;

pub(super) fn row(key: &str, set: &[(&str, Option<&str>)], observe: Observe) -> Row {
    Row {
        key: key.into(),
        given: Vec::new(),
        set: own(set),
        observe,
    }
}

fn own(pairs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(String::from)))
        .collect()
}

fn given(mut r: Row, pairs: &[(&str, Option<&str>)]) -> Row {
    r.given = own(pairs);
    r
}

const BASE: &str = r#"
[device]
[memory]
[gate]

[[model]]
name = "m"
command = ["/bin/m"]
memory = "1GiB"
[model.ready]
log = "READY"
[model.health]
http = "http://127.0.0.1:1/h"
[model.restart]
[model.leak]

[[service]]
name = "s"
command = ["/bin/s"]
[service.ready]
log = "READY"
[service.health]
http = "http://127.0.0.1:1/h"
[service.restart]
[service.leak]

[store]
[control]
[metrics]
"#;

fn manifest_file() -> String {
    format!("{}/Cargo.toml", env!("CARGO_MANIFEST_DIR"))
}

pub(super) fn base() -> String {
    format!(
        "{BASE}\n[mqtt]\nurl = \"mqtts://broker\"\nca = \"{}\"\n",
        manifest_file()
    )
}

/// The rows of a `[[model]]` or `[[service]]` entry's shared keys, for `kind`.
fn program_rows(kind: &str) -> Vec<Row> {
    let s = |suffix: &str| format!("{kind}.{suffix}");
    let unit: Observe = |d, n| d.unit(n);
    let spec: Observe = |d, n| format!("{:?}", d.launch(n).spec);
    let ready: Observe = |d, n| format!("{:?}", d.launch(n).ready);
    let health: Observe = |d, n| format!("{:?} {}", d.launch(n).health, d.unit(n));
    let watch: Observe = |d, n| d.watch(n);
    let rows = vec![
        row("name", &[("name", Some("\"renamed\""))], |d, _| d.names()),
        row(
            "command",
            &[("command", Some("[\"/bin/other\", \"-x\"]"))],
            spec,
        ),
        row("env", &[("env", Some("{ A = \"1\" }"))], spec),
        row("cwd", &[("cwd", Some("\"/tmp\""))], spec),
        row(
            "ready",
            &[("ready", Some("{ tcp = \"127.0.0.1:4\" }"))],
            ready,
        ),
        row(
            "ready.http",
            &[
                ("ready.log", None),
                ("ready.http", Some("\"http://127.0.0.1:2/r\"")),
            ],
            ready,
        ),
        row(
            "ready.tcp",
            &[("ready.log", None), ("ready.tcp", Some("\"127.0.0.1:2\""))],
            ready,
        ),
        row("ready.log", &[("ready.log", Some("\"LISTENING\""))], ready),
        row(
            "ready.file",
            &[("ready.log", None), ("ready.file", Some("\"/run/ready\""))],
            ready,
        ),
        row("ready.timeout", &[("ready.timeout", Some("\"1m\""))], unit),
        row("health", &[("health", None)], health),
        row(
            "health.http",
            &[("health.http", Some("\"http://127.0.0.1:3/h\""))],
            health,
        ),
        row(
            "health.tcp",
            &[
                ("health.http", None),
                ("health.tcp", Some("\"127.0.0.1:3\"")),
            ],
            health,
        ),
        row(
            "health.exec",
            &[
                ("health.http", None),
                ("health.exec", Some("[\"/bin/true\"]")),
            ],
            health,
        ),
        row(
            "health.heartbeat",
            &[
                ("health.http", None),
                ("health.heartbeat", Some("\"/run/beat\"")),
            ],
            health,
        ),
        given(
            row(
                "health.stale_after",
                &[("health.stale_after", Some("\"7s\""))],
                health,
            ),
            &[
                (&s("health.http"), None),
                (&s("health.heartbeat"), Some("\"/run/beat\"")),
            ],
        ),
        row(
            "health.interval",
            &[("health.interval", Some("\"9s\""))],
            health,
        ),
        row(
            "health.timeout",
            &[("health.timeout", Some("\"2s\""))],
            health,
        ),
        row("health.failures", &[("health.failures", Some("7"))], health),
        row("limit", &[("limit", Some("\"2GiB\""))], watch),
        row("max_fds", &[("max_fds", Some("100"))], watch),
        row("max_threads", &[("max_threads", Some("50"))], watch),
        row("on_limit", &[("on_limit", Some("\"restart\""))], watch),
        row(
            "restart",
            &[("restart", Some("{ initial = \"3s\" }"))],
            unit,
        ),
        row(
            "restart.initial",
            &[("restart.initial", Some("\"2s\""))],
            unit,
        ),
        row("restart.max", &[("restart.max", Some("\"1m\""))], unit),
        row(
            "restart.max_restarts",
            &[("restart.max_restarts", Some("9"))],
            unit,
        ),
        row(
            "restart.window",
            &[("restart.window", Some("\"1h\""))],
            unit,
        ),
        row(
            "restart.reset_after",
            &[("restart.reset_after", Some("\"1h\""))],
            unit,
        ),
        row("leak", &[("leak", Some("{ window = \"20m\" }"))], watch),
        row("leak.window", &[("leak.window", Some("\"20m\""))], watch),
        row("leak.warmup", &[("leak.warmup", Some("\"5m\""))], watch),
        row("leak.restart", &[("leak.restart", Some("true"))], watch),
        row("autostart", &[("autostart", Some("false"))], |d, n| {
            format!("{:?} {}", d.boot, d.unit(n))
        }),
        row("stop_grace", &[("stop_grace", Some("\"3s\""))], unit),
    ];
    // `given` paths above are already prefixed; `set` and keys get the entry's kind here.
    rows.into_iter()
        .map(|r| Row {
            key: s(&r.key),
            set: r.set.into_iter().map(|(k, v)| (s(&k), v)).collect(),
            ..r
        })
        .collect()
}

pub(super) fn rows() -> Vec<Row> {
    let gate: Observe = |d, _| format!("{:?}", d.plan.gate);
    let settings: Observe = |d, _| format!("{:?}", d.settings);
    let mut rows = vec![
        row("device.id", &[("device.id", Some("\"walker\""))], |d, _| {
            format!("{} {}", d.settings.device_id, d.link())
        }),
        row(
            "device.board",
            &[("device.board", Some("\"orin-nx-16gb\""))],
            |d, _| {
                // A fixture Orin Nano: detection says orin-nano-8gb unless the key names another.
                let tree =
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/orin-nano-8gb-jp6");
                let board = crate::board::detect_or_configured(
                    &Root::new(tree),
                    d.settings.board.as_deref(),
                );
                board
                    .map(|b| b.id().to_string())
                    .unwrap_or_else(|e| e.to_string())
            },
        ),
        row(
            "device.tegrastats",
            &[("device.tegrastats", Some("\"/opt/tegrastats\""))],
            settings,
        ),
        row(
            "memory.reserve",
            &[("memory.reserve", Some("\"1GiB\""))],
            gate,
        ),
        row("memory.headroom", &[("memory.headroom", Some("0.3"))], gate),
        row(
            "memory.kill_floor",
            &[("memory.kill_floor", Some("\"100MiB\""))],
            gate,
        ),
        row(
            "memory.sample_interval",
            &[("memory.sample_interval", Some("\"200ms\""))],
            settings,
        ),
        row(
            "memory.load_sample_interval",
            &[("memory.load_sample_interval", Some("\"10ms\""))],
            settings,
        ),
        row(
            "memory.fresh_within",
            &[("memory.fresh_within", Some("\"1s\""))],
            gate,
        ),
        row(
            "memory.scope",
            &[("memory.scope", Some("\"cgroup:/jetgate.slice\""))],
            settings,
        ),
        row(
            "memory.pressure_high",
            &[("memory.pressure_high", Some("25.0"))],
            settings,
        ),
        row(
            "gate.settle_window",
            &[("gate.settle_window", Some("\"1s\""))],
            gate,
        ),
        row(
            "gate.settle_tolerance",
            &[("gate.settle_tolerance", Some("\"16MiB\""))],
            gate,
        ),
        row(
            "gate.settle_timeout",
            &[("gate.settle_timeout", Some("\"90s\""))],
            gate,
        ),
        row(
            "gate.load_timeout",
            &[("gate.load_timeout", Some("\"10m\""))],
            gate,
        ),
        row(
            "gate.overshoot_tolerance",
            &[("gate.overshoot_tolerance", Some("\"64MiB\""))],
            gate,
        ),
        row(
            "gate.overshoot_tolerance_percent",
            &[("gate.overshoot_tolerance_percent", Some("5.0"))],
            gate,
        ),
        row(
            "model.memory",
            &[("model.memory", Some("\"2GiB\""))],
            |d, _| d.unit("m"),
        ),
        row(
            "model.gpu_offload",
            &[("model.gpu_offload", Some("true"))],
            |d, _| d.unit("m"),
        ),
        row(
            "model.weights",
            &[
                ("model.memory", Some("\"auto\"")),
                ("model.weights", Some("\"/models/m.gguf\"")),
            ],
            |d, _| format!("{:?}", d.launch("m").estimate_from),
        ),
        given(
            row(
                "model.sha256",
                &[(
                    "model.sha256",
                    Some("\"00000000000000000000000000000000000000000000000000000000000000aa\""),
                )],
                |d, _| format!("{:?} {}", d.launch("m").weights, d.unit("m")),
            ),
            &[
                ("model.memory", Some("\"auto\"")),
                ("model.weights", Some("\"/models/m.gguf\"")),
            ],
        ),
        row(
            "store.path",
            &[("store.path", Some("\"/srv/jetgate.db\""))],
            settings,
        ),
        row(
            "store.max_events",
            &[("store.max_events", Some("10"))],
            settings,
        ),
        row(
            "store.max_age",
            &[("store.max_age", Some("\"1d\""))],
            settings,
        ),
        row(
            "control.socket",
            &[("control.socket", Some("\"/run/other.sock\""))],
            settings,
        ),
        row(
            "control.group",
            &[("control.group", Some("\"jetgate\""))],
            settings,
        ),
        row(
            "metrics.listen",
            &[("metrics.listen", Some("\"127.0.0.1:9464\""))],
            settings,
        ),
        row(
            "metrics.textfile",
            &[("metrics.textfile", Some("\"/srv/jetgate.prom\""))],
            settings,
        ),
    ];
    rows.extend(mqtt::rows());
    rows.extend(program_rows("model"));
    rows.extend(program_rows("service"));
    rows.extend(container::rows("model"));
    rows.extend(container::rows("service"));
    rows
}
