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
//! ledger    = total − Σ committed − reserve − outstanding        (loaded models' commitments)
//! admit on  min(budget, ledger)                                  Budget::value
//! tolerance = max(tolerance bytes, need × tolerance %)           over need only past it
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

/// Which of the two figures a [`Budget`] stands at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetFrom {
    /// What the memory reading shows free: `available − reserve − outstanding`.
    Available,
    /// What the loaded models' commitments leave: `total − Σ committed − reserve − outstanding`.
    Ledger,
}

impl BudgetFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetFrom::Available => "available",
            BudgetFrom::Ledger => "ledger",
        }
    }
}

/// Both figures a load is admitted on; the smaller one decides.
///
/// `available` alone is wrong for models whose memory the kernel calls reclaimable (mmap'd
/// weights); the ledger alone is blind to everything that is not a loaded model (services,
/// the OS, a model still loading). Together each covers the other's blind spot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// `available − reserve − outstanding`.
    pub available: Bytes,
    /// `total − committed − reserve − outstanding`.
    pub ledger: Bytes,
    /// Σ committed of the loaded models.
    pub committed: Bytes,
}

impl Budget {
    pub fn of(
        available: Bytes,
        total: Bytes,
        committed: Bytes,
        reserve: Bytes,
        outstanding: Bytes,
    ) -> Budget {
        Budget {
            available: budget(available, reserve, outstanding),
            ledger: budget(total.saturating_sub(committed), reserve, outstanding),
            committed,
        }
    }

    /// The figure a load is gated on: the smaller of both.
    pub fn value(&self) -> Bytes {
        self.available.min(self.ledger)
    }

    /// Which figure [`Budget::value`] is (the available one on a tie).
    pub fn from(&self) -> BudgetFrom {
        if self.ledger < self.available {
            BudgetFrom::Ledger
        } else {
            BudgetFrom::Available
        }
    }
}

/// How far a load may go past its need before it counts as over it (and its learned peak is
/// raised): `max(bytes, need × percent / 100)`. Page tables, allocator slack and the sampling
/// of PSS move a real model's figures by a few MiB from one load to the next.
pub fn tolerance(need: Bytes, bytes: Bytes, percent: f64) -> Bytes {
    let percent = if percent.is_finite() && percent > 0.0 {
        percent
    } else {
        0.0
    };
    bytes.max(Bytes((need.get() as f64 * percent / 100.0).ceil() as u64))
}

/// True when `seen` is past `need` by more than the tolerance.
pub fn over_need(seen: Bytes, need: Bytes, tolerance: Bytes) -> bool {
    seen > need.saturating_add(tolerance)
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

    #[test]
    fn the_ledger_decides_when_mapped_weights_look_free() {
        // 3 GiB scope, 512 MiB reserve, two 1.1 GiB models loaded whose weights the kernel
        // calls reclaimable: available shows 2.5 GiB, the ledger 3 − 2.2 − 0.5 GiB.
        let mib = Bytes::MIB;
        let b = Budget::of(
            Bytes(2560 * mib),
            Bytes(3 * GIB),
            Bytes(2253 * mib),
            Bytes(512 * mib),
            Bytes::ZERO,
        );
        assert_eq!(b.available, Bytes(2048 * mib));
        assert_eq!(b.ledger, Bytes(307 * mib));
        assert_eq!(
            (b.value(), b.from()),
            (Bytes(307 * mib), BudgetFrom::Ledger)
        );
        // Nothing loaded: the ledger is the whole scope and available decides.
        let empty = Budget::of(
            Bytes(GIB),
            Bytes(3 * GIB),
            Bytes::ZERO,
            Bytes::ZERO,
            Bytes::ZERO,
        );
        assert_eq!(
            (empty.value(), empty.from()),
            (Bytes(GIB), BudgetFrom::Available)
        );
    }

    #[test]
    fn the_tolerance_is_the_larger_of_its_bytes_and_its_share_of_need() {
        let mib = Bytes::MIB;
        assert_eq!(tolerance(Bytes(GIB), Bytes(32 * mib), 2.0), Bytes(32 * mib));
        assert_eq!(
            tolerance(Bytes(10 * GIB), Bytes(32 * mib), 2.0),
            Bytes((10 * GIB * 2).div_ceil(100))
        );
        assert_eq!(
            tolerance(Bytes(GIB), Bytes(32 * mib), f64::NAN),
            Bytes(32 * mib)
        );
        // 24 KiB over a 1 GiB need is not over it; 33 MiB is.
        assert!(!over_need(
            Bytes(GIB + 24 * 1024),
            Bytes(GIB),
            Bytes(32 * mib)
        ));
        assert!(over_need(
            Bytes(GIB + 33 * mib),
            Bytes(GIB),
            Bytes(32 * mib)
        ));
    }

    proptest! {
        #[test]
        fn the_budget_never_exceeds_either_figure(
            a in any::<u64>(), t in any::<u64>(), c in any::<u64>(), r in any::<u64>(), o in any::<u64>()
        ) {
            let b = Budget::of(Bytes(a), Bytes(t), Bytes(c), Bytes(r), Bytes(o));
            prop_assert!(b.value() <= budget(Bytes(a), Bytes(r), Bytes(o)));
            prop_assert!(b.value() <= Bytes(t).saturating_sub(Bytes(c)));
        }

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
