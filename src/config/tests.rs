//! Whole-file tests of the loader: positions, collected problems, defaults, shipped files.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::units::{Bytes, HumanDuration};

fn problems(text: &str) -> Vec<Problem> {
    match Config::from_toml_str(text) {
        Ok(_) => panic!("expected problems in:\n{text}"),
        Err(p) => p,
    }
}

fn lines(problems: &[Problem]) -> Vec<usize> {
    problems.iter().map(|p| p.line).collect()
}

const MODEL: &str = r#"
[[model]]
name = "llm"
command = ["/opt/llm/server", "--port", "8080"]
memory = "6GiB"
ready = { http = "http://127.0.0.1:8080/health" }
"#;

#[test]
fn an_empty_file_gets_every_default() {
    let c = Config::from_toml_str("").unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(c.memory.headroom, 0.10);
    assert_eq!(c.memory.sample_interval.0, Duration::from_millis(100));
    assert_eq!(c.memory.load_sample_interval.0, Duration::from_millis(5));
    assert_eq!(c.memory.fresh_within.0, Duration::from_millis(500));
    assert_eq!(c.memory.scope, MemoryScope::System);
    assert_eq!(c.memory.pressure_high, 10.0);
    assert_eq!((c.memory.reserve, c.memory.kill_floor), (None, None));
    assert_eq!(c.gate.settle_window.0, Duration::from_secs(2));
    assert_eq!(c.gate.settle_tolerance, Bytes::from_mib(64));
    assert_eq!(c.gate.settle_timeout.0, Duration::from_secs(60));
    assert_eq!(c.gate.load_timeout.0, Duration::from_secs(300));
    assert_eq!(c.store.path, PathBuf::from("/var/lib/jetgate/jetgate.db"));
    assert_eq!(c.store.max_events, 100_000);
    assert_eq!(c.store.max_age.0, Duration::from_secs(30 * 86_400));
    assert_eq!(c.control.socket, PathBuf::from("/run/jetgate/control.sock"));
    assert!(c.mqtt.is_none() && c.models.is_empty() && c.services.is_empty());
}

#[test]
fn a_minimal_model_gets_default_policies() {
    let c = Config::from_toml_str(MODEL).unwrap();
    let m = &c.models[0];
    assert_eq!(m.name(), "llm");
    assert_eq!(m.memory, MemoryNeed::Declared(Bytes::from_gib(6)));
    assert_eq!(
        m.ready.check,
        ReadyCheck::Http("http://127.0.0.1:8080/health".into())
    );
    let p = &m.program;
    assert_eq!(p.restart, RestartConfig::default());
    assert_eq!(p.restart.initial.0, Duration::from_secs(1));
    assert_eq!(p.restart.max_restarts, 5);
    assert_eq!(p.leak.warmup.0, Duration::from_secs(120));
    assert!(!p.leak.restart);
    assert!(p.autostart, "units start with the agent unless told not to");
    assert_eq!(p.on_limit, OnLimit::Warn);
    assert_eq!(p.stop_grace.0, Duration::from_secs(10));
    assert_eq!(
        c.summary(),
        "1 model, 0 services, scope system, mqtt off, metrics off"
    );
}

#[test]
fn memory_auto_needs_the_weights_it_is_estimated_from() {
    let auto = MODEL.replace("memory = \"6GiB\"", "memory = \"auto\"");
    let c = Config::from_toml_str(&format!("{auto}weights = \"/models/llm.gguf\"\n")).unwrap();
    assert_eq!(c.models[0].memory, MemoryNeed::Auto);
    assert_eq!(c.models[0].memory.declared(), None);
    // Without `weights`: refused at the `memory` line, saying what to do.
    let p = problems(&auto);
    assert_eq!(lines(&p), [5]);
    assert!(p[0].message.contains("set `weights`"), "{}", p[0].message);
    // A `limit` cannot be checked against a need known only at load time.
    let limited = format!("{auto}weights = \"/m.gguf\"\nlimit = \"1MiB\"\n");
    assert!(Config::from_toml_str(&limited).is_ok());
    // Another word is neither a size nor "auto".
    let p = problems(&MODEL.replace("\"6GiB\"", "\"automatic\""));
    assert_eq!(lines(&p), [5]);
    assert!(p[0].message.contains("or \"auto\""), "{}", p[0].message);
    // An integer of bytes still declares a size.
    let c = Config::from_toml_str(&MODEL.replace("\"6GiB\"", "1048576")).unwrap();
    assert_eq!(c.models[0].memory, MemoryNeed::Declared(Bytes::from_mib(1)));
}

