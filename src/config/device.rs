//! `[device]`: who this device is on the fleet broker, which board profile it uses, and where
//! its `tegrastats` binary is.
//!
//! Every key is optional. The schema stays pure: a missing `id` is filled in by the caller
//! with the hostname at load time, and a missing `board` means "detect the board". A
//! `tegrastats` path that does not exist on the device is not a configuration error: the agent
//! reports the figures as unavailable, with the reason, in its status document.
//!
//! ```toml
//! [device]
//! id = "orin-nx-07"                  # default: the hostname
//! board = "orin-nx-16gb"             # default: detected from the device tree
//! tegrastats = "/usr/bin/tegrastats" # default: the L4T path
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::probe::check_absolute;
use crate::config::problem::{Issues, KeyPath};

/// Where L4T installs `tegrastats`.
pub const DEFAULT_TEGRASTATS: &str = "/usr/bin/tegrastats";

fn default_tegrastats() -> PathBuf {
    PathBuf::from(DEFAULT_TEGRASTATS)
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// The device id used in MQTT topics (`<prefix>/<id>/...`); default: the hostname.
    pub id: Option<String>,
    /// A board profile id that overrides detection.
    pub board: Option<String>,
    /// The `tegrastats` binary the agent runs (`--interval 1000`) for CPU, GPU, temperature
    /// and power figures; absolute. Default [`DEFAULT_TEGRASTATS`].
    #[serde(default = "default_tegrastats")]
    pub tegrastats: PathBuf,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            id: None,
            board: None,
            tegrastats: default_tegrastats(),
        }
    }
}

/// Whether `s` can be one level of an MQTT topic: non-empty, no `/`, `+`, `#`, no control
/// characters or spaces.
pub(crate) fn is_topic_level(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s
            .chars()
            .any(|c| matches!(c, '/' | '+' | '#') || c.is_control() || c.is_whitespace())
}

impl DeviceConfig {
    pub(crate) fn check(&self, at: &KeyPath, issues: &mut Issues) {
        if let Some(id) = &self.id {
            issues.require(is_topic_level(id), at.key("id"), || {
                format!(
                    "`device.id` {id:?} cannot be an MQTT topic level: use 1-128 characters \
                     without '/', '+', '#' or spaces"
                )
            });
        }
        if let Some(board) = &self.board {
            let mut known: Vec<String> = crate::board::profile::embedded()
                .map(|profiles| profiles.into_iter().map(|p| p.id).collect())
                .unwrap_or_default();
            known.push(crate::board::GENERIC_ID.to_string());
            issues.require(known.iter().any(|id| id == board), at.key("board"), || {
                format!(
                    "`device.board` {board:?} names no board profile (leave it out to detect \
                     the board); the profiles are: {}",
                    known.join(", ")
                )
            });
        }
        check_absolute(&self.tegrastats, &at.key("tegrastats"), issues);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_id_with_topic_wildcards_is_reported() {
        let d = DeviceConfig {
            id: Some("orin/+".into()),
            ..DeviceConfig::default()
        };
        let mut issues = Issues::default();
        d.check(&KeyPath::root().key("device"), &mut issues);
        assert_eq!(issues.0.len(), 1);
        assert_eq!(issues.0[0].path.to_string(), "device.id");
        assert!(is_topic_level("orin-nx-07"));
        assert!(!is_topic_level("a b"));
    }

    #[test]
    fn a_relative_tegrastats_path_is_reported_and_the_default_is_the_l4t_path() {
        let d = DeviceConfig {
            tegrastats: PathBuf::from("tegrastats"),
            ..DeviceConfig::default()
        };
        let mut issues = Issues::default();
        d.check(&KeyPath::root().key("device"), &mut issues);
        assert_eq!(issues.0.len(), 1);
        assert_eq!(issues.0[0].path.to_string(), "device.tegrastats");
        assert_eq!(
            DeviceConfig::default().tegrastats,
            PathBuf::from("/usr/bin/tegrastats")
        );
    }
}
