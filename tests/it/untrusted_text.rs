//! Untrusted text on a terminal: a note (from the control socket, or a remote device's event
//! seen by `fleet`) with an ANSI escape and a newline is printed as one row with visible
//! escapes by `jetgate events` and `jetgate fleet`; `--json` keeps the text exact.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::broker::{Broker, Sub};
use crate::harness::{succeeded, wait_for, Agent, JETGATE};

const HOSTILE: &str = "hi\x1b[2J\nFAKE ROW\u{202e}";

#[test]
fn events_prints_a_hostile_note_as_one_row_with_visible_escapes() {
    let agent = Agent::start("");
    succeeded(agent.cli(&["note", HOSTILE]));
    let text = succeeded(agent.cli(&["events", "--kind", "note"]));
    assert!(!text.contains('\x1b'), "{text:?}");
    assert!(!text.contains('\u{202e}'), "{text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "a header and one row: {text:?}");
    assert!(
        lines[1].ends_with("hi\\e[2J\\nFAKE ROW\\u{202e}"),
        "{text:?}"
    );
    // Stored as given: --json carries the exact text.
    let notes: Vec<serde_json::Value> = agent
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "note")
        .collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["message"], HOSTILE);
}

#[test]
fn fleet_prints_a_hostile_remote_event_kind_as_one_row() {
    let broker = Broker::start("");
    let sub = Sub::connect(broker.port, "pub-evil", true, &["jetgate/evil/status"]);
    let status = json!({"online": true, "session": 1, "pid": 1, "version": "0", "ts": "2026-01-01T00:00:00Z"});
    sub.publish("jetgate/evil/status", status.to_string().into_bytes(), true);
    wait_for(Duration::from_secs(10), "the status retained", || {
        (!sub.messages("jetgate/evil/status").is_empty()).then_some(())
    });
    let event = json!({"seq": 7, "ts": "2026-01-01T00:00:00.000Z", "kind": HOSTILE,
                       "severity": "info", "subject": null, "message": "x", "figures": {}});
    sub.publish("jetgate/evil/events", event.to_string().into_bytes(), true);
    let text = succeeded(
        Command::new(JETGATE)
            .args(["fleet", "--once", "--broker", &broker.url()])
            .output()
            .unwrap(),
    );
    assert!(!text.contains('\x1b'), "{text:?}");
    let rows: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 2, "a header and one device: {text:?}");
    assert!(
        rows[1].contains("#7 hi\\e[2J\\nFAKE ROW\\u{202e}"),
        "{text:?}"
    );
}
