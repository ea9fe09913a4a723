//! [`EventKind`]: every kind of event the agent emits, with its wire name and default severity.
//!
//! The one table below is the only place a kind is named as text; `docs/agent.md` ("Events")
//! lists the same kinds (a test holds the two together).
//!
//! Reading back: an event stored by another version of the agent (or arriving from a newer
//! agent over the control socket) may carry a kind this build does not know. It is kept, never
//! dropped and never a panic: it decodes to [`EventKind::Unknown`], which keeps the text and
//! writes it back unchanged. Only the lenient readers ([`EventKind::from_stored`] and serde's
//! `Deserialize`) produce it; [`FromStr`] (user input: `events --kind`, the control socket's
//! `events` filter) refuses an unknown kind with the list of known ones, and nothing in the
//! agent can emit one (its text has no public constructor).
//!
//! Each kind's figures are the struct of its name in [`figures`](super::figures) (the table
//! implements [`Figures`](super::figures::Figures) for it).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use serde_json::{Map, Value};

use super::figures;
use super::Severity;

fn round_trip<F: figures::Figures>(map: &Map<String, Value>) -> Result<(), String> {
    let typed: F = F::deserialize(Value::Object(map.clone())).map_err(|e| e.to_string())?;
    let back = figures::to_map(&typed);
    if back == *map {
        Ok(())
    } else {
        Err(format!("{map:?} came back as {back:?}"))
    }
}

macro_rules! event_kinds {
    ($( $(#[doc = $doc:literal])* $variant:ident = $text:literal, $severity:ident; )*) => {
        /// What an event is about. On the wire (JSON, the store) it is its snake-case name.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $( $(#[doc = $doc])* $variant, )*
            /// A kind this build does not know, read from a store or a peer: its text, kept.
            Unknown(UnknownKind),
        }

        impl EventKind {
            /// Every known kind, in the order of `docs/agent.md`'s table.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant),*];

            /// The wire name: `load_admitted`, `gave_up`, ...
            pub fn as_str(&self) -> &str {
                match self {
                    $(EventKind::$variant => $text,)*
                    EventKind::Unknown(u) => &u.0,
                }
            }

            /// The severity an event of this kind has unless its site says otherwise (a few
            /// kinds are more or less severe by circumstance; `docs/agent.md` says which).
            /// An unknown kind defaults to `Info`; a stored event keeps its own severity.
            pub fn severity(&self) -> Severity {
                match self {
                    $(EventKind::$variant => Severity::$severity,)*
                    EventKind::Unknown(_) => Severity::Info,
                }
            }

            fn known(text: &str) -> Option<EventKind> {
                match text {
                    $($text => Some(EventKind::$variant),)*
                    _ => None,
                }
            }

            /// The figure names of this kind's figures struct ([`figures::names`]); `None`
            /// for an unknown kind (its map is kept as read).
            pub fn figure_names(&self) -> Option<&'static [&'static str]> {
                match self {
                    $(EventKind::$variant => Some(figures::names::<figures::$variant>()),)*
                    EventKind::Unknown(_) => None,
                }
            }

            /// The figures of this kind with every figure at its default (absent where it may
            /// be), as the map events carry; `None` for an unknown kind.
            pub fn default_figures(&self) -> Option<Map<String, Value>> {
                match self {
                    $(EventKind::$variant => Some(figures::to_map(&figures::$variant::default())),)*
                    EventKind::Unknown(_) => None,
                }
            }

            /// Whether `map` reads as this kind's figures struct and writes back the same
            /// (`typed → map → typed` agrees); `None` for an unknown kind.
            pub fn figures_round_trip(&self, map: &Map<String, Value>) -> Option<Result<(), String>> {
                match self {
                    $(EventKind::$variant => Some(round_trip::<figures::$variant>(map)),)*
                    EventKind::Unknown(_) => None,
                }
            }
        }

        // Each kind's figures are the struct of the same name in `figures`: a kind without
        // one does not compile, and a struct cannot be the figures of two kinds.
        $(impl figures::Figures for figures::$variant {
            const KIND: EventKind = EventKind::$variant;
        })*
    };
}

