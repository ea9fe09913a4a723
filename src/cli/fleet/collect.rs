//! What `jetgate fleet` keeps of each device, and the rule that ends `--once`. Pure: no I/O.
//!
//! A retained `state` is a status document of a few KB; at 10,000 devices that is tens of MB
//! through the client. [`absorb`] parses it, keeps only what a row shows ([`StateFigures`]:
//! board, memory, budget, reserve, units) and drops the rest, so the viewer holds a few
//! hundred bytes per device. An empty payload on `status` or `state` is the broker's
//! "retained message removed" (`jetgate fleet --forget`): the device is dropped.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::mqtt::topics;
use crate::status::{Presence, ServiceKind, ServiceState, StatusDocument};
use crate::units::Bytes;

/// `--once`: the retained burst is over when no retained message came for this long after
/// the last SUBACK (live messages do not count: a busy fleet never goes quiet).
pub const QUIET: Duration = Duration::from_millis(500);
/// `--once`: the longest it collects, quiet or not.
pub const ONCE_CAP: Duration = Duration::from_secs(60);

/// What a row shows of a device's retained presence.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PresenceFigures {
    pub online: bool,
    pub session: Option<u64>,
    pub version: Option<String>,
    pub since: Option<String>,
}

impl From<Presence> for PresenceFigures {
    fn from(p: Presence) -> Self {
        PresenceFigures {
            online: p.online,
            session: p.session,
            version: p.version,
            since: p.ts,
        }
    }
}

/// What a row shows of a device's retained status document.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StateFigures {
    pub board: Option<String>,
    pub available_bytes: Option<u64>,
    pub total_bytes: Option<u64>,
    pub budget_bytes: Option<Bytes>,
    pub reserve_bytes: Option<Bytes>,
    pub models: Vec<FleetUnit>,
}

impl From<StatusDocument> for StateFigures {
    fn from(s: StatusDocument) -> Self {
        StateFigures {
            board: Some(s.device.board.name),
            available_bytes: s.memory.as_ref().map(|m| m.available_bytes),
            total_bytes: s.memory.as_ref().map(|m| m.total_bytes),
            budget_bytes: s.gate.as_ref().and_then(|g| g.budget_bytes),
            reserve_bytes: s.gate.as_ref().map(|g| g.reserve_bytes),
            models: s
                .services
                .into_iter()
                .flatten()
                .map(|s| FleetUnit {
                    name: s.name,
                    kind: s.kind,
                    state: s.state,
                })
                .collect(),
        }
    }
}

/// What is known of one device.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Device {
    pub status: Option<PresenceFigures>,
    pub state: Option<StateFigures>,
    pub last_event: Option<LastEvent>,
}

/// One device as `--json` shows it: the table's row as figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetRow {
    pub id: String,
    pub online: bool,
    pub session: Option<u64>,
    pub version: Option<String>,
    /// The presence's `ts`: when the device came online (or went offline).
    pub since: Option<String>,
    pub board: Option<String>,
    pub available_bytes: Option<u64>,
    pub total_bytes: Option<u64>,
    pub budget_bytes: Option<Bytes>,
    pub reserve_bytes: Option<Bytes>,
    pub models: Vec<FleetUnit>,
    pub last_event: Option<LastEvent>,
}

impl FleetRow {
    /// "Memory low": available memory under the gate's reserve, or a budget of zero (no load
    /// would be admitted). Unknown figures are not low.
    pub fn memory_low(&self) -> bool {
        let under_reserve = matches!((self.available_bytes, self.reserve_bytes),
            (Some(a), Some(r)) if a < r.get());
        under_reserve || self.budget_bytes.is_some_and(|b| b.get() == 0)
    }

    /// Whether a unit has given up (the supervisor stopped restarting it).
    pub fn gave_up(&self) -> bool {
        self.models.iter().any(|m| m.state == ServiceState::GaveUp)
    }
}

/// A unit of a [`FleetRow`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetUnit {
    pub name: String,
    pub kind: ServiceKind,
    pub state: ServiceState,
}

/// The last event seen on a device's `events` topic, as much as the row shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastEvent {
    pub seq: u64,
    #[serde(default)]
    pub ts: Option<String>,
    pub kind: String,
    #[serde(default)]
    pub subject: Option<String>,
}

