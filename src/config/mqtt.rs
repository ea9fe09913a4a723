//! `[mqtt]`: the fleet broker. The section is optional: without it the agent publishes
//! nothing and still keeps its local event log.
//!
//! ```toml
//! [mqtt]
//! url = "mqtts://broker.example.com:8883"   # mqtt:// (default port 1883) or mqtts:// (8883)
//! prefix = "jetgate"                        # topics: <prefix>/<device id>/...
//! ca = "/etc/jetgate/ca.pem"
//! cert = "/etc/jetgate/device.pem"          # client certificate: cert and key together
//! key = "/etc/jetgate/device.key"
//! username = "orin-07"
//! password_file = "/etc/jetgate/mqtt.pass"
//! state_interval = "10s"
//! telemetry_interval = "5s"
//! outbox_limit = "64MiB"
//! connect_spread = "10s"                    # first CONNECT within [0, 10s), by device id
//! backlog_rate = 200                        # outbox events a second at most
//! max_payload = "256KiB"                    # a larger event is skipped and reported
//! protocol = "3.1.1"                        # or "5" (MQTT 5: the two keys below)
//! session_expiry = "1d"                     # MQTT 5: how long the broker keeps the session
//! will_delay = "30s"                        # MQTT 5: a shorter drop never shows offline
//! ```

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::config::probe::{check_absolute, host_port, positive};
use crate::config::problem::{Issues, KeyPath};
use crate::units::{Bytes, HumanDuration};

/// Why an `mqtt.url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerUrlError {
    #[error("`mqtt.url` {0:?} must start with mqtt:// or mqtts://")]
    Scheme(String),
    #[error("`mqtt.url` {url:?}: {why}")]
    Address { url: String, why: String },
}

