//! How fast an abort's kill followed the floor crossing: the `load_aborted` event's timing
//! figures (`sample_to_kill_us`, `crossing_to_kill_us`, `sample_interval_us`), from the reading
//! being applied, the one before it, and when the kill signal went out.

use std::time::{Duration, Instant};

use super::Executor;
use crate::event::figures::LoadAborted;
use crate::event::{EventKind, NewEvent};

impl Executor {
    /// Adds to a `load_aborted` event how fast the kill followed the reading that showed the
    /// floor crossed (`sample_to_kill_us`), and followed the crossing itself, estimated by
    /// linear interpolation between that reading and the one before (`crossing_to_kill_us`).
    pub(super) fn with_reaction_figures(&mut self, event: NewEvent) -> NewEvent {
        if event.kind != EventKind::LoadAborted {
            return event;
        }
        let (Some(kill), Some(reading)) = (self.last_kill.take(), self.reading) else {
            return event;
        };
        let micros = |d: Duration| d.as_micros() as u64;
        event.amend(|f: &mut LoadAborted| {
            f.sample_to_kill_us = Some(micros(kill.saturating_duration_since(reading.taken_at)));
            let Some((before, at)) = reading.previous else {
                return;
            };
            if let Some(crossed) = crossing(
                before.get(),
                at,
                reading.available.get(),
                reading.taken_at,
                f.floor_bytes,
            ) {
                f.crossing_to_kill_us = Some(micros(kill.saturating_duration_since(crossed)));
                f.sample_interval_us = Some(micros(reading.taken_at.saturating_duration_since(at)));
                f.previous_available_bytes = Some(before.get());
            }
        })
    }
}

/// When `available` crossed `floor`, by linear interpolation between two readings; `None` when
/// the readings do not bracket the floor (`before` ≥ floor > `after`).
pub fn crossing(
    before: u64,
    at: Instant,
    after: u64,
    then: Instant,
    floor: u64,
) -> Option<Instant> {
    if !(before >= floor && floor > after) {
        return None;
    }
    let fraction = (before - floor) as f64 / (before - after) as f64;
    Some(at + then.saturating_duration_since(at).mul_f64(fraction))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_the_floor_crossing_between_two_readings() {
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(10);
        // 1000 → 600 over 10 ms; the floor 900 is a quarter of the way down.
        let crossed = crossing(1000, t0, 600, t1, 900).unwrap();
        assert_eq!(crossed - t0, Duration::from_micros(2500));
        assert!(
            crossing(800, t0, 600, t1, 900).is_none(),
            "already under the floor"
        );
        assert!(
            crossing(1000, t0, 950, t1, 900).is_none(),
            "not under it yet"
        );
    }
}
