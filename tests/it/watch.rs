//! The watcher end to end: a real agent supervising real sim-models that leak or overrun their
//! limit; assertions on the events and their figures (never on wall time). Allocations stay
//! well under 1.5 GiB in all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::time::Duration;

use jetgate::event::EventKind;
use serde_json::Value;

use crate::harness::{heavy, sim_service, wait_for, Agent};

const MIB: f64 = (1u64 << 20) as f64;
/// Bounds a hung test only; nothing asserts on it.
const LIMIT: Duration = Duration::from_secs(90);

/// The first event of `kind` about `subject`, waiting for it.
fn wait_event(agent: &Agent, kind: EventKind, subject: &str) -> Value {
    wait_for(LIMIT, &format!("{kind} of {subject}"), || {
        agent
            .events()
            .into_iter()
            .find(|e| e["kind"] == kind.as_str() && e["subject"] == subject)
    })
}

fn events_of(agent: &Agent, kind: EventKind, subject: &str) -> Vec<Value> {
    agent
        .events()
        .into_iter()
        .filter(|e| e["kind"] == kind.as_str() && e["subject"] == subject)
        .collect()
}

/// `jetgate trend NAME --json`'s one entry.
fn trend(agent: &Agent, name: &str) -> Value {
    let all = agent.json(&["trend", name, "--json"]);
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    all[0].clone()
}

