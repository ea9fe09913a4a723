//! Wall-clock steps, seen against the monotonic clock: an RTC-less Jetson boots with a stale
//! time and NTP steps it days forward; an operator may set it back.
//!
//! Nothing the agent decides rests on the wall clock (health, heartbeats, backoff, settle and
//! sampling all run on `Instant`; retention spares what was appended within `max_age` of
//! monotonic time), but the event log's stamps do, so a step is worth a `clock_stepped` event
//! with the figures: what the wall clock said, what it says now, and by how much it moved beyond
//! the monotonic time that passed. [`ClockWatch::observe`] is the pure judgement, fed by the
//! core loop's tick.
//!
//! ```text
//! clock_stepped  step_ms=3456000000 wall_before_ms=1700000000000 wall_after_ms=1703456001000 elapsed_ms=1000
//! ```

use std::time::{Duration, Instant};

use crate::event::figures::ClockStepped;
use crate::event::NewEvent;

/// A disagreement between the clocks larger than this between two looks is a step. NTP slews
/// at most 500 ppm (0.5 ms a second); anything over a second moved at once.
pub const STEP_THRESHOLD: Duration = Duration::from_secs(1);

/// One observed step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockStep {
    /// How far the wall clock moved beyond the monotonic time that passed (negative: back).
    pub step_ms: i64,
    pub wall_before_ms: u64,
    pub wall_after_ms: u64,
    /// Monotonic time between the two looks.
    pub elapsed_ms: u64,
}

impl ClockStep {
    pub fn event(&self) -> NewEvent {
        let direction = if self.step_ms >= 0 { "forward" } else { "back" };
        NewEvent::new(
            ClockStepped {
                step_ms: self.step_ms,
                wall_before_ms: self.wall_before_ms,
                wall_after_ms: self.wall_after_ms,
                elapsed_ms: self.elapsed_ms,
            },
            None,
        )
        .message(format!(
            "the wall clock stepped {direction} by {:.1}s; event times before and after \
             the step are not comparable",
            self.step_ms.unsigned_abs() as f64 / 1000.0
        ))
    }
}

/// The last look at both clocks.
#[derive(Debug, Clone, Default)]
pub struct ClockWatch {
    last: Option<(Instant, u64)>,
}

impl ClockWatch {
    /// A watch whose first look is `mono` and `wall_ms`: take it as the agent starts, so a step
    /// between the start and the first tick is seen too.
    pub fn starting(mono: Instant, wall_ms: u64) -> ClockWatch {
        ClockWatch {
            last: Some((mono, wall_ms)),
        }
    }

    /// Compares the clocks with the last look; a step past [`STEP_THRESHOLD`] is returned.
    pub fn observe(&mut self, mono: Instant, wall_ms: u64) -> Option<ClockStep> {
        let last = self.last.replace((mono, wall_ms));
        let (mono_before, wall_before_ms) = last?;
        let elapsed_ms = mono.saturating_duration_since(mono_before).as_millis() as i64;
        let wall_moved = wall_ms as i64 - wall_before_ms as i64;
        let step_ms = wall_moved - elapsed_ms;
        (step_ms.unsigned_abs() as u128 > STEP_THRESHOLD.as_millis()).then_some(ClockStep {
            step_ms,
            wall_before_ms,
            wall_after_ms: wall_ms,
            elapsed_ms: elapsed_ms as u64,
        })
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // each test's base instant
mod tests {
    use super::*;
    use crate::event::EventKind;

    const DAY_MS: u64 = 86_400_000;

    #[test]
    fn clocks_that_agree_or_slew_are_no_step() {
        let mut w = ClockWatch::default();
        let t0 = Instant::now();
        let wall = 1_700_000_000_000;
        assert_eq!(
            w.observe(t0, wall),
            None,
            "the first look has nothing to compare"
        );
        assert_eq!(w.observe(t0 + Duration::from_secs(1), wall + 1000), None);
        // NTP slewing at 500 ppm over 10 s: 5 ms.
        assert_eq!(w.observe(t0 + Duration::from_secs(11), wall + 11_005), None);
    }

    #[test]
    fn a_step_either_way_is_reported_with_its_figures() {
        let mut w = ClockWatch::default();
        let t0 = Instant::now();
        let wall = 1_700_000_000_000;
        w.observe(t0, wall);
        let fwd = w
            .observe(t0 + Duration::from_secs(1), wall + 40 * DAY_MS + 1000)
            .unwrap();
        assert_eq!(fwd.step_ms, 40 * DAY_MS as i64);
        assert_eq!(fwd.elapsed_ms, 1000);
        let e = fwd.event();
        assert_eq!(e.kind, EventKind::ClockStepped);
        assert!(e.message.contains("forward by 3456000.0s"), "{}", e.message);
        let back = w.observe(t0 + Duration::from_secs(2), wall + 1000).unwrap();
        assert_eq!(back.step_ms, -(40 * DAY_MS as i64) - 1000);
        assert!(back.event().message.contains("back by"));
    }
}
