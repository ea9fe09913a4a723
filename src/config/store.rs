//! `[store]`: the SQLite database holding the event log, the MQTT outbox and learned model
//! footprints, and how long events are kept (by count and by age, whichever bites first).
//!
//! ```toml
//! [store]
//! path = "/var/lib/jetgate/jetgate.db"
//! max_events = 100000
//! max_age = "30d"
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::config::probe::{check_absolute, positive};
use crate::config::problem::{Issues, KeyPath};
use crate::units::HumanDuration;

/// The state directory of the agent (systemd `StateDirectory=jetgate`).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/jetgate";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The database file (default `/var/lib/jetgate/jetgate.db`).
    pub path: PathBuf,
    /// Events kept at most (default 100000).
    pub max_events: u64,
    /// Events older than this are dropped (default 30d).
    pub max_age: HumanDuration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from(DEFAULT_STATE_DIR).join("jetgate.db"),
            max_events: 100_000,
            max_age: HumanDuration(Duration::from_secs(30 * 86_400)),
        }
    }
}

impl StoreConfig {
    pub(crate) fn check(&self, at: &KeyPath, issues: &mut Issues) {
        check_absolute(&self.path, &at.key("path"), issues);
        issues.require(self.max_events >= 1, at.key("max_events"), || {
            "`store.max_events` must be at least 1".to_string()
        });
        positive(self.max_age, &at.key("max_age"), issues);
    }
}
