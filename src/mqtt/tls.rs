//! Connection options for one attempt: broker address, TLS (rustls on ring), client
//! certificate or username and password file, the last will, and the limits below.
//! Files are read at every attempt, so a rotated certificate or password is picked up on the
//! next reconnect, and a missing or unreadable file is an error event and a retry with
//! backoff, never a crash.
//!
//! ```toml
//! [mqtt]
//! url = "mqtts://broker:8883"
//! ca = "/etc/jetgate/ca.pem"          # else the system bundle
//! cert = "/etc/jetgate/device.pem"
//! key = "/etc/jetgate/device.key"
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use rumqttc::{LastWill, MqttOptions, TlsConfiguration, Transport};

use crate::config::MqttConfig;

/// Largest packet accepted from the broker. Commands are at most 16 KiB, but a hostile 1 MiB
/// command must reach the decoder to be answered `rejected` with a reason; a larger packet
/// cuts the connection instead (rumqttc refuses it) and the link reconnects.
pub const MAX_INCOMING_PACKET: usize = 2 * 1024 * 1024;
/// Largest packet sent: a status document of many services, or a 4 KiB note with figures,
/// stays far below; a broker's own limit (Mosquitto's `max_packet_size`) should not be lower.
pub const MAX_OUTGOING_PACKET: usize = 1024 * 1024;
/// QoS 1 publishes rumqttc lets out unacknowledged. The link keeps its own total below this
/// (outbox window 64 + state 1 + presence 2 + replies 16 = 83), so packet ids never collide.
pub const INFLIGHT: u16 = 100;
/// Keep-alive: a dead connection is noticed within about 1.5 × this.
pub const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// Where the system CA bundle is looked for when `ca` is not set (Debian/Ubuntu, then RHEL).
pub const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

/// Why options for a connection attempt could not be built.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("cannot read mqtt.{what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no CA bundle: mqtt.ca is not set and none of {0:?} exists")]
    NoSystemCa(&'static [&'static str]),
    #[error("mqtt.password_file {0} is empty")]
    EmptyPassword(PathBuf),
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, OptionsError> {
    std::fs::read(path).map_err(|source| OptionsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// What either protocol's options need from the config: credentials and the transport.
pub struct Access {
    pub credentials: Option<(String, String)>,
    pub transport: Transport,
}

/// Credentials (the password file read now) and the transport (TLS files read now).
pub fn access(cfg: &MqttConfig) -> Result<Access, OptionsError> {
    let credentials = if let (Some(user), Some(file)) = (&cfg.username, &cfg.password_file) {
        let bytes = read("password_file", file)?;
        let text = String::from_utf8_lossy(&bytes);
        let password = text.trim_end_matches(['\n', '\r']);
        if password.is_empty() {
            return Err(OptionsError::EmptyPassword(file.clone()));
        }
        Some((user.clone(), password.to_string()))
    } else {
        cfg.username
            .as_ref()
            .map(|user| (user.clone(), String::new()))
    };
    let transport = if cfg.url.tls {
        let ca = match &cfg.ca {
            Some(path) => read("ca", path)?,
            None => {
                let found = SYSTEM_CA_BUNDLES
                    .iter()
                    .map(Path::new)
                    .find(|p| p.exists())
                    .ok_or(OptionsError::NoSystemCa(SYSTEM_CA_BUNDLES))?;
                read("ca", found)?
            }
        };
        let client_auth = match (&cfg.cert, &cfg.key) {
            (Some(cert), Some(key)) => Some((read("cert", cert)?, read("key", key)?)),
            _ => None,
        };
        Transport::tls_with_config(TlsConfiguration::Simple {
            ca,
            alpn: None,
            client_auth,
        })
    } else {
        Transport::tcp()
    };
    Ok(Access {
        credentials,
        transport,
    })
}

/// MQTT 3.1.1 options for one attempt with this last will (the fleet viewer sets none).
/// `clean_session = false`: the broker keeps the command subscription (and queued QoS 1
/// commands) across a reconnect; the link subscribes again whenever the ConnAck says no
/// session was kept.
pub fn options(
    cfg: &MqttConfig,
    client_id: &str,
    will: Option<LastWill>,
) -> Result<MqttOptions, OptionsError> {
    let mut o = MqttOptions::new(client_id, cfg.url.host.clone(), cfg.url.port);
    o.set_keep_alive(KEEP_ALIVE)
        .set_clean_session(false)
        .set_max_packet_size(MAX_INCOMING_PACKET, MAX_OUTGOING_PACKET)
        .set_inflight(INFLIGHT);
    if let Some(will) = will {
        o.set_last_will(will);
    }
    let Access {
        credentials,
        transport,
    } = access(cfg)?;
    if let Some((user, password)) = credentials {
        o.set_credentials(user, password);
    }
    o.set_transport(transport);
    Ok(o)
}
