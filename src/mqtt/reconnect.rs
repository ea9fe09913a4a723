//! Polite reconnects (pure: the caller passes the time and the random draws). Three rules
//! decide when the next CONNECT may go out:
//!
//! 1. **A start-up slot** from a hash of the device id: a site-wide power cut brings every
//!    device back at once, and without it they would all connect in the same second. The
//!    hash is SHA-256 (not std's per-process SipHash keys), so a device keeps its slot.
//! 2. **Backoff by cause**: a CONNACK refusal (credentials, authorisation, client id,
//!    protocol, ban; named alike for MQTT 3.1.1 and 5 by [`crate::mqtt::wire`]) waits minutes
//!    ([`REFUSED_POLICY`]); anything else (broker down, network, TLS,
//!    broker unavailable) the normal full-jitter backoff ([`DEFAULT_POLICY`]).
//! 3. **A hard cap**: at most [`MAX_ATTEMPTS`] attempts in any [`ATTEMPT_WINDOW`], whatever
//!    the draws (brokers ban clients that flap), by a sliding window of attempt times.
//!
//! ```text
//! failure ─► class ─► backoff(class).next_delay(draw) ─► limiter.earliest(now + delay) ─► attempt
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::backoff::{Backoff, DEFAULT_POLICY, REFUSED_POLICY};

/// CONNECT attempts allowed in any [`ATTEMPT_WINDOW`].
pub const MAX_ATTEMPTS: usize = 15;
/// The sliding window of the cap.
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(60);

/// The start-up delay of `device_id` within `[0, spread)`: the same id always gets the same
/// slot, and ids spread uniformly over the window.
pub fn startup_delay(device_id: &str, spread: Duration) -> Duration {
    let digest = Sha256::digest(device_id.as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    // 53 bits: exactly representable, so the unit is in [0, 1).
    let unit = (u64::from_be_bytes(head) >> 11) as f64 / (1u64 << 53) as f64;
    spread.mul_f64(unit)
}

/// The sliding window of attempt times.
#[derive(Debug, Clone)]
pub struct AttemptLimiter {
    max: usize,
    window: Duration,
    /// The last `max` attempts, oldest first.
    recent: VecDeque<Instant>,
}

impl AttemptLimiter {
    pub fn new(max: usize, window: Duration) -> AttemptLimiter {
        AttemptLimiter {
            max: max.max(1),
            window,
            recent: VecDeque::new(),
        }
    }

    /// The earliest time at or after `wanted` the next attempt may start: when `max`
    /// attempts are in the window, one window after the oldest of them (and never before the
    /// last attempt).
    pub fn earliest(&self, wanted: Instant) -> Instant {
        let after_last = self.recent.back().map_or(wanted, |&t| wanted.max(t));
        if self.recent.len() < self.max {
            return after_last;
        }
        self.recent
            .front()
            .map_or(after_last, |&oldest| after_last.max(oldest + self.window))
    }

    /// An attempt starts at `at` (as given by [`AttemptLimiter::earliest`]).
    pub fn record(&mut self, at: Instant) {
        self.recent.push_back(at);
        while self.recent.len() > self.max {
            self.recent.pop_front();
        }
    }

    /// Attempts recorded in the window that ends at `now`.
    pub fn in_window(&self, now: Instant) -> usize {
        self.recent
            .iter()
            .filter(|&&t| t <= now && now.duration_since(t) < self.window)
            .count()
    }
}

/// When the next attempt goes out, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// From now to the attempt.
    pub delay: Duration,
    /// The backoff's draw.
    pub backoff: Duration,
    /// What the cap added on top of the backoff.
    pub rate_wait: Duration,
    /// Attempts in the window before this one.
    pub recent_attempts: usize,
}

/// The reconnect state of one link: both backoffs and the window of attempts.
#[derive(Debug, Clone)]
pub struct Reconnect {
    normal: Backoff,
    refused: Backoff,
    limiter: AttemptLimiter,
}

impl Default for Reconnect {
    fn default() -> Reconnect {
        Reconnect {
            normal: Backoff::new(DEFAULT_POLICY),
            refused: Backoff::new(REFUSED_POLICY),
            limiter: AttemptLimiter::new(MAX_ATTEMPTS, ATTEMPT_WINDOW),
        }
    }
}

impl Reconnect {
    /// Plans an attempt wanted `wanted` from `now` (the start-up slot, or zero), under the cap.
    pub fn plan(&mut self, now: Instant, wanted: Duration) -> Plan {
        let recent_attempts = self.limiter.in_window(now);
        let at = self.limiter.earliest(now + wanted);
        self.limiter.record(at);
        let delay = at.duration_since(now);
        Plan {
            delay,
            backoff: wanted,
            rate_wait: delay.saturating_sub(wanted),
            recent_attempts,
        }
    }

    /// An attempt failed at `now` (`refused`: a CONNACK refusal); `unit` is a uniform draw in
    /// [0, 1). The backoff of that cause counts the attempt.
    pub fn failed(&mut self, now: Instant, refused: bool, unit: f64) -> Plan {
        let backoff = if refused {
            self.refused.next_delay(unit)
        } else {
            self.normal.next_delay(unit)
        };
        self.plan(now, backoff)
    }

    /// A connection ended after being up for `up`: a stable one resets both backoffs.
    pub fn disconnected_after(&mut self, up: Duration) {
        self.normal.disconnected_after(up);
        self.refused.disconnected_after(up);
    }
}

#[cfg(test)]
mod tests;
