//! The figures of the MQTT link's events: the broker connection, remote commands, the outbox.

use serde::{Deserialize, Serialize};

/// `mqtt_connected`: the broker accepted a connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MqttConnected {
    pub broker: String,
    pub session: u64,
    pub session_present: bool,
    pub failed_attempts: u32,
    pub outage_ms: u64,
    pub outbox_cursor: u64,
    pub start_delay_ms: u64,
}

/// `mqtt_disconnected`: an established connection ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MqttDisconnected {
    pub error: String,
    pub up_ms: u64,
    pub retry_in_ms: u64,
    pub next_session: u64,
    pub rate_wait_ms: u64,
    /// The broker's code behind it (an MQTT 5 PUBACK, SUBACK or DISCONNECT), else `null`.
    pub reason_code: Option<u64>,
    /// That code named with its packet (`puback not_authorized (0x87)`), and the broker's
    /// reason string when it sent one; else `null`.
    pub reason: Option<String>,
}

/// `mqtt_connect_failed`: a connection attempt failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MqttConnectFailed {
    pub error: String,
    pub attempt: u32,
    pub retry_in_ms: u64,
    pub session: u64,
    /// The CONNACK refusal (`not_authorized`, ...), `null` for other errors.
    pub refusal: Option<String>,
    /// `refused` (minutes) or `normal`.
    pub backoff: String,
    pub rate_wait_ms: u64,
    pub attempts_last_minute: u64,
    pub start_delay_ms: u64,
    /// The CONNACK's code (3.1.1 return code or MQTT 5 reason code), else `null`.
    pub reason_code: Option<u64>,
    /// That code named (`connack not_authorized (0x87)`), else `null`.
    pub reason: Option<String>,
}

/// `mqtt_subscription_refused`: the broker refused the command subscription.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MqttSubscriptionRefused {
    pub topic: String,
    pub session: u64,
    pub reason_code: u64,
    pub reason: String,
}

/// `command_accepted`: a remote command passed validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandAccepted {
    pub id: String,
    pub action: String,
}

/// `command_rejected`: a remote command was refused (`id`, `reason`, `payload_bytes`), or the
/// rest of a minute's refusals as one event (`id` `null`, `suppressed` and the counts after it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandRejected {
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_bytes: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_payload_bytes: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies_dropped: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_s: Option<u64>,
}

/// `command_duplicate`: a command id seen within the dedupe window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandDuplicate {
    pub id: String,
    pub action: String,
    pub status: String,
    pub first_seen_ms: u64,
}

/// `command_failed`: an accepted remote command failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandFailed {
    pub id: String,
    pub action: String,
    pub reason: String,
}

/// `outbox_dropped`: the outbox passed its limit: the oldest unsent events were dropped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutboxDropped {
    pub dropped_events: u64,
    pub dropped_bytes: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub dropped_info: u64,
    pub dropped_warning: u64,
    pub dropped_error: u64,
    pub outbox_events: u64,
    pub outbox_bytes: u64,
    pub limit_bytes: u64,
    pub dropped_total: u64,
}

/// `mqtt_payload_dropped`: an outbox event over `mqtt.max_payload` was not published.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MqttPayloadDropped {
    pub seq: u64,
    /// The `kind` of the event not sent (at most 64 characters), `null` when its payload
    /// does not read as an event with a kind.
    pub event_kind: Option<String>,
    pub payload_bytes: u64,
    pub max_payload_bytes: u64,
    pub dropped_total: u64,
}
