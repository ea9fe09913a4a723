//! The agent's own footprint as it reports it: jemalloc's statistics under `agent.allocator`
//! in `jetgate status --json`, and the `agent` line of the human `jetgate status`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness::Agent;

#[test]
fn status_reports_the_agents_own_heap_from_jemalloc() {
    let agent = Agent::start("");
    let doc = agent.json(&["status", "--json"]);
    let heap = &doc["agent"]["allocator"];
    let figure = |k: &str| {
        heap[k]
            .as_u64()
            .unwrap_or_else(|| panic!("agent.allocator.{k} missing: {doc}"))
    };
    // The binary's global allocator is jemalloc: the agent's own allocations show.
    assert!(figure("allocated_bytes") > 64 * 1024, "{heap}");
    assert!(
        figure("active_bytes") >= figure("allocated_bytes"),
        "{heap}"
    );
    assert!(figure("resident_bytes") >= figure("active_bytes"), "{heap}");
    assert!(figure("metadata_bytes") > 0, "{heap}");
    // Small: the agent idles at a few MiB of heap (docs/benchmarks.md).
    assert!(figure("resident_bytes") < 256 << 20, "{heap}");

    let out = agent.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("heap allocated "), "{text}");
    assert!(
        text.contains(&format!("agent     pid {}", agent.pid())),
        "{text}"
    );
}
