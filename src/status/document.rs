//! The status document: what `jetgate status --json` prints and the retained MQTT `state`
//! carries. One type for the agent's document and the `--local` one; each section is `None`
//! (and absent from the JSON) where that document does not have it:
//!
//! | section      | agent | `--local` |
//! |--------------|-------|-----------|
//! | `source`, `root`, `gpu`, `trees` | - | yes |
//! | `device` (`id` agent only), `memory` | yes | yes |
//! | `gate`, `services`, `tegrastats`, `agent`, `store` | yes | - |
//!
//! `memory` is `null` in the agent's document before its first sample.
//!
//! ```json
//! {"device": {"id": "orin-07", "board": {"id": "orin-nano-8gb", "name": "Jetson Orin Nano 8GB", ...}},
//!  "memory": {"available_bytes": 3472945152, ...}, "gate": {"budget_bytes": 1073741824, ...},
//!  "services": [{"name": "llm", "kind": "model", "state": "ready", ...}],
//!  "tegrastats": {"state": "running", "sample": {...}, ...},
//!  "agent": {"pid": 812, "version": "0.1.0", "uptime_ms": 10920000,
//!            "socket": "/run/jetgate/control.sock", "zombies_reaped": 0, "allocator": {...}},
//!  "store": {"state": "ok", "writes_failed": 0, "failing_since_ms": null, "last_error": null,
//!            "last_lost": null}}
//! {"source": "local", "root": "/", "device": {"board": {...}}, "memory": {...},
//!  "gpu": {"load": {"load_pct": 63.1, "path": "..."}, "nvml": {"unsupported": "..."}},
//!  "trees": [{"comm": "python3", "pid": 2140, "processes": 3, "zombies": 0, "threads": 40,
//!             "pss_bytes": 1073741824, "rss_bytes": 1288490188, "swap_bytes": 0, "fds": 31}]}
//! ```

use serde::{Deserialize, Serialize};

use super::memory::MemoryView;
use super::service::ServiceView;
use super::tegrastats::TegrastatsSection;
use crate::allocator::AllocatorStats;
use crate::board::BoardReport;
use crate::gate::GateView;
use crate::store::StoreHealthView;

/// The status document, agent or `--local` (see the module doc for which sections each has).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StatusDocument {
    /// `local` for `jetgate status --local`; absent from the agent's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// `--local`: the root the device was read under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    #[serde(default)]
    pub device: DeviceView,
    /// `null` in the agent's document before its first sample.
    #[serde(default)]
    pub memory: Option<MemoryView>,
    /// `--local`: GPU load and NVML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<ServiceView>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tegrastats: Option<TegrastatsSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentView>,
    /// The store's health: `ok`, or `failing` since when, with the writes that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreHealthView>,
    /// `--local`: the heaviest process trees by PSS, heaviest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trees: Option<Vec<TreeView>>,
}

/// Where a document was read: only `local` is written (`jetgate status --local`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Local,
}

/// The `device` section.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeviceView {
    /// The configured device id (the agent's document only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The board report (`jetgate board --json`).
    #[serde(default)]
    pub board: BoardReport,
}

/// The `agent` section: the agent process itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentView {
    pub pid: u32,
    pub version: String,
    pub uptime_ms: u64,
    pub socket: String,
    /// Orphaned children reaped since start.
    pub zombies_reaped: u64,
    /// The agent's own heap (jemalloc): `null` when statistics are unavailable.
    pub allocator: Option<AllocatorStats>,
}

/// One process tree of `--local`'s `trees`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TreeView {
    /// The root process's command name.
    pub comm: String,
    /// The root process.
    pub pid: u32,
    pub processes: u32,
    pub zombies: u32,
    pub threads: u64,
    pub pss_bytes: u64,
    pub rss_bytes: u64,
    pub swap_bytes: u64,
    pub fds: u64,
}

/// `--local`'s `gpu` section: each source, or why it is unsupported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuView {
    pub load: GpuLoad,
    pub nvml: NvmlView,
}

/// GPU load from the board's devfreq node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GpuLoad {
    Unsupported { unsupported: String },
    Read { load_pct: f64, path: String },
}

/// NVML's reading (`{"devices": [...]}`, each device as the NVML source serializes it), or why
/// there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NvmlView {
    Unsupported { unsupported: String },
    Read { devices: Vec<serde_json::Value> },
}

impl StatusDocument {
    /// The document as a JSON value: keys sorted, as every status document has been published.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
