//! The figures of the supervisor's events: processes started, ended, restarted, stopped, and
//! the orphans of a previous agent.

use serde::{Deserialize, Serialize};

/// `service_started`: a model's or service's process started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceStarted {
    pub pid: u32,
    pub kind: String,
    pub restarts: u32,
    pub attempt: u32,
}

/// `service_exited`: a process exited unasked, or was stopped by the supervisor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceExited {
    pub cause: String,
    /// Exit code, or the signal that ended it (the other is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
}

/// `health_failed`: liveness failed `failures` times in a row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthFailed {
    pub failures: u32,
    pub probe: String,
    pub detail: String,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub pid: u32,
    pub uptime_ms: u64,
}

/// `ready_timeout`: a ready probe did not pass within `ready.timeout`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadyTimeout {
    pub timeout_ms: u64,
    pub waited_ms: u64,
    pub pid: u32,
    pub kind: String,
}

/// `restart_scheduled`: the restart policy will start the unit again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestartScheduled {
    pub attempt: u32,
    pub backoff_ms: u64,
    pub ceiling_ms: u64,
    pub uptime_ms: u64,
    pub cause: String,
    /// Exit code, or the signal that ended it (the other is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
}

/// `gave_up`: crash loop.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GaveUp {
    pub restarts_in_window: u32,
    pub window_ms: u64,
    pub max_restarts: u32,
    pub uptime_ms: u64,
    pub cause: String,
    /// Exit code, or the signal that ended it (the other is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
}

/// `revived`: an operator revived a unit that gave up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Revived {
    pub restarts: u32,
    pub state: String,
}

/// `restart_cancelled`: unloaded while backing off.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestartCancelled {
    pub restarts: u32,
}

/// `stop_hastened`: a stop while available memory is under the reserve.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StopHastened {
    pub grace_ms: u64,
    pub configured_grace_ms: u64,
    pub available_bytes: u64,
    pub reserve_bytes: u64,
}

/// `stop_failed`: a stop could not signal the tree; `signal`, `errno` and `pgid` where a
/// signal to the process group failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StopFailed {
    pub step: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgid: Option<i32>,
}

/// `survived_kill`: part of the tree was still there after SIGKILL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SurvivedKill {
    pub step: String,
    pub pid: i32,
    pub after_kill_ms: u64,
    /// The survivors, and the state of each (`D`, `Z`...).
    pub pids: Vec<i32>,
    pub states: Vec<String>,
}

/// `zombies_reaped`: adopted orphans were reaped (`since_ms`: since the previous event).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ZombiesReaped {
    pub reaped: u64,
    pub total: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<u64>,
}

/// `unloaded`: a process stopped on request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Unloaded {
    /// Exit code, or the signal that ended it (the other is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
}

/// `spawn_failed`: the command could not be started (the message says why).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpawnFailed {}

/// `cgroup_left`: a child cgroup could not be removed (the message says which).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CgroupLeft {}

/// `container_removed`: a container unit's container was still listed once its tree had
/// ended and was removed (`error`: why it could not be, `null` when it was).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerRemoved {
    pub container: String,
    pub attempts: u32,
    pub error: Option<String>,
    /// The tree's zombies the agent (their subreaper) reaped before the removal.
    pub zombies_reaped: usize,
}

/// `orphan_stopped`: a child of a previous agent was stopped, `found` by its `pid_record`
/// (`pgid`, `start_ticks`, `uptime_ms`, `cgroup_error`), in its `cgroup` (`pids`: how many), or
/// as a `container` the engine still listed with the agent's label (`container`, `engine`,
/// `attempts`; no `pid`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrphanStopped {
    pub pid: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgid: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ticks: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_ms: Option<u64>,
    pub grace_ms: u64,
    pub found: String,
    pub ended: String,
    /// Present (`null` when the cgroup was removed) for an orphan found by its record.
    #[serde(
        default,
        deserialize_with = "super::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub cgroup_error: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
}

/// `orphan_record_stale`: a pid record that cannot be trusted: nothing signalled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrphanRecordStale {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    pub reason: String,
    /// Present (`null` when the record has none) for a reused pid.
    #[serde(
        default,
        deserialize_with = "super::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub recorded_start_ticks: Option<Option<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_start_ticks: Option<u64>,
    pub found: String,
}
