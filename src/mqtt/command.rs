//! Remote commands from `<prefix>/<id>/cmd/request`: a strict decoder (pure) and the answers
//! on `cmd/response`.
//!
//! ```json
//! → {"id": "c-17", "action": "load", "target": "llm"}
//! ← {"id": "c-17", "status": "accepted"}
//! ← {"id": "c-17", "status": "succeeded"}
//! → {"id": "c-18", "action": "load", "target": "llm", "argv": ["sh"]}
//! ← {"id": "c-18", "status": "rejected", "reason": "invalid command: unknown field `argv`, ..."}
//! → {"id": "c-19", "action": "restart", "target": "llm", "expires": "2026-12-07T21:05:00Z"}
//! ← {"id": "c-19", "status": "rejected", "reason": "expired: ..."}   (arrived after its time)
//! ```
//!
//! Everything that is not exactly one of the five commands is rejected with a reason before
//! anything happens: payloads over [`MAX_COMMAND_BYTES`], invalid UTF-8, anything but one JSON
//! object (comments, trailing text), unknown or duplicate fields, wrong types (numbers
//! anywhere), unknown actions, a target the configuration does not name, a field the action
//! does not take. There is no remote shell: a command can only name what is configured.
//!
//! An id is 1 to [`MAX_ID_CHARS`] characters with no control, format or separator character
//! ([`crate::text::is_unsafe`]: NUL, ESC, newlines, bidi overrides, zero-width characters,
//! U+2028/U+2029), so it can be printed and compared as it looks. A note's text is kept as
//! given (up to [`MAX_NOTE_CHARS`]); every printer escapes it ([`crate::text::escape`]).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::control::Cmd;

/// The largest command payload considered; larger ones are rejected unparsed.
pub const MAX_COMMAND_BYTES: usize = 16 * 1024;
/// The longest command id.
pub const MAX_ID_CHARS: usize = 128;
/// The longest note text (as on the control socket).
pub const MAX_NOTE_CHARS: usize = 4096;

/// Every action there is.
const ACTIONS: [&str; 5] = ["load", "unload", "restart", "status", "note"];

/// A decoded, validated command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub id: String,
    pub action: Action,
    /// When the command stops being valid (Unix ms), from its optional `expires` (RFC 3339):
    /// one that arrives later is refused, never run (see [`Command::expired`]).
    pub expires_ms: Option<u64>,
}

/// What a remote operator may ask; targets are names from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Load {
        target: String,
    },
    Unload {
        target: String,
    },
    Restart {
        target: String,
    },
    /// Republish the retained state now.
    Status,
    Note {
        text: String,
    },
}

/// Why a command was rejected, with its id when one could be read (for correlation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub id: Option<String>,
    pub reason: String,
}

/// The wire form of a request. Every field is a string: a number anywhere is a wrong type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    id: String,
    action: String,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    expires: Option<String>,
}

/// The `cmd/response` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub id: Option<String>,
    pub status: ReplyStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyStatus {
    Accepted,
    Rejected,
    Succeeded,
    Failed,
}

impl Reply {
    pub fn new(id: Option<String>, status: ReplyStatus, reason: Option<String>) -> Reply {
        Reply { id, status, reason }
    }

    pub fn to_payload(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Load { .. } => "load",
            Action::Unload { .. } => "unload",
            Action::Restart { .. } => "restart",
            Action::Status => "status",
            Action::Note { .. } => "note",
        }
    }

    pub fn target(&self) -> Option<&str> {
        match self {
            Action::Load { target } | Action::Unload { target } | Action::Restart { target } => {
                Some(target)
            }
            Action::Status | Action::Note { .. } => None,
        }
    }

    /// The control command this action becomes (the same path as the local socket).
    /// A load waits for its end, so `succeeded` means ready.
    pub fn to_cmd(&self) -> Cmd {
        match self {
            Action::Load { target } => Cmd::Load {
                name: target.clone(),
                wait: true,
            },
            Action::Unload { target } => Cmd::Unload {
                name: target.clone(),
            },
            Action::Restart { target } => Cmd::Restart {
                name: target.clone(),
            },
            Action::Status => Cmd::Status {},
            Action::Note { text } => Cmd::Note { text: text.clone() },
        }
    }
}

