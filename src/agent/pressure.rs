//! Memory pressure and thrashing, judged once a second from PSI and file refaults. Pure: the
//! refresh reads the figures ([`PressureReading`]), [`PressureWatch::observe`] says what
//! changed, the engine logs it with the models whose mapped pages are being evicted.
//!
//! ```text
//! pressure_high     PSI some avg10 ≥ memory.pressure_high           cleared below half of it
//! memory_thrashing  file refaults ≥ REFAULT_RATE over the last      cleared when either falls
//!                   reading ∧ PSI some avg10 ≥ PSI_CONFIRMS          under half its threshold
//! ```
//!
//! Refaults say pages were evicted and read back soon after; PSI says tasks stalled waiting
//! for memory. Either alone misleads: a model streaming its weights in for the first time
//! refaults nothing but stalls; a backup reading a large file refaults without hurting anyone.
//! Together they mark a working set that no longer fits. Pressure only ever confirms and
//! reports: nothing here stops, kills or refuses a load (the gate decides on capacity).
//! Each state is reported once when it starts and once when it ends, never every second.

use std::time::{Duration, Instant};

use crate::units::Bytes;

/// File refaults per second above which the working set is suspected not to fit.
pub const REFAULT_RATE: Bytes = Bytes(32 * Bytes::MIB);
/// PSI some avg10 (percent) that confirms refaults as thrashing.
pub const PSI_CONFIRMS: f64 = 5.0;

/// One reading of the scope's pressure figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PressureReading {
    pub taken_at: Instant,
    /// PSI memory `some avg10`, percent; `None` without PSI.
    pub some_avg10: Option<f64>,
    /// PSI memory `full avg10`, percent.
    pub full_avg10: Option<f64>,
    /// File pages refaulted since boot, in bytes; `None` where the kernel does not count them.
    pub refaults: Option<Bytes>,
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Finding {
    PressureHigh {
        some_avg10: f64,
        full_avg10: Option<f64>,
        threshold: f64,
    },
    PressureCleared {
        some_avg10: f64,
        threshold: f64,
    },
    Thrashing {
        /// Refaulted bytes per second over the last interval.
        refault_rate: Bytes,
        some_avg10: f64,
        full_avg10: Option<f64>,
    },
    ThrashingCleared {
        refault_rate: Bytes,
        some_avg10: f64,
    },
}

/// The judge's state: the previous refault count and whether each state holds.
#[derive(Debug, Clone)]
pub struct PressureWatch {
    /// `memory.pressure_high`, percent.
    pressure_high: f64,
    last_refaults: Option<(Bytes, Instant)>,
    high: bool,
    thrashing: bool,
}

impl PressureWatch {
    pub fn new(pressure_high: f64) -> PressureWatch {
        PressureWatch {
            pressure_high,
            last_refaults: None,
            high: false,
            thrashing: false,
        }
    }

    pub fn is_thrashing(&self) -> bool {
        self.thrashing
    }

    /// Takes one reading; returns the states that started or ended with it.
    pub fn observe(&mut self, r: &PressureReading) -> Vec<Finding> {
        let mut out = Vec::new();
        let rate = self.refault_rate(r);
        let Some(some) = r.some_avg10 else {
            return out; // without PSI nothing is confirmed, and nothing is reported
        };
        let threshold = self.pressure_high;
        if !self.high && some >= threshold {
            self.high = true;
            out.push(Finding::PressureHigh {
                some_avg10: some,
                full_avg10: r.full_avg10,
                threshold,
            });
        } else if self.high && some < threshold / 2.0 {
            self.high = false;
            out.push(Finding::PressureCleared {
                some_avg10: some,
                threshold,
            });
        }
        if let Some(rate) = rate {
            if !self.thrashing && rate >= REFAULT_RATE && some >= PSI_CONFIRMS {
                self.thrashing = true;
                out.push(Finding::Thrashing {
                    refault_rate: rate,
                    some_avg10: some,
                    full_avg10: r.full_avg10,
                });
            } else if self.thrashing
                && (rate < Bytes(REFAULT_RATE.get() / 2) || some < PSI_CONFIRMS / 2.0)
            {
                self.thrashing = false;
                out.push(Finding::ThrashingCleared {
                    refault_rate: rate,
                    some_avg10: some,
                });
            }
        }
        out
    }

