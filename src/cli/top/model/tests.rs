//! Tests of `jetgate top`'s model: documents in, state and intents out.

use serde_json::json;

use super::*;
use crate::status::{EventsReply, ServiceState};

/// A status document as `jetgate top` reads it from the agent's JSON.
fn doc(v: Value) -> StatusDocument {
    serde_json::from_value(v).unwrap()
}

/// An `events` answer as `jetgate top` reads it.
fn events(v: Value) -> EventsReply {
    serde_json::from_value(v).unwrap()
}

fn status(available: u64, services: serde_json::Value) -> StatusDocument {
    doc(
        json!({"memory": {"available_bytes": available, "total_bytes": 8u64 << 30}, "services": services}),
    )
}

fn event(seq: u64, kind: &str) -> Value {
    json!({"seq": seq, "ts": "2026-11-24T03:06:39.120Z", "kind": kind, "severity": "info",
           "subject": null, "figures": {"available_bytes": 1}})
}

fn up_with_units(names: &[&str]) -> TopModel {
    let units: Vec<Value> = names
        .iter()
        .map(|n| {
            json!({"name": n, "kind": "model", "state": "stopped", "pid": null,
                        "memory_bytes": null, "restarts": 0})
        })
        .collect();
    let mut m = TopModel::new("/run/jetgate/control.sock");
    m.apply_status(status(1 << 30, json!(units)), 0);
    m
}

#[test]
fn events_are_appended_in_order_and_never_twice() {
    let mut m = TopModel::new("s");
    assert_eq!(
        m.apply_events(&events(json!([
            event(1, "agent_started"),
            event(2, "note")
        ]))),
        2
    );
    // An overlapping page (the same seq again) and an older one add nothing.
    assert_eq!(
        m.apply_events(&events(json!([
            event(2, "note"),
            event(3, "load_requested")
        ]))),
        1
    );
    assert_eq!(
        m.apply_events(&events(json!([event(1, "agent_started")]))),
        0
    );
    let seqs: Vec<u64> = m.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(m.last_seq, Some(3));
    assert_eq!(
        m.events[0].message, "available_bytes=1",
        "figures stand in for a missing message"
    );
}

#[test]
fn the_event_list_keeps_only_the_newest() {
    let mut m = TopModel::new("s");
    let page: Vec<Value> = (1..=(EVENTS_KEPT as u64 + 25))
        .map(|s| event(s, "note"))
        .collect();
    m.apply_events(&events(json!(page)));
    assert_eq!(m.events.len(), EVENTS_KEPT);
    assert_eq!(m.events.front().map(|e| e.seq), Some(26));
    assert_eq!(
        m.events.back().map(|e| e.seq),
        Some(EVENTS_KEPT as u64 + 25)
    );
}

#[test]
fn the_sparkline_history_is_bounded_and_keeps_the_latest() {
    let mut m = TopModel::new("s");
    for i in 0..(HISTORY_LEN as u64 + 10) {
        m.apply_status(status(i, json!([])), i);
    }
    assert_eq!(m.history.len(), HISTORY_LEN);
    assert_eq!(m.history.front(), Some(&10));
    assert_eq!(m.history.back(), Some(&(HISTORY_LEN as u64 + 9)));
    // A document without memory adds nothing.
    m.apply_status(doc(json!({"memory": null})), 0);
    assert_eq!(m.history.len(), HISTORY_LEN);
}

#[test]
fn selection_moves_within_the_units_and_survives_a_shrinking_list() {
    let mut m = up_with_units(&["llm", "det", "asr"]);
    assert_eq!(m.key(Key::Up), Intent::Nothing);
    assert_eq!(m.selected, 0);
    m.key(Key::Down);
    m.key(Key::Char('j'));
    m.key(Key::Down);
    assert_eq!(m.selected, 2);
    m.key(Key::Char('k'));
    assert_eq!(m.selected_unit().map(|u| u.name), Some("det".to_string()));
    m.key(Key::Down);
    m.apply_status(
        status(
            1,
            json!([{"name": "llm", "kind": "model", "state": "stopped"}]),
        ),
        0,
    );
    assert_eq!(m.selected, 0);
}