event_kinds! {
    /// The agent started.
    AgentStarted = "agent_started", Info;
    /// SIGTERM/SIGINT: stopping every child.
    AgentStopping = "agent_stopping", Info;
    /// Every load request.
    LoadRequested = "load_requested", Info;
    /// A load request waits in the gate's queue.
    LoadQueued = "load_queued", Info;
    /// A load request for a model already queued, loading or loaded.
    LoadDuplicate = "load_duplicate", Info;
    /// The gate admitted a load.
    LoadAdmitted = "load_admitted", Info;
    /// A load can never fit.
    LoadDenied = "load_denied", Warning;
    /// Unloaded while queued.
    LoadCancelled = "load_cancelled", Info;
    /// A load consumed more than its declared need (not killed).
    LoadExceededDeclared = "load_exceeded_declared", Warning;
    /// A higher peak was learned.
    LearnedPeakRaised = "learned_peak_raised", Info;
    /// Available memory fell under the kill floor during a load: the tree was killed.
    LoadAborted = "load_aborted", Error;
    /// A load is ready and settled.
    LoadReady = "load_ready", Info;
    /// Exit or stop during a load (info when cancelled or stopped).
    LoadFailed = "load_failed", Warning;
    /// `load_timeout` or `settle_timeout` passed before the load was ready and settled: the
    /// model is stopped.
    LoadTimedOut = "load_timed_out", Warning;
    /// Pinned weights did not match: nothing started.
    LoadRefused = "load_refused", Error;
    /// The command could not be started.
    SpawnFailed = "spawn_failed", Error;
    /// A model's or service's process started.
    ServiceStarted = "service_started", Info;
    /// A process exited unasked, or was stopped by the supervisor.
    ServiceExited = "service_exited", Warning;
    /// Liveness failed K times in a row.
    HealthFailed = "health_failed", Warning;
    /// A ready probe did not pass within `ready.timeout`: the start failed.
    ReadyTimeout = "ready_timeout", Warning;
    /// The restart policy will start a unit again.
    RestartScheduled = "restart_scheduled", Info;
    /// Crash loop: the restart policy gave up.
    GaveUp = "gave_up", Error;
    /// An operator revived a unit that gave up.
    Revived = "revived", Info;
    /// Unloaded while backing off.
    RestartCancelled = "restart_cancelled", Info;
    /// A stop while available memory is under the reserve: shorter grace.
    StopHastened = "stop_hastened", Warning;
    /// A stop or kill could not signal the tree (or its cgroup).
    StopFailed = "stop_failed", Error;
    /// Part of a tree was still there after SIGKILL (uninterruptible sleep, a zombie).
    SurvivedKill = "survived_kill", Error;
    /// Adopted orphans were reaped.
    ZombiesReaped = "zombies_reaped", Info;
    /// A process stopped on request.
    Unloaded = "unloaded", Info;
    /// A memory sample failed.
    SampleFailed = "sample_failed", Error;
    /// A model printed a GPU allocation failure (nvmap error 12, CUDA out of memory).
    GpuAllocFailed = "gpu_alloc_failed", Error;
    /// A sampled source that was read can no longer be (once until it is read again).
    SourceUnavailable = "source_unavailable", Warning;
    /// A source that had become unreadable is read again.
    SourceRecovered = "source_recovered", Info;
    /// A child cgroup could not be removed.
    CgroupLeft = "cgroup_left", Warning;
    /// A container unit's container was still listed once its tree had ended (after a kill)
    /// and was removed (error when it could not be).
    ContainerRemoved = "container_removed", Info;
    /// An operator's note.
    Note = "note", Info;
    /// Tree memory passed the unit's limit: restarted.
    MemoryLimitExceeded = "memory_limit_exceeded", Error;
    /// The kernel's OOM killer killed in a unit's cgroup (its limit plus the margin).
    OomKilled = "oom_killed", Error;
    /// A unit's `limit` has no kernel backstop: no cgroup scope to write it in.
    KernelLimitUnset = "kernel_limit_unset", Warning;
    /// No cgroup can be made for the units: their trees are followed by parent pid.
    ContainmentDegraded = "containment_degraded", Warning;
    /// Open fds passed `max_fds` (error when restarting).
    FdLimitExceeded = "fd_limit_exceeded", Warning;
    /// Threads passed `max_threads` (error when restarting).
    ThreadLimitExceeded = "thread_limit_exceeded", Warning;
    /// The leak trend turned `leaking`.
    LeakSuspected = "leak_suspected", Warning;
    /// Restarted ahead of the limit because of a leak.
    LeakRestart = "leak_restart", Warning;
    /// No longer leaking.
    LeakCleared = "leak_cleared", Info;
    /// The engine refused a watcher's restart.
    RestartRefused = "restart_refused", Warning;
    /// PSI memory some avg10 reached `memory.pressure_high`.
    PressureHigh = "pressure_high", Warning;
    /// Pressure fell under half of `memory.pressure_high`.
    PressureCleared = "pressure_cleared", Info;
    /// File pages refaulted fast while tasks stalled on memory: the working set does not fit.
    MemoryThrashing = "memory_thrashing", Warning;
    /// Refaults or stalls fell back under half their thresholds.
    ThrashingCleared = "thrashing_cleared", Info;
    /// At start: a child of a previous agent instance was stopped.
    OrphanStopped = "orphan_stopped", Warning;
    /// A pid record that cannot be trusted (info when the pid names another process).
    OrphanRecordStale = "orphan_record_stale", Warning;
    /// Scheduled retention deleted events.
    EventsPruned = "events_pruned", Info;
    /// The control socket was full: idle connections closed, or newcomers refused (one
    /// event a minute at most, with the counts).
    ControlConnectionsShed = "control_connections_shed", Warning;
    /// The wall clock stepped against the monotonic clock (NTP at boot, a manual set).
    ClockStepped = "clock_stepped", Warning;
    /// The broker accepted a connection.
    MqttConnected = "mqtt_connected", Info;
    /// An established broker connection ended.
    MqttDisconnected = "mqtt_disconnected", Warning;
    /// A connection attempt failed (warning when the error may pass by itself).
    MqttConnectFailed = "mqtt_connect_failed", Error;
    /// The broker refused the command subscription on a connection it accepted (MQTT 3.1.1
    /// SUBACK failure): remote commands cannot arrive.
    MqttSubscriptionRefused = "mqtt_subscription_refused", Error;
    /// A remote command passed validation.
    CommandAccepted = "command_accepted", Info;
    /// A remote command was refused.
    CommandRejected = "command_rejected", Warning;
    /// A remote command id seen within the dedupe window: answered with its first outcome, not
    /// run again.
    CommandDuplicate = "command_duplicate", Info;
    /// An accepted remote command failed.
    CommandFailed = "command_failed", Warning;
    /// The MQTT outbox passed its limit: unsent events were dropped.
    OutboxDropped = "outbox_dropped", Warning;
    /// An outbox event over `mqtt.max_payload` was not published; the rest went on.
    MqttPayloadDropped = "mqtt_payload_dropped", Warning;
    /// A store write failed (the first of an outage; the rest are counted).
    StoreWriteFailed = "store_write_failed", Error;
    /// Store writes succeed again after an outage.
    StoreRecovered = "store_recovered", Info;
    /// The store's file was deleted, replaced, truncated or corrupted under the agent: rebuilt.
    StoreReplaced = "store_replaced", Error;
    /// At start the store was not a sound database: moved aside, a fresh one created.
    StoreMovedAside = "store_moved_aside", Error;
}

