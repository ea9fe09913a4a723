//! `[memory]`: the figures the gate admits loads on. All sizes are [`Bytes`], all rates human
//! durations, fractions plain floats.
//!
//! ```text
//! admit ⇔ fresh reading ∧ available − reserve − outstanding ≥ need × (1 + headroom)
//! kill the loading process group ⇔ available < kill_floor        (default: reserve / 2)
//! ```
//!
//! ```toml
//! [memory]
//! reserve = "1.5GiB"          # default: the board profile's reserve
//! headroom = 0.10
//! sample_interval = "100ms"
//! load_sample_interval = "5ms"
//! fresh_within = "500ms"
//! scope = "system"            # or "cgroup:/jetgate.slice"
//! pressure_high = 10.0        # PSI memory some avg10, percent
//! ```

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::config::probe::positive;
use crate::config::problem::{Issues, KeyPath};
use crate::units::{Bytes, HumanDuration};

/// Why a `memory.scope` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("`memory.scope` {0:?} is neither \"system\" nor \"cgroup:PATH\"")]
    Unknown(String),
    #[error("`memory.scope` {0:?}: the cgroup path must start with '/', as in /proc/PID/cgroup")]
    RelativeCgroup(String),
}

/// Which memory the gate counts as available.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MemoryScope {
    /// The whole device (`MemAvailable`).
    #[default]
    System,
    /// One cgroup: its path as shown in `/proc/PID/cgroup` (e.g. `/jetgate.slice`), resolved
    /// under the cgroup mount; available is the tighter of the system and the cgroup figure.
    Cgroup(PathBuf),
}

impl FromStr for MemoryScope {
    type Err = ScopeError;

    fn from_str(s: &str) -> Result<MemoryScope, ScopeError> {
        if s == "system" {
            return Ok(MemoryScope::System);
        }
        match s.strip_prefix("cgroup:") {
            Some(path) if path.starts_with('/') => Ok(MemoryScope::Cgroup(PathBuf::from(path))),
            Some(_) => Err(ScopeError::RelativeCgroup(s.to_string())),
            None => Err(ScopeError::Unknown(s.to_string())),
        }
    }
}

impl fmt::Display for MemoryScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoryScope::System => f.write_str("system"),
            MemoryScope::Cgroup(path) => write!(f, "cgroup:{}", path.display()),
        }
    }
}

impl<'de> Deserialize<'de> for MemoryScope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MemoryScope, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryConfig {
    /// Memory never handed to models; `None`: the board profile's default.
    pub reserve: Option<Bytes>,
    /// Extra fraction of a model's need that must also be free (0.0-1.0, default 0.10).
    pub headroom: f64,
    /// Below this much available memory a loading model is killed; `None`: half the reserve.
    pub kill_floor: Option<Bytes>,
    /// Sampling period while idle (default 100ms).
    pub sample_interval: HumanDuration,
    /// Sampling period while a load is in flight (default 5ms).
    pub load_sample_interval: HumanDuration,
    /// A reading older than this is too stale to admit a load on (default 500ms).
    pub fresh_within: HumanDuration,
    /// Whose memory counts (default system).
    pub scope: MemoryScope,
    /// PSI memory `some avg10` percentage that raises a `pressure_high` event (default 10.0).
    pub pressure_high: f64,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            reserve: None,
            headroom: 0.10,
            kill_floor: None,
            sample_interval: HumanDuration(Duration::from_millis(100)),
            load_sample_interval: HumanDuration(Duration::from_millis(5)),
            fresh_within: HumanDuration(Duration::from_millis(500)),
            scope: MemoryScope::System,
            pressure_high: 10.0,
        }
    }
}

impl MemoryConfig {
    /// The reserve to use: the configured one, or the board profile's.
    pub fn reserve_or(&self, board_default: Bytes) -> Bytes {
        self.reserve.unwrap_or(board_default)
    }

    /// The kill floor to use with `reserve`: the configured one, or half the reserve.
    pub fn kill_floor_for(&self, reserve: Bytes) -> Bytes {
        self.kill_floor.unwrap_or(Bytes(reserve.get() / 2))
    }

