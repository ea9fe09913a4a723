//! The idle sampler's kernel notification end to end: a real agent scoped to a real cgroup v1
//! memory group, and a real process that fills the group past the usage threshold.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{heavy, wait_for, Agent, TestCgroup, JETGATE};

const MIB: u64 = 1 << 20;
const LIMIT: Duration = Duration::from_secs(60);

fn cgroup_usage(agent: &Agent) -> Option<u64> {
    agent.json(&["status", "--json"])["memory"]["cgroup"]["usage_bytes"].as_u64()
}

#[test]
fn a_usage_threshold_crossing_wakes_the_idle_sampler_at_once() {
    let _heavy = heavy();
    let Some(cgroup) = TestCgroup::new("idlewake", 512 * MIB) else {
        return;
    };
    // Every rate but a load's is `sample_interval` or slower: at 10 min, any sample after the
    // first one within this test's minute was woken by the kernel. Near the reserve is below
    // 2 × 64 MiB available, so the threshold sits at 512 − 128 = 384 MiB of usage.
    let agent = Agent::start(&format!(
        "[memory]\nscope = \"cgroup:{}\"\nreserve = \"64MiB\"\nsample_interval = \"10min\"\n\
         fresh_within = \"10min\"\n",
        cgroup.name
    ));
    let before = wait_for(LIMIT, "the first sample", || cgroup_usage(&agent));
    assert!(before < 64 * MIB, "the new group starts empty: {before}");

    // A process joins the group, then holds 448 MiB: usage rises through the threshold.
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec {JETGATE} sim-model --alloc 448MiB --ramp 200ms",
        cgroup.dir.display()
    );
    let mut filler = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let seen = wait_for(LIMIT, "a sample that sees the crossing", || {
        cgroup_usage(&agent).filter(|&u| u > 384 * MIB)
    });
    assert!(seen > 384 * MIB);
    let status = agent.json(&["status", "--json"]);
    let available = status["memory"]["available_bytes"].as_u64().unwrap();
    assert!(available < 128 * MIB, "near the reserve now: {available}");
    let _ = filler.kill();
    let _ = filler.wait();
}
