//! `[device]`: who this device is on the fleet broker and which board profile it uses.
//!
//! Both keys are optional. The schema stays pure: a missing `id` is filled in by the caller
//! with the hostname at load time, and a missing `board` means "detect the board".
//!
//! ```toml
//! [device]
//! id = "orin-nx-07"        # default: the hostname
//! board = "orin-nx-16gb"   # default: detected from the device tree
//! ```

use serde::Deserialize;

use crate::config::problem::{Issues, KeyPath};

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// The device id used in MQTT topics (`<prefix>/<id>/...`); default: the hostname.
    pub id: Option<String>,
    /// A board profile id that overrides detection.
    pub board: Option<String>,
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
            issues.require(!board.trim().is_empty(), at.key("board"), || {
                "`device.board` is empty: leave it out to detect the board".to_string()
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_id_with_topic_wildcards_is_reported() {
        let d = DeviceConfig {
            id: Some("orin/+".into()),
            board: None,
        };
        let mut issues = Issues::default();
        d.check(&KeyPath::root().key("device"), &mut issues);
        assert_eq!(issues.0.len(), 1);
        assert_eq!(issues.0[0].path.to_string(), "device.id");
        assert!(is_topic_level("orin-nx-07"));
        assert!(!is_topic_level("a b"));
    }
}
