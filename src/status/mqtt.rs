//! The MQTT payloads drawn from the status document: presence on `status` (retained; the last
//! will carries the same with `online: false`) and the periodic `telemetry` sample. The
//! retained `state` is the [`StatusDocument`](super::StatusDocument) itself.
//!
//! ```json
//! {"online": true, "session": 7, "pid": 1234, "version": "0.1.0", "ts": "2026-11-24T03:06:39.120Z"}
//! {"ts": "2026-11-24T03:06:39.120Z", "session": 7,
//!  "memory": {"available_bytes": 3472945152, "total_bytes": 7990161408, "free_bytes": 1284423680,
//!             "cached_bytes": 2374414336, "swap_used_bytes": 892338176,
//!             "gpu_held_bytes": 2507145216, "cma_free_bytes": 0},
//!  "pressure": {"some_avg10": 0.0, "some_avg60": 0.12, "full_avg10": 0.0, "full_avg60": 0.04},
//!  "gate": {"budget_bytes": 1073741824, "reserve_bytes": 536870912, "in_flight": "llm"},
//!  "tegrastats": {"time": "2024-11-15T08:38:09", ...},
//!  "agent": {"allocator": {"allocated_bytes": 2097152, ...}}}
//! ```

use serde::{Deserialize, Serialize};

use super::document::StatusDocument;
use super::memory::PressureView;
use crate::allocator::AllocatorStats;
use crate::units::Bytes;

/// The retained presence payload on `<prefix>/<id>/status`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Presence {
    pub online: bool,
    /// The agent's session counter, strictly increasing across restarts.
    pub session: Option<u64>,
    pub pid: Option<u32>,
    pub version: Option<String>,
    /// When this presence was published (RFC 3339 UTC).
    pub ts: Option<String>,
}

/// One `telemetry` sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Telemetry {
    pub ts: String,
    pub session: u64,
    pub memory: TelemetryMemory,
    pub pressure: Option<PressureView>,
    pub gate: TelemetryGate,
    /// The latest tegrastats sample (`null` where tegrastats is unavailable).
    pub tegrastats: Option<serde_json::Value>,
    pub agent: TelemetryAgent,
}

/// The memory figures of a telemetry sample, bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelemetryMemory {
    pub available_bytes: u64,
    pub total_bytes: u64,
    pub free_bytes: u64,
    pub cached_bytes: u64,
    pub swap_used_bytes: u64,
    pub gpu_held_bytes: Option<u64>,
    pub cma_free_bytes: Option<u64>,
}

/// The gate's figures of a telemetry sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelemetryGate {
    pub budget_bytes: Option<Bytes>,
    pub reserve_bytes: Option<Bytes>,
    /// The model whose load is in flight.
    pub in_flight: Option<String>,
}

/// The agent's own heap (jemalloc statistics), so a fleet sees an agent that grows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelemetryAgent {
    pub allocator: Option<AllocatorStats>,
}

impl Telemetry {
    /// The sample from a status document; `None` before its first memory sample.
    pub fn from_document(doc: &StatusDocument, session: u64, ts: &str) -> Option<Telemetry> {
        let m = doc.memory.as_ref()?;
        let gate = doc.gate.as_ref();
        Some(Telemetry {
            ts: ts.to_string(),
            session,
            memory: TelemetryMemory {
                available_bytes: m.available_bytes,
                total_bytes: m.total_bytes,
                free_bytes: m.free_bytes,
                cached_bytes: m.cached_bytes,
                swap_used_bytes: m.swap_used_bytes,
                gpu_held_bytes: m.gpu_held_bytes,
                cma_free_bytes: m.cma_free_bytes,
            },
            pressure: m.pressure,
            gate: TelemetryGate {
                budget_bytes: gate.and_then(|g| g.budget_bytes),
                reserve_bytes: gate.map(|g| g.reserve_bytes),
                in_flight: gate.and_then(|g| g.in_flight.as_ref().map(|f| f.model.clone())),
            },
            tegrastats: doc.tegrastats.as_ref().and_then(|t| t.sample.clone()),
            agent: TelemetryAgent {
                allocator: doc.agent.as_ref().and_then(|a| a.allocator),
            },
        })
    }
}
