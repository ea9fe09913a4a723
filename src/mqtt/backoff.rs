//! Reconnect backoff for the broker link: exponential with full jitter, capped, reset after a
//! connection that stayed up long enough to count as stable. Pure: the caller passes the
//! random draw and the time; rumqttc itself retries at once, forever, which this replaces.
//!
//! ```text
//! DEFAULT_POLICY: attempt 0: uniform(0, 1s)  attempt 1: uniform(0, 2s) … attempt ≥ 5: uniform(0, 30s)
//! REFUSED_POLICY: attempt 0: uniform(1, 2min) attempt 1: uniform(1, 4min) … attempt ≥ 3: uniform(1, 15min)
//! ```
//! Full jitter spreads a fleet's reconnects after a broker restart instead of synchronising
//! them into waves; a floor keeps a refused client (credentials, authorisation) from asking
//! again within the minute however the draw falls.

use std::time::Duration;

/// The policy: delays grow from `initial`, doubled per failed attempt, up to `max`; each
/// delay is drawn uniformly between `floor` and that ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// No delay is shorter (at most `initial`).
    pub floor: Duration,
    pub initial: Duration,
    pub max: Duration,
    /// A connection up at least this long resets the attempt counter.
    pub stable: Duration,
}

/// The link's default: 1 s doubling to 30 s, reset after 60 s connected.
pub const DEFAULT_POLICY: BackoffPolicy = BackoffPolicy {
    floor: Duration::ZERO,
    initial: Duration::from_secs(1),
    max: Duration::from_secs(30),
    stable: Duration::from_secs(60),
};

/// After the broker refused the CONNECT (credentials, authorisation, client id, protocol):
/// nothing changes by itself within seconds, and brokers ban clients that keep asking.
/// At least 1 min, ceilings 2 → 4 → 8 → 15 min, reset after 60 s connected.
pub const REFUSED_POLICY: BackoffPolicy = BackoffPolicy {
    floor: Duration::from_secs(60),
    initial: Duration::from_secs(120),
    max: Duration::from_secs(15 * 60),
    stable: Duration::from_secs(60),
};

/// The counter of failed attempts since the last stable connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    policy: BackoffPolicy,
    attempt: u32,
}

impl Backoff {
    pub fn new(policy: BackoffPolicy) -> Backoff {
        Backoff { policy, attempt: 0 }
    }

    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The cap of the next delay before jitter: `min(max, initial × 2^attempt)`.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.policy
            .initial
            .checked_mul(factor)
            .unwrap_or(self.policy.max)
            .min(self.policy.max)
    }

    /// The delay before the next attempt, for a uniform draw `unit` in [0, 1); counts the
    /// attempt.
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let ceiling = self.ceiling();
        let floor = self.policy.floor.min(ceiling);
        let delay = floor + (ceiling - floor).mul_f64(unit);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// A connection ended after being up for `up`: a stable one resets the counter.
    pub fn disconnected_after(&mut self, up: Duration) {
        if up >= self.policy.stable {
            self.attempt = 0;
        }
    }
}

#[cfg(test)]
mod tests;
