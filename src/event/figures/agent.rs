//! The figures of the agent's own events: start and stop, notes, retention, the control
//! socket, the clock, and the store.

use serde::{Deserialize, Serialize};

/// `agent_started`: the agent started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentStarted {
    pub pid: u32,
    pub version: String,
    pub board: String,
    pub reserve_bytes: u64,
    pub kill_floor_bytes: u64,
    pub scope: String,
    /// `cgroup:PATH` (the units' parent cgroup) or `process_tree`.
    pub containment: String,
    pub events_pruned: u64,
    pub metrics: String,
    /// The configuration file, or `embedded default`.
    pub config: String,
}

/// `agent_stopping`: SIGTERM/SIGINT, stopping `children`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentStopping {
    pub children: usize,
}

/// `note`: an operator's note (the message).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Note {}

/// `events_pruned`: scheduled retention deleted events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventsPruned {
    pub by_age: u64,
    pub by_count: u64,
    pub chunks: u64,
    pub took_ms: u64,
    pub max_events: u64,
    pub max_age_ms: u64,
    pub last_seq: u64,
    pub spared_from_seq: u64,
}

/// `control_connections_shed`: the control socket was full within the last `window_s`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ControlConnectionsShed {
    pub evicted: u64,
    pub refused: u64,
    pub window_s: u64,
    pub max_connections: u64,
}

/// `clock_stepped`: the wall clock stepped against the monotonic clock (`step_ms` < 0: back).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClockStepped {
    pub step_ms: i64,
    pub wall_before_ms: u64,
    pub wall_after_ms: u64,
    pub elapsed_ms: u64,
}

/// `store_write_failed`: the first failed store write of an outage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreWriteFailed {
    pub error: String,
    /// What was not persisted (`event KIND`, ...).
    pub lost: String,
    pub writes_failed: u64,
}

/// `store_recovered`: store writes succeed again after an outage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreRecovered {
    pub failing_since_ms: u64,
    pub failed_for_ms: u64,
    pub writes_failed: u64,
    pub writes_failed_total: u64,
    pub first_error: String,
    pub last_error: String,
}

/// `store_replaced`: the store's file changed under the agent and was rebuilt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreReplaced {
    pub fault: String,
    pub path: String,
    /// Where the old file was kept (empty when it was not).
    pub moved_to: String,
    pub salvaged: bool,
    pub last_seq: u64,
    pub size_before_bytes: u64,
    pub events_lost: EventsLost,
}

/// `store_moved_aside`: at start the store was not a sound database.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreMovedAside {
    pub path: String,
    pub moved_to: String,
    pub reason: String,
    pub size_bytes: u64,
    /// The seq the new store's events continue after.
    pub last_seq: u64,
}

/// `events_lost` of `store_replaced`: how many, or `"unreadable"` when the old file could not
/// be counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EventsLost {
    Count(u64),
    Unknown(Unreadable),
}

impl Default for EventsLost {
    fn default() -> EventsLost {
        EventsLost::Count(0)
    }
}

/// The text `"unreadable"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unreadable {
    Unreadable,
}
