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
//! (`_bytes`, `_ms`, `_pct`, `_per_hour`); `seq` is assigned by the store and strictly increases
//! per device across restarts.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
    /// Snake-case kind from DESIGN.md: `load_admitted`, `gave_up`, `note`, ...
    pub kind: String,
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
    pub kind: String,
    pub severity: Severity,
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default)]
    pub figures: Map<String, Value>,
}

impl NewEvent {
    pub fn new(kind: &str, severity: Severity, subject: Option<&str>) -> NewEvent {
        NewEvent {
            kind: kind.to_string(),
            severity,
            subject: subject.map(str::to_string),
            message: String::new(),
            figures: Map::new(),
        }
    }

    pub fn info(kind: &str, subject: Option<&str>) -> NewEvent {
        NewEvent::new(kind, Severity::Info, subject)
    }

    pub fn warning(kind: &str, subject: Option<&str>) -> NewEvent {
        NewEvent::new(kind, Severity::Warning, subject)
    }

    pub fn error(kind: &str, subject: Option<&str>) -> NewEvent {
        NewEvent::new(kind, Severity::Error, subject)
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
    pub fn into_event(self, seq: u64, ts: String) -> Event {
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

    #[test]
    fn event_json_carries_the_contract_fields_and_nested_figures() {
        let e = NewEvent::info("load_admitted", Some("llm"))
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
