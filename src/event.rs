//! Events: the domain log of every decision and intervention the agent takes.
//!
//! An event is committed to the store before it is shown or acknowledged, then published to
//! MQTT from the outbox. Its JSON form is a contract (`jetgate events --json`, one a line, and
//! the MQTT `events` topic):
//!
//! ```json
//! {"seq": 42, "ts": "2026-11-24T03:06:39.120Z", "kind": "load_admitted", "severity": "info",
//!  "subject": "llm", "message": "admitted: budget 9.1GiB covers need 4.0GiB + 10%",
//!  "figures": {"available_bytes": 11811160064, "need_bytes": 4294967296, "reserve_bytes": 1073741824}}
//! ```
//!
//! `figures` holds the measurements behind the decision, named with their unit
//! (`_bytes`, `_ms`, `_pct`, `_per_hour`); each kind's are a typed struct in [`figures`]
//! (`NewEvent::new(LoadAdmitted { .. }, subject)`, read back with `figures_as`). `seq` is
//! assigned by the store and strictly increases per device across restarts.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod counts;
pub mod figures;
mod kind;

pub use counts::EventCounts;
pub use figures::{Figures, FiguresError};
pub use kind::{deserialize_known, EventKind, UnknownEventKind, UnknownKind};

/// How much attention an event deserves. `Error` is an escalation (an MQTT alert).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!("unknown severity {other:?}")),
        }
    }
}

/// An event before the store has numbered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// `load_admitted`, `gave_up`, `note`, ... (see [`EventKind`]).
    pub kind: EventKind,
    pub severity: Severity,
    /// The model or service the event is about, if any.
    pub subject: Option<String>,
    /// One human sentence; the figures carry the numbers.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default)]
    pub figures: Map<String, Value>,
}

/// A stored event: numbered and timestamped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    /// RFC 3339 UTC with milliseconds.
    pub ts: String,
    pub kind: EventKind,
    pub severity: Severity,
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default)]
    pub figures: Map<String, Value>,
}

impl NewEvent {
    /// An event of the kind of `figures` ([`Figures::KIND`]), at the kind's default severity
    /// ([`EventKind::severity`]).
    pub fn new<F: Figures>(figures: F, subject: Option<&str>) -> NewEvent {
        NewEvent {
            severity: F::KIND.severity(),
            kind: F::KIND,
            subject: subject.map(str::to_string),
            message: String::new(),
            figures: figures::to_map(&figures),
        }
    }

    /// An event of `kind` whose figures are added one by one with [`NewEvent::figure`]: for
    /// tests and examples that need a map no kind has. The agent itself builds every event
    /// from typed figures ([`NewEvent::new`]; `tests/it/architecture.rs` holds it to that), and
    /// a debug build checks any other map against the kind's struct in
    /// [`NewEvent::into_event`].
    pub fn untyped(kind: EventKind, subject: Option<&str>) -> NewEvent {
        NewEvent {
            severity: kind.severity(),
            kind,
            subject: subject.map(str::to_string),
            message: String::new(),
            figures: Map::new(),
        }
    }

    /// Another severity than the kind's default, where circumstances make it more or less
    /// severe (each such kind says when in `docs/agent.md`).
    pub fn severity(mut self, severity: Severity) -> NewEvent {
        self.severity = severity;
        self
    }

    pub fn message(mut self, text: impl Into<String>) -> NewEvent {
        self.message = text.into();
        self
    }

    /// Adds one figure; name it with its unit (`available_bytes`, `elapsed_ms`).
    pub fn figure(mut self, name: &str, value: impl Into<Value>) -> NewEvent {
        self.figures.insert(name.to_string(), value.into());
        self
    }

    /// Writes the event to the agent's diagnostics at the level of its severity, so a warning
    /// event is a warning in the journal (`journalctl -p warning`).
    pub fn log(&self) {
        let (kind, subject, message) = (&self.kind, self.subject.as_deref(), &self.message);
        match self.severity {
            Severity::Info => tracing::info!(kind = %kind, subject, "{message}"),
            Severity::Warning => tracing::warn!(kind = %kind, subject, "{message}"),
            Severity::Error => tracing::error!(kind = %kind, subject, "{message}"),
        }
    }

    /// Numbers and stamps the event (the store does this inside its transaction).
    ///
    /// A debug build also checks that the figures of a known kind read as its struct and
    /// write back the same ([`EventKind::figures_round_trip`]), which holds the producers still
    /// on [`NewEvent::untyped`] to the struct: a mismatch is logged as an error, never a panic
    /// (the event is stored as it is either way).
    pub fn into_event(self, seq: u64, ts: String) -> Event {
        #[cfg(debug_assertions)]
        if let Some(Err(why)) = self.kind.figures_round_trip(&self.figures) {
            tracing::error!(kind = %self.kind, "figures do not fit the kind's struct: {why}");
        }
        Event {
            seq,
            ts,
            kind: self.kind,
            severity: self.severity,
            subject: self.subject,
            message: self.message,
            figures: self.figures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published shape, byte for byte: field order, names, the kind and severity as
    /// snake-case text, an empty message left out.
    #[test]
    fn event_json_is_the_published_shape() {
        let e = NewEvent::untyped(EventKind::LoadAdmitted, Some("llm"))
            .message("admitted: budget 9.1GiB covers need 4.0GiB + 10%")
            .figure("available_bytes", 11_811_160_064u64)
            .figure("need_bytes", 4_294_967_296u64)
            .into_event(42, "2026-11-24T03:06:39.120Z".into());
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"seq":42,"ts":"2026-11-24T03:06:39.120Z","kind":"load_admitted","severity":"info","subject":"llm","message":"admitted: budget 9.1GiB covers need 4.0GiB + 10%","figures":{"available_bytes":11811160064,"need_bytes":4294967296}}"#
        );
        let quiet = NewEvent::untyped(EventKind::GaveUp, None)
            .into_event(7, "2026-11-24T03:06:40.000Z".into());
        assert_eq!(
            serde_json::to_string(&quiet).unwrap(),
            r#"{"seq":7,"ts":"2026-11-24T03:06:40.000Z","kind":"gave_up","severity":"error","subject":null,"figures":{}}"#
        );
    }

    #[test]
    fn a_site_may_raise_or_lower_the_kinds_default_severity() {
        let e = NewEvent::untyped(EventKind::LoadFailed, Some("llm"));
        assert_eq!(e.severity, Severity::Warning);
        assert_eq!(e.severity(Severity::Info).severity, Severity::Info);
    }

    #[test]
    fn an_event_of_an_unknown_kind_reads_back_whole() {
        let line = r#"{"seq":9,"ts":"2026-11-24T03:06:40.000Z","kind":"from_the_future","severity":"warning","subject":null,"figures":{"x":1}}"#;
        let e: Event = serde_json::from_str(line).unwrap();
        assert!(!e.kind.is_known());
        assert_eq!(e.severity, Severity::Warning);
        assert_eq!(serde_json::to_string(&e).unwrap(), line);
    }

    #[test]
    fn event_json_carries_the_contract_fields_and_nested_figures() {
        let e = NewEvent::untyped(EventKind::LoadAdmitted, Some("llm"))
            .figure("need_bytes", 4u64 << 30)
            .into_event(42, "2026-11-24T03:06:39.120Z".into());
        let v: Value = serde_json::to_value(&e).unwrap();
        assert_eq!(v["seq"], 42);
        assert_eq!(v["kind"], "load_admitted");
        assert_eq!(v["severity"], "info");
        assert_eq!(v["subject"], "llm");
        assert_eq!(v["figures"]["need_bytes"], 4u64 << 30);
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }
}
