//! Container units end to end with a real engine: Debian's `podman` with `runc`, an image
//! imported from a tarball this test run builds (`jetgate sim-model`, stripped, and the
//! libraries `ldd` lists), no registry.
//!
//! Set-up each test gets ([`Podman::new`]): a private store (`storage.conf` with `graphroot`
//! and `runroot` under its tempdir, the `vfs` driver, which needs no mounts) and a
//! `containers.conf` (`CONTAINERS_CONF`) with `default_ulimits = []` (this sandbox's podman
//! cannot raise the default nofile limit), `cgroup_manager = "cgroupfs"` (no systemd as
//! init), `events_logger = "file"` (no journald) and a private `tmp_dir` (its exit files); each
//! unit passes `--runtime runc` and `--network none` in `options`. Every container is removed
//! and the store deleted when the test ends, passed or failed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::time::Duration;

use jetgate::event::EventKind;

use crate::harness::{assert_loads_never_overlap, heavy, sequence, TestCgroup};

mod rig;
use rig::{container_in_unit_cgroup, no_unit_dirs_left, unit_usage, Podman, GIB};
const LOAD: Duration = Duration::from_secs(90);

#[test]
fn three_containerised_models_are_gated_like_processes_two_fit_one_waits() {
    let _heavy = heavy();
    let Some(podman) = Podman::new() else { return };
    let Some(cgroup) = TestCgroup::new("ctr3", 3 * GIB) else {
        return;
    };
    let models: String = ["det", "track", "llm"]
        .iter()
        .map(|n| podman.model(n, "1GiB", &["--alloc", "1GiB", "--ramp", "300ms"], ""))
        .collect();
    let agent = podman.agent(&cgroup, "512MiB", &models);
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
    // The containers' memory is in their units' cgroups, under the scope.
    for unit in ["det", "track"] {
        assert!(
            container_in_unit_cgroup(&cgroup, unit),
            "{unit}: no libpod-* cgroup with processes"
        );
        let usage = unit_usage(&cgroup, unit).unwrap();
        assert!(usage >= GIB, "{unit}: cgroup usage {usage}");
    }
    // The agent's reading of each unit (limits, leak trends, views) is the whole container:
    // the cgroup's members, not the `podman run` client's descendants.
    let view = crate::harness::wait_for(LOAD, "det's memory in services", || {
        let s = agent.service("det");
        (s["memory_bytes"].as_u64()? >= GIB).then_some(s)
    });
    eprintln!(
        "det: {view}, unit cgroup usage {:?}",
        unit_usage(&cgroup, "det")
    );
    let names = podman.containers();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("jetgate-det ")),
        "{names:?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(agent.state("llm"), "queued");

    assert!(agent.cli(&["unload", "det"]).status.success());
    agent.wait_state("det", "stopped", LOAD);
    agent.wait_state("llm", "ready", LOAD);
    let names = podman.containers();
    assert!(
        !names.iter().any(|n| n.starts_with("jetgate-det ")),
        "{names:?}"
    );
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
fn an_overshooting_containerised_load_is_killed_before_the_scope_limit_and_its_container_is_gone() {
    let _heavy = heavy();
    let Some(podman) = Podman::new() else { return };
    let Some(cgroup) = TestCgroup::new("ctrliar", 2 * GIB) else {
        return;
    };
    // Declares 256 MiB, then grows at 2 GiB/s toward 2 GiB (the whole scope).
    let args = [
        "--alloc",
        "256MiB",
        "--overshoot",
        "1792MiB",
        "--rate",
        "2GiB/s",
        "--overshoot-during-ramp",
        "--ramp",
        "100ms",
    ];
    let model = podman.model("liar", "256MiB", &args, "");
    let agent = podman.agent(&cgroup, "512MiB", &model);
    let out = agent.cli(&["load", "liar", "--wait", "--json"]);
    assert!(!out.status.success(), "an aborted load must not exit 0");
    agent.wait_state("liar", "failed", LOAD);
    let events = agent.events();
    let aborted = events
        .iter()
        .find(|e| e["kind"] == EventKind::LoadAborted.as_str())
        .unwrap_or_else(|| panic!("no load_aborted in {events:#?}"));
    let f = &aborted["figures"];
    assert!(
        f["available_bytes"].as_u64().unwrap() < f["floor_bytes"].as_u64().unwrap(),
        "{f}"
    );
    // The kernel never had to act: the limit was not hit and nothing was OOM-killed.
    assert_eq!(cgroup.failcnt(), 0, "the scope's limit was hit");
    assert_eq!(cgroup.oom_kills(), 0, "the kernel OOM killer acted");
    crate::harness::wait_for(LOAD, "the aborted tree to be gone", || {
        agent.service("liar")["pid"].is_null().then_some(())
    });
    let left = podman.containers();
    assert!(left.is_empty(), "containers after the kill: {left:?}");
    let dirs = no_unit_dirs_left(&cgroup, "liar");
    assert!(dirs.is_empty(), "cgroups left: {dirs:?}");
    let events = agent.events();
    let removed = events
        .iter()
        .find(|e| e["kind"] == EventKind::ContainerRemoved.as_str())
        .unwrap_or_else(|| panic!("no container_removed in {events:#?}"));
    eprintln!("{aborted}\n{removed}");
    assert_eq!(removed["figures"]["container"], "jetgate-liar", "{removed}");
    assert!(removed["figures"]["error"].is_null(), "{removed}");
}

