//! The one place that knows which MQTT version the link speaks: it turns rumqttc's 3.1.1
//! ([`v4`]) or 5 ([`v5`]) client, event loop, events and errors into the small types below,
//! so the link, the poller and the reconnect policy are written once for both.
//!
//! ```text
//! link ── Outbound ──► Client ─► rumqttc (v4 | v5) ─► EventLoop::poll ─► Wire | Failure ─► poller
//! ```
//!
//! MQTT 5 adds, in these types: the will's delay and the session expiry ([`options`]), an
//! incoming publish's message expiry, response topic and correlation data ([`Inbound`]), an
//! outgoing reply's correlation data ([`Outbound`]), and the broker's reason code and reason
//! string on a refusal ([`Reason`]).

use std::fmt;
use std::time::Duration;

use crate::config::{MqttConfig, Protocol};
use crate::mqtt::tls::OptionsError;

mod v4;
mod v5;

/// Delivery guarantee of one publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos {
    AtMostOnce,
    AtLeastOnce,
}

/// The last will: `online: false` for the attempt's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    pub topic: String,
    pub payload: Vec<u8>,
    /// MQTT 5: the broker holds the will this long after a drop (a resumed session cancels it).
    pub delay: Duration,
}

/// One attempt's options, in the protocol's own type.
/// Boxed: each is a few hundred bytes, and only one exists at a time.
pub enum Options {
    V4(Box<rumqttc::MqttOptions>),
    V5(Box<rumqttc::v5::MqttOptions>),
}

/// Options for one attempt: `clean` drops the broker's session (the link asks for it after a
/// packet over the client's limit); otherwise the session is kept (3.1.1: clean session off;
/// 5: clean start off and `session_expiry`).
pub fn options(
    cfg: &MqttConfig,
    client_id: &str,
    will: Option<Will>,
    clean: bool,
) -> Result<Options, OptionsError> {
    match cfg.protocol {
        Protocol::V311 => {
            v4::options(cfg, client_id, will, clean).map(|o| Options::V4(Box::new(o)))
        }
        Protocol::V5 => v5::options(cfg, client_id, will, clean).map(|o| Options::V5(Box::new(o))),
    }
}

/// A publish the link asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    pub topic: String,
    pub qos: Qos,
    pub retain: bool,
    pub payload: Vec<u8>,
    /// MQTT 5: the correlation data of the request this publish answers.
    pub correlation: Option<Vec<u8>>,
}

/// A publish the broker delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
    /// MQTT 5: seconds left of its message expiry when the broker sent it.
    pub expiry: Option<u32>,
    /// MQTT 5: where the sender wants the reply.
    pub response_topic: Option<String>,
    /// MQTT 5: what the sender wants back with the reply.
    pub correlation: Option<Vec<u8>>,
}

/// A reason code from the broker (3.1.1: a CONNACK return code or SUBACK failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// The packet that carried it: `connack`, `suback`, `puback`, `disconnect`.
    pub packet: &'static str,
    pub code: u8,
    /// The code's name in the specification, in snake case (`not_authorized`).
    pub name: String,
    /// MQTT 5: the broker's reason string, where rumqttc keeps it (DISCONNECT, CONNACK).
    pub string: Option<String>,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} (0x{:02x})", self.packet, self.name, self.code)?;
        match &self.string {
            Some(s) => write!(f, ": {s}"),
            None => Ok(()),
        }
    }
}

/// What the event loop reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    ConnAck {
        session_present: bool,
        /// MQTT 5: the CONNACK's reason string, if any.
        reason_string: Option<String>,
    },
    Publish(Inbound),
    PubAck {
        pkid: u16,
    },
    /// `refused`: the filters the broker did not grant (3.1.1 only: with MQTT 5 rumqttc ends
    /// the connection on a refused filter, a [`Failure`] with its reason code).
    SubAck {
        refused: Vec<Reason>,
    },
    /// A publish went out with this packet id (0 at QoS 0).
    PublishSent {
        pkid: u16,
    },
    DisconnectSent,
    Other,
}

/// Why the connection failed or ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// A CONNACK refusal that will not pass by itself, by name (backs off in minutes).
    pub refusal: Option<&'static str>,
    /// The broker's reason code (and string) behind the failure, when it gave one.
    pub reason: Option<Reason>,
    /// The size of an incoming packet over the client's limit, when that ended it.
    pub too_large: Option<usize>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The link's handle to send requests (cheap to clone).
#[derive(Clone)]
pub enum Client {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

impl Client {
    /// Queues a publish without waiting; an error says why it was not queued.
    pub fn publish(&self, out: Outbound) -> Result<(), String> {
        match self {
            Client::V4(c) => v4::publish(c, out),
            Client::V5(c) => v5::publish(c, out),
        }
    }

    /// Queues a QoS 1 subscription.
    pub fn subscribe(&self, filter: &str) -> Result<(), String> {
        match self {
            Client::V4(c) => c
                .try_subscribe(filter, rumqttc::QoS::AtLeastOnce)
                .map_err(|e| e.to_string()),
            Client::V5(c) => c
                .try_subscribe(filter, rumqttc::v5::mqttbytes::QoS::AtLeastOnce)
                .map_err(|e| e.to_string()),
        }
    }

    /// Queues a DISCONNECT (normal: the broker discards the will).
    pub fn disconnect(&self) {
        let _ = match self {
            Client::V4(c) => c.try_disconnect().map_err(|e| e.to_string()),
            Client::V5(c) => c.try_disconnect().map_err(|e| e.to_string()),
        };
    }
}

/// The protocol's event loop; one per link, reused across attempts.
pub enum EventLoop {
    V4(Box<rumqttc::EventLoop>),
    V5(Box<rumqttc::v5::EventLoop>),
}

/// A client and its event loop for `protocol`; [`EventLoop::prepare`] gives each attempt its
/// options.
pub fn client(protocol: Protocol, client_id: &str, capacity: usize) -> (Client, EventLoop) {
    match protocol {
        Protocol::V311 => {
            let (c, e) = v4::client(client_id, capacity);
            (Client::V4(c), EventLoop::V4(Box::new(e)))
        }
        Protocol::V5 => {
            let (c, e) = v5::client(client_id, capacity);
            (Client::V5(c), EventLoop::V5(Box::new(e)))
        }
    }
}

impl EventLoop {
    /// Before an attempt: requests queued for the old connection (and rumqttc's own replay
    /// list) are dropped, since the link replays the outbox from its cursor itself.
    pub fn prepare(&mut self, options: Options) {
        match (self, options) {
            (EventLoop::V4(e), Options::V4(o)) => {
                e.clean();
                e.pending.clear();
                e.mqtt_options = *o;
            }
            (EventLoop::V5(e), Options::V5(o)) => {
                e.clean();
                e.pending.clear();
                e.options = *o;
            }
            _ => tracing::error!("mqtt: options of the other protocol version ignored"),
        }
    }

    /// The next event, or why the connection ended. Never race this against anything:
    /// rumqttc's writes are not cancel-safe.
    pub async fn poll(&mut self) -> Result<Wire, Failure> {
        match self {
            EventLoop::V4(e) => e.poll().await.map(v4::event).map_err(v4::failure),
            EventLoop::V5(e) => e.poll().await.map(v5::event).map_err(v5::failure),
        }
    }
}

/// `NotAuthorized` as `not_authorized`: the name of a reason code from its Rust spelling.
pub fn snake(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len() + 4);
    for (i, c) in debug
        .chars()
        .take_while(|c| c.is_alphanumeric())
        .enumerate()
    {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
