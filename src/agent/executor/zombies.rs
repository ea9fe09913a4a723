//! Zombie children: orphans re-parented to the agent (a child subreaper) are reaped every
//! [`REAP_INTERVAL`] on a blocking thread (the scan reads `/proc/*/stat`), counted for the
//! status document's `agent.zombies_reaped`, and reported as a `zombies_reaped` event at most
//! once per [`ZOMBIE_EVENT_EVERY`] (a leaky server could otherwise write one a scan).
//!
//! ```text
//! zombies_reaped  info  "reaped 3 zombie processes (12 since the agent started)"
//!                       figures: reaped 3, total 12, since_ms 60000
//! ```
#![allow(clippy::disallowed_methods)] // schedules scans on the monotonic clock

use std::time::{Duration, Instant};

use super::{Executor, Feedback};
use crate::event::figures::ZombiesReaped;
use crate::event::NewEvent;
use crate::runner::reap_zombies;
use crate::sources::Root;

/// How often adopted orphans are reaped.
pub const REAP_INTERVAL: Duration = Duration::from_secs(5);
/// The least time between two `zombies_reaped` events.
pub const ZOMBIE_EVENT_EVERY: Duration = Duration::from_secs(60);

/// Reaping bookkeeping: pure, fed the time.
#[derive(Debug, Default, Clone)]
pub struct ZombieCount {
    /// Reaped since the agent started.
    pub total: u64,
    /// Reaped since the last event.
    unreported: u64,
    last_scan: Option<Instant>,
    scanning: bool,
    /// When the last event was written (or the count started, before the first).
    last_event: Option<Instant>,
}

impl ZombieCount {
    /// Whether a scan should start at `now` (none running, the interval passed).
    pub fn scan_due(&mut self, now: Instant) -> bool {
        if self.scanning || self.last_scan.is_some_and(|t| now - t < REAP_INTERVAL) {
            return false;
        }
        self.scanning = true;
        self.last_scan = Some(now);
        true
    }

    /// A scan reaped `count`; the event to write, if one is due.
    pub fn reaped(&mut self, count: u64, now: Instant) -> Option<NewEvent> {
        self.scanning = false;
        self.total += count;
        self.unreported += count;
        let since = self.last_event.map(|t| now.saturating_duration_since(t));
        if self.unreported == 0 || since.is_some_and(|d| d < ZOMBIE_EVENT_EVERY) {
            return None;
        }
        let reaped = std::mem::take(&mut self.unreported);
        self.last_event = Some(now);
        Some(
            NewEvent::new(
                ZombiesReaped {
                    reaped,
                    total: self.total,
                    since_ms: since.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                },
                None,
            )
            .message(format!(
                "reaped {reaped} zombie processes ({} since the agent started)",
                self.total
            )),
        )
    }
}

impl Executor {
    /// Periodic housekeeping from the core loop's tick: starts a zombie scan when one is due.
    /// Orphans come only from descendants of our children, so an agent that never started
    /// one does not scan `/proc` at all (an idle monitor-only agent).
    pub fn housekeeping(&mut self) {
        if !self.spawned_any {
            return;
        }
        if !self.zombies.scan_due(Instant::now()) {
            return;
        }
        let feedback = self.feedback.clone();
        self.tasks.spawn_blocking(move || {
            let count = reap_zombies(&Root::host());
            let _ = feedback.send(Feedback::Reaped { count });
        });
    }

    /// A scan finished.
    pub fn reaped(&mut self, count: usize) {
        let count = u64::try_from(count).unwrap_or(u64::MAX);
        if let Some(event) = self.zombies.reaped(count, Instant::now()) {
            self.record(event);
        }
    }

    /// Zombies reaped since the agent started.
    pub fn zombies_reaped(&self) -> u64 {
        self.zombies.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_first_reaping_then_at_most_once_a_minute_with_the_sum() {
        #[allow(clippy::disallowed_methods)] // one base instant
        let t0 = Instant::now();
        let mut z = ZombieCount::default();
        assert!(z.scan_due(t0));
        assert!(!z.scan_due(t0), "one scan at a time");
        assert!(z.reaped(0, t0).is_none(), "nothing reaped, nothing said");
        assert!(!z.scan_due(t0 + Duration::from_secs(1)), "not due yet");
        let e = z.reaped(2, t0 + Duration::from_secs(5)).unwrap();
        assert_eq!(e.figures["reaped"], 2);
        assert!(z.reaped(3, t0 + Duration::from_secs(10)).is_none());
        assert!(z.reaped(1, t0 + Duration::from_secs(30)).is_none());
        let e = z.reaped(0, t0 + Duration::from_secs(65)).unwrap();
        assert_eq!(e.figures["reaped"], 4);
        assert_eq!(e.figures["total"], 6);
        assert_eq!(e.figures["since_ms"], 60_000);
        assert_eq!(z.total, 6);
    }
}
