//! The settle window: has `available` stopped moving since the model said it was ready?
//!
//! A load is done when its ready probe has passed *and* memory has settled: over the last
//! `span` (the gate's `settle_window`), `available` moved by less than `settle_tolerance`.
//! Models keep allocating after their port opens (CUDA contexts, warm-up batches), so the next
//! load must not be measured against a figure that is still falling.
//!
//! Readings arrive at the loading rate (10 ms or so), so the window does not keep each one: it
//! folds them into at most [`BUCKETS`]` + 2` buckets of `span / BUCKETS`, each with the min
//! and max it saw. The buffer is bounded whatever the sampling rate, and the check errs on the
//! safe side (it may look slightly further back than `span`, never less):
//!
//! ```text
//! span 2s, tolerance 32MiB, readings every 100ms after ready:
//!   t=0.0 … 2.0  available 6.10GiB, 6.11GiB, 6.10GiB …   → covers 2s, moved 10MiB → settled
//!   t=0.0 … 2.0  available 6.10GiB … 5.60GiB (falling)   → moved 500MiB            → not yet
//! ```
//!
//! Sizes are [`Bytes`]; times are the readings' own `taken_at`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::units::Bytes;

/// How many buckets one span is cut into.
pub const BUCKETS: u32 = 32;
/// Hard bound on the buffer, whatever the timestamps do.
const CAP: usize = BUCKETS as usize + 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bucket {
    first_at: Instant,
    min: Bytes,
    max: Bytes,
}

/// Readings of `available` since the ready probe passed, folded into min/max buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettleWindow {
    span: Duration,
    width: Duration,
    latest: Option<Instant>,
    buckets: VecDeque<Bucket>,
}

impl SettleWindow {
    pub fn new(span: Duration) -> SettleWindow {
        SettleWindow {
            span,
            width: span / BUCKETS,
            latest: None,
            buckets: VecDeque::with_capacity(CAP),
        }
    }

    /// Adds one reading. Readings out of order are folded into the newest bucket.
    pub fn push(&mut self, at: Instant, available: Bytes) {
        let latest = self.latest.map_or(at, |l| l.max(at));
        self.latest = Some(latest);
        match self.buckets.back_mut() {
            Some(b) if at.saturating_duration_since(b.first_at) < self.width || at < b.first_at => {
                b.min = b.min.min(available);
                b.max = b.max.max(available);
            }
            _ => self.buckets.push_back(Bucket {
                first_at: at,
                min: available,
                max: available,
            }),
        }
        // The oldest bucket is only needed while the next one does not yet reach back `span`.
        while self.buckets.len() >= 2
            && self
                .buckets
                .get(1)
                .is_some_and(|b| latest.saturating_duration_since(b.first_at) >= self.span)
        {
            self.buckets.pop_front();
        }
        while self.buckets.len() > CAP {
            self.buckets.pop_front();
        }
    }

    /// How far `available` moved over the window, once the readings cover a whole `span`.
    pub fn change(&self) -> Option<Bytes> {
        let latest = self.latest?;
        let first = self.buckets.front()?;
        if latest.saturating_duration_since(first.first_at) < self.span {
            return None;
        }
        let min = self.buckets.iter().map(|b| b.min).min()?;
        let max = self.buckets.iter().map(|b| b.max).max()?;
        Some(max.saturating_sub(min))
    }

    /// Settled: the readings cover the span and moved by less than `tolerance`.
    pub fn is_settled(&self, tolerance: Bytes) -> bool {
        self.change().is_some_and(|c| c < tolerance)
    }

    /// Buckets held now (bounded by `BUCKETS + 2`).
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // one base instant per test; every other time is base + d
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIB: u64 = Bytes::MIB;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn is_not_settled_before_the_readings_cover_the_window() {
        let base = Instant::now();
        let mut w = SettleWindow::new(ms(2000));
        for i in 0..10 {
            w.push(base + ms(i * 100), Bytes(6000 * MIB));
        }
        assert_eq!(w.change(), None);
        assert!(!w.is_settled(Bytes(32 * MIB)));
        w.push(base + ms(2000), Bytes(6000 * MIB));
        assert!(w.is_settled(Bytes(32 * MIB)));
    }

    #[test]
    fn settles_when_memory_moves_less_than_the_tolerance() {
        let base = Instant::now();
        let mut w = SettleWindow::new(ms(2000));
        for i in 0..=20 {
            w.push(base + ms(i * 100), Bytes((6000 + i % 3 * 5) * MIB));
        }
        assert_eq!(w.change(), Some(Bytes(10 * MIB)));
        assert!(w.is_settled(Bytes(32 * MIB)));
        assert!(!w.is_settled(Bytes(10 * MIB)), "the tolerance is strict");
    }

    #[test]
    fn stays_unsettled_while_memory_keeps_falling() {
        let base = Instant::now();
        let mut w = SettleWindow::new(ms(2000));
        for i in 0..=50 {
            w.push(base + ms(i * 100), Bytes((6000 - i * 10) * MIB));
            assert!(!w.is_settled(Bytes(32 * MIB)), "reading {i}");
        }
    }

    #[test]
    fn forgets_a_drop_older_than_the_window() {
        let base = Instant::now();
        let mut w = SettleWindow::new(ms(1000));
        w.push(base, Bytes(7000 * MIB));
        for i in 1..=30 {
            w.push(base + ms(i * 100), Bytes(6000 * MIB));
        }
        assert!(w.is_settled(Bytes(MIB)));
    }

    #[test]
    fn a_zero_window_settles_on_one_reading() {
        let base = Instant::now();
        let mut w = SettleWindow::new(Duration::ZERO);
        assert!(!w.is_settled(Bytes(1)));
        w.push(base, Bytes(5));
        w.push(base + ms(1), Bytes(9));
        assert!(w.is_settled(Bytes(1)));
        assert_eq!(w.len(), 1);
    }

    proptest! {
        #[test]
        fn the_buffer_stays_bounded_at_any_sampling_rate(
            steps in prop::collection::vec((0u64..50, any::<u32>()), 1..2000)
        ) {
            let base = Instant::now();
            let mut w = SettleWindow::new(ms(1000));
            let mut t = 0;
            for (dt, avail) in steps {
                t += dt;
                w.push(base + ms(t), Bytes(u64::from(avail)));
                prop_assert!(w.len() <= CAP);
            }
        }

        #[test]
        fn never_reports_settled_when_a_reading_inside_the_span_differs_by_the_tolerance(
            n in 12u64..60, jump_at in 0u64..10, tol in 1u64..1000
        ) {
            // Readings every 100ms over a 1s span; one reading in the last second jumps by tol.
            let base = Instant::now();
            let mut w = SettleWindow::new(ms(1000));
            let jump = n - 1 - jump_at;
            for i in 0..n {
                let a = if i == jump { 10_000 + tol } else { 10_000 };
                w.push(base + ms(i * 100), Bytes(a));
            }
            prop_assert!(!w.is_settled(Bytes(tol)));
        }
    }
}
