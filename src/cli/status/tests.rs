use super::*;
use serde_json::json;

/// A status document as `jetgate status` reads it from the agent's JSON.
fn typed(doc: serde_json::Value) -> StatusDocument {
    serde_json::from_value(doc).unwrap()
}

#[test]
fn renders_a_gate_with_its_queue_and_reasons() {
    let doc = json!({
        "device": {"board": {"name": "Jetson Orin Nano 8GB", "id": "orin-nano-8gb", "l4t": "36.4.4", "jetpack": "6.x"}},
        "memory": {"available_bytes": 1u64 << 30, "total_bytes": 8u64 << 30, "available_from": "mem_available"},
        "gate": {"reserve_bytes": 512u64 << 20, "budget_bytes": 100u64 << 20, "outstanding_bytes": 0,
                 "available_budget_bytes": 2u64 << 30, "ledger_budget_bytes": 100u64 << 20,
                 "budget_from": "ledger", "total_bytes": 3u64 << 30, "committed_bytes": 2516582400u64,
                 "committed": [{"model": "det", "committed_bytes": 1258291200u64, "peak_bytes": 1258291200u64,
                                "live_bytes": 1200000000u64, "from": "peak", "gpu_offload": false},
                               {"model": "track", "committed_bytes": 1258291200u64, "peak_bytes": 1258291200u64,
                                "live_bytes": 1200000000u64, "from": "peak", "gpu_offload": true}],
                 "queue": [{"model": "llm", "need_bytes": 1u64 << 30, "reason": "waiting: budget 100.0MiB < need"}]},
        "services": [],
        "agent": {"pid": 4242, "version": "0.1.0", "uptime_ms": 10_920_000u64,
                  "allocator": {"allocated_bytes": 2u64 << 20, "resident_bytes": 6u64 << 20}},
    });
    let text = render(&typed(doc));
    assert!(
        text.contains(
            "agent     pid 4242  v0.1.0  up 3h 2m  heap allocated 2.0MiB  resident 6.0MiB"
        ),
        "{text}"
    );
    assert!(
        text.contains("Jetson Orin Nano 8GB [orin-nano-8gb]  L4T 36.4.4"),
        "{text}"
    );
    assert!(text.contains("available 1.0GiB of 8.0GiB"), "{text}");
    assert!(
        text.contains("queue 1: llm need 1.0GiB: waiting: budget"),
        "{text}"
    );
    assert!(
        text.contains(
            "budget by available 2.0GiB, by ledger 100.0MiB (2.3GiB committed of 3.0GiB): \
             ledger decides"
        ),
        "{text}"
    );
    assert!(
        text.contains("committed: track 1.2GiB (peak 1.2GiB, live 1.1GiB, weights on the GPU)"),
        "{text}"
    );
    assert!(
        !text.contains("tegrastats"),
        "a local document has no tegrastats"
    );
}