/// A broker address: `mqtt://host[:port]` (plain, 1883) or `mqtts://host[:port]` (TLS, 8883).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl FromStr for BrokerUrl {
    type Err = BrokerUrlError;

    fn from_str(url: &str) -> Result<BrokerUrl, BrokerUrlError> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtts://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("mqtt://") {
            (false, rest)
        } else {
            return Err(BrokerUrlError::Scheme(url.to_string()));
        };
        let address = |why: String| BrokerUrlError::Address {
            url: url.to_string(),
            why,
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '@', '?', '#']) {
            return Err(address(
                "only host and port belong in the URL (credentials go in username and password_file)"
                    .to_string(),
            ));
        }
        host_port(authority, true).map_err(address)?;
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !authority.ends_with(']') => (
                h,
                p.parse().map_err(|_| address(format!("bad port {p:?}")))?,
            ),
            _ => (authority, default_port),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Ok(BrokerUrl { tls, host, port })
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl<'de> Deserialize<'de> for BrokerUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<BrokerUrl, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The MQTT protocol version the link speaks (`mqtt.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// MQTT 3.1.1 (the default: every broker speaks it).
    #[default]
    V311,
    /// MQTT 5: session and message expiry, will delay, request/response, reason codes.
    V5,
}

impl Protocol {
    /// The accepted spellings, as the config writes them.
    pub const ALLOWED: [&'static str; 2] = ["3.1.1", "5"];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::V311 => "3.1.1",
            Protocol::V5 => "5",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Protocol, String> {
        match s {
            "3.1.1" => Ok(Protocol::V311),
            "5" => Ok(Protocol::V5),
            other => Err(format!(
                "`mqtt.protocol` {other:?} is not one of \"3.1.1\" or \"5\""
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Protocol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Protocol, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    pub url: BrokerUrl,
    /// First topic level (default `jetgate`).
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// CA bundle to verify the broker with (mqtts only); default: the system roots.
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM), with `key`.
    pub cert: Option<PathBuf>,
    /// Client private key (PEM), with `cert`.
    pub key: Option<PathBuf>,
    pub username: Option<String>,
    /// A file holding the password (never the password itself in the config).
    pub password_file: Option<PathBuf>,
    /// Retained state is republished at least this often (default 10s).
    #[serde(default = "default_state_interval")]
    pub state_interval: HumanDuration,
    /// Telemetry period (default 5s).
    #[serde(default = "default_telemetry_interval")]
    pub telemetry_interval: HumanDuration,
    /// Largest size of the durable outbox; over it the oldest info events are dropped first
    /// (docs/mqtt.md, default 64MiB).
    #[serde(default = "default_outbox_limit")]
    pub outbox_limit: Bytes,
    /// MQTT client id; default: `<prefix>-<device id>`.
    pub client_id: Option<String>,
    /// Publish Home Assistant MQTT discovery configs at every connection (default off).
    #[serde(default)]
    pub homeassistant: bool,
    /// The first CONNECT waits a slot in `[0, connect_spread)` drawn from a hash of the device
    /// id, so a site back from a power cut does not connect in lockstep (default 10s; 0 off).
    #[serde(default = "default_connect_spread")]
    pub connect_spread: HumanDuration,
    /// Outbox events published per second at most (a backlog drains at this rate; default 200).
    #[serde(default = "default_backlog_rate")]
    pub backlog_rate: u32,
    /// Largest event payload published; a larger event is skipped, counted and reported
    /// (default 256KiB).
    #[serde(default = "default_max_payload")]
    pub max_payload: Bytes,
    /// `"3.1.1"` (default) or `"5"`.
    #[serde(default)]
    pub protocol: Protocol,
    /// MQTT 5 only: how long the broker keeps the session (subscription and queued commands)
    /// after the device drops (default [`DEFAULT_SESSION_EXPIRY`]).
    pub session_expiry: Option<HumanDuration>,
    /// MQTT 5 only: how long the broker holds the `online: false` will after a drop (default
    /// [`DEFAULT_WILL_DELAY`]); a reconnect within it sends no will.
    pub will_delay: Option<HumanDuration>,
}

/// `session_expiry` when not set: a device offline for a day finds no stale command.
pub const DEFAULT_SESSION_EXPIRY: Duration = Duration::from_secs(24 * 3600);
/// `will_delay` when not set: a drop shorter than this does not show offline.
pub const DEFAULT_WILL_DELAY: Duration = Duration::from_secs(30);
/// The largest MQTT 5 interval (a four-byte count of seconds).
pub const MAX_MQTT5_INTERVAL: Duration = Duration::from_secs(u32::MAX as u64);

/// Longest `connect_spread`: beyond it a device is simply late.
pub const MAX_CONNECT_SPREAD: Duration = Duration::from_secs(3600);
/// `backlog_rate` bounds (events a second).
pub const BACKLOG_RATE_RANGE: std::ops::RangeInclusive<u32> = 1..=100_000;
/// Smallest `max_payload`: the agent's own events (and the report of a skipped one) fit.
pub const MIN_MAX_PAYLOAD: Bytes = Bytes::from_kib(1);
/// Largest `max_payload`: the client's packet limit (1 MiB) less room for the topic.
pub const MAX_MAX_PAYLOAD: Bytes = Bytes::from_kib(960);

fn default_prefix() -> String {
    "jetgate".to_string()
}
fn default_state_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}
fn default_telemetry_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}
fn default_outbox_limit() -> Bytes {
    Bytes::from_mib(64)
}
fn default_connect_spread() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}
fn default_backlog_rate() -> u32 {
    200
}
fn default_max_payload() -> Bytes {
    Bytes::from_kib(256)
}

impl MqttConfig {
    /// The session expiry the link sends (MQTT 5).
    pub fn session_expiry(&self) -> Duration {
        self.session_expiry.map_or(DEFAULT_SESSION_EXPIRY, |d| d.0)
    }

    /// The will delay the link sends (MQTT 5).
    pub fn will_delay(&self) -> Duration {
        self.will_delay.map_or(DEFAULT_WILL_DELAY, |d| d.0)
    }

    pub(crate) fn check(&self, at: &KeyPath, issues: &mut Issues) {
        let prefix_ok = !self.prefix.is_empty()
            && !self.prefix.starts_with('/')
            && !self.prefix.ends_with('/')
            && !self.prefix.contains(['+', '#'])
            && !self.prefix.contains("//");
        issues.require(prefix_ok, at.key("prefix"), || {
            format!(
                "`mqtt.prefix` {:?} must be topic levels without wildcards or empty levels",
                self.prefix
            )
        });
        for (key, path) in [
            ("ca", &self.ca),
            ("cert", &self.cert),
            ("key", &self.key),
            ("password_file", &self.password_file),
        ] {
            if let Some(path) = path {
                check_absolute(path, &at.key(key), issues);
                issues.require(self.url.tls || key == "password_file", at.key(key), || {
                    format!("`mqtt.{key}` needs an mqtts:// url: TLS files mean nothing over plain mqtt://")
                });
            }
        }
        match (&self.cert, &self.key) {
            (Some(_), None) => issues.report(
                at.key("cert"),
                "`mqtt.cert` without `mqtt.key`: a client certificate needs its private key",
            ),
            (None, Some(_)) => issues.report(
                at.key("key"),
                "`mqtt.key` without `mqtt.cert`: a private key needs its client certificate",
            ),
            _ => {}
        }
        if self.password_file.is_some() && self.username.is_none() {
            issues.report(
                at.key("password_file"),
                "`mqtt.password_file` without `mqtt.username`",
            );
        }
        positive(self.state_interval, &at.key("state_interval"), issues);
        positive(
            self.telemetry_interval,
            &at.key("telemetry_interval"),
            issues,
        );
        issues.require(
            self.outbox_limit >= Bytes::from_mib(1),
            at.key("outbox_limit"),
            || {
                format!(
                    "`mqtt.outbox_limit` ({}) must be at least 1MiB",
                    self.outbox_limit
                )
            },
        );
        issues.require(
            self.connect_spread.0 <= MAX_CONNECT_SPREAD,
            at.key("connect_spread"),
            || {
                format!(
                    "`mqtt.connect_spread` ({}) must be at most 1h",
                    self.connect_spread
                )
            },
        );
        issues.require(
            BACKLOG_RATE_RANGE.contains(&self.backlog_rate),
            at.key("backlog_rate"),
            || {
                format!(
                    "`mqtt.backlog_rate` ({}) must be 1-100000 events a second",
                    self.backlog_rate
                )
            },
        );
        issues.require(
            (MIN_MAX_PAYLOAD..=MAX_MAX_PAYLOAD).contains(&self.max_payload),
            at.key("max_payload"),
            || {
                format!(
                    "`mqtt.max_payload` ({}) must be 1KiB-960KiB",
                    self.max_payload
                )
            },
        );
        for (key, value) in [
            ("session_expiry", self.session_expiry),
            ("will_delay", self.will_delay),
        ] {
            let Some(value) = value else { continue };
            issues.require(self.protocol == Protocol::V5, at.key(key), || {
                format!(
                    "`mqtt.{key}` needs `mqtt.protocol = \"5\"` (MQTT 3.1.1 has no such property)"
                )
            });
            issues.require(value.0 <= MAX_MQTT5_INTERVAL, at.key(key), || {
                format!("`mqtt.{key}` ({value}) must be at most {}s", u32::MAX)
            });
        }
        if let Some(id) = &self.client_id {
            issues.require(
                !id.is_empty() && id.len() <= 256 && !id.contains(char::is_control),
                at.key("client_id"),
                || format!("`mqtt.client_id` {id:?} must be 1-256 printable characters"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_take_default_ports_by_scheme() {
        let u: BrokerUrl = "mqtt://localhost".parse().unwrap();
        assert_eq!((u.tls, u.host.as_str(), u.port), (false, "localhost", 1883));
        let u: BrokerUrl = "mqtts://b.example.com:9000/".parse().unwrap();
        assert_eq!((u.tls, u.port), (true, 9000));
        let u: BrokerUrl = "mqtt://[::1]:1884".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 1884));
        assert_eq!(u.to_string(), "mqtt://[::1]:1884");
        let u: BrokerUrl = "mqtts://[fe80::1]".parse().unwrap();
        assert_eq!(u.port, 8883);
    }

    #[test]
    fn broker_urls_with_other_schemes_or_credentials_are_refused() {
        assert!(matches!(
            "http://b:1883".parse::<BrokerUrl>(),
            Err(BrokerUrlError::Scheme(_))
        ));
        assert!("mqtt://user:pw@b:1883".parse::<BrokerUrl>().is_err());
        assert!("mqtt://b:notaport".parse::<BrokerUrl>().is_err());
        assert!("mqtt://".parse::<BrokerUrl>().is_err());
    }

    #[test]
    fn protocol_is_3_1_1_or_5_and_the_mqtt5_keys_need_5() {
        use crate::config::Config;
        let url = "[mqtt]\nurl = \"mqtt://localhost\"\n";
        let m = Config::from_toml_str(url).unwrap().mqtt.unwrap();
        assert_eq!(m.protocol, Protocol::V311);
        assert_eq!(m.session_expiry(), DEFAULT_SESSION_EXPIRY);
        assert_eq!(m.will_delay(), DEFAULT_WILL_DELAY);
        let five = format!("{url}protocol = \"5\"\nsession_expiry = \"2h\"\nwill_delay = \"5s\"\n");
        let m = Config::from_toml_str(&five).unwrap().mqtt.unwrap();
        assert_eq!(m.protocol, Protocol::V5);
        assert_eq!(m.session_expiry(), Duration::from_secs(7200));
        assert_eq!(m.will_delay(), Duration::from_secs(5));
        for (bad, why) in [
            ("protocol = \"5.0\"", "is not one of \"3.1.1\" or \"5\""),
            ("protocol = \"mqttv5\"", "is not one of"),
            ("protocol = 5", "string"),
            ("session_expiry = \"1h\"", "needs `mqtt.protocol = \"5\"`"),
            ("will_delay = \"1s\"", "needs `mqtt.protocol = \"5\"`"),
        ] {
            let p = Config::from_toml_str(&format!("{url}{bad}\n")).unwrap_err();
            assert_eq!(p.len(), 1, "{bad}: {p:#?}");
            assert!(p[0].message.contains(why), "{bad}: {p:#?}");
            assert_eq!(p[0].line, 3, "{bad}: {p:#?}");
        }
        let long = format!("{url}protocol = \"5\"\nsession_expiry = \"200000d\"\n");
        let p = Config::from_toml_str(&long).unwrap_err();
        assert!(p[0].message.contains("at most 4294967295s"), "{p:#?}");
    }
}
