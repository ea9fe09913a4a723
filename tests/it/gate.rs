//! The load gate end to end: a real agent, real sim-models that really allocate, and a real
//! cgroup v1 memory scope sized like a small board (allocations stay ≤ 3 GiB).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::time::Duration;

use jetgate::event::EventKind;

use crate::harness::{
    assert_loads_never_overlap, heavy, sequence, sim_model, wait_for, Agent, TestCgroup,
};

const GIB: u64 = 1 << 30;
const LOAD: Duration = Duration::from_secs(60);

fn scoped(cgroup: &TestCgroup, reserve: &str, models: &str) -> String {
    format!(
        "[memory]\nscope = \"cgroup:{}\"\nreserve = \"{reserve}\"\nload_sample_interval = \"5ms\"\n\n\
         [gate]\nsettle_window = \"300ms\"\nsettle_tolerance = \"32MiB\"\n\n{models}",
        cgroup.name
    )
}

#[test]
fn admits_two_models_holds_the_third_with_its_reason_and_admits_it_after_an_unload() {
    let _heavy = heavy();
    let Some(cgroup) = TestCgroup::new("three", 3 * GIB) else {
        return;
    };
    let models: String = ["det", "track", "llm"]
        .iter()
        .map(|n| sim_model(n, "1GiB", &["--alloc", "1GiB", "--ramp", "300ms"]))
        .collect();
    let agent = Agent::start(&scoped(&cgroup, "512MiB", &models));
    for name in ["det", "track", "llm"] {
        let out = agent.cli(&["load", name]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    agent.wait_state("det", "ready", LOAD);
    agent.wait_state("track", "ready", LOAD);
    let held = agent.wait_state("llm", "queued", LOAD);
    let reason = held["reason"].as_str().unwrap();
    assert!(reason.contains("budget"), "reason: {reason}");
    // It stays held: the gate does not admit it while the budget is short.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(agent.state("llm"), "queued");
    let status = agent.json(&["status", "--json"]);
    assert_eq!(status["gate"]["queue"][0]["model"], "llm");

    assert!(agent.cli(&["unload", "det"]).status.success());
    agent.wait_state("det", "stopped", LOAD);
    agent.wait_state("llm", "ready", LOAD);
    let events = agent.events();
    assert_loads_never_overlap(&events);
    let admitted: Vec<_> = sequence(&events, &[EventKind::LoadAdmitted.as_str()])
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(admitted, ["det", "track", "llm"]);
    assert_eq!(cgroup.failcnt(), 0, "the scope's limit was hit");
}

#[test]
fn ten_load_requests_sent_at_once_are_admitted_strictly_one_at_a_time() {
    let _heavy = heavy();
    let Some(cgroup) = TestCgroup::new("ten", 2 * GIB) else {
        return;
    };
    let names: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    let models: String = names
        .iter()
        .map(|n| sim_model(n, "64MiB", &["--alloc", "64MiB", "--ramp", "50ms"]))
        .collect();
    let agent = Agent::start(&scoped(&cgroup, "256MiB", &models));
    let socket = agent.socket.clone();
    let requests: Vec<_> = names
        .iter()
        .map(|n| {
            std::process::Command::new(crate::harness::JETGATE)
                .args(["load", n])
                .env("JETGATE_SOCKET", &socket)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut r in requests {
        assert!(r.wait().unwrap().success());
    }
    for n in &names {
        agent.wait_state(n, "ready", LOAD);
    }
    let events = agent.events();
    assert_loads_never_overlap(&events);
    assert_eq!(
        sequence(&events, &[EventKind::LoadAdmitted.as_str()]).len(),
        10
    );
    assert_eq!(
        sequence(&events, &[EventKind::LoadReady.as_str()]).len(),
        10
    );
}

#[test]
fn kills_an_under_declared_model_before_the_cgroup_limit_and_judges_it_on_its_peak_next_time() {
    let _heavy = heavy();
    let Some(cgroup) = TestCgroup::new("liar", 2 * GIB) else {
        return;
    };
    // Declares 256 MiB, then grows at 2 GiB/s toward 2 GiB (the whole scope).
    let model = sim_model(
        "liar",
        "256MiB",
        &[
            "--alloc",
            "256MiB",
            "--overshoot",
            "1792MiB",
            "--rate",
            "2GiB/s",
            "--overshoot-during-ramp",
            "--ramp",
            "100ms",
        ],
    );
    let agent = Agent::start(&scoped(&cgroup, "512MiB", &model));
    let out = agent.cli(&["load", "liar", "--wait", "--json"]);
    assert!(!out.status.success(), "an aborted load must not exit 0");
    agent.wait_state("liar", "failed", LOAD);
    let events = agent.events();
    let aborted = events
        .iter()
        .find(|e| e["kind"] == EventKind::LoadAborted.as_str())
        .unwrap_or_else(|| panic!("no load_aborted in {events:#?}"));
    let f = &aborted["figures"];
    let available = f["available_bytes"].as_u64().unwrap();
    let floor = f["floor_bytes"].as_u64().unwrap();
    assert!(available < floor, "{f}");
    assert_eq!(floor, 256 << 20);
    assert!(f["elapsed_ms"].as_u64().is_some(), "{f}");
    // The kernel never had to act: the limit was not hit and nothing was OOM-killed.
    assert_eq!(cgroup.failcnt(), 0, "the scope's limit was hit");
    assert_eq!(cgroup.oom_kills(), 0, "the kernel OOM killer acted");

    // Its next load is judged on the peak it was seen to reach, not on its 256 MiB claim:
    // more than 1.5 GiB × 1.1 never fits in 2 GiB − 512 MiB, so it is denied at once.
    agent.wait_state("liar", "failed", LOAD);
    wait_for(LOAD, "the aborted tree to be gone", || {
        agent.service("liar")["pid"].is_null().then_some(())
    });
    let out = agent.cli(&["load", "liar", "--wait", "--json"]);
    assert!(!out.status.success());
    let events = agent.events();
    let requests: Vec<_> = events
        .iter()
        .filter(|e| e["kind"] == EventKind::LoadRequested.as_str())
        .collect();
    assert_eq!(requests.len(), 2);
    let second_need = requests[1]["figures"]["need_bytes"].as_u64().unwrap();
    assert!(second_need > GIB, "need on the second load: {second_need}");
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == EventKind::LoadDenied.as_str()),
        "{events:#?}"
    );
}

#[test]
fn refuses_weights_whose_sha256_differs_from_the_pin_and_starts_nothing() {
    let agent_dir = tempfile::tempdir().unwrap();
    let weights = agent_dir.path().join("model.gguf");
    std::fs::write(&weights, b"not the weights you pinned").unwrap();
    let marker = agent_dir.path().join("started");
    let body = format!(
        "[[model]]\nname = \"pinned\"\ncommand = [\"{}\", \"sim-model\", \"--alloc\", \"1MiB\", \"--ready-file\", \"{}\"]\n\
         memory = \"64MiB\"\nweights = \"{}\"\nsha256 = \"{}\"\nready = {{ file = \"{}\" }}\nautostart = false\n",
        crate::harness::JETGATE,
        marker.display(),
        weights.display(),
        "0".repeat(64),
        marker.display(),
    );
    let agent = Agent::start(&body);
    let out = agent.cli(&["load", "pinned", "--wait"]);
    assert!(!out.status.success());
    let view = agent.service("pinned");
    assert_eq!(view["state"], "failed");
    assert!(
        view["reason"].as_str().unwrap().contains("sha256"),
        "{view}"
    );
    let events = agent.events();
    assert!(events
        .iter()
        .any(|e| e["kind"] == EventKind::LoadRefused.as_str()));
    assert!(!events
        .iter()
        .any(|e| e["kind"] == EventKind::LoadAdmitted.as_str()));
    assert!(!marker.exists(), "the model was started");
}

#[test]
fn loads_weights_that_match_their_pin() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("model.gguf");
    std::fs::write(&weights, b"abc").unwrap();
    // sha256("abc")
    let sum = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let body = format!(
        "[memory]\nreserve = \"64MiB\"\n[gate]\nsettle_window = \"200ms\"\n\n\
         [[model]]\nname = \"pinned\"\ncommand = [\"{}\", \"sim-model\", \"--alloc\", \"1MiB\"]\n\
         memory = \"16MiB\"\nweights = \"{}\"\nsha256 = \"{sum}\"\nready = {{ log = \"READY\" }}\nautostart = false\n",
        crate::harness::JETGATE,
        weights.display(),
    );
    let agent = Agent::start(&body);
    let out = agent.cli(&["load", "pinned", "--wait"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(agent.state("pinned"), "ready");
}

#[test]
fn a_learned_footprint_is_used_after_the_agent_restarts() {
    // Declares 32 MiB but takes 256 MiB: the gate learns it on the first load, and the store
    // keeps it, so after a restart the next load is judged on 256 MiB, not on the claim.
    let model = sim_model("big", "32MiB", &["--alloc", "256MiB"]);
    let body = format!(
        "[memory]\nreserve = \"64MiB\"\n[gate]\nsettle_window = \"200ms\"\nsettle_tolerance = \"16MiB\"\n\n{model}"
    );
    let mut agent = Agent::start(&body);
    let out = agent.cli(&["load", "big", "--wait"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(agent.terminate(), Some(0));
    agent.spawn();
    let out = agent.cli(&["load", "big", "--wait"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let needs: Vec<u64> = agent
        .events()
        .iter()
        .filter(|e| e["kind"] == EventKind::LoadRequested.as_str())
        .map(|e| e["figures"]["need_bytes"].as_u64().unwrap())
        .collect();
    assert_eq!(needs.len(), 2, "{needs:?}");
    assert_eq!(needs[0], 32 << 20);
    assert!(needs[1] >= 256 << 20, "second load judged on {needs:?}");
}

/// A real model that never becomes ready (its ready file never appears) under a one-second
/// `gate.load_timeout`: the agent says `load_timed_out` with the timeout, the elapsed time and
/// what the load consumed, stops the process, and its exit is no `unloaded` "on request".
#[test]
fn a_load_that_never_becomes_ready_times_out_with_its_own_event_and_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let never = dir.path().join("never-written");
    let body = format!(
        "[gate]\nload_timeout = \"1s\"\n\n\
         [[model]]\nname = \"stuck\"\ncommand = [\"{}\", \"sim-model\", \"--alloc\", \"8MiB\"]\n\
         memory = \"64MiB\"\nready = {{ file = \"{}\" }}\nstop_grace = \"2s\"\nautostart = false\n",
        crate::harness::JETGATE,
        never.display(),
    );
    let agent = Agent::start(&body);
    let out = agent.cli(&["load", "stuck", "--wait"]);
    assert!(!out.status.success(), "a timed-out load --wait must fail");
    let view = agent.wait_state("stuck", "failed", LOAD);
    assert!(
        view["reason"]
            .as_str()
            .unwrap()
            .contains("not ready within the load timeout 1s"),
        "{view}"
    );
    let exited = wait_for(LOAD, "the stuck model's exit", || {
        agent
            .events()
            .into_iter()
            .find(|e| e["kind"] == EventKind::ServiceExited.as_str() && e["subject"] == "stuck")
    });
    assert_eq!(exited["figures"]["cause"], "load_timed_out", "{exited}");
    assert_eq!(exited["severity"], "info", "{exited}");
    let events = agent.events();
    let timed_out = events
        .iter()
        .find(|e| e["kind"] == EventKind::LoadTimedOut.as_str())
        .unwrap_or_else(|| panic!("no load_timed_out: {events:#?}"));
    assert_eq!(timed_out["subject"], "stuck");
    assert_eq!(timed_out["figures"]["timeout_ms"], 1000);
    assert_eq!(timed_out["figures"]["probe_passed"], false);
    assert!(timed_out["figures"]["elapsed_ms"].as_u64().unwrap() >= 1000);
    assert!(
        timed_out["figures"]["consumed_bytes"].is_u64(),
        "{timed_out}"
    );
    for kind in [EventKind::Unloaded, EventKind::LoadFailed] {
        assert!(
            !events.iter().any(|e| e["kind"] == kind.as_str()),
            "a timeout is not {kind}: {events:#?}"
        );
    }
    let pid = events
        .iter()
        .find(|e| e["kind"] == EventKind::ServiceStarted.as_str())
        .and_then(|e| e["figures"]["pid"].as_i64())
        .unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the stuck model (pid {pid}) still runs"
    );
}