    pub(crate) fn check(&self, at: &KeyPath, issues: &mut Issues) {
        issues.require(
            (0.0..=1.0).contains(&self.headroom),
            at.key("headroom"),
            || {
                format!(
                    "`memory.headroom` must be a fraction between 0.0 and 1.0, got {}",
                    self.headroom
                )
            },
        );
        issues.require(
            self.pressure_high > 0.0 && self.pressure_high <= 100.0,
            at.key("pressure_high"),
            || {
                format!(
                    "`memory.pressure_high` is a percentage in (0, 100], got {}",
                    self.pressure_high
                )
            },
        );
        if let Some(reserve) = self.reserve {
            issues.require(reserve.get() > 0, at.key("reserve"), || {
                "`memory.reserve` of 0 leaves nothing for the system: leave it out for the board default"
                    .to_string()
            });
            if let Some(floor) = self.kill_floor {
                issues.require(floor < reserve, at.key("kill_floor"), || {
                    format!(
                        "`memory.kill_floor` ({floor}) must be below `memory.reserve` ({reserve})"
                    )
                });
            }
        }
        positive(self.sample_interval, &at.key("sample_interval"), issues);
        positive(
            self.load_sample_interval,
            &at.key("load_sample_interval"),
            issues,
        );
        issues.require(
            self.load_sample_interval <= self.sample_interval,
            at.key("load_sample_interval"),
            || {
                format!(
                    "`memory.load_sample_interval` ({}) must not be slower than `memory.sample_interval` ({}): \
                     loads are watched more closely, not less",
                    self.load_sample_interval, self.sample_interval
                )
            },
        );
        issues.require(
            self.fresh_within >= self.sample_interval,
            at.key("fresh_within"),
            || {
                format!(
                    "`memory.fresh_within` ({}) is shorter than `memory.sample_interval` ({}): \
                     no reading would ever be fresh enough to admit a load",
                    self.fresh_within, self.sample_interval
                )
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_parses_system_and_absolute_cgroup_paths() {
        assert_eq!("system".parse(), Ok(MemoryScope::System));
        assert_eq!(
            "cgroup:/jetgate.slice".parse(),
            Ok(MemoryScope::Cgroup("/jetgate.slice".into()))
        );
        assert!(matches!(
            "cgroup:x".parse::<MemoryScope>(),
            Err(ScopeError::RelativeCgroup(_))
        ));
        assert!(matches!(
            "host".parse::<MemoryScope>(),
            Err(ScopeError::Unknown(_))
        ));
        assert_eq!(MemoryScope::Cgroup("/a".into()).to_string(), "cgroup:/a");
    }

    #[test]
    fn kill_floor_defaults_to_half_the_reserve() {
        let m = MemoryConfig::default();
        let reserve = m.reserve_or(Bytes::from_gib(2));
        assert_eq!(m.kill_floor_for(reserve), Bytes::from_gib(1));
        let m = MemoryConfig {
            kill_floor: Some(Bytes::from_mib(300)),
            ..m
        };
        assert_eq!(m.kill_floor_for(reserve), Bytes::from_mib(300));
    }

    #[test]
    fn range_and_ordering_checks_name_the_offending_key() {
        let m = MemoryConfig {
            reserve: Some(Bytes::from_gib(1)),
            kill_floor: Some(Bytes::from_gib(1)),
            headroom: 1.5,
            fresh_within: HumanDuration(Duration::from_millis(50)),
            ..MemoryConfig::default()
        };
        let mut issues = Issues::default();
        m.check(&KeyPath::root().key("memory"), &mut issues);
        let paths: Vec<String> = issues.0.iter().map(|i| i.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "memory.headroom",
                "memory.kill_floor",
                "memory.fresh_within"
            ]
        );
        let mut none = Issues::default();
        MemoryConfig::default().check(&KeyPath::root().key("memory"), &mut none);
        assert!(none.0.is_empty(), "{:?}", none.0);
    }
}