#[test]
fn renders_cma_and_fragmentation_where_the_device_has_them_and_nothing_where_not() {
    // The R36.5 Orin Nano after its failed load (figures of the real capture).
    let doc = json!({
        "device": {"board": {"name": "Jetson Orin Nano 8GB"}},
        "memory": {"available_bytes": 6_156_320u64 * 1024, "total_bytes": 7_790_364u64 * 1024,
                   "available_from": "mem_available",
                   "cma_total_bytes": 524_288u64 * 1024, "cma_free_bytes": 168_452u64 * 1024,
                   "fragmentation": {"high_order": 4, "block_bytes": 65536,
                                     "free_high_order_bytes": 1052u64 << 20,
                                     "largest_free_block_bytes": 16u64 << 20,
                                     "free_bytes": 792_012u64 * 4096}},
    });
    let text = render(&typed(doc));
    assert!(
        text.contains(
            "CMA 164.5MiB free of 512.0MiB  free in blocks ≥ 64.0KiB 1.0GiB of 3.0GiB \
             (largest 16.0MiB)"
        ),
        "{text}"
    );
    // A host without CMA: the blocks only.
    let doc = json!({
        "device": {"board": {"name": "x86"}},
        "memory": {"available_bytes": 1u64 << 30, "total_bytes": 8u64 << 30,
                   "cma_total_bytes": 0, "cma_free_bytes": 0,
                   "fragmentation": {"high_order": 4, "block_bytes": 65536,
                                     "free_high_order_bytes": 1u64 << 30,
                                     "largest_free_block_bytes": 4u64 << 20,
                                     "free_bytes": 2u64 << 30}},
    });
    let text = render(&typed(doc));
    assert!(
        text.contains("CMA n/a  free in blocks ≥ 64.0KiB 1.0GiB"),
        "{text}"
    );
    // Neither: no line at all, and nothing fails.
    let doc = json!({
        "device": {"board": {"name": "x86"}},
        "memory": {"available_bytes": 1u64 << 30, "total_bytes": 8u64 << 30},
    });
    let text = render(&typed(doc));
    assert!(!text.contains("CMA") && !text.contains("blocks"), "{text}");
}

#[test]
fn renders_the_agent_tegrastats_and_coloured_states_only_when_asked() {
    let doc = json!({
        "device": {"board": {"name": "Jetson Orin Nano 8GB"}},
        "memory": null,
        "gate": {"reserve_bytes": 0, "budget_bytes": null, "outstanding_bytes": 0, "queue": [],
                 "in_flight": {"model": "llm", "phase": "loading", "elapsed_ms": 12_345,
                               "consumed_bytes": 1u64 << 30, "need_bytes": 2u64 << 30}},
        "services": [{"name": "llm", "kind": "model", "state": "loading", "pid": 7,
                      "memory_bytes": 1u64 << 30, "restarts": 0}],
        "tegrastats": {"state": "unavailable", "reason": "/usr/bin/tegrastats not found"},
        "agent": {"pid": 812, "uptime_ms": 185_000, "version": "0.1.0", "socket": "/s"},
    });
    let doc = typed(doc);
    let plain = render(&doc);
    assert!(
        plain.contains("agent     pid 812  up 3m05s  version 0.1.0  socket /s"),
        "{plain}"
    );
    assert!(
        plain.contains("tegrastats unavailable: /usr/bin/tegrastats not found"),
        "{plain}"
    );
    assert!(
        plain.contains("in flight: llm (loading, 12.3s, consumed 1.0GiB of need 2.0GiB)"),
        "{plain}"
    );
    assert!(!plain.contains('\x1b'), "{plain}");
    let coloured = render_toned(&doc, true);
    assert!(coloured.contains("\x1b[33mloading\x1b[0m"), "{coloured}");
}

#[test]
fn renders_the_stores_health_failing_recovered_and_ok() {
    let failing = typed(json!({
        "store": {"state": "failing", "writes_failed": 3, "failing_since_ms": 1_764_000_000_000u64,
                  "last_error": "database or disk is full", "last_lost": "event note"},
    }));
    let text = render(&failing);
    assert!(
        text.contains(
            "store     FAILING since 2025-11-24T16:00:00.000Z  writes failed 3  last: event \
             note: database or disk is full"
        ),
        "{text}"
    );
    let recovered = typed(json!({
        "store": {"state": "ok", "writes_failed": 3, "last_error": "database or disk is full"},
    }));
    assert!(
        render(&recovered).contains(
            "store     ok  writes failed 3 (recovered; last error: database or disk is full)"
        ),
        "{}",
        render(&recovered)
    );
    let ok = typed(json!({"store": {"state": "ok", "writes_failed": 0}}));
    assert!(render(&ok).contains("store     ok  writes failed 0\n"));
    assert!(
        !render(&typed(json!({}))).contains("store"),
        "a --local document has none"
    );
}