impl Command {
    /// Why the command must not run at `now_ms` (Unix ms): it arrived at or after its
    /// `expires`. The reason starts with `expired`.
    pub fn expired(&self, now_ms: u64) -> Option<String> {
        let expires_ms = self.expires_ms?;
        (now_ms >= expires_ms).then(|| {
            let at = |ms: u64| {
                crate::clock::format_rfc3339(
                    std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
                )
            };
            format!(
                "expired: valid until {}, arrived at {} by this device's clock",
                at(expires_ms),
                at(now_ms)
            )
        })
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_ID_CHARS && crate::text::is_clean(id)
}

/// The id of a payload that failed to decode, if it has a usable one.
fn salvage_id(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    let id = value.get("id")?.as_str()?;
    valid_id(id).then(|| id.to_string())
}

/// Decodes and validates one request against the configured `targets`.
pub fn decode(payload: &[u8], targets: &BTreeSet<String>) -> Result<Command, Rejection> {
    let reject = |id: Option<String>, reason: String| Rejection { id, reason };
    if payload.len() > MAX_COMMAND_BYTES {
        return Err(reject(
            None,
            format!(
                "payload of {} bytes is over the {MAX_COMMAND_BYTES}-byte limit",
                payload.len()
            ),
        ));
    }
    let text = std::str::from_utf8(payload)
        .map_err(|e| reject(None, format!("payload is not UTF-8: {e}")))?;
    let wire: Wire = serde_json::from_str(text)
        .map_err(|e| reject(salvage_id(text), format!("invalid command: {e}")))?;
    if !valid_id(&wire.id) {
        return Err(reject(
            None,
            format!(
                "`id` must be 1-{MAX_ID_CHARS} characters, none of them control, format or \
                 separator characters"
            ),
        ));
    }
    let id = wire.id;
    let fail = |reason: String| Err(reject(Some(id.clone()), reason));
    let expires_ms = match wire.expires.as_deref() {
        None => None,
        Some(text) => match crate::clock::parse_rfc3339_ms(text) {
            Some(ms) => Some(ms),
            None => {
                return fail(format!(
                    "`expires` must be an RFC 3339 time such as 2026-12-07T21:05:00Z, not {:?}",
                    text.chars().take(64).collect::<String>()
                ))
            }
        },
    };
    if !ACTIONS.contains(&wire.action.as_str()) {
        return fail(format!(
            "unknown action {:?}: expected load, unload, restart, status or note",
            wire.action.chars().take(64).collect::<String>()
        ));
    }
    let takes_target = matches!(wire.action.as_str(), "load" | "unload" | "restart");
    if !takes_target && wire.target.is_some() {
        return fail(format!("action `{}` takes no `target`", wire.action));
    }
    if wire.action != "note" && wire.text.is_some() {
        return fail(format!("action `{}` takes no `text`", wire.action));
    }
    let target = || -> Result<String, Rejection> {
        match &wire.target {
            None => Err(reject(
                Some(id.clone()),
                format!("action `{}` needs a `target`", wire.action),
            )),
            Some(t) if targets.contains(t) => Ok(t.clone()),
            Some(t) => Err(reject(
                Some(id.clone()),
                format!(
                    "no model or service named {:?} in the configuration",
                    t.chars().take(64).collect::<String>()
                ),
            )),
        }
    };
    let action = match wire.action.as_str() {
        "load" => Action::Load { target: target()? },
        "unload" => Action::Unload { target: target()? },
        "restart" => Action::Restart { target: target()? },
        "status" => Action::Status,
        "note" => {
            let text = wire.text.as_deref().unwrap_or("").trim();
            if text.is_empty() {
                return fail("action `note` needs a non-empty `text`".to_string());
            }
            if text.chars().count() > MAX_NOTE_CHARS {
                return fail(format!("`text` is over {MAX_NOTE_CHARS} characters"));
            }
            Action::Note {
                text: text.to_string(),
            }
        }
        other => return fail(format!("unknown action {other:?}")),
    };
    Ok(Command {
        id,
        action,
        expires_ms,
    })
}

/// The longest response topic accepted (bytes; an MQTT topic may be 65535, but a reply topic
/// needs no more).
pub const MAX_RESPONSE_TOPIC: usize = 1024;

/// Where an MQTT 5 request wants its replies: its response topic and correlation data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseTo {
    pub topic: String,
    pub correlation: Option<Vec<u8>>,
}

/// Checks a request's response topic: a publish topic (not empty, no wildcard, no NUL, at
/// most [`MAX_RESPONSE_TOPIC`] bytes) at or under the device's own `cmd/response`, so a
/// command can never make the device publish anywhere its ACL does not already expect.
pub fn response_topic(topic: &str, documented: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("the response topic is empty".to_string());
    }
    if topic.len() > MAX_RESPONSE_TOPIC {
        return Err(format!(
            "the response topic is {} bytes, over {MAX_RESPONSE_TOPIC}",
            topic.len()
        ));
    }
    if topic.contains(['+', '#', '\0']) {
        return Err(format!(
            "the response topic {topic:?} is not a publish topic (wildcard or NUL)"
        ));
    }
    let under = topic
        .strip_prefix(documented)
        .is_some_and(|rest| rest.is_empty() || (rest.starts_with('/') && rest.len() > 1));
    if !under {
        return Err(format!(
            "the response topic {topic:?} is not {documented} or below it"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