#[test]
fn an_action_asks_first_and_sends_only_on_yes() {
    let mut m = up_with_units(&["llm", "det"]);
    m.key(Key::Down);
    assert_eq!(m.key(Key::Char('r')), Intent::Nothing);
    assert_eq!(
        m.confirm,
        Some(Confirm {
            action: Action::Restart,
            name: "det".into()
        })
    );
    // Other keys do not answer the question, and do not move the selection.
    assert_eq!(m.key(Key::Up), Intent::Nothing);
    assert!(m.confirm.is_some());
    assert_eq!(m.selected, 1);
    assert_eq!(
        m.key(Key::Char('y')),
        Intent::Send {
            cmd: Cmd::Restart { name: "det".into() },
            what: "restart det".into()
        }
    );
    assert!(m.confirm.is_none());
    m.key(Key::Char('l'));
    assert_eq!(m.key(Key::Char('n')), Intent::Nothing);
    assert!(m.confirm.is_none());
    assert_eq!(m.notice.as_deref(), Some("load cancelled"));
    m.key(Key::Char('u'));
    assert_eq!(
        m.key(Key::Enter),
        Intent::Send {
            cmd: Cmd::Unload { name: "det".into() },
            what: "unload det".into()
        }
    );
    m.key(Key::Char('l'));
    assert!(matches!(
        m.key(Key::Char('Y')),
        Intent::Send {
            cmd: Cmd::Load { wait: false, .. },
            ..
        }
    ));
}

#[test]
fn q_quits_but_only_cancels_an_open_question() {
    let mut m = up_with_units(&["llm"]);
    m.key(Key::Char('u'));
    assert_eq!(m.key(Key::Char('q')), Intent::Nothing);
    assert!(m.confirm.is_none());
    assert_eq!(m.key(Key::Char('q')), Intent::Quit);
}

#[test]
fn no_action_is_offered_while_the_agent_is_down_or_nothing_is_configured() {
    let mut m = up_with_units(&["llm"]);
    m.agent_down("Connection refused (os error 111)".into(), 5);
    m.key(Key::Char('r'));
    assert!(m.confirm.is_none());
    assert!(m
        .notice
        .as_deref()
        .is_some_and(|n| n.contains("not reachable")));
    m.agent_down("again".into(), 6);
    assert_eq!(
        m.link,
        Link::Down {
            error: "again".into(),
            attempts: 2
        }
    );
    let mut empty = up_with_units(&[]);
    empty.key(Key::Char('l'));
    assert!(empty.confirm.is_none());
}

#[test]
fn a_dropped_dialog_does_not_survive_the_agent_going_down() {
    let mut m = up_with_units(&["llm"]);
    m.key(Key::Char('r'));
    m.agent_down("gone".into(), 1);
    assert!(m.confirm.is_none());
}

#[test]
fn unit_rows_read_optional_and_newer_fields_tolerantly() {
    let view = |v: Value| -> ServiceView { serde_json::from_value(v).unwrap() };
    let u = UnitRow::from_view(&view(json!({
        "name": "llm", "kind": "model", "state": "running", "pid": 42,
        "memory_bytes": 1u64 << 30, "gpu_bytes": 512u64 << 20, "restarts": 3,
        "trend": {"verdict": "leaking", "slope_bytes_per_hour": 1, "quality": 0.9, "samples": 8,
                  "window_s": 7.0, "configured_window_s": 8.0, "projected_s": null,
                  "limit_bytes": null, "limit_from": null, "reserved_bytes": 0},
        "reason": "", "extra": [1]
    })));
    assert_eq!(u.gpu_bytes, Some(512 << 20));
    assert_eq!(u.leak.as_deref(), Some("leaking"));
    assert_eq!(u.reason, None);
    // An older agent: no GPU figure, no trend, no restarts.
    let u = UnitRow::from_view(&view(
        json!({"name": "7", "kind": "service", "state": "stopped", "pid": null, "memory_bytes": null}),
    ));
    assert_eq!(u.name, "7");
    assert_eq!(u.restarts, Some(0));
    assert_eq!((u.gpu_bytes, u.leak), (None, None));
}

#[test]
fn action_outcomes_become_notices() {
    let mut m = TopModel::new("s");
    m.action_done(
        "load llm",
        Ok(LoadOutcome {
            name: "llm".into(),
            state: ServiceState::Queued,
            reason: Some("waiting: load of det in flight".into()),
        }),
    );
    assert_eq!(
        m.notice.as_deref(),
        Some("load llm: queued (waiting: load of det in flight)")
    );
    m.action_done("restart x", Err("no unit named \"x\"".into()));
    assert_eq!(
        m.notice.as_deref(),
        Some("restart x refused: no unit named \"x\"")
    );
}

#[test]
fn garbage_documents_never_panic() {
    let m = TopModel::new("s");
    // Garbage never reaches the model: it does not read as the contracts.
    for doc in [
        json!(null),
        json!(7),
        json!("x"),
        json!({"services": 3}),
        json!({"memory": {"available_bytes": -1}}),
        json!([{"seq": "one"}, {"no": "seq"}, 5]),
    ] {
        assert!(serde_json::from_value::<StatusDocument>(doc.clone()).is_err());
        assert!(serde_json::from_value::<EventsReply>(doc).is_err());
    }
    assert!(m.units().is_empty());
    assert!(m.events.is_empty());
}
