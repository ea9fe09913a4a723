//! `docs/configuration.md` checked against the schema, both ways: every key the loader
//! accepts has a row in the reference, and every row names a key the loader accepts.
//!
//! The accepted keys are asked of the loader itself: a table given an unknown key answers
//! with serde's list (``unknown field `zzz`, expected one of `url`, `prefix`, ...``); the
//! keys an entry routes to its gated part come from [`SPLIT_KEYS`]. The documented keys are
//! the first cell of each table row: `` | `memory.reserve` | size | ... ``.

use std::collections::BTreeSet;
use std::path::Path;

use super::program::SPLIT_KEYS;
use super::*;

const ENTRY: &str = "name = \"a\"\ncommand = [\"/x\"]\n";
const MODEL_MIN: &str = "memory = \"1MiB\"\nready = { log = \"R\" }\n";
/// The keys of `[[model]]` / `[[service]]` whose values are tables with keys of their own.
const NESTED: [&str; 5] = ["ready", "health", "restart", "leak", "container"];

/// The backquoted names after "expected" in the first problem of `text`.
fn expected_keys(text: &str) -> Vec<String> {
    let problems = Config::from_toml_str(text).expect_err("the probe key is unknown");
    let message = &problems[0].message;
    let (_, list) = message
        .split_once("expected")
        .unwrap_or_else(|| panic!("no key list in {message:?} for\n{text}"));
    let keys: Vec<String> = list
        .split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect();
    assert!(!keys.is_empty(), "no key list in {message:?}");
    keys
}

/// Every key path the loader accepts, from the loader's own answers.
fn schema_keys() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |prefix: &str, keys: Vec<String>| {
        out.extend(keys.into_iter().map(|k| format!("{prefix}.{k}")));
    };
    for section in ["device", "memory", "gate", "store", "control", "metrics"] {
        add(section, expected_keys(&format!("[{section}]\nzzz = 1\n")));
    }
    add(
        "mqtt",
        expected_keys("[mqtt]\nurl = \"mqtt://broker\"\nzzz = 1\n"),
    );
    for (kind, min, split) in [
        ("model", MODEL_MIN, SPLIT_KEYS.as_slice()),
        ("service", "", ["ready"].as_slice()),
    ] {
        let head = format!("[[{kind}]]\n{ENTRY}{min}");
        add(kind, expected_keys(&format!("{head}zzz = 1\n")));
        add(kind, split.iter().map(|k| k.to_string()).collect());
        for table in NESTED {
            let body = match table {
                "ready" => format!("[[{kind}]]\n{ENTRY}memory = \"1MiB\"\nready = {{ zzz = 1 }}\n"),
                _ => format!("{head}{table} = {{ zzz = 1 }}\n"),
            };
            let body = if kind == "service" {
                body.replace("memory = \"1MiB\"\n", "")
            } else {
                body
            };
            add(&format!("{kind}.{table}"), expected_keys(&body));
        }
    }
    out
}

/// The first cell of every table row of the reference that names a key.
pub(crate) fn documented_keys() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md");
    let text = std::fs::read_to_string(path).expect("docs/configuration.md");
    text.lines()
        .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
        .map(String::from)
        .collect()
}

#[test]
fn every_key_the_loader_accepts_is_in_the_reference() {
    let schema = schema_keys();
    assert!(schema.len() > 60, "too few keys probed: {schema:?}");
    assert!(schema.contains("mqtt.outbox_limit") && schema.contains("model.health.failures"));
    let documented = documented_keys();
    let missing: Vec<_> = schema.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "accepted by the loader but not in docs/configuration.md: {missing:?}"
    );
}

#[test]
fn every_key_in_the_reference_is_accepted_by_the_loader() {
    let schema = schema_keys();
    let stale: Vec<_> = documented_keys()
        .into_iter()
        .filter(|k| !schema.contains(k))
        .collect();
    assert!(
        stale.is_empty(),
        "in docs/configuration.md but refused by the loader: {stale:?}"
    );
}

#[test]
fn the_probe_sees_a_key_the_schema_lacks() {
    // The probe itself can fail: a made-up key is not among the accepted ones.
    let schema = schema_keys();
    assert!(!schema.contains("memory.reserv"));
    assert!(
        !schema.contains("service.memory"),
        "service entries refuse model-only keys"
    );
}

#[test]
fn every_toml_example_in_getting_started_is_a_valid_config() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/getting-started.md");
    let text = std::fs::read_to_string(path).expect("docs/getting-started.md");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```toml") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(
        blocks.len() >= 2,
        "expected the config examples, found {blocks:?}"
    );
    for block in blocks {
        if let Err(problems) = Config::from_toml_str(&block) {
            panic!("docs/getting-started.md example does not load: {problems:?}\n{block}");
        }
    }
}
