//! The kernel backstop of `limit` against a real agent, real `jetgate sim-model` services and
//! the real cgroup v1 memory hierarchy: the unit's cgroup holds `limit` plus the margin, a tree
//! that allocates far past it at once is OOM-killed by the kernel, and that kill is an
//! `oom_killed` event naming the victim with the kernel's figures, before the exit the restart
//! policy judges. Without a cgroup scope the missing backstop is a warning at start.
//! Assertions are on events, figures and cgroup files, never on wall time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::time::Duration;

use jetgate::event::EventKind;
use serde_json::Value;

use crate::harness::{heavy, sequence, sim_service, wait_for, Agent, TestCgroup};

const MIB: u64 = 1 << 20;
/// Bounds a hung test only; nothing asserts on it.
const LIMIT: Duration = Duration::from_secs(90);

fn of(events: &[Value], kind: EventKind, subject: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["kind"] == kind.as_str() && e["subject"] == subject)
        .cloned()
        .collect()
}

/// `hog` allocates 1 GiB at once against a 64 MiB `limit`: the kernel limit (128 MiB) is
/// reached in a fraction of the agent's one-second check, so the kernel acts. It ignores
/// SIGTERM, so even when a check does land in time and asks for a stop, the tree keeps
/// growing into the kernel limit. `steady` holds 16 MiB under the same limit and stays up, so
/// its cgroup's files can be read.
#[test]
fn a_tree_outgrowing_its_limit_between_checks_is_oom_killed_by_the_kernel_and_reported() {
    let _heavy = heavy();
    let Some(cgroup) = TestCgroup::new("backstop", 2 << 30) else {
        return;
    };
    let limit = "limit = \"64MiB\"\n";
    let restart =
        "restart = { initial = \"100ms\", max = \"200ms\", max_restarts = 2, window = \"10m\" }\n";
    let body = format!(
        "[memory]\nscope = \"cgroup:{}\"\nreserve = \"64MiB\"\n\n{}{}",
        cgroup.name,
        sim_service(
            "hog",
            &["--alloc", "1GiB", "--ignore-term"],
            &format!("{limit}{restart}")
        ),
        sim_service("steady", &["--alloc", "16MiB"], limit),
    );
    let agent = Agent::start(&body);

    // The kernel limit is limit + margin: 64 MiB + max(64 MiB, 10 %) = 128 MiB.
    let kernel_limit = (128 * MIB).to_string();
    let read_limit = |file: &str| {
        wait_for(LIMIT, &format!("steady/{file}"), || {
            std::fs::read_to_string(cgroup.dir.join("steady").join(file)).ok()
        })
    };
    assert_eq!(read_limit("memory.limit_in_bytes").trim(), kernel_limit);
    if cgroup.dir.join("memory.memsw.limit_in_bytes").exists() {
        assert_eq!(
            read_limit("memory.memsw.limit_in_bytes").trim(),
            kernel_limit
        );
    }

    // Three kills: the first exit and two restarts, then the policy gives up.
    let events = wait_for(LIMIT, "hog to be given up on", || {
        let events = agent.events();
        (!of(&events, EventKind::GaveUp, "hog").is_empty()).then_some(events)
    });
    let kills = of(&events, EventKind::OomKilled, "hog");
    assert_eq!(kills.len(), 3, "one kill per process: {kills:#?}");
    let mut pids: Vec<u64> = Vec::new();
    for e in &kills {
        let f = &e["figures"];
        assert_eq!(e["severity"], "error", "{e}");
        assert_eq!(f["signal"], 9, "the leader was the victim: {e}");
        assert!(f["oom_kills"].as_u64().unwrap() >= 1, "{e}");
        assert_eq!(f["kernel_limit_bytes"], 128 * MIB, "{e}");
        assert_eq!(f["limit_bytes"], 64 * MIB, "{e}");
        assert_eq!(f["margin_bytes"], 64 * MIB, "{e}");
        let peak = f["peak_bytes"].as_u64().expect("the kernel's peak");
        assert!(
            peak > 64 * MIB && peak <= 128 * MIB,
            "charged past the limit, held at the kernel limit: {e}"
        );
        let message = e["message"].as_str().unwrap();
        let pid = f["pid"].as_u64().unwrap();
        assert!(message.contains(&format!("killed pid {pid}")), "{message}");
        pids.push(pid);
        eprintln!(
            "oom_killed: pid {pid}, peak {} MiB, limit hits {}, last measured {} bytes",
            peak / MIB,
            f["limit_hits"],
            f["memory_bytes"]
        );
    }
    pids.dedup();
    assert_eq!(pids.len(), 3, "three processes: {pids:?}");

    // Each kill is reported before the exit it caused, and the exits are judged as crashes.
    let order = sequence(
        &of_subject(&events, "hog"),
        &[
            EventKind::OomKilled.as_str(),
            EventKind::ServiceExited.as_str(),
            EventKind::RestartScheduled.as_str(),
            EventKind::GaveUp.as_str(),
        ],
    );
    let kinds: Vec<&str> = order.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "oom_killed",
            "service_exited",
            "restart_scheduled",
            "oom_killed",
            "service_exited",
            "restart_scheduled",
            "oom_killed",
            "service_exited",
            "gave_up"
        ],
        "{events:#?}"
    );
    for exited in of(&events, EventKind::ServiceExited, "hog") {
        assert_eq!(exited["figures"]["signal"], 9, "{exited}");
    }
    let gave_up = &of(&events, EventKind::GaveUp, "hog")[0];
    assert_eq!(gave_up["figures"]["signal"], 9, "{gave_up}");

    // The unit under its limit was never touched.
    assert_eq!(agent.state("steady"), "running");
    assert!(of(&events, EventKind::OomKilled, "steady").is_empty());
    assert!(of(&events, EventKind::KernelLimitUnset, "hog").is_empty());
}

fn of_subject(events: &[Value], subject: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["subject"] == subject)
        .cloned()
        .collect()
}

#[test]
fn without_a_cgroup_scope_a_limit_has_no_kernel_backstop_and_the_agent_says_so_at_start() {
    let body = sim_service("api", &["--alloc", "8MiB"], "limit = \"64MiB\"\n")
        + &sim_service("free", &["--alloc", "8MiB"], "");
    let agent = Agent::start(&body);
    let e = wait_for(LIMIT, "kernel_limit_unset", || {
        of(&agent.events(), EventKind::KernelLimitUnset, "api")
            .into_iter()
            .next()
    });
    assert_eq!(e["severity"], "warning");
    assert_eq!(e["figures"]["limit_bytes"], 64 * MIB);
    assert_eq!(e["figures"]["kernel_limit_bytes"], 128 * MIB);
    assert_eq!(e["figures"]["scope"], "system");
    assert!(of(&agent.events(), EventKind::KernelLimitUnset, "free").is_empty());
}
