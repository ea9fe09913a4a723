//! Payloads built from what the agent knows (pure): presence on `status`, the change key that
//! decides when the retained `state` is republished, and `telemetry` samples.
//!
//! ```json
//! {"online": true, "session": 7, "pid": 1234, "version": "0.1.0", "ts": "2026-11-24T03:06:39.120Z"}
//! {"ts": "...", "session": 7, "memory": {"available_bytes": 5368709120, ...}, "gate": {"budget_bytes": ...}}
//! ```

use crate::status::{Presence, StatusDocument, Telemetry};

/// The retained presence payload; the last will carries the same with `online: false`.
pub fn status_payload(online: bool, session: u64, pid: u32, version: &str, ts: &str) -> Vec<u8> {
    let presence = Presence {
        online,
        session: Some(session),
        pid: Some(pid),
        version: Some(version.to_string()),
        ts: Some(ts.to_string()),
    };
    json_bytes(&presence)
}

/// A payload as published: keys sorted, as they always have been.
fn json_bytes(payload: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_value(payload)
        .unwrap_or_default()
        .to_string()
        .into_bytes()
}

/// The retained `state` payload: the status document.
pub fn state_payload(doc: &StatusDocument) -> Vec<u8> {
    doc.to_value().to_string().into_bytes()
}

/// What makes a status document "changed" for the retained state: each service's name, state,
/// pid, restarts and reason, and the gate's load in flight and queue. Memory figures, ages and
/// uptime move on every sample; they are refreshed every `state_interval` instead.
pub fn state_key(doc: &StatusDocument) -> String {
    let services: Vec<_> = doc
        .services
        .iter()
        .flatten()
        .map(|s| (&s.name, s.state, s.pid, s.restarts, &s.reason))
        .collect();
    let gate = doc.gate.as_ref();
    let flight = gate.and_then(|g| g.in_flight.as_ref());
    let queue: Vec<&str> = gate
        .map(|g| g.queue.iter().map(|w| w.model.as_str()).collect())
        .unwrap_or_default();
    serde_json::to_string(&(
        services,
        flight.map(|f| &f.model),
        flight.map(|f| f.phase),
        queue,
    ))
    .unwrap_or_default()
}

/// A telemetry sample from the status document: memory and pressure figures, the gate's
/// budget, the latest tegrastats sample (`null` where tegrastats is unavailable), the agent's
/// own heap (jemalloc statistics, so a fleet sees an agent that grows). `None`
/// before the first memory sample.
pub fn telemetry_payload(doc: &StatusDocument, session: u64, ts: &str) -> Option<Vec<u8>> {
    Telemetry::from_document(doc, session, ts).map(|t| json_bytes(&t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn doc(state: &str, available: u64, uptime: u64) -> StatusDocument {
        typed(json!({
            "device": {"id": "d"},
            "memory": {"available_bytes": available, "total_bytes": 8, "pressure": null},
            "gate": {"budget_bytes": 3, "reserve_bytes": 1, "in_flight": null, "queue": []},
            "services": [{"name": "llm", "kind": "model", "state": state, "pid": null, "restarts": 0,
                          "memory_bytes": available, "reason": null}],
            "agent": {"uptime_ms": uptime},
        }))
    }

    /// The document as a reader takes it from the agent's JSON.
    fn typed(doc: Value) -> StatusDocument {
        serde_json::from_value(doc).unwrap()
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
        let mut with_sample = doc("ready", 5, 1).to_value();
        with_sample["tegrastats"] = json!({"state": "running", "sample": {"ram": {"used": 9}}});
        let t: Value = serde_json::from_slice(
            &telemetry_payload(&typed(with_sample.clone()), 7, "t").unwrap(),
        )
        .unwrap();
        assert_eq!(t["tegrastats"]["ram"]["used"], 9);
        with_sample["agent"]["allocator"] = json!({"allocated_bytes": 3});
        let t: Value =
            serde_json::from_slice(&telemetry_payload(&typed(with_sample), 7, "t").unwrap())
                .unwrap();
        assert_eq!(t["agent"]["allocator"]["allocated_bytes"], 3);
        assert!(telemetry_payload(&typed(json!({"memory": null})), 1, "t").is_none());
    }
}