#[test]
fn mqtt_defaults_apply_when_only_the_url_is_given() {
    let c = Config::from_toml_str("[mqtt]\nurl = \"mqtt://localhost\"\n").unwrap();
    let m = c.mqtt.unwrap();
    assert_eq!(m.prefix, "jetgate");
    assert_eq!(m.url.port, 1883);
    assert_eq!(m.state_interval, HumanDuration(Duration::from_secs(10)));
    assert_eq!(m.telemetry_interval, HumanDuration(Duration::from_secs(5)));
    assert_eq!(m.outbox_limit, Bytes::from_mib(64));
    assert_eq!(m.connect_spread, HumanDuration(Duration::from_secs(10)));
    assert_eq!((m.backlog_rate, m.max_payload), (200, Bytes::from_kib(256)));
}

#[test]
fn reconnect_keys_out_of_their_bounds_are_refused_at_their_line() {
    let url = "[mqtt]\nurl = \"mqtt://localhost\"\n";
    let ok = format!("{url}connect_spread = \"0s\"\nbacklog_rate = 1\nmax_payload = \"1KiB\"\n");
    assert!(Config::from_toml_str(&ok).is_ok());
    for (bad, why) in [
        ("connect_spread = \"2h\"", "at most 1h"),
        ("backlog_rate = 0", "1-100000"),
        ("max_payload = \"512B\"", "1KiB-960KiB"),
        ("max_payload = \"1MiB\"", "1KiB-960KiB"),
    ] {
        let p = problems(&format!("{url}{bad}\n"));
        assert_eq!(lines(&p), [3], "{bad}: {p:#?}");
        assert!(p[0].message.contains(why), "{bad}: {p:#?}");
    }
}

#[test]
fn unknown_keys_are_rejected_with_their_line() {
    let p = problems("[memory]\nheadroom = 0.2\nreserv = \"1GiB\"\n");
    assert_eq!(lines(&p), [3]);
    assert_eq!(p[0].column, 1);
    assert!(
        p[0].message.contains("unknown field `reserv`"),
        "{}",
        p[0].message
    );
    assert!(p[0].message.starts_with("memory:"), "{}", p[0].message);

    let p = problems(&format!("{MODEL}restart = {{ intial = \"1s\" }}\n"));
    assert_eq!(lines(&p), [7]);
    assert!(p[0].message.contains("`intial`"), "{}", p[0].message);

    let p = problems("[memroy]\nreserve = \"1GiB\"\n");
    assert_eq!(lines(&p), [1]);
    assert!(p[0].message.contains("unknown section `memroy`"));
}

#[test]
fn a_shell_string_command_is_refused() {
    let p = problems("[[service]]\nname = \"cam\"\ncommand = \"/opt/cam --fps 30\"\n");
    assert_eq!(lines(&p), [3]);
    assert!(
        p[0].message.contains("argv array, never a shell string"),
        "{}",
        p[0].message
    );
    assert!(
        p[0].message.starts_with("service \"cam\":"),
        "{}",
        p[0].message
    );
}

#[test]
fn every_problem_is_listed_in_one_run() {
    let text = r#"[memory]
headroom = 1.5
scope = "system"

[gate]
settle_window = "2 fortnights"

[[model]]
name = "llm"
command = "/opt/llm/server --port 8080"
memory = "6GiB"
weights = "/models/llm.gguf"
sha256 = "abc123"
ready = { http = "http://127.0.0.1:8080/health" }
"#;
    let p = problems(text);
    let got: Vec<(usize, &str)> = p.iter().map(|p| (p.line, p.message.as_str())).collect();
    assert_eq!(lines(&p), [2, 6, 10, 13], "{got:#?}");
    assert!(p[0].message.contains("`memory.headroom`"), "{got:#?}");
    assert!(p[1].message.contains("unknown duration unit"), "{got:#?}");
    assert!(p[2].message.contains("never a shell string"), "{got:#?}");
    // The model's command did not deserialize, yet its model-only keys are still checked.
    assert!(p[3].message.contains("64 hexadecimal digits"), "{got:#?}");
}

#[test]
fn a_section_with_several_bad_keys_reports_each_of_them() {
    let p = problems("[memory]\nreserv = \"1GiB\"\nscope = \"host\"\nheadroom = 2.0\n");
    let got: Vec<(usize, &str)> = p.iter().map(|p| (p.line, p.message.as_str())).collect();
    assert_eq!(lines(&p), [2, 3, 4], "{got:#?}");
}

