//! `[control]`: the local control socket the CLI talks to.
//!
//! ```toml
//! [control]
//! socket = "/run/jetgate/control.sock"
//! group = "jetgate"     # optional: members of this group get 0660 access
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::probe::check_absolute;
use crate::config::problem::{Issues, KeyPath};

/// The default control socket path (matches `jetgate --socket`'s default).
pub const DEFAULT_SOCKET: &str = "/run/jetgate/control.sock";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// Path of the Unix socket (default `/run/jetgate/control.sock`).
    pub socket: PathBuf,
    /// A group whose members may use the socket (mode 0660); without it, root only (0600).
    pub group: Option<String>,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            socket: PathBuf::from(DEFAULT_SOCKET),
            group: None,
        }
    }
}

impl ControlConfig {
    pub(crate) fn check(&self, at: &KeyPath, issues: &mut Issues) {
        check_absolute(&self.socket, &at.key("socket"), issues);
        if let Some(group) = &self.group {
            issues.require(
                !group.is_empty() && !group.contains(char::is_whitespace),
                at.key("group"),
                || format!("`control.group` {group:?} is not a group name"),
            );
        }
    }
}
