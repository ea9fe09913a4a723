//! Escapes: a model's grandchild that calls `setsid()` leaves the model's process group and
//! session. With `memory.scope = "system"` it still dies with `unload` and with the agent's
//! shutdown: in a cgroup of the unit's own where the hierarchy allows it, followed by parent
//! pid where it does not (a `--root` fixture tree without cgroups). Real agent, real processes,
//! the real cgroup v1 hierarchy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::Path;
use std::time::Duration;

use jetgate::event::EventKind;
use jetgate::runner::procstat::read_stat;
use jetgate::sources::Root;
use serde_json::Value;

use crate::harness::{wait_for, Agent};

const LIMIT: Duration = Duration::from_secs(30);

/// A model whose shell starts `setsid sleep` in the background, writes its pid to `pidfile`,
/// and then becomes the long-running server.
fn escaping_model(name: &str, pidfile: &Path) -> String {
    let command = [
        "sh",
        "-c",
        "setsid sleep 1000 & echo $! > \"$1\"; echo READY; exec sleep 1000",
        "sh",
        pidfile.to_str().unwrap(),
    ];
    format!(
        "[[model]]\nname = \"{name}\"\ncommand = {command:?}\nmemory = \"1MiB\"\n\
         ready = {{ log = \"READY\" }}\nstop_grace = \"1s\"\nautostart = false\n\n"
    )
}

/// Loads `name` and returns the pid of its escaped grandchild, checked to be outside the
/// model's process group.
fn load_escapee(agent: &Agent, name: &str, pidfile: &Path) -> i32 {
    assert!(agent.cli(&["load", name]).status.success());
    let model = agent.wait_state(name, "ready", LIMIT);
    let pid: i32 = wait_for(LIMIT, "the escapee's pid", || {
        std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()
    });
    let leader = model["pid"].as_i64().unwrap();
    wait_for(
        LIMIT,
        "the grandchild to leave the model's process group",
        || {
            let stat = read_stat(&Root::host(), pid).ok()?;
            (i64::from(stat.pgrp) != leader && stat.pid == pid).then_some(())
        },
    );
    pid
}

/// True once `pid` no longer runs (gone, or a zombie not yet reaped).
fn dead(pid: i32) -> bool {
    read_stat(&Root::host(), pid).map_or(true, |s| s.state == 'Z' || s.state == 'X')
}

fn kill(pid: i32) {
    if !dead(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

fn started(agent: &Agent) -> Value {
    let events = agent.events();
    events
        .into_iter()
        .find(|e| e["kind"] == EventKind::AgentStarted.as_str())
        .unwrap()
}

/// Unloads `a` and stops the agent with `b` loaded; neither escapee may survive.
fn neither_escapee_survives(mut agent: Agent, dir: &Path) {
    let (a, b) = (dir.join("a.pid"), dir.join("b.pid"));
    let first = load_escapee(&agent, "a", &a);
    assert!(agent.cli(&["unload", "a"]).status.success());
    agent.wait_state("a", "stopped", LIMIT);
    let survived_unload = !wait_until_dead(first);
    let second = load_escapee(&agent, "b", &b);
    assert_eq!(agent.terminate(), Some(0), "{}", agent.log());
    let survived_shutdown = !wait_until_dead(second);
    kill(first); // a failed assertion below must leave nothing running
    kill(second);
    assert!(!survived_unload, "the escapee of `a` survived its unload");
    assert!(!survived_shutdown, "the escapee of `b` survived the agent");
}

/// Polls (bounded) until `pid` is dead; false if it is still running at the end.
fn wait_until_dead(pid: i32) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if dead(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn in_the_system_scope_a_setsid_grandchild_dies_with_unload_and_with_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let body = escaping_model("a", &dir.path().join("a.pid"))
        + &escaping_model("b", &dir.path().join("b.pid"));
    let agent = Agent::start(&body);
    let figures = started(&agent)["figures"].clone();
    assert_eq!(figures["scope"], "system");
    let containment = figures["containment"].as_str().unwrap().to_string();
    let Some(parent) = containment.strip_prefix("cgroup:") else {
        let reason = agent
            .events()
            .into_iter()
            .find(|e| e["kind"] == EventKind::ContainmentDegraded.as_str())
            .map(|e| e["message"].to_string())
            .unwrap_or_default();
        drop(agent);
        return crate::prerequisite::missing(
            &format!("no cgroup for the units: {reason}"),
            "run as root on a writable cgroup hierarchy",
        )
        .unwrap_or(());
    };
    let parent = std::path::PathBuf::from(parent);
    assert!(parent.join("cgroup.procs").exists(), "{}", parent.display());
    neither_escapee_survives(agent, dir.path());
    assert!(
        !parent.exists(),
        "the units' parent cgroup is removed at shutdown"
    );
}

#[test]
fn without_a_cgroup_the_tree_is_followed_and_a_setsid_grandchild_still_dies() {
    let dir = tempfile::tempdir().unwrap();
    // A fixture tree with memory figures only: no cgroup hierarchy to make the units' cgroups in.
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("proc")).unwrap();
    std::fs::copy("/proc/meminfo", root.join("proc/meminfo")).unwrap();
    let body = escaping_model("a", &dir.path().join("a.pid"))
        + &escaping_model("b", &dir.path().join("b.pid"));
    let agent = Agent::start_rooted(&body, &root);
    assert_eq!(started(&agent)["figures"]["containment"], "process_tree");
    let degraded: Vec<Value> = agent
        .events()
        .into_iter()
        .filter(|e| e["kind"] == EventKind::ContainmentDegraded.as_str())
        .collect();
    assert_eq!(degraded.len(), 1, "{degraded:?}");
    assert_eq!(degraded[0]["severity"], "warning");
    assert!(!degraded[0]["figures"]["reason"]
        .as_str()
        .unwrap()
        .is_empty());
    neither_escapee_survives(agent, dir.path());
}
