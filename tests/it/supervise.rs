//! Supervision against a real agent and real `jetgate sim-model` services: a crash loop is
//! restarted with growing backoff ceilings, given up on, and revived by `jetgate restart`; an
//! http health probe that turns 503 and a heartbeat that goes silent restart their service;
//! adopted orphans are reaped and counted. Assertions are on event order, counts and figures,
//! never on wall time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::time::Duration;

use jetgate::event::EventKind;
use serde_json::Value;

use crate::harness::{sim_service, wait_for, Agent};

const LIMIT: Duration = Duration::from_secs(60);

fn of<'a>(events: &'a [Value], kind: EventKind, subject: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["kind"] == kind.as_str() && e["subject"] == subject)
        .collect()
}

fn wait_event(agent: &Agent, kind: EventKind, subject: &str, at_least: usize) -> Vec<Value> {
    wait_for(LIMIT, &format!("{at_least} {kind} of {subject}"), || {
        let events = agent.events();
        (of(&events, kind.clone(), subject).len() >= at_least).then_some(events)
    })
}

/// A free local port (bound then released; the service binds it a moment later).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn a_crash_loop_backs_off_gives_up_and_restart_revives_it() {
    let crashy = sim_service(
        "crashy",
        &[
            "--alloc",
            "1MiB",
            "--exit-after",
            "10ms",
            "--exit-code",
            "3",
        ],
        "restart = { initial = \"200ms\", max = \"1s\", max_restarts = 3, window = \"1m\" }",
    );
    let slow = sim_service(
        "slow",
        &["--alloc", "1MiB", "--exit-after", "10ms"],
        "restart = { initial = \"1m\", max = \"1m\" }",
    );
    let agent = Agent::start(&format!("{crashy}{slow}"));
    let gave_up = agent.wait_state("crashy", "gave_up", LIMIT);
    assert!(
        gave_up["reason"]
            .as_str()
            .unwrap()
            .contains("jetgate restart"),
        "{gave_up}"
    );
    let events = wait_event(&agent, EventKind::GaveUp, "crashy", 1);
    assert_eq!(of(&events, EventKind::ServiceStarted, "crashy").len(), 4);
    assert_eq!(of(&events, EventKind::ServiceExited, "crashy").len(), 4);
    let scheduled = of(&events, EventKind::RestartScheduled, "crashy");
    assert_eq!(scheduled.len(), 3);
    let mut last_ceiling = 0;
    for (attempt, e) in scheduled.iter().enumerate() {
        let f = &e["figures"];
        assert_eq!(f["attempt"], attempt as u64, "{e}");
        assert_eq!(f["exit_code"], 3, "{e}");
        let ceiling = f["ceiling_ms"].as_u64().unwrap();
        assert!(ceiling >= last_ceiling, "ceilings must not shrink: {e}");
        assert_eq!(ceiling, (200u64 << attempt).min(1000));
        assert!(f["backoff_ms"].as_u64().unwrap() <= ceiling, "{e}");
        last_ceiling = ceiling;
    }
    let given = &of(&events, EventKind::GaveUp, "crashy")[0];
    assert_eq!(given["severity"], "error");
    assert_eq!(given["figures"]["restarts_in_window"], 4);
    assert_eq!(given["figures"]["max_restarts"], 3);
    // Each start, exit and decision in order: started, exited, scheduled ... exited, gave_up.
    let order: Vec<&str> = events
        .iter()
        .filter(|e| e["subject"] == "crashy")
        .map(|e| e["kind"].as_str().unwrap())
        .filter(|k| {
            [
                EventKind::ServiceStarted.as_str(),
                EventKind::ServiceExited.as_str(),
                EventKind::RestartScheduled.as_str(),
                EventKind::GaveUp.as_str(),
            ]
            .contains(k)
        })
        .collect();
    let one = [
        EventKind::ServiceStarted.as_str(),
        EventKind::ServiceExited.as_str(),
        EventKind::RestartScheduled.as_str(),
    ];
    let mut expected: Vec<&str> = one.iter().cycle().take(9).copied().collect();
    expected.extend([
        EventKind::ServiceStarted.as_str(),
        EventKind::ServiceExited.as_str(),
        EventKind::GaveUp.as_str(),
    ]);
    assert_eq!(order, expected);

    // Nothing more happens on its own: longer than the largest backoff (1 s), no new start.
    std::thread::sleep(Duration::from_secs(3));
    let events = agent.events();
    assert_eq!(of(&events, EventKind::ServiceStarted, "crashy").len(), 4);
    assert_eq!(agent.state("crashy"), "gave_up");

    // A service backing off says when its next attempt is due.
    let slow = agent.wait_state("slow", "backing_off", LIMIT);
    let due = slow["restart_in_ms"].as_u64().expect("restart_in_ms");
    assert!(due <= 60_000, "{slow}");

    let out = agent.cli(&["restart", "crashy"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = wait_event(&agent, EventKind::ServiceStarted, "crashy", 5);
    assert_eq!(of(&events, EventKind::Revived, "crashy").len(), 1);
    let events = wait_event(&agent, EventKind::RestartScheduled, "crashy", 4);
    let again = of(&events, EventKind::RestartScheduled, "crashy")[3];
    assert_eq!(
        again["figures"]["attempt"], 0,
        "revived: counting starts over"
    );
}

#[test]
fn an_http_probe_that_turns_503_restarts_the_service_after_k_failures() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let url = format!("http://{addr}/health");
    let extra = format!(
        "ready = {{ http = \"{url}\" }}\n\
         health = {{ http = \"{url}\", interval = \"200ms\", timeout = \"200ms\", failures = 3 }}\n\
         restart = {{ initial = \"100ms\", max = \"200ms\", max_restarts = 10, window = \"1m\" }}"
    );
    let body = sim_service(
        "sick",
        &[
            "--alloc",
            "1MiB",
            "--ready-http",
            &addr,
            "--unhealthy-after",
            "1s",
        ],
        &extra,
    );
    let agent = Agent::start(&body);
    let events = wait_event(&agent, EventKind::ServiceStarted, "sick", 2);
    let failed = of(&events, EventKind::HealthFailed, "sick");
    assert!(!failed.is_empty(), "restarted without a health failure");
    let f = &failed[0]["figures"];
    assert_eq!(f["failures"], 3, "{f}");
    assert_eq!(f["probe"], "http");
    assert_eq!(f["interval_ms"], 200);
    assert!(f["detail"].as_str().unwrap().contains("503"), "{f}");
    let first_pid = of(&events, EventKind::ServiceStarted, "sick")[0]["figures"]["pid"].clone();
    assert_eq!(
        f["pid"], first_pid,
        "the failure is about the first process"
    );
    let exited = of(&events, EventKind::ServiceExited, "sick");
    assert_eq!(exited[0]["figures"]["cause"], "health_failed");
    let scheduled = of(&events, EventKind::RestartScheduled, "sick");
    assert_eq!(scheduled[0]["figures"]["cause"], "health_failed");
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e["subject"] == "sick")
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    let at = |k: &str| kinds.iter().position(|x| *x == k).unwrap();
    assert!(
        at(EventKind::HealthFailed.as_str()) < at(EventKind::ServiceExited.as_str()),
        "{kinds:?}"
    );
    assert!(
        at(EventKind::ServiceExited.as_str()) < at(EventKind::RestartScheduled.as_str()),
        "{kinds:?}"
    );
    let second_pid = of(&events, EventKind::ServiceStarted, "sick")[1]["figures"]["pid"].clone();
    assert_ne!(first_pid, second_pid);
}