    /// Refaulted bytes per second since the previous reading (`None` for the first, after a
    /// counter reset, or when the counter is missing).
    fn refault_rate(&mut self, r: &PressureReading) -> Option<Bytes> {
        let now = r.refaults.map(|b| (b, r.taken_at));
        let previous = std::mem::replace(&mut self.last_refaults, now);
        let ((before, then), (after, at)) = (previous?, now?);
        let elapsed = at.saturating_duration_since(then);
        if after < before || elapsed < Duration::from_millis(100) {
            return None;
        }
        let per_second = (after.get() - before.get()) as f64 / elapsed.as_secs_f64();
        Some(Bytes(per_second as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = Bytes::MIB;

    #[allow(clippy::disallowed_methods)] // the single base instant of these tests
    fn base() -> Instant {
        Instant::now()
    }

    fn at(base: Instant, s: u64, some: f64, refaults_mib: u64) -> PressureReading {
        PressureReading {
            taken_at: base + Duration::from_secs(s),
            some_avg10: Some(some),
            full_avg10: Some(some / 2.0),
            refaults: Some(Bytes(refaults_mib * MIB)),
        }
    }

    #[test]
    fn refaults_confirmed_by_pressure_are_thrashing_reported_once_and_cleared_once() {
        let b = base();
        let mut w = PressureWatch::new(10.0);
        assert!(w.observe(&at(b, 0, 8.0, 1000)).is_empty(), "no rate yet");
        // 100 MiB/s of refaults with 8 % stalled: thrashing (not yet pressure_high at 10 %).
        let f = w.observe(&at(b, 1, 8.0, 1100));
        assert_eq!(
            f,
            vec![Finding::Thrashing {
                refault_rate: Bytes(100 * MIB),
                some_avg10: 8.0,
                full_avg10: Some(4.0)
            }]
        );
        assert!(w.is_thrashing());
        assert!(w.observe(&at(b, 2, 8.0, 1200)).is_empty(), "reported once");
        // Refaults stop: cleared.
        let f = w.observe(&at(b, 3, 8.0, 1201));
        assert!(matches!(f[..], [Finding::ThrashingCleared { .. }]), "{f:?}");
    }

    #[test]
    fn refaults_alone_or_pressure_alone_are_not_thrashing() {
        let b = base();
        let mut w = PressureWatch::new(10.0);
        w.observe(&at(b, 0, 0.5, 0));
        // A backup streaming a large file: refaults, nobody stalls.
        assert!(w.observe(&at(b, 1, 0.5, 500)).is_empty());
        // A first load streaming weights in: stalls, no refaults.
        let f = w.observe(&at(b, 2, 30.0, 500));
        assert!(
            matches!(f[..], [Finding::PressureHigh { threshold, .. }] if threshold == 10.0),
            "{f:?}"
        );
        assert!(!w.is_thrashing());
    }

    #[test]
    fn pressure_high_clears_only_below_half_its_threshold() {
        let b = base();
        let mut w = PressureWatch::new(10.0);
        assert_eq!(w.observe(&at(b, 0, 12.0, 0)).len(), 1);
        assert!(
            w.observe(&at(b, 1, 7.0, 0)).is_empty(),
            "no flapping at the threshold"
        );
        assert!(
            w.observe(&at(b, 2, 11.0, 0)).is_empty(),
            "still the same episode"
        );
        let f = w.observe(&at(b, 3, 4.0, 0));
        assert!(matches!(f[..], [Finding::PressureCleared { .. }]), "{f:?}");
    }

    #[test]
    fn no_psi_or_no_counter_or_a_reset_counter_decides_nothing() {
        let b = base();
        let mut w = PressureWatch::new(10.0);
        let mut r = at(b, 0, 50.0, 1000);
        r.some_avg10 = None;
        assert!(w.observe(&r).is_empty());
        let mut r = at(b, 1, 50.0, 0);
        r.refaults = None;
        assert!(!w
            .observe(&r)
            .iter()
            .any(|f| matches!(f, Finding::Thrashing { .. })));
        // A counter that went backwards (a new cgroup) gives no rate.
        w.observe(&at(b, 2, 50.0, 5000));
        let f = w.observe(&at(b, 3, 50.0, 10));
        assert!(
            !f.iter().any(|f| matches!(f, Finding::Thrashing { .. })),
            "{f:?}"
        );
    }
}