#[test]
fn a_bad_value_is_not_judged_again_through_its_default() {
    // settle_window is unreadable; its 2s default must not be reported against the 1s timeout.
    let p = problems("[gate]\nsettle_window = \"2 fortnights\"\nsettle_timeout = \"1s\"\n");
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0].line, 2);
}

#[test]
fn duplicate_names_are_reported_on_the_second_use() {
    let text = format!("{MODEL}\n[[service]]\nname = \"llm\"\ncommand = [\"/x\"]\n");
    let p = problems(&text);
    assert_eq!(lines(&p), [9], "{p:#?}");
    assert!(
        p[0].message.contains("already used by model[0]"),
        "{}",
        p[0].message
    );
}

#[test]
fn semantic_problems_point_at_the_offending_key() {
    let text = r#"[memory]
reserve = "1GiB"
kill_floor = "2GiB"

[[service]]
name = "cam"
command = ["/opt/cam"]
memory = "1GiB"

[[model]]
name = "bad name"
command = ["/opt/m"]
memory = "1GiB"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
ready = { log = "([" }

[mqtt]
url = "mqtt://localhost"
cert = "/etc/jetgate/c.pem"
"#;
    let p = problems(text);
    let got: Vec<(usize, &str)> = p.iter().map(|p| (p.line, p.message.as_str())).collect();
    assert_eq!(lines(&p), [3, 8, 11, 14, 15, 19, 19], "{got:#?}");
    assert!(p[1].message.contains("for [[model]] entries only"));
    assert!(p[3].message.contains("without `weights`"));
    assert!(p[4].message.contains("regular expression"));
    assert!(p.iter().any(|p| p.message.contains("without `mqtt.key`")));
    assert!(p.iter().any(|p| p.message.contains("needs an mqtts://")));
}

#[test]
fn weights_that_would_do_nothing_are_refused_at_their_line() {
    let text = format!("{MODEL}weights = \"/models/llm.gguf\"\n");
    let p = problems(&text);
    assert_eq!(lines(&p), [7], "{p:#?}");
    assert!(
        p[0].message
            .contains("`weights` without `sha256` does nothing"),
        "{p:#?}"
    );
    // Pinned, or estimated from: each gives the file a use.
    let pinned = format!("{text}sha256 = \"{}\"\n", "0".repeat(64));
    assert!(Config::from_toml_str(&pinned).is_ok());
    let auto = text.replace("memory = \"6GiB\"", "memory = \"auto\"");
    assert!(Config::from_toml_str(&auto).is_ok());
}

#[test]
fn a_models_ready_timeout_past_the_load_timeout_is_refused_at_its_line() {
    let longer = MODEL.replace(
        "ready = { http = \"http://127.0.0.1:8080/health\" }",
        "ready = { http = \"http://127.0.0.1:8080/health\", timeout = \"6m\" }",
    );
    let p = problems(&longer);
    assert_eq!(lines(&p), [6], "{p:#?}");
    assert!(p[0].message.contains("could never act"), "{p:#?}");
    // Equal (the defaults) acts: the ready timeout is judged first. Left unset, the load
    // timeout is simply the shorter bound: nothing written goes unused.
    assert!(Config::from_toml_str(MODEL).is_ok());
    let shorter_load = format!("[gate]\nload_timeout = \"2m\"\n{MODEL}");
    assert!(Config::from_toml_str(&shorter_load).is_ok());
    let raised = format!("[gate]\nload_timeout = \"10m\"\n{longer}");
    assert!(Config::from_toml_str(&raised).is_ok());
    // A service has no load: its ready timeout is bounded by nothing else.
    let service = "[[service]]\nname = \"s\"\ncommand = [\"/x\"]\n\
                   ready = { tcp = \"127.0.0.1:9\", timeout = \"1h\" }\n";
    assert!(Config::from_toml_str(service).is_ok());
}

#[test]
fn a_model_without_memory_or_ready_is_reported_at_its_header() {
    let p = problems("\n[[model]]\nname = \"m\"\ncommand = [\"/m\"]\n");
    assert_eq!(lines(&p), [2]);
    assert!(p[0].message.contains("missing field"), "{}", p[0].message);
}

#[test]
fn a_single_model_table_is_told_to_use_double_brackets() {
    let p = problems("[model]\nname = \"m\"\n");
    assert_eq!(lines(&p), [1]);
    assert!(p[0].message.contains("[[model]]"), "{}", p[0].message);
}

