//! The pure half of `sim-model`: rates and paced growth, as functions of elapsed time.
//!
//! A [`Growth`] is "`size` bytes, added at `rate`, starting at `start` after its phase began".
//! [`Growth::target_at`] says how many of those bytes should exist at a given elapsed time; the
//! allocator loop compares the sum of the targets with what it holds and allocates the
//! difference in [`STEP`]-sized chunks, so it is never ahead of the plan by more than one step.
//!
//! Rates are written as a size per second:
//!
//! ```text
//! 2GiB/s   512MiB/s   100MiB/s   1.5GiB/s
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::units::{Bytes, UnitError};

/// The most one allocation step adds: small enough for a smooth ramp (at 2 GiB/s a step is
/// 2 ms of growth), large enough that chunk bookkeeping costs nothing.
pub const STEP: u64 = 4 * Bytes::MIB;

/// Why a rate string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("{0:?} is not a rate: write a size per second, such as 2GiB/s")]
    MissingPerSecond(String),
    #[error("bad size in rate {input:?}: {source}")]
    Size { input: String, source: UnitError },
    #[error("rate {0:?} is zero: a rate must add something")]
    Zero(String),
}

/// A growth rate in bytes per second, parsed from `SIZE/s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteRate(pub Bytes);

impl ByteRate {
    pub fn bytes_per_sec(self) -> u64 {
        self.0.get()
    }

    /// Bytes added over `elapsed` at this rate (saturating; u128 maths, no float drift).
    pub fn bytes_in(self, elapsed: Duration) -> u64 {
        let b = u128::from(self.bytes_per_sec()) * elapsed.as_nanos() / 1_000_000_000;
        u64::try_from(b).unwrap_or(u64::MAX)
    }
}

impl FromStr for ByteRate {
    type Err = RateError;

    fn from_str(input: &str) -> Result<ByteRate, RateError> {
        let size = input
            .trim()
            .strip_suffix("/s")
            .ok_or_else(|| RateError::MissingPerSecond(input.to_string()))?;
        let bytes: Bytes = size.parse().map_err(|source| RateError::Size {
            input: input.to_string(),
            source,
        })?;
        if bytes == Bytes::ZERO {
            return Err(RateError::Zero(input.to_string()));
        }
        Ok(ByteRate(bytes))
    }
}

impl fmt::Display for ByteRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.0)
    }
}

/// How fast a [`Growth`] proceeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// All of it at once.
    Instant,
    /// Evenly over this long.
    Over(Duration),
    /// At this rate until done.
    Rate(ByteRate),
    /// At this rate, never done (a leak).
    Forever(ByteRate),
}

/// A planned addition of memory within one phase (loading, or after ready).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Growth {
    /// Total bytes this growth adds; ignored for [`Pace::Forever`].
    pub size: u64,
    pub pace: Pace,
}

impl Growth {
    pub fn new(size: Bytes, pace: Pace) -> Growth {
        Growth {
            size: size.get(),
            pace,
        }
    }

    /// Bytes this growth should have added `elapsed` after its phase began.
    pub fn target_at(&self, elapsed: Duration) -> u64 {
        match self.pace {
            Pace::Instant => self.size,
            Pace::Over(d) if d.is_zero() => self.size,
            Pace::Over(d) => {
                let done = u128::from(self.size) * elapsed.as_nanos() / d.as_nanos();
                u64::try_from(done).unwrap_or(u64::MAX).min(self.size)
            }
            Pace::Rate(r) => r.bytes_in(elapsed).min(self.size),
            Pace::Forever(r) => r.bytes_in(elapsed),
        }
    }

    /// Whether the growth has nothing left to add at `elapsed`.
    pub fn is_done_at(&self, elapsed: Duration) -> bool {
        !matches!(self.pace, Pace::Forever(_)) && self.target_at(elapsed) >= self.size
    }
}

/// The sum of the targets of several growths running side by side in one phase.
pub fn phase_target(growths: &[Growth], elapsed: Duration) -> u64 {
    growths
        .iter()
        .fold(0u64, |acc, g| acc.saturating_add(g.target_at(elapsed)))
}

/// Whether every growth of the phase is done at `elapsed` (an empty phase is done at once).
pub fn phase_done(growths: &[Growth], elapsed: Duration) -> bool {
    growths.iter().all(|g| g.is_done_at(elapsed))
}

