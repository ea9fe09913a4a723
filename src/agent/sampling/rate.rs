//! The sampling rate and the core's tick as one pure decision: full rate while anything is
//! happening or memory is near the reserve, a slow idle rate otherwise.
//!
//! ```text
//! load in flight                                   ─► Load  (load_sample_interval, tick 100 ms)
//! request queued, unit starting or backing off,
//!   ready probe pending                            ─► Full  (sample_interval, tick 100 ms)
//! no reading yet, last sample failed,
//!   available < reserve × NEAR_FACTOR             ─► Full  (sample_interval, tick idle)
//! otherwise                                        ─► Idle  (see Intervals::idle, tick idle)
//! ```
//!
//! The idle period is [`IDLE_INTERVAL`] capped at `fresh_within` (and never faster than
//! `sample_interval`): a request that arrives while idle always finds a reading the gate may
//! admit on, so it is admitted on arrival as before, never queued for want of a fresh reading.
//!
//! The reaction is not slowed: the kill floor acts only on a load in flight, which samples at
//! the load rate from its admission; a request switches the sampler to full rate at once (a
//! plan change wakes it), so the reading that admits is taken when the request arrives. In
//! between, a kernel notification (a cgroup v1 usage threshold, a PSI trigger; see
//! `sources::wake`) wakes the idle sampler as soon as memory moves toward the reserve.

use std::time::Duration;

use crate::units::Bytes;

/// The longest idle sampling period (and the core's tick while nothing has a deadline).
pub const IDLE_INTERVAL: Duration = Duration::from_secs(1);
/// Memory is near the reserve while `available < reserve × NEAR_FACTOR`.
pub const NEAR_FACTOR: u64 = 2;

/// How fast to sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// A load in flight: `load_sample_interval`.
    Load,
    /// Something is happening or memory is near the reserve: `sample_interval`.
    Full,
    /// Quiet and far from the reserve: [`Intervals::idle`].
    Idle,
}

impl Rate {
    pub fn as_str(self) -> &'static str {
        match self {
            Rate::Load => "load",
            Rate::Full => "full",
            Rate::Idle => "idle",
        }
    }
}

/// What the decision looks at, as the core sees it after each input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Situation {
    /// A load is in flight (the gate's kill floor is armed).
    pub loading: bool,
    /// Something has a deadline or waits on a reading: a request queued, a unit starting,
    /// backing off or waiting for its ready probe.
    pub busy: bool,
    /// `available` of the last sample; `None` before the first or after a failed one.
    pub available: Option<Bytes>,
    pub reserve: Bytes,
}

/// The decision: how fast to sample, and whether the core's tick may slow down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    pub rate: Rate,
    /// The tick may run at [`IDLE_INTERVAL`]: nothing has a deadline finer than a second.
    pub tick_idle: bool,
}

/// The sampling periods for each rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intervals {
    pub load: Duration,
    pub full: Duration,
    /// `memory.fresh_within`: the oldest reading that may admit a load.
    pub fresh: Duration,
}

impl Intervals {
    /// The idle period: [`IDLE_INTERVAL`], at most `fresh_within` (a request must find a
    /// reading that may admit it), and `sample_interval` where that is slower still.
    pub fn idle(&self) -> Duration {
        IDLE_INTERVAL.min(self.fresh).max(self.full)
    }

    pub fn of(&self, rate: Rate) -> Duration {
        match rate {
            Rate::Load => self.load,
            Rate::Full => self.full,
            Rate::Idle => self.idle(),
        }
    }
}

/// The memory level below which the sampler runs at full rate: `reserve × NEAR_FACTOR`.
pub fn near_level(reserve: Bytes) -> Bytes {
    Bytes(reserve.get().saturating_mul(NEAR_FACTOR))
}

/// The pace for a situation (see the module doc).
pub fn decide(s: &Situation) -> Pace {
    if s.loading {
        return Pace {
            rate: Rate::Load,
            tick_idle: false,
        };
    }
    if s.busy {
        return Pace {
            rate: Rate::Full,
            tick_idle: false,
        };
    }
    let near = s.available.is_none_or(|a| a < near_level(s.reserve));
    Pace {
        rate: if near { Rate::Full } else { Rate::Idle },
        tick_idle: true,
    }
}

#[cfg(test)]
mod tests;
