//! The gate's arithmetic: pure functions of [`Bytes`] and instants, nothing else.
//!
//! Owns the formulas of the memory model the gate decides on (docs/agent.md, "Memory model"),
//! so that each can be read
//! and tested on its own. All sizes are [`Bytes`]; every subtraction saturates at zero, so a
//! budget is never negative and no figure can wrap.
//!
//! ```text
//! need      = max(declared, learned peak)                        need(4GiB, Some(5GiB)) = 5GiB
//! required  = need + ceil(need × headroom)                       required(1GiB, 0.10)   = 1.1GiB
//! budget    = available − reserve − outstanding reservations     budget(8GiB, 1GiB, 2GiB) = 5GiB
//! capacity  = total − reserve  (the most a load could ever get)
//! reservation of the load in flight = need − consumed            consumed = before − now
//! ```

use std::time::{Duration, Instant};

use crate::units::Bytes;

/// The memory a load is gated on: the larger of what it declares and what it was seen to take.
pub fn need(declared: Bytes, learned_peak: Option<Bytes>) -> Bytes {
    declared.max(learned_peak.unwrap_or(Bytes::ZERO))
}

/// `need × (1 + headroom)`, rounded up, saturating. A negative or NaN headroom counts as zero.
pub fn required(need: Bytes, headroom: f64) -> Bytes {
    let headroom = if headroom.is_finite() && headroom > 0.0 {
        headroom
    } else if headroom == f64::INFINITY {
        return Bytes(u64::MAX);
    } else {
        0.0
    };
    // `as` saturates for floats that do not fit in u64.
    let extra = (need.get() as f64 * headroom).ceil() as u64;
    need.saturating_add(Bytes(extra))
}

/// What is left for a new load: `available − reserve − outstanding`, never below zero.
pub fn budget(available: Bytes, reserve: Bytes, outstanding: Bytes) -> Bytes {
    available.saturating_sub(reserve.saturating_add(outstanding))
}

/// The most any load could ever be given on this device: `total − reserve`.
pub fn capacity(total: Bytes, reserve: Bytes) -> Bytes {
    total.saturating_sub(reserve)
}

/// True when a load needing `required` cannot fit even on an otherwise empty device.
pub fn never_fits(required: Bytes, total: Bytes, reserve: Bytes) -> bool {
    required > capacity(total, reserve)
}

/// How much of `available` a load has taken since it was admitted.
pub fn consumed(available_before: Bytes, available_now: Bytes) -> Bytes {
    available_before.saturating_sub(available_now)
}

/// The part of a load's need that `available` does not show yet: `need − consumed`, ≥ 0.
pub fn load_reservation(need: Bytes, consumed: Bytes) -> Bytes {
    need.saturating_sub(consumed)
}

/// A reading taken at `taken_at` is fresh at `now` when it is at most `fresh_within` old.
/// A reading stamped after `now` counts as zero seconds old.
pub fn is_fresh(taken_at: Instant, now: Instant, fresh_within: Duration) -> bool {
    now.saturating_duration_since(taken_at) <= fresh_within
}

/// Whole milliseconds of a duration, saturating, for event figures.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GIB: u64 = Bytes::GIB;

    #[test]
    fn need_is_the_larger_of_declared_and_learned() {
        assert_eq!(need(Bytes(4 * GIB), None), Bytes(4 * GIB));
        assert_eq!(need(Bytes(4 * GIB), Some(Bytes(5 * GIB))), Bytes(5 * GIB));
        assert_eq!(need(Bytes(4 * GIB), Some(Bytes(3 * GIB))), Bytes(4 * GIB));
    }

    #[test]
    fn required_adds_the_headroom_rounded_up() {
        assert_eq!(required(Bytes(1000), 0.10), Bytes(1100));
        assert_eq!(required(Bytes(1001), 0.10), Bytes(1102));
        assert_eq!(required(Bytes(1000), 0.0), Bytes(1000));
    }

    #[test]
    fn required_treats_a_negative_or_nan_headroom_as_zero_and_saturates() {
        assert_eq!(required(Bytes(1000), -0.5), Bytes(1000));
        assert_eq!(required(Bytes(1000), f64::NAN), Bytes(1000));
        assert_eq!(required(Bytes(u64::MAX), 0.5), Bytes(u64::MAX));
        assert_eq!(required(Bytes(1), f64::INFINITY), Bytes(u64::MAX));
    }

    #[test]
    fn budget_subtracts_reserve_and_outstanding_and_stops_at_zero() {
        assert_eq!(
            budget(Bytes(8 * GIB), Bytes(GIB), Bytes(2 * GIB)),
            Bytes(5 * GIB)
        );
        assert_eq!(budget(Bytes(GIB), Bytes(GIB), Bytes(1)), Bytes::ZERO);
        assert_eq!(
            budget(Bytes(GIB), Bytes(u64::MAX), Bytes(u64::MAX)),
            Bytes::ZERO
        );
    }

    #[test]
    fn a_load_larger_than_total_minus_reserve_never_fits() {
        assert!(never_fits(Bytes(3 * GIB), Bytes(3 * GIB), Bytes(1)));
        assert!(!never_fits(Bytes(2 * GIB), Bytes(3 * GIB), Bytes(GIB)));
    }

    #[test]
    fn the_load_reservation_shrinks_as_memory_is_consumed() {
        let c = consumed(Bytes(8 * GIB), Bytes(7 * GIB));
        assert_eq!(c, Bytes(GIB));
        assert_eq!(load_reservation(Bytes(3 * GIB), c), Bytes(2 * GIB));
        assert_eq!(load_reservation(Bytes(GIB), Bytes(2 * GIB)), Bytes::ZERO);
        assert_eq!(consumed(Bytes(GIB), Bytes(2 * GIB)), Bytes::ZERO);
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // the single base instant of this test
    fn a_reading_is_fresh_up_to_and_including_its_limit() {
        let base = Instant::now();
        let limit = Duration::from_millis(500);
        assert!(is_fresh(base, base + limit, limit));
        assert!(!is_fresh(
            base,
            base + limit + Duration::from_millis(1),
            limit
        ));
        assert!(is_fresh(base + limit, base, limit));
    }

    proptest! {
        #[test]
        fn budget_never_exceeds_available_and_never_wraps(
            a in any::<u64>(), r in any::<u64>(), o in any::<u64>()
        ) {
            let b = budget(Bytes(a), Bytes(r), Bytes(o));
            prop_assert!(b <= Bytes(a));
            prop_assert_eq!(b.get(), a.saturating_sub(r.saturating_add(o)));
        }

        #[test]
        fn required_is_at_least_need(n in any::<u64>(), h in -1.0f64..4.0) {
            prop_assert!(required(Bytes(n), h) >= Bytes(n));
        }
    }
}
