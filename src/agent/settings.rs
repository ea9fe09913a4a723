//! What the daemon takes from the configuration besides the launch plan ([`launch`]), the
//! watcher's specs ([`Watch`](crate::agent::watch::Watch)) and the boot plan: one typed
//! value built without I/O, so every setting the daemon uses is read here and a test can walk
//! the documented keys to it (`key_walk_tests.rs`).
//!
//! [`launch`]: crate::agent::launch

use std::path::PathBuf;
use std::time::Duration;

use crate::agent::retention;
use crate::config::{Config, MemoryScope, MetricsConfig};
use crate::mqtt::LinkSetup;

/// The daemon's settings, from a validated [`Config`].
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `device.board`: the profile id that overrides detection.
    pub board: Option<String>,
    /// `device.id`, or the hostname.
    pub device_id: String,
    /// `device.tegrastats`.
    pub tegrastats: PathBuf,
    /// `memory.sample_interval`: sampling while no load is in flight.
    pub idle_interval: Duration,
    /// `memory.load_sample_interval`: sampling while a load is in flight.
    pub load_interval: Duration,
    /// `memory.scope`.
    pub scope: MemoryScope,
    /// `memory.pressure_high` (percent).
    pub pressure_high: f64,
    /// `store.path`.
    pub store: PathBuf,
    /// `store.max_events`, `store.max_age`.
    pub retention: retention::Policy,
    /// `control.socket`, unless the command line names another.
    pub socket: PathBuf,
    /// `control.group`.
    pub group: Option<String>,
    /// `[mqtt]` with the device id and the names commands may target; `None`: no broker.
    pub link: Option<LinkSetup>,
    /// `[metrics]`: the endpoint's address and the textfile, each `None` when off.
    pub metrics: MetricsConfig,
}

impl Settings {
    /// The settings of `config`; `hostname` stands in for an unset `device.id`, `socket` for
    /// `control.socket` where the command line gives one.
    pub fn from_config(
        config: &Config,
        hostname: impl FnOnce() -> String,
        socket: Option<PathBuf>,
    ) -> Settings {
        let device_id = config.device.id.clone().unwrap_or_else(hostname);
        let link = config.mqtt.as_ref().map(|mqtt| LinkSetup {
            mqtt: mqtt.clone(),
            device_id: device_id.clone(),
            targets: config.names().map(String::from).collect(),
        });
        Settings {
            board: config.device.board.clone(),
            device_id,
            tegrastats: config.device.tegrastats.clone(),
            idle_interval: config.memory.sample_interval.0,
            load_interval: config.memory.load_sample_interval.0,
            scope: config.memory.scope.clone(),
            pressure_high: config.memory.pressure_high,
            store: config.store.path.clone(),
            retention: retention::Policy {
                max_events: config.store.max_events,
                max_age: config.store.max_age.0,
            },
            socket: socket.unwrap_or_else(|| config.control.socket.clone()),
            group: config.control.group.clone(),
            link,
            metrics: config.metrics.clone(),
        }
    }
}
