//! File probes: a readiness file that must exist, and a heartbeat file whose mtime must advance.
//!
//! A heartbeat is judged on the **monotonic** clock, so a wall-clock step (an RTC-less board
//! syncing NTP at boot jumps days either way) neither blinds the check nor fails a healthy
//! service. [`HeartbeatWatch`] remembers the last mtime it saw and the monotonic instant it
//! first saw it; the file is stale once that mtime has not changed for `stale_after`. Only the
//! first look, with nothing remembered, reads the mtime's wall-clock age (clamped at zero: an
//! mtime in the future counts as just written). Both clocks are arguments, so tests step them.
//!
//! ```text
//! watch.check("/run/llama.hb", wall_now, mono_now) → "heartbeat /run/llama.hb unchanged for 42s (limit 30s)"
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::ProbeOutcome;

/// Ready when `path` exists.
pub fn file_exists(path: &Path) -> ProbeOutcome {
    if path.exists() {
        ProbeOutcome::pass(format!("{} exists", path.display()), Duration::ZERO)
    } else {
        ProbeOutcome::fail(format!("{} does not exist", path.display()), Duration::ZERO)
    }
}

/// A heartbeat file under watch: live while its mtime changed within `stale_after` of
/// monotonic time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatWatch {
    pub path: PathBuf,
    pub stale_after: Duration,
    /// The last mtime seen and the monotonic instant it was (taken to be) written.
    seen: Option<(SystemTime, Instant)>,
}

impl HeartbeatWatch {
    pub fn new(path: PathBuf, stale_after: Duration) -> HeartbeatWatch {
        HeartbeatWatch {
            path,
            stale_after,
            seen: None,
        }
    }

    /// One check: reads the mtime and judges it against what was seen before.
    pub fn check(&mut self, wall_now: SystemTime, mono_now: Instant) -> ProbeOutcome {
        let mtime = match std::fs::metadata(&self.path).and_then(|m| m.modified()) {
            Ok(t) => t,
            Err(e) => {
                return ProbeOutcome::fail(
                    format!("heartbeat {} unreadable: {e}", self.path.display()),
                    Duration::ZERO,
                )
            }
        };
        let written = match self.seen {
            Some((seen, at)) if seen == mtime => at,
            Some(_) => mono_now,
            // First look: the wall-clock age is all there is.
            None => {
                let age = wall_now.duration_since(mtime).unwrap_or(Duration::ZERO);
                mono_now.checked_sub(age).unwrap_or(mono_now)
            }
        };
        self.seen = Some((mtime, written));
        let unchanged = mono_now.saturating_duration_since(written);
        let detail = format!(
            "heartbeat {} unchanged for {}s (limit {:?})",
            self.path.display(),
            unchanged.as_secs(),
            self.stale_after
        );
        if unchanged > self.stale_after {
            ProbeOutcome::fail(detail, Duration::ZERO)
        } else {
            ProbeOutcome::pass(detail, Duration::ZERO)
        }
    }
}
