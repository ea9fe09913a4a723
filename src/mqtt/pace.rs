//! The outbox's pace (pure: the caller passes the time): a token bucket that lets events out
//! at most `rate` a second, with a burst of a tenth of a second's worth (at least one). After
//! a reconnect a backlog of hours drains at this rate instead of all at once, so a fleet
//! back from an outage does not flood the broker; a device that publishes below the rate
//! never waits.
//!
//! ```text
//! tokens += rate × elapsed (at most burst);  send while tokens ≥ 1, one token each
//! ```

use std::time::Instant;

/// A token bucket over events.
#[derive(Debug, Clone)]
pub struct Pace {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Option<Instant>,
}

impl Pace {
    /// `rate` events a second (at least 1); the bucket starts full.
    pub fn new(rate: u32) -> Pace {
        let rate = f64::from(rate.max(1));
        let burst = (rate / 10.0).max(1.0).floor();
        Pace {
            rate,
            burst,
            tokens: burst,
            at: None,
        }
    }

    /// Takes one token at `now` if there is one: `true` means the event may go out.
    pub fn take(&mut self, now: Instant) -> bool {
        if let Some(at) = self.at {
            let elapsed = now.saturating_duration_since(at).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        }
        self.at = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The most events a window of `secs` seconds can let out: the burst plus the rate.
    pub fn most_in(&self, secs: f64) -> f64 {
        self.burst + self.rate * secs
    }
}

#[cfg(test)]
mod tests;
