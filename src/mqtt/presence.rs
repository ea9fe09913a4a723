//! Payloads built from what the agent knows (pure): presence on `status`, the change key that
//! decides when the retained `state` is republished, and `telemetry` samples.
//!
//! ```json
//! {"online": true, "session": 7, "pid": 1234, "version": "0.1.0", "ts": "2026-11-24T03:06:39.120Z"}
//! {"ts": "...", "session": 7, "memory": {"available_bytes": 5368709120, ...}, "gate": {"budget_bytes": ...}}
//! ```

use serde_json::{json, Value};

/// The retained presence payload; the last will carries the same with `online: false`.
pub fn status_payload(online: bool, session: u64, pid: u32, version: &str, ts: &str) -> Vec<u8> {
    json!({
        "online": online,
        "session": session,
        "pid": pid,
        "version": version,
        "ts": ts,
    })
    .to_string()
    .into_bytes()
}

/// What makes a status document "changed" for the retained state: each service's name, state,
/// pid, restarts and reason, and the gate's load in flight and queue. Memory figures, ages and
/// uptime move on every sample; they are refreshed every `state_interval` instead.
pub fn state_key(doc: &Value) -> String {
    let services: Vec<Value> = doc["services"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|s| json!([s["name"], s["state"], s["pid"], s["restarts"], s["reason"]]))
                .collect()
        })
        .unwrap_or_default();
    let gate = &doc["gate"];
    let queue: Vec<&Value> = gate["queue"]
        .as_array()
        .map(|q| q.iter().map(|w| &w["model"]).collect())
        .unwrap_or_default();
    json!([
        services,
        gate["in_flight"]["model"],
        gate["in_flight"]["phase"],
        queue
    ])
    .to_string()
}

/// A telemetry sample from the status document: memory and pressure figures, the gate's
/// budget, the latest tegrastats sample (`null` where tegrastats is unavailable), the agent's
/// own heap (jemalloc statistics, so a fleet sees an agent that grows). `None`
/// before the first memory sample.
pub fn telemetry_payload(doc: &Value, session: u64, ts: &str) -> Option<Vec<u8>> {
    let m = doc.get("memory").filter(|m| !m.is_null())?;
    let pick = |keys: &[&str]| -> Value {
        keys.iter()
            .map(|k| (k.to_string(), m[*k].clone()))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let memory = pick(&[
        "available_bytes",
        "total_bytes",
        "free_bytes",
        "cached_bytes",
        "swap_used_bytes",
        "gpu_held_bytes",
        "cma_free_bytes",
    ]);
    Some(
        json!({
            "ts": ts,
            "session": session,
            "memory": memory,
            "pressure": m["pressure"],
            "gate": {
                "budget_bytes": doc["gate"]["budget_bytes"],
                "reserve_bytes": doc["gate"]["reserve_bytes"],
                "in_flight": doc["gate"]["in_flight"]["model"],
            },
            "tegrastats": doc["tegrastats"]["sample"],
            "agent": {"allocator": doc["agent"]["allocator"]},
        })
        .to_string()
        .into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(state: &str, available: u64, uptime: u64) -> Value {
        json!({
            "device": {"id": "d"},
            "memory": {"available_bytes": available, "total_bytes": 8, "pressure": null},
            "gate": {"budget_bytes": 3, "reserve_bytes": 1, "in_flight": null, "queue": []},
            "services": [{"name": "llm", "state": state, "pid": null, "restarts": 0,
                          "memory_bytes": available, "reason": null}],
            "agent": {"uptime_ms": uptime},
        })
    }

    #[test]
    fn the_state_key_ignores_moving_figures_and_sees_state_changes() {
        assert_eq!(
            state_key(&doc("stopped", 1, 1)),
            state_key(&doc("stopped", 2, 9))
        );
        assert_ne!(
            state_key(&doc("stopped", 1, 1)),
            state_key(&doc("loading", 1, 1))
        );
    }

    #[test]
    fn presence_and_telemetry_carry_their_contract_fields() {
        let v: Value = serde_json::from_slice(&status_payload(false, 7, 12, "0.1.0", "t")).unwrap();
        assert_eq!(
            v,
            json!({"online": false, "session": 7, "pid": 12, "version": "0.1.0", "ts": "t"})
        );
        let t: Value =
            serde_json::from_slice(&telemetry_payload(&doc("ready", 5, 1), 7, "t").unwrap())
                .unwrap();
        assert_eq!(t["memory"]["available_bytes"], 5);
        assert_eq!(t["gate"]["budget_bytes"], 3);
        assert!(t["tegrastats"].is_null(), "no tegrastats section: null");
        let mut with_sample = doc("ready", 5, 1);
        with_sample["tegrastats"] = json!({"state": "running", "sample": {"ram": {"used": 9}}});
        let t: Value =
            serde_json::from_slice(&telemetry_payload(&with_sample, 7, "t").unwrap()).unwrap();
        assert_eq!(t["tegrastats"]["ram"]["used"], 9);
        with_sample["agent"]["allocator"] = json!({"allocated_bytes": 3});
        let t: Value =
            serde_json::from_slice(&telemetry_payload(&with_sample, 7, "t").unwrap()).unwrap();
        assert_eq!(t["agent"]["allocator"]["allocated_bytes"], 3);
        assert!(telemetry_payload(&json!({"memory": null}), 1, "t").is_none());
    }
}