/// Every device seen, by id (sorted).
pub type Fleet = BTreeMap<String, Device>;

/// What a message did to the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Another topic, or a payload that does not read as its contract.
    Ignored,
    Updated,
    /// An empty `status` or `state`: the device was forgotten.
    Removed,
}

/// Files a message under its device; other topics, and payloads that do not read as their
/// contract, are ignored.
pub fn absorb(fleet: &mut Fleet, prefix: &str, topic: &str, payload: &[u8]) -> Change {
    let Some((id, leaf)) = topics::split_device_topic(prefix, topic) else {
        return Change::Ignored;
    };
    fn read<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Option<T> {
        serde_json::from_slice(payload).ok()
    }
    match leaf {
        "status" | "state" if payload.is_empty() => {
            return match fleet.remove(id) {
                Some(_) => Change::Removed,
                None => Change::Ignored,
            };
        }
        "status" => {
            if let Some(p) = read::<Presence>(payload) {
                fleet.entry(id.to_string()).or_default().status = Some(p.into());
                return Change::Updated;
            }
        }
        "state" => {
            if let Some(s) = read::<StatusDocument>(payload) {
                fleet.entry(id.to_string()).or_default().state = Some(s.into());
                return Change::Updated;
            }
        }
        "events" => {
            if let Some(e) = read(payload) {
                fleet.entry(id.to_string()).or_default().last_event = Some(e);
                return Change::Updated;
            }
        }
        _ => {}
    }
    Change::Ignored
}

/// One device as the `--json` output shows it.
pub fn row(id: &str, d: &Device) -> FleetRow {
    let status = d.status.clone().unwrap_or_default();
    let state = d.state.clone().unwrap_or_default();
    FleetRow {
        id: id.to_string(),
        online: status.online,
        session: status.session,
        version: status.version,
        since: status.since,
        board: state.board,
        available_bytes: state.available_bytes,
        total_bytes: state.total_bytes,
        budget_bytes: state.budget_bytes,
        reserve_bytes: state.reserve_bytes,
        models: state.models,
        last_event: d.last_event.clone(),
    }
}

/// The rows of every device with a presence or a state (one known only from an event is
/// not listed), sorted by id.
pub fn rows(fleet: &Fleet) -> Vec<FleetRow> {
    fleet
        .iter()
        .filter(|(_, d)| d.status.is_some() || d.state.is_some())
        .map(|(id, d)| row(id, d))
        .collect()
}

/// When `--once` stops: [`QUIET`] after the last SUBACK or retained message, once every
/// subscription is acknowledged, or at [`ONCE_CAP`].
#[derive(Debug, Clone)]
pub struct Settle {
    started: Instant,
    subacks_due: usize,
    last: Instant,
}

impl Settle {
    pub fn new(now: Instant, subscriptions: usize) -> Settle {
        Settle {
            started: now,
            subacks_due: subscriptions,
            last: now,
        }
    }

    pub fn suback(&mut self, now: Instant) {
        self.subacks_due = self.subacks_due.saturating_sub(1);
        self.last = now;
    }

    /// A publish: only a retained one (the burst) pushes the end back.
    pub fn publish(&mut self, retained: bool, now: Instant) {
        if retained {
            self.last = now;
        }
    }

    /// When to look again: the earlier of the quiet deadline and the cap.
    pub fn deadline(&self) -> Instant {
        let cap = self.started + ONCE_CAP;
        if self.subacks_due > 0 {
            return cap;
        }
        (self.last + QUIET).min(cap)
    }

    pub fn done(&self, now: Instant) -> bool {
        now >= self.deadline()
    }

    /// Subscriptions not acknowledged yet.
    pub fn subacks_due(&self) -> usize {
        self.subacks_due
    }

    /// Whether it stopped at the cap rather than on a quiet broker.
    pub fn capped(&self, now: Instant) -> bool {
        now >= self.started + ONCE_CAP
    }
}

/// Devices known from only one of `status` and `state`. An agent publishes both, so after the
/// retained burst this usually means the broker dropped part of it (a queue limit).
pub fn incomplete(fleet: &Fleet) -> usize {
    fleet
        .values()
        .filter(|d| d.status.is_some() != d.state.is_some())
        .count()
}
