//! Every event an agent stored has exactly the figures of its kind's struct: the harness
//! checks each event it reads back ([`assert_figures_fit`]), so the producers still built
//! untyped (the MQTT link's) are held to the structs in real runs.

#![allow(clippy::unwrap_used)] // a test: a line that does not read as an event is its failure

use serde_json::Value;

/// Panics unless `event` (one line of `events --json`) is of an unknown kind or has exactly
/// the figures of its kind's struct.
pub fn assert_figures_fit(event: &Value) {
    let e: jetgate::event::Event = serde_json::from_value(event.clone()).unwrap();
    if let Some(Err(why)) = e.kind.figures_round_trip(&e.figures) {
        panic!(
            "`{}` #{}: figures do not fit its struct: {why}",
            e.kind, e.seq
        );
    }
}

#[test]
fn an_event_off_its_kinds_figures_fails_the_harness_and_an_unknown_kind_passes() {
    let line = |kind: &str, figures: Value| {
        serde_json::json!({"seq": 1, "ts": "2026-11-24T03:06:39.120Z", "kind": kind,
            "severity": "info", "subject": null, "figures": figures})
    };
    assert_figures_fit(&line("agent_stopping", serde_json::json!({"children": 2})));
    assert_figures_fit(&line("from_the_future", serde_json::json!({"x": 1})));
    for off in [
        serde_json::json!({"children": 2.0}),
        serde_json::json!({"children": 2, "extra": 1}),
        serde_json::json!({}),
    ] {
        let caught =
            std::panic::catch_unwind(|| assert_figures_fit(&line("agent_stopping", off.clone())));
        assert!(caught.is_err(), "{off} passed");
    }
}
