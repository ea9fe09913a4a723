//! How many refusals of remote commands become events: at most [`STORED_PER_WINDOW`] per
//! [`WINDOW`] are stored one by one; the rest of the window is counted and stored as one
//! aggregate `command_rejected` event when the window ends. A flood of junk commands therefore
//! adds at most `STORED_PER_WINDOW + 1` events a minute to the log and cannot evict real
//! history through retention. Every refused command is still answered on `cmd/response`.
//! Pure: the caller passes `now`.
//!
//! ```text
//! 0s  refusal 1..20   → stored, one event each
//! 5s  refusal 21..980 → counted
//! 60s window ends     → one event: "960 more remote commands refused in 60s"
//! ```

use std::time::{Duration, Instant};

/// The window over which refusals are counted.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Refusals stored one by one in a window.
pub const STORED_PER_WINDOW: u32 = 20;

/// What to do with one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Store it as its own event.
    Store,
    /// Count it into the window's aggregate.
    Count,
}

/// The refusals a window counted and did not store one by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    pub count: u64,
    /// Of them, answered `busy`.
    pub busy: u64,
    /// Of them, duplicates answered with their first outcome.
    pub duplicates: u64,
    /// The largest payload among them.
    pub max_payload_bytes: usize,
    /// The last reason counted.
    pub last_reason: String,
    pub window: Duration,
}

/// The limiter's state.
#[derive(Debug, Default)]
pub struct Refusals {
    window_start: Option<Instant>,
    stored: u32,
    counted: Option<Suppressed>,
}

/// Which kind of refusal, for the aggregate's breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Busy,
    Duplicate,
    Other,
}

impl Refusals {
    /// Decides for one refusal at `now`.
    pub fn admit(&mut self, now: Instant, class: Class, reason: &str, bytes: usize) -> Admit {
        let start = *self.window_start.get_or_insert(now);
        if now.duration_since(start) >= WINDOW && self.counted.is_none() {
            self.window_start = Some(now);
            self.stored = 0;
        }
        if self.stored < STORED_PER_WINDOW {
            self.stored += 1;
            return Admit::Store;
        }
        let s = self.counted.get_or_insert_with(|| Suppressed {
            count: 0,
            busy: 0,
            duplicates: 0,
            max_payload_bytes: 0,
            last_reason: String::new(),
            window: WINDOW,
        });
        s.count += 1;
        match class {
            Class::Busy => s.busy += 1,
            Class::Duplicate => s.duplicates += 1,
            Class::Other => {}
        }
        s.max_payload_bytes = s.max_payload_bytes.max(bytes);
        reason.clone_into(&mut s.last_reason);
        Admit::Count
    }

    /// At the end of a window that counted refusals: the aggregate to store, once. A new
    /// window starts then.
    pub fn due(&mut self, now: Instant) -> Option<Suppressed> {
        let start = self.window_start?;
        if now.duration_since(start) < WINDOW {
            return None;
        }
        self.window_start = Some(now);
        self.stored = 0;
        self.counted.take()
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // a start instant for the test's own timeline
mod tests {
    use super::*;

    #[test]
    fn a_flood_stores_twenty_then_one_aggregate_a_window() {
        let t0 = Instant::now();
        let mut r = Refusals::default();
        let mut stored = 0;
        for i in 0..1000u64 {
            let class = if i % 2 == 0 {
                Class::Busy
            } else {
                Class::Other
            };
            let now = t0 + Duration::from_millis(i);
            if r.admit(now, class, "junk", i as usize) == Admit::Store {
                stored += 1;
            }
            assert_eq!(r.due(now), None);
        }
        assert_eq!(stored, STORED_PER_WINDOW);
        let s = r.due(t0 + WINDOW).unwrap();
        assert_eq!(s.count, 980);
        assert_eq!(s.busy, 490);
        assert_eq!(s.duplicates, 0);
        assert_eq!(s.max_payload_bytes, 999);
        assert_eq!(r.due(t0 + WINDOW * 2), None, "said once");
        // The next window stores one by one again.
        assert_eq!(r.admit(t0 + WINDOW, Class::Other, "x", 1), Admit::Store);
    }

    #[test]
    fn a_trickle_is_always_stored() {
        let t0 = Instant::now();
        let mut r = Refusals::default();
        for i in 0..100u32 {
            let now = t0 + Duration::from_secs(u64::from(i) * 10);
            assert_eq!(r.admit(now, Class::Other, "x", 1), Admit::Store, "{i}");
            assert_eq!(r.due(now), None);
        }
    }
}
