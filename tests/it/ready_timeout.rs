//! `ready.timeout` against a real agent and real `jetgate sim-model` processes whose ready
//! probe never passes: each start is a `ready_timeout`, the process is stopped, its exit goes
//! to the restart policy and the unit ends `gave_up` instead of `running`/`loading` forever.
//! Assertions are on events and their figures, never on wall time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::time::Duration;

use jetgate::event::EventKind;
use serde_json::Value;

use crate::harness::{wait_for, Agent, JETGATE};

const LIMIT: Duration = Duration::from_secs(60);

fn of<'a>(events: &'a [Value], kind: &EventKind, subject: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["kind"] == kind.as_str() && e["subject"] == subject)
        .collect()
}

/// A sim-model that allocates and stays up, never printing the probe's line.
fn argv() -> String {
    format!("{:?}", [JETGATE, "sim-model", "--alloc", "1MiB"])
}

#[test]
fn a_service_whose_ready_probe_never_passes_is_stopped_restarted_and_given_up_on() {
    let body = format!(
        "[[service]]\nname = \"hung\"\ncommand = {}\nautostart = true\nstop_grace = \"1s\"\n\
         ready = {{ log = \"NEVER PRINTED\", timeout = \"300ms\" }}\n\
         restart = {{ initial = \"100ms\", max = \"200ms\", max_restarts = 1, window = \"10m\" }}\n",
        argv()
    );
    let agent = Agent::start(&body);
    agent.wait_state("hung", "gave_up", LIMIT);
    let events = agent.events();
    let timeouts = of(&events, &EventKind::ReadyTimeout, "hung");
    assert_eq!(timeouts.len(), 2, "the first start and its one restart");
    for t in &timeouts {
        let f = &t["figures"];
        assert_eq!(f["timeout_ms"], 300, "{t}");
        assert!(f["waited_ms"].as_u64().unwrap() >= 300, "{t}");
        assert_eq!(f["kind"], "service");
    }
    let scheduled = of(&events, &EventKind::RestartScheduled, "hung");
    assert_eq!(scheduled.len(), 1);
    assert_eq!(scheduled[0]["figures"]["cause"], "ready_timeout");
    let gave_up = of(&events, &EventKind::GaveUp, "hung");
    assert_eq!(gave_up[0]["figures"]["cause"], "ready_timeout");
    // Each stopped process really ended: a start and an exit per timeout.
    assert_eq!(of(&events, &EventKind::ServiceStarted, "hung").len(), 2);
    assert_eq!(of(&events, &EventKind::ServiceExited, "hung").len(), 2);
}

#[test]
fn a_model_whose_ready_probe_never_passes_fails_its_load_through_the_ready_timeout() {
    let body = format!(
        "[[model]]\nname = \"hung\"\ncommand = {}\nmemory = \"8MiB\"\nautostart = true\n\
         stop_grace = \"1s\"\nready = {{ log = \"NEVER PRINTED\", timeout = \"400ms\" }}\n\
         restart = {{ initial = \"100ms\", max = \"200ms\", max_restarts = 0, window = \"10m\" }}\n",
        argv()
    );
    let agent = Agent::start(&body);
    agent.wait_state("hung", "gave_up", LIMIT);
    let events = wait_for(LIMIT, "the load_failed of hung", || {
        let events = agent.events();
        (!of(&events, &EventKind::LoadFailed, "hung").is_empty()).then_some(events)
    });
    let timeout = of(&events, &EventKind::ReadyTimeout, "hung");
    assert_eq!(timeout.len(), 1);
    assert_eq!(timeout[0]["figures"]["kind"], "model");
    assert_eq!(timeout[0]["figures"]["timeout_ms"], 400);
    let gave_up = of(&events, &EventKind::GaveUp, "hung");
    assert_eq!(gave_up[0]["figures"]["cause"], "ready_timeout");
    assert!(agent.json(&["status", "--json"])["gate"]["in_flight"].is_null());
}