#[test]
fn inline_arrays_of_entries_read_like_double_brackets() {
    let c = Config::from_toml_str(
        "service = [{ name = \"a\", command = [\"/a\"] }, { name = \"b\", command = [\"/b\"] }]",
    )
    .unwrap();
    assert_eq!(c.names().collect::<Vec<_>>(), ["a", "b"]);
    let p = problems("service = [{ name = \"a\", command = [\"/a\"] },\n 3]");
    assert_eq!(lines(&p), [2]);
}

#[test]
fn a_syntax_error_is_reported_with_its_position() {
    let p = problems("[memory]\nheadroom = = 1\n");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].line, 2);
    assert!(p[0].message.starts_with("invalid TOML"), "{}", p[0].message);
}

#[test]
fn load_names_the_file_in_every_problem_and_refuses_unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[gate]\nx = 1\n[control]\ny = 2\n").unwrap();
    let err = Config::load(&path).unwrap_err();
    let text = err.to_string();
    let shown: Vec<&str> = text.lines().collect();
    assert_eq!(shown.len(), 2, "{text}");
    assert!(
        shown[0].starts_with(&format!("{}:2:1: gate:", path.display())),
        "{text}"
    );
    assert!(
        shown[1].starts_with(&format!("{}:4:1: control:", path.display())),
        "{text}"
    );
    let missing = Config::load(dir.path().join("nope.toml")).unwrap_err();
    assert!(matches!(missing, ConfigError::Read { .. }));
    assert!(missing.to_string().contains("nope.toml"), "{missing}");
}

#[test]
fn the_embedded_default_parses_and_is_monitor_only() {
    let c = Config::from_toml_str(EMBEDDED_DEFAULT).unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(Config::embedded_default(), c);
    assert!(c.models.is_empty() && c.services.is_empty() && c.mqtt.is_none());
}

#[test]
fn every_example_config_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(e) = Config::load(&path) {
                panic!("{e}");
            }
            seen += 1;
        }
    }
    assert!(seen >= 1, "no *.toml in {}", dir.display());
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_the_checker(text in "(?s).{0,200}") {
        let _ = Config::from_toml_str(&text);
    }

    #[test]
    fn arbitrary_toml_like_text_never_panics_the_checker(
        text in "(\\[\\[?(model|service|memory|mqtt|gate)\\]\\]?\n|[a-z_]{1,12} = (\"[^\"\n]{0,12}\"|[0-9.]{1,5}|\\[\"[a-z/ ]{0,6}\"\\]|\\{ ?[a-z]{1,6} = \"[^\"\n]{0,8}\" ?\\})\n){0,12}"
    ) {
        if let Err(problems) = Config::from_toml_str(&text) {
            prop_assert!(!problems.is_empty());
            let n = text.lines().count().max(1) + 1;
            for p in problems {
                prop_assert!(p.line >= 1 && p.line <= n && p.column >= 1, "{p:?}");
            }
        }
    }
}

/// Every key path in `item`, array indices dropped: `model.ready.http`.
fn key_paths(prefix: &str, item: &toml_edit::Item, out: &mut Vec<String>) {
    let mut visit = |key: &str, child: &toml_edit::Item| {
        let path = if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        };
        out.push(path.clone());
        // `env` holds free-form variable names, not schema keys.
        if key != "env" {
            key_paths(&path, child, out);
        }
    };
    match item {
        toml_edit::Item::Table(t) => t.iter().for_each(|(k, v)| visit(k, v)),
        toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => {
            for (k, v) in t.iter() {
                visit(k, &toml_edit::Item::Value(v.clone()));
            }
        }
        toml_edit::Item::ArrayOfTables(a) => {
            for t in a.iter() {
                key_paths(prefix, &toml_edit::Item::Table(t.clone()), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_key_of_the_reference_example_is_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/configuration.md")).unwrap();
    let documented: Vec<&str> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
        .collect();
    let example = std::fs::read_to_string(root.join("examples/jetgate.toml")).unwrap();
    let doc: toml_edit::DocumentMut = example.parse().unwrap();
    let mut keys = Vec::new();
    key_paths("", doc.as_item(), &mut keys);
    assert!(keys.len() > 50, "{keys:?}");
    for key in keys {
        let section_only = !key.contains('.');
        assert!(
            section_only || documented.contains(&key.as_str()),
            "`{key}` is in examples/jetgate.toml but not in docs/configuration.md"
        );
    }
}
