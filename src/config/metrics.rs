//! `[metrics]`: the OpenMetrics endpoint and the node_exporter textfile. Both are off unless
//! named: without the section (or without `listen`) the agent opens no port.
//!
//! ```toml
//! [metrics]
//! listen = "127.0.0.1:9464"     # IP:port; unauthenticated: keep it on loopback or a trusted net
//! textfile = "/var/lib/node_exporter/textfile_collector/jetgate.prom"
//! ```
//!
//! `listen` is an IP address and a port (`[::1]:9464` for IPv6), never a host name: the
//! address bound is the address written. `textfile` is an absolute path whose file name ends
//! in `.prom` (node_exporter's textfile collector reads only those).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use crate::config::probe::check_absolute;
use crate::config::problem::{Issues, KeyPath};

/// The address the documentation uses as its example.
pub const EXAMPLE_LISTEN: &str = "127.0.0.1:9464";

/// `metrics.listen`: where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub SocketAddr);

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<ListenAddr, String> {
        text.parse::<SocketAddr>().map(ListenAddr).map_err(|_| {
            format!(
                "`metrics.listen` {text:?} is not an IP address and port \
                 (e.g. \"{EXAMPLE_LISTEN}\" or \"[::1]:9464\"; host names are not resolved)"
            )
        })
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ListenAddr, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `/metrics` here; `None` (the default): no listener.
    pub listen: Option<ListenAddr>,
    /// Write the metrics to this file for node_exporter's textfile collector; `None` (the
    /// default): no file.
    pub textfile: Option<PathBuf>,
}

impl MetricsConfig {
    /// Whether anything is exported at all.
    pub fn enabled(&self) -> bool {
        self.listen.is_some() || self.textfile.is_some()
    }

    /// `metrics on (127.0.0.1:9464, textfile /x.prom)` or `metrics off`, for `config check`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(l) = &self.listen {
            parts.push(l.to_string());
        }
        if let Some(t) = &self.textfile {
            parts.push(format!("textfile {}", t.display()));
        }
        if parts.is_empty() {
            "metrics off".to_string()
        } else {
            format!("metrics on ({})", parts.join(", "))
        }
    }

    pub(crate) fn check(&self, at: &KeyPath, issues: &mut Issues) {
        if let Some(path) = &self.textfile {
            let key = at.key("textfile");
            check_absolute(path, &key, issues);
            let named = path.extension().is_some_and(|e| e == "prom")
                && path.file_stem().is_some_and(|s| !s.is_empty());
            issues.require(named, key, || {
                format!(
                    "`metrics.textfile` {:?} must name a file ending in .prom \
                     (node_exporter's textfile collector reads only those)",
                    path.display().to_string()
                )
            });
        }
        if let Some(ListenAddr(addr)) = &self.listen {
            issues.require(addr.port() != 0, at.key("listen"), || {
                format!("`metrics.listen` {addr} needs a port other than 0")
            });
        }
    }
}

#[cfg(test)]
mod tests;