/// The text of a kind this build does not know (see [`EventKind::Unknown`]). Only reading
/// makes one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnknownKind(String);

impl EventKind {
    /// The kind of a stored or received event: a known kind, else [`EventKind::Unknown`]
    /// keeping `text` (an event is never dropped for its kind).
    pub fn from_stored(text: String) -> EventKind {
        EventKind::known(&text).unwrap_or(EventKind::Unknown(UnknownKind(text)))
    }

    /// Whether this is a kind this build knows.
    pub fn is_known(&self) -> bool {
        !matches!(self, EventKind::Unknown(_))
    }
}

/// A kind given by a user that is none of [`EventKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event kind {text:?}; the kinds are: {}", known_list())]
pub struct UnknownEventKind {
    pub text: String,
}

fn known_list() -> String {
    EventKind::ALL
        .iter()
        .map(EventKind::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Strict: only a known kind (user input). Stored and received kinds go through
/// [`EventKind::from_stored`].
impl FromStr for EventKind {
    type Err = UnknownEventKind;
    fn from_str(text: &str) -> Result<EventKind, UnknownEventKind> {
        EventKind::known(text).ok_or_else(|| UnknownEventKind {
            text: text.to_string(),
        })
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Lenient, like the store: an unknown kind is kept as [`EventKind::Unknown`].
impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EventKind, D::Error> {
        String::deserialize(d).map(EventKind::from_stored)
    }
}

/// Strict deserialization of an optional kind, for requests (`#[serde(deserialize_with)]`):
/// an unknown kind is an error naming the known ones.
pub fn deserialize_known<'de, D: Deserializer<'de>>(d: D) -> Result<Option<EventKind>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|text| text.parse().map_err(serde::de::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests;
