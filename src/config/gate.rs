//! `[gate]`: when a model load counts as done. A load is done when its ready probe passes and
//! memory has settled (changed less than `settle_tolerance` over `settle_window`), bounded by
//! `settle_timeout`; the whole load is bounded by `load_timeout`. A load counts as over its
//! need (`load_exceeded_declared`, learned peak raised) only past
//! `max(overshoot_tolerance, need × overshoot_tolerance_percent / 100)`.
//!
//! ```toml
//! [gate]
//! settle_window = "2s"
//! settle_tolerance = "64MiB"
//! settle_timeout = "60s"
//! load_timeout = "5m"
//! overshoot_tolerance = "32MiB"
//! overshoot_tolerance_percent = 2.0
//! ```

use std::time::Duration;

use serde::Deserialize;

use crate::config::probe::positive;
use crate::config::problem::{Issues, KeyPath};
use crate::units::{Bytes, HumanDuration};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateConfig {
    /// Memory must stay within `settle_tolerance` over this window (default 2s).
    pub settle_window: HumanDuration,
    /// Largest change of available memory that still counts as settled (default 64MiB).
    pub settle_tolerance: Bytes,
    /// Longest wait for memory to settle after ready (default 60s).
    pub settle_timeout: HumanDuration,
    /// Longest a whole load may take, start to settled (default 5m).
    pub load_timeout: HumanDuration,
    /// A load is over its need only past the larger of this (default 32MiB) ...
    pub overshoot_tolerance: Bytes,
    /// ... and this share of its need, in percent (default 2.0).
    pub overshoot_tolerance_percent: f64,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            settle_window: HumanDuration(Duration::from_secs(2)),
            settle_tolerance: Bytes::from_mib(64),
            settle_timeout: HumanDuration(Duration::from_secs(60)),
            load_timeout: HumanDuration(Duration::from_secs(300)),
            overshoot_tolerance: Bytes::from_mib(32),
            overshoot_tolerance_percent: 2.0,
        }
    }
}

impl GateConfig {
    pub(crate) fn check(&self, at: &KeyPath, issues: &mut Issues) {
        positive(self.settle_window, &at.key("settle_window"), issues);
        positive(self.settle_timeout, &at.key("settle_timeout"), issues);
        positive(self.load_timeout, &at.key("load_timeout"), issues);
        issues.require(
            (0.0..=100.0).contains(&self.overshoot_tolerance_percent),
            at.key("overshoot_tolerance_percent"),
            || {
                format!(
                    "`gate.overshoot_tolerance_percent` must be a percentage between 0 and 100, \
                     got {}",
                    self.overshoot_tolerance_percent
                )
            },
        );
        issues.require(
            self.settle_window < self.settle_timeout,
            at.key("settle_window"),
            || {
                format!(
                    "`gate.settle_window` ({}) must be shorter than `gate.settle_timeout` ({}), \
                     or no load can ever settle",
                    self.settle_window, self.settle_timeout
                )
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settle_window_longer_than_its_timeout_is_reported() {
        let g = GateConfig {
            settle_window: HumanDuration(Duration::from_secs(90)),
            ..GateConfig::default()
        };
        let mut issues = Issues::default();
        g.check(&KeyPath::root().key("gate"), &mut issues);
        assert_eq!(issues.0.len(), 1, "{:?}", issues.0);
        assert_eq!(issues.0[0].path.to_string(), "gate.settle_window");
        let mut none = Issues::default();
        GateConfig::default().check(&KeyPath::root().key("gate"), &mut none);
        assert!(none.0.is_empty());
    }
}