#[test]
fn a_heartbeat_that_goes_silent_restarts_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let hb = dir.path().join("beat");
    let hb = hb.to_str().unwrap();
    let extra = format!(
        "health = {{ heartbeat = \"{hb}\", stale_after = \"500ms\", interval = \"200ms\", timeout = \"200ms\", failures = 2 }}\n\
         restart = {{ initial = \"100ms\", max = \"200ms\", max_restarts = 10, window = \"1m\" }}"
    );
    let body = sim_service(
        "quiet",
        &[
            "--alloc",
            "1MiB",
            "--heartbeat",
            hb,
            "--heartbeat-interval",
            "50ms",
            "--heartbeat-stop-after",
            "1s",
        ],
        &extra,
    );
    let agent = Agent::start(&body);
    let events = wait_event(&agent, EventKind::ServiceStarted, "quiet", 2);
    let failed = of(&events, EventKind::HealthFailed, "quiet");
    assert!(!failed.is_empty(), "restarted without a health failure");
    let f = &failed[0]["figures"];
    assert_eq!(f["probe"], "heartbeat");
    assert_eq!(f["failures"], 2);
    assert!(f["detail"].as_str().unwrap().contains("limit"), "{f}");
}

#[test]
fn orphans_reparented_to_the_agent_are_reaped_and_counted() {
    // The subshell forks a short sleep and exits: the sleep is orphaned to the agent (a
    // subreaper) and becomes its zombie when it ends.
    let body = "[[service]]\nname = \"leaky\"\n\
                command = [\"sh\", \"-c\", \"(sleep 0.2 &) ; exec sleep 600\"]\n\
                autostart = true\nstop_grace = \"1s\"\n";
    let agent = Agent::start(body);
    let events = wait_for(LIMIT, "a zombies_reaped event", || {
        let events = agent.events();
        events
            .iter()
            .any(|e| e["kind"] == EventKind::ZombiesReaped.as_str())
            .then_some(events)
    });
    let e = events
        .iter()
        .find(|e| e["kind"] == EventKind::ZombiesReaped.as_str())
        .unwrap();
    assert!(e["figures"]["reaped"].as_u64().unwrap() >= 1, "{e}");
    let status = agent.json(&["status", "--json"]);
    assert!(
        status["agent"]["zombies_reaped"].as_u64().unwrap() >= 1,
        "{}",
        status["agent"]
    );
    assert_eq!(agent.state("leaky"), "running");
}
