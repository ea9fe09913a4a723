//! GPU allocation failures against a real agent: a model replays the stderr of a real failed
//! PyTorch load on an Orin Nano (L4T R36.5, four `NvMapMemAllocInternalTagged: ... error 12`
//! lines and the traceback), with the agent reading `/proc` under a tree that holds that
//! device's meminfo and buddyinfo from the same capture. One `gpu_alloc_failed` per load, with
//! the figures that show 6 GB available while CMA and the large free blocks are gone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use jetgate::event::EventKind;
use serde_json::Value;

use crate::harness::{wait_for, Agent};

const LIMIT: Duration = Duration::from_secs(60);

/// The device-printed lines of a capture (its `# ` comment lines dropped).
fn capture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/captures")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("# "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A root whose `/proc/meminfo` is the R36.5 Orin Nano after the failure (MemTotal and
/// CmaTotal from its grep before, MemFree, MemAvailable and CmaFree from its grep after) and
/// whose `/proc/buddyinfo` is that device's after the failure.
fn drained_orin(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("proc")).unwrap();
    let meminfo = capture("meminfo_orin_nano_super_r36.5.0_before.txt")
        + &capture("meminfo_orin_nano_super_r36.5.0_after.txt");
    std::fs::write(root.join("proc/meminfo"), meminfo).unwrap();
    std::fs::write(
        root.join("proc/buddyinfo"),
        capture("buddyinfo_orin_nano_super_r36.5.0_after.txt"),
    )
    .unwrap();
    root
}

fn failures(agent: &Agent, at_least: usize) -> Vec<Value> {
    wait_for(LIMIT, &format!("{at_least} gpu_alloc_failed"), || {
        let found: Vec<Value> = agent
            .events()
            .into_iter()
            .filter(|e| e["kind"] == EventKind::GpuAllocFailed.as_str())
            .collect();
        (found.len() >= at_least).then_some(found)
    })
}

#[test]
fn a_model_printing_nvmap_error_12_is_one_event_per_load_with_cma_and_fragmentation() {
    let dir = tempfile::tempdir().unwrap();
    let root = drained_orin(dir.path());
    let stderr = dir.path().join("stderr.txt");
    std::fs::write(
        &stderr,
        capture("gpu_errors_pytorch_orin_nano_super_r36.5.0.txt"),
    )
    .unwrap();
    let command = [
        "sh",
        "-c",
        "echo READY; cat \"$1\" >&2; exec sleep 60",
        "sh",
        stderr.to_str().unwrap(),
    ];
    let config = format!(
        "[[model]]\nname = \"torch\"\ncommand = {command:?}\nmemory = \"100MiB\"\n\
         ready = {{ log = \"READY\" }}\nstop_grace = \"1s\"\nautostart = true\n"
    );
    let agent = Agent::start_rooted(&config, &root);

    let first = failures(&agent, 1).remove(0);
    let f = &first["figures"];
    assert_eq!(first["subject"], "torch", "{first}");
    assert_eq!(first["severity"], "error");
    assert_eq!(f["form"], "nvmap_error_12");
    assert_eq!(
        f["line"],
        "NvMapMemAllocInternalTagged: 1075072515 error 12"
    );
    assert_eq!(f["mem_available_bytes"], 6_156_320u64 * 1024);
    assert_eq!(f["cma_total_bytes"], 524_288u64 * 1024);
    assert_eq!(f["cma_free_bytes"], 168_452u64 * 1024);
    // Orders 4 to 12 of both zones of the captured buddyinfo, in this kernel's pages.
    let page = jetgate::sources::process::page_size();
    assert_eq!(f["free_high_order_bytes"], 269_312 * page);
    assert_eq!(f["suppressed_lines"], 0);
    let state = f["state"].as_str().unwrap();
    assert!(["loading", "ready"].contains(&state), "{first}");
    let pid = f["pid"].as_u64().unwrap();
    let message = first["message"].as_str().unwrap();
    assert!(
        message.contains("with 5.9GiB available: CMA 164.5MiB free of 512.0MiB"),
        "{message}"
    );

    // `status` shows the same contiguous-memory figures, from the same tree.
    let status = agent.json(&["status", "--json"]);
    let m = &status["memory"];
    assert_eq!(m["cma_free_bytes"], 168_452u64 * 1024, "{status}");
    assert_eq!(m["fragmentation"]["free_high_order_bytes"], 269_312 * page);
    assert_eq!(m["fragmentation"]["free_bytes"], 792_012 * page);
    let text = String::from_utf8(agent.cli(&["status"]).stdout).unwrap();
    assert!(text.contains("CMA 164.5MiB free of 512.0MiB"), "{text}");

    // The next load of the model fails the same way: a second event, carrying the three
    // lines of the first burst that were counted and not recorded.
    agent.wait_state("torch", "ready", LIMIT);
    assert!(agent.cli(&["unload", "torch"]).status.success());
    agent.wait_state("torch", "stopped", LIMIT);
    assert!(agent.cli(&["load", "torch"]).status.success());
    let both = failures(&agent, 2);
    assert_eq!(both.len(), 2, "one event per load: {both:?}");
    let second = &both[1]["figures"];
    assert_eq!(second["suppressed_lines"], 3, "{}", both[1]);
    assert_ne!(second["pid"].as_u64(), Some(pid));
}