/// How long to sleep between steps so that each adds about one [`STEP`] at the fastest rate in
/// the phase, clamped to 1 ms .. 100 ms (a slow leak still re-checks ten times a second).
pub fn tick(growths: &[Growth]) -> Duration {
    let fastest = growths
        .iter()
        .map(|g| match g.pace {
            Pace::Instant => u64::MAX,
            Pace::Over(d) if d.is_zero() => u64::MAX,
            Pace::Over(d) => {
                let per_sec = u128::from(g.size) * 1_000_000_000 / d.as_nanos().max(1);
                u64::try_from(per_sec).unwrap_or(u64::MAX)
            }
            Pace::Rate(r) | Pace::Forever(r) => r.bytes_per_sec(),
        })
        .max()
        .unwrap_or(0);
    if fastest == 0 {
        return Duration::from_millis(100);
    }
    let nanos = u128::from(STEP) * 1_000_000_000 / u128::from(fastest);
    let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
    Duration::from_nanos(nanos).clamp(Duration::from_millis(1), Duration::from_millis(100))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn rates_parse_as_a_size_per_second() {
        let r: ByteRate = "2GiB/s".parse().unwrap();
        assert_eq!(r.bytes_per_sec(), 2 * Bytes::GIB);
        let r: ByteRate = "1.5MiB/s".parse().unwrap();
        assert_eq!(r.bytes_per_sec(), 3 * Bytes::MIB / 2);
        assert_eq!(r.to_string(), "1.5MiB/s");
    }

    #[test]
    fn rates_without_per_second_or_with_bad_sizes_are_refused() {
        assert!(matches!(
            "2GiB".parse::<ByteRate>(),
            Err(RateError::MissingPerSecond(_))
        ));
        assert!(matches!(
            "2GB/s".parse::<ByteRate>(),
            Err(RateError::Size { .. })
        ));
        assert!(matches!(
            "0MiB/s".parse::<ByteRate>(),
            Err(RateError::Zero(_))
        ));
    }

    #[test]
    fn a_ramp_over_a_duration_is_linear_and_stops_at_its_size() {
        let g = Growth::new(Bytes::from_mib(1000), Pace::Over(ms(1000)));
        assert_eq!(g.target_at(ms(0)), 0);
        assert_eq!(g.target_at(ms(500)), 500 * Bytes::MIB);
        assert_eq!(g.target_at(ms(5000)), 1000 * Bytes::MIB);
        assert!(!g.is_done_at(ms(999)));
        assert!(g.is_done_at(ms(1000)));
    }

    #[test]
    fn a_zero_ramp_is_all_at_once() {
        let g = Growth::new(Bytes::from_mib(64), Pace::Over(Duration::ZERO));
        assert_eq!(g.target_at(Duration::ZERO), 64 * Bytes::MIB);
        assert!(phase_done(&[g], Duration::ZERO));
    }

    #[test]
    fn a_leak_never_finishes() {
        let rate = "1MiB/s".parse().unwrap();
        let g = Growth::new(Bytes::ZERO, Pace::Forever(rate));
        assert_eq!(g.target_at(Duration::from_secs(3600)), 3600 * Bytes::MIB);
        assert!(!g.is_done_at(Duration::from_secs(1_000_000)));
    }

    #[test]
    fn ticks_add_about_one_step_at_the_fastest_rate() {
        let fast = Growth::new(Bytes::from_gib(1), Pace::Rate("2GiB/s".parse().unwrap()));
        assert_eq!(tick(&[fast]), Duration::from_nanos(1_953_125)); // 4 MiB at 2 GiB/s
        assert_eq!(tick(&[]), ms(100));
        let slow = Growth::new(Bytes::ZERO, Pace::Forever("1KiB/s".parse().unwrap()));
        assert_eq!(tick(&[slow]), ms(100));
    }

    proptest! {
        #[test]
        fn targets_never_decrease_and_never_pass_the_size(
            size in 0u64..(64 * Bytes::GIB),
            rate in 1u64..(8 * Bytes::GIB),
            a in 0u64..100_000,
            b in 0u64..100_000,
        ) {
            let (early, late) = (a.min(b), a.max(b));
            for pace in [Pace::Rate(ByteRate(Bytes(rate))), Pace::Over(ms(rate % 10_000))] {
                let g = Growth { size, pace };
                prop_assert!(g.target_at(ms(early)) <= g.target_at(ms(late)));
                prop_assert!(g.target_at(ms(late)) <= size);
            }
        }
    }
}
