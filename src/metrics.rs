//! The metrics export: `/metrics` over HTTP for Prometheus (`[metrics] listen`) and a file
//! for node_exporter's textfile collector (`[metrics] textfile`). Both are off by default.
//!
//! ```text
//! core loop ── every second: Snapshot (status document, decision and event counts, link) ──┐
//!                                     watch<Option<Arc<Snapshot>>>                         │
//!        ┌──────────────────────────────────────────────────────────────────────────────────┘
//!        ├─► server: GET /metrics ─► render(snapshot, own CPU/RSS, format) ─► response
//!        └─► textfile: every 15 s ─► render(.., text 0.0.4) ─► temp file, rename
//! ```
//!
//! A scrape never reaches the core loop: it renders the latest published snapshot, so a slow
//! or hostile client costs the server task, never a decision. Rendering ([`render::render`])
//! is a pure function of the snapshot; [`catalog`] names every metric (`docs/metrics.md`
//! documents each), [`exposition`] writes the two formats, [`http`] parses requests
//! (pure), `server.rs` serves them within [`server::Bounds`], `textfile.rs` writes the file.
//!
//! ```text
//! $ curl -s 127.0.0.1:9464/metrics | grep gate_reserve
//! # HELP jetgate_gate_reserve_bytes Memory the gate never lends to a load.
//! # TYPE jetgate_gate_reserve_bytes gauge
//! jetgate_gate_reserve_bytes 1073741824
//! ```

use std::sync::Arc;

use tokio::sync::watch;

use crate::event::EventCounts;
use crate::gate::DecisionCounts;
use crate::mqtt::stats::LinkStats;
use crate::status::StatusDocument;

pub mod catalog;
pub mod exposition;
pub mod http;
pub mod process;
pub mod render;
pub mod server;
mod tegrastats;
pub mod textfile;

#[cfg(test)]
mod server_tests;
#[cfg(test)]
mod tests;

pub use exposition::Format;
pub use render::render;

/// Everything the metrics are rendered from, as the core loop published it.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The agent's status document (memory, gate, services, tegrastats, agent, store).
    pub status: StatusDocument,
    /// The gate's decisions since start (the engine's counters).
    pub decisions: DecisionCounts,
    /// Events since start, by kind (the store writer's counters).
    pub events: EventCounts,
    /// The MQTT link's figures; `None` without `[mqtt]`.
    pub link: Option<LinkStats>,
    /// When the agent started, ms since the Unix epoch.
    pub started_unix_ms: u64,
}

/// The channel the core loop publishes snapshots on; `None` until the first.
pub type Snapshots = watch::Receiver<Option<Arc<Snapshot>>>;