#[test]
fn a_leak_of_20_mib_per_second_is_leaking_within_its_window_at_its_true_slope_and_a_stable_one_is_not(
) {
    let _heavy = heavy();
    let leak = "limit = \"1GiB\"\nleak = { window = \"8s\", warmup = \"3s\" }";
    let body = sim_service("leaky", &["--alloc", "64MiB", "--leak", "20MiB/s"], leak)
        + &sim_service("steady", &["--alloc", "64MiB"], leak);
    let agent = Agent::start(&body);
    let e = wait_event(&agent, EventKind::LeakSuspected, "leaky");
    let f = &e["figures"];
    let truth = 20.0 * MIB * 3600.0;
    let slope = f["slope_bytes_per_hour"].as_f64().unwrap();
    assert!(
        (slope - truth).abs() <= 0.2 * truth,
        "slope {:.0} MiB/h against 72000 MiB/h: {e}",
        slope / MIB
    );
    assert!(f["window_s"].as_f64().unwrap() <= 8.0, "{e}");
    assert!(f["samples"].as_u64().unwrap() >= 3, "{e}");
    assert_eq!(f["limit_bytes"], 1u64 << 30);
    assert_eq!(f["limit_from"], "limit");
    assert!(f["projected_s"].as_f64().is_some_and(|s| s > 0.0), "{e}");
    assert!(f["reserved_bytes"].as_u64().unwrap() > 0, "{e}");
    eprintln!(
        "leak_suspected: slope {:.0} MiB/h (truth 72000), {} samples over {} s, quality {}",
        slope / MIB,
        f["samples"],
        f["window_s"],
        f["quality"]
    );
    let t = trend(&agent, "leaky");
    assert_eq!(t["trend"]["verdict"], "leaking", "{t}");
    // The gate holds the projected growth, and says so.
    let status = agent.json(&["status", "--json"]);
    let held = status["gate"]["reservations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["key"] == "leak:leaky");
    assert!(held, "{}", status["gate"]);
    assert!(status["gate"]["reserved_bytes"].as_u64().unwrap() > 0);

    // The stable one, judged over the same time, is not leaking.
    let steady = wait_for(LIMIT, "a verdict on steady", || {
        let t = trend(&agent, "steady");
        (t["trend"]["verdict"] != "warming_up" && !t["trend"].is_null()).then_some(t)
    });
    assert_eq!(steady["trend"]["verdict"], "stable", "{steady}");
    assert!(events_of(&agent, EventKind::LeakSuspected, "steady").is_empty());
    assert_eq!(steady["trend"]["reserved_bytes"], 0);
    // The markdown report names both.
    let out = agent.cli(&["trend", "--markdown"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("| leaky |") && text.contains("| steady |"),
        "{text}"
    );
    // An unknown name is a clear runtime error (exit 1).
    let out = agent.cli(&["trend", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"nope\""));
}

#[test]
fn with_leak_restart_a_leaking_service_is_restarted_before_it_reaches_its_limit() {
    let _heavy = heavy();
    let body = sim_service(
        "leaky",
        &["--alloc", "64MiB", "--leak", "20MiB/s"],
        "limit = \"400MiB\"\nleak = { window = \"8s\", warmup = \"3s\", restart = true }",
    );
    let agent = Agent::start(&body);
    let e = wait_event(&agent, EventKind::LeakRestart, "leaky");
    let f = &e["figures"];
    let limit = f["limit_bytes"].as_u64().unwrap();
    assert_eq!(limit, 400 << 20);
    assert!(f["memory_bytes"].as_u64().unwrap() < limit, "{e}");
    assert!(f["tree_pss_bytes"].as_u64().unwrap() < limit, "{e}");
    assert!(f["projected_s"].as_f64().unwrap() <= 30.0, "{e}");
    let old = f["pid"].as_u64().unwrap();
    // Restarted: a new process runs under the same name, and the limit was never passed first.
    wait_for(LIMIT, "a new leaky process", || {
        let s = agent.service("leaky");
        (s["state"] == "running" && s["pid"].as_u64().is_some_and(|p| p != old)).then_some(())
    });
    let kinds: Vec<String> = agent
        .events()
        .iter()
        .filter(|e| e["subject"] == "leaky")
        .map(|e| e["kind"].as_str().unwrap_or("").to_string())
        .collect();
    let restart_at = kinds
        .iter()
        .position(|k| k == EventKind::LeakRestart.as_str())
        .unwrap();
    assert!(
        !kinds[..restart_at].contains(&EventKind::MemoryLimitExceeded.as_str().to_string()),
        "{kinds:?}"
    );
    eprintln!(
        "leak_restart at {:.0} MiB of a {} MiB limit, projected {} s",
        f["memory_bytes"].as_f64().unwrap() / MIB,
        limit >> 20,
        f["projected_s"]
    );
}

#[test]
fn a_service_past_its_memory_limit_is_restarted_with_the_figures_behind_it() {
    let _heavy = heavy();
    let body = sim_service("fat", &["--alloc", "160MiB"], "limit = \"100MiB\"");
    let agent = Agent::start(&body);
    let e = wait_event(&agent, EventKind::MemoryLimitExceeded, "fat");
    assert_eq!(e["severity"], "error");
    let f = &e["figures"];
    assert_eq!(f["limit_bytes"], 100u64 << 20);
    let pss = f["tree_pss_bytes"].as_u64().unwrap();
    assert!(pss > 100 << 20, "{e}");
    assert!(f["memory_bytes"].as_u64().unwrap() >= pss);
    assert!(
        f.get("gpu_bytes").is_some(),
        "gpu_bytes is present (null off Jetson)"
    );
    let old = f["pid"].as_u64().unwrap();
    wait_for(LIMIT, "a new fat process", || {
        let s = agent.service("fat");
        s["pid"].as_u64().is_some_and(|p| p != old).then_some(())
    });
    let events = agent.events();
    let stopped = events.iter().any(|e| {
        e["kind"] == EventKind::ServiceExited.as_str()
            && e["subject"] == "fat"
            && e["figures"]["cause"] == "memory_limit_exceeded"
    });
    assert!(
        stopped,
        "the old process was stopped for its limit: {events:?}"
    );
    let scheduled = events
        .iter()
        .any(|e| e["kind"] == EventKind::RestartScheduled.as_str() && e["subject"] == "fat");
    assert!(scheduled, "the restart went through the restart policy");
    eprintln!(
        "memory_limit_exceeded: tree PSS {:.0} MiB over a 100 MiB limit",
        pss as f64 / MIB
    );
}
