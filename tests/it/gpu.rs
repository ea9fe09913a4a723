//! Per-process GPU memory end to end: a real agent reads the device under a root whose `/proc`
//! is this machine's and whose nvmap `iovmm/clients` (the 4-column layout Orin prints) names
//! the agent's real children. The figure must reach `services`, the status document (what MQTT
//! publishes as `state`), the gate's ledger and a unit's limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::Path;
use std::time::Duration;

use jetgate::event::EventKind;

use crate::harness::{heavy, sim_model_autostarted, wait_for, Agent, JETGATE};

const MIB: u64 = 1 << 20;
/// Bounds a hung test only; nothing asserts on it.
const LIMIT: Duration = Duration::from_secs(60);

/// A root for `--root`: `/proc` and `/sys/fs/cgroup` are this machine's, nvmap is ours.
fn jetson_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/proc", dir.path().join("proc")).unwrap();
    std::fs::create_dir_all(dir.path().join("sys/fs")).unwrap();
    std::os::unix::fs::symlink("/sys/fs/cgroup", dir.path().join("sys/fs/cgroup")).unwrap();
    std::fs::create_dir_all(dir.path().join("sys/kernel/debug/nvmap/iovmm")).unwrap();
    write_clients(dir.path(), &[]);
    dir
}

/// Writes `iovmm/clients` as the kernel prints it (`%-18s %18s %8u %10lluK`), the desktop's
/// clients first, then `(comm, pid, KiB)` for each of ours.
fn write_clients(root: &Path, ours: &[(&str, u32, u64)]) {
    let mut rows = vec![("gnome-shell", 2831u32, 5384u64), ("Xorg", 1731, 18140)];
    rows.extend(ours.iter().copied());
    let mut text = format!(
        "{:<18} {:>18} {:>8} {:>10}\n",
        "CLIENT", "PROCESS", "PID", "SIZE"
    );
    for (comm, pid, kib) in &rows {
        text += &format!("{:<18} {:>18} {:>8} {:>10}K\n", "user", comm, pid, kib);
    }
    let total: u64 = rows.iter().map(|r| r.2).sum();
    text += &format!("{:<18} {:>18} {:>8} {:>10}K\n", "total", "", "", total);
    let path = root.join("sys/kernel/debug/nvmap/iovmm/clients");
    std::fs::write(path.with_extension("new"), text).unwrap();
    std::fs::rename(path.with_extension("new"), path).unwrap();
}

#[test]
fn nvmaps_per_process_figure_reaches_services_status_the_ledger_and_the_limit() {
    let _heavy = heavy();
    let root = jetson_root();
    let argv = [JETGATE, "sim-model", "--alloc", "32MiB"];
    let body = format!(
        "[device]\nboard = \"orin-nano-8gb\"\n\n\
         {}\
         [[service]]\nname = \"cam\"\ncommand = {argv:?}\nautostart = true\n\
         stop_grace = \"2s\"\nlimit = \"256MiB\"\n\n",
        sim_model_autostarted("llm", "64MiB", &["--alloc", "32MiB"])
    );
    let agent = Agent::start_rooted(&body, root.path());
    let llm = agent.wait_state("llm", "ready", LIMIT);
    let cam = agent.wait_state("cam", "running", LIMIT);
    let (llm_pid, cam_pid) = (
        llm["pid"].as_u64().unwrap() as u32,
        cam["pid"].as_u64().unwrap() as u32,
    );
    let committed = |agent: &Agent| {
        let status = agent.json(&["status", "--json"]);
        status["gate"]["committed"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["model"] == "llm")
            .map(|c| c["live_bytes"].as_u64().unwrap())
            .unwrap_or(0)
    };
    let before = committed(&agent);
    assert!(before < 256 * MIB, "{before}");

    // The model's server now holds 512 MiB of GPU memory: the sampler's nvmap file says so.
    write_clients(root.path(), &[("sim-model", llm_pid, 512 * 1024)]);
    let view = wait_for(LIMIT, "llm's GPU memory in services", || {
        let s = agent.service("llm");
        (s["gpu_bytes"] == 512 * MIB).then_some(s)
    });
    assert!(view["memory_bytes"].as_u64().unwrap() > 0, "{view}");
    // The status document (MQTT's retained `state`) carries the same row, and the ledger
    // counts PSS plus GPU: on a Jetson both come out of the same DRAM.
    let status = agent.json(&["status", "--json"]);
    let row = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "llm")
        .unwrap()
        .clone();
    assert_eq!(row["gpu_bytes"], 512 * MIB, "{row}");
    let after = wait_for(LIMIT, "the ledger to count the GPU memory", || {
        let c = committed(&agent);
        (c >= 512 * MIB).then_some(c)
    });
    assert!(after >= before + 512 * MIB - 32 * MIB, "{before} → {after}");
    let table = String::from_utf8(agent.cli(&["services"]).stdout).unwrap();
    assert!(
        table.contains("GPU") && table.contains("512.0MiB"),
        "{table}"
    );

    // The service's tree passes its 256 MiB limit only through its GPU memory.
    write_clients(
        root.path(),
        &[
            ("sim-model", llm_pid, 512 * 1024),
            ("sim-model", cam_pid, 300 * 1024),
        ],
    );
    let e = wait_for(LIMIT, "cam's memory_limit_exceeded", || {
        agent
            .events()
            .into_iter()
            .find(|e| e["kind"] == EventKind::MemoryLimitExceeded.as_str() && e["subject"] == "cam")
    });
    assert_eq!(e["figures"]["gpu_bytes"], 300 * MIB, "{e}");
    assert!(
        e["figures"]["tree_pss_bytes"].as_u64().unwrap() < 256 * MIB,
        "{e}"
    );
}