#[test]
fn an_unload_and_an_agent_stop_leave_no_container() {
    let Some(podman) = Podman::new() else { return };
    let Some(cgroup) = TestCgroup::new("ctrunload", GIB) else {
        return;
    };
    let models = podman.model("a", "64MiB", &["--alloc", "64MiB"], "")
        + &podman.model("b", "64MiB", &["--alloc", "64MiB"], "");
    let mut agent = podman.agent(&cgroup, "128MiB", &models);
    for unit in ["a", "b"] {
        assert!(agent.cli(&["load", unit, "--wait"]).status.success());
    }
    assert_eq!(podman.containers().len(), 2);
    assert!(agent.cli(&["unload", "a"]).status.success());
    agent.wait_state("a", "stopped", LOAD);
    let left = podman.containers();
    assert!(
        left.iter().all(|n| !n.starts_with("jetgate-a ")),
        "{left:?}"
    );
    assert!(no_unit_dirs_left(&cgroup, "a").is_empty());
    // The agent's own stop takes `b` with it.
    assert_eq!(agent.terminate(), Some(0));
    let left = podman.containers();
    assert!(
        left.is_empty(),
        "containers after the agent stopped: {left:?}"
    );
    assert!(no_unit_dirs_left(&cgroup, "b").is_empty());
}

