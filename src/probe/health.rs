//! The failure counter behind liveness: K failed probes in a row and the service has failed.
//!
//! Pure: fed one probe result at a time, no clock, no I/O. A success resets the count, so a
//! flapping service that never fails K times in a row stays healthy.
//!
//! ```text
//! failures_needed = 3:  ok → Healthy, fail → Failing(1), fail → Failing(2), fail → Failed
//! ```

/// What the run of results so far means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    /// This many failures in a row, fewer than needed.
    Failing(u32),
    /// At least `failures_needed` failures in a row: act (restart).
    Failed,
}

/// Counts consecutive probe failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthTracker {
    failures_needed: u32,
    in_a_row: u32,
}

impl HealthTracker {
    /// `failures_needed` of 0 is treated as 1: a single failure fails.
    pub fn new(failures_needed: u32) -> HealthTracker {
        HealthTracker {
            failures_needed: failures_needed.max(1),
            in_a_row: 0,
        }
    }

    pub fn record(&mut self, ok: bool) -> Verdict {
        if ok {
            self.in_a_row = 0;
            return Verdict::Healthy;
        }
        self.in_a_row = self.in_a_row.saturating_add(1);
        if self.in_a_row >= self.failures_needed {
            Verdict::Failed
        } else {
            Verdict::Failing(self.in_a_row)
        }
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.in_a_row
    }

    /// Starts over (after a restart).
    pub fn reset(&mut self) {
        self.in_a_row = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_after_k_failures_in_a_row() {
        let mut t = HealthTracker::new(3);
        assert_eq!(t.record(false), Verdict::Failing(1));
        assert_eq!(t.record(false), Verdict::Failing(2));
        assert_eq!(t.record(false), Verdict::Failed);
        assert_eq!(t.record(false), Verdict::Failed);
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut t = HealthTracker::new(2);
        assert_eq!(t.record(false), Verdict::Failing(1));
        assert_eq!(t.record(true), Verdict::Healthy);
        assert_eq!(t.record(false), Verdict::Failing(1));
        assert_eq!(t.failures(), 1);
        t.reset();
        assert_eq!(t.failures(), 0);
    }

    #[test]
    fn a_flapping_service_never_fails() {
        let mut t = HealthTracker::new(2);
        for _ in 0..100 {
            assert_ne!(t.record(false), Verdict::Failed);
            assert_eq!(t.record(true), Verdict::Healthy);
        }
    }

    #[test]
    fn zero_failures_needed_means_one_failure_fails() {
        let mut t = HealthTracker::new(0);
        assert_eq!(t.record(true), Verdict::Healthy);
        assert_eq!(t.record(false), Verdict::Failed);
    }
}