#[test]
fn after_a_sigkill_of_the_agent_a_restart_runs_no_second_copy_of_the_container() {
    let Some(podman) = Podman::new() else { return };
    let Some(cgroup) = TestCgroup::new("ctrcrash", GIB) else {
        return;
    };
    let model = podman
        .model("m", "64MiB", &["--alloc", "64MiB"], "")
        .replace("autostart = false", "autostart = true");
    let mut agent = podman.agent(&cgroup, "128MiB", &model);
    let ready = agent.wait_state("m", "ready", LOAD);
    let client = ready["pid"].as_i64().unwrap() as i32;
    let before = podman.containers();
    assert_eq!(before.len(), 1, "{before:?}");
    agent.kill();
    // The agent is gone; its container is not. With its `run` client and podman's `conmon`
    // killed too (a crash of everything but the container), nothing will remove it on its own:
    // `--rm` was the client's job and the clean-up on exit `conmon`'s.
    let conmon = std::fs::read_to_string(cgroup.dir.join("m/conmon/cgroup.procs")).unwrap();
    let pids = conmon.lines().filter_map(|l| l.trim().parse::<i32>().ok());
    for pid in pids.chain([client]) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(podman.containers(), before);
    agent.spawn();
    agent.wait_state("m", "ready", LOAD);
    let after = podman.containers();
    assert_eq!(after.len(), 1, "two copies: {after:?}");
    assert!(after[0].starts_with("jetgate-m "), "{after:?}");
    assert_ne!(after, before, "the old container was kept: {after:?}");
    let events = agent.events();
    let stopped: Vec<_> = events
        .iter()
        .filter(|e| e["kind"] == EventKind::OrphanStopped.as_str())
        .collect();
    assert!(!stopped.is_empty(), "{events:#?}");
    // The old container's processes died with its cgroup; the engine's record of it was
    // removed by its label before the unit started again.
    assert!(
        stopped
            .iter()
            .any(|e| e["figures"]["found"] == "container" && e["figures"]["ended"] == "removed"),
        "{stopped:#?}"
    );
    // One sim-model in the unit's cgroup: the new container's.
    let procs: Vec<String> = std::fs::read_dir(cgroup.dir.join("m"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("libpod-"))
        .filter_map(|e| std::fs::read_to_string(e.path().join("cgroup.procs")).ok())
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert_eq!(procs.len(), 1, "{procs:?}");
}

#[test]
fn a_pinned_image_whose_local_digest_differs_refuses_the_load_and_a_matching_one_loads() {
    let Some(podman) = Podman::new() else { return };
    let Some(cgroup) = TestCgroup::new("ctrpin", GIB) else {
        return;
    };
    let out = podman.cmd(&["image", "inspect", "--format", "{{.Digest}}", &podman.image]);
    let digest = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(digest.starts_with("sha256:"), "{digest}");
    let wrong = format!("sha256:{}", "0".repeat(64));
    let models = podman.model("good", "64MiB", &["--alloc", "64MiB"], "")
        + &podman.model("bad", "64MiB", &["--alloc", "64MiB"], "");
    let image = podman.image.clone();
    let models = models
        .replacen(&format!("\"{image}\""), &format!("\"{image}@{digest}\""), 1)
        .replacen(&format!("\"{image}\""), &format!("\"{image}@{wrong}\""), 1);
    let agent = podman.agent(&cgroup, "128MiB", &models);
    let out = agent.cli(&["load", "bad", "--wait"]);
    assert!(
        !out.status.success(),
        "a load of a mismatched image must fail"
    );
    agent.wait_state("bad", "failed", LOAD);
    let events = agent.events();
    let refused = events
        .iter()
        .find(|e| e["kind"] == EventKind::LoadRefused.as_str() && e["subject"] == "bad")
        .unwrap_or_else(|| panic!("no load_refused in {events:#?}"));
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains(&wrong) && message.contains(&digest),
        "{message}"
    );
    assert!(podman.containers().is_empty(), "a container was started");
    assert!(agent.cli(&["load", "good", "--wait"]).status.success());
    let names = podman.containers();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn config_check_refuses_an_engine_run_command_and_an_engine_not_on_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jetgate.toml");
    std::fs::write(
        &file,
        "[[model]]\nname = \"llm\"\ncommand = [\"docker\", \"run\", \"--runtime\", \"nvidia\", \"llama\"]\n\
         memory = \"1GiB\"\nready = { tcp = \"127.0.0.1:8080\" }\n",
    )
    .unwrap();
    let (code, text) = crate::harness::config_check(&file);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("jetgate.toml:3:"), "{text}");
    assert!(text.contains("container = {"), "{text}");

    std::fs::write(
        &file,
        "[[model]]\nname = \"llm\"\nmemory = \"1GiB\"\nready = { tcp = \"127.0.0.1:8080\" }\n\
         container = { engine = \"docker\", image = \"llama:1\" }\n",
    )
    .unwrap();
    let (code, text) = crate::harness::config_check_with_path(&file, "/nonexistent");
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("\"docker\""), "{text}");
}
