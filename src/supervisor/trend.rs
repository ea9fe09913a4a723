//! Leak trends: a robust slope of a service's tree memory over a sliding window, and a verdict.
//!
//! Pure code (docs/architecture.md, "Conventions"): no clock reads and no I/O. Each sample carries its own time as a
//! [`Duration`] offset from an arbitrary origin (the caller's monotonic clock); memory is
//! [`Bytes`]; slopes are bytes per second in [`Fit`] and bytes per hour in [`Assessment`].
//!
//! The slope is Theil–Sen (the median of all pairwise slopes), so a few wild samples (a
//! transient spike, a misread) cannot move it: it tolerates up to ~29 % outliers. Fit quality
//! is Kendall's τ from the same pairs, signed by the slope, so a noisy series whose median
//! slope happens to be steep is reported `Stable`, never `Leaking`. A series whose samples span
//! less than the warm-up is `WarmingUp` (model servers grow while loading; that is no leak).
//!
//! ```
//! use std::time::Duration;
//! use jetgate::supervisor::trend::{Trend, TrendConfig, Verdict};
//! use jetgate::units::Bytes;
//!
//! let mut trend = Trend::new(TrendConfig::default());
//! for s in 0..=600u64 {
//!     // 20 MiB/s of growth, sampled at 1 Hz.
//!     trend.push(Duration::from_secs(s), Bytes::from_mib(1024 + 20 * s));
//! }
//! let current = Bytes::from_mib(1024 + 20 * 600);
//! let a = trend.verdict(Some(Bytes::from_gib(16)), current);
//! assert_eq!(a.verdict, Verdict::Leaking);
//! assert!(trend.leak_episode(&a)); // the first Leaking assessment opens an episode...
//! assert!(!trend.leak_episode(&a)); // ...and does not fire again while it lasts.
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use crate::units::Bytes;

/// Most points [`theil_sen`] fits: it forms n·(n−1)/2 pairs (600 points: ~180 000 slopes,
/// ~1.4 MB, a few ms on a Jetson core). Longer inputs are thinned to this many evenly
/// spaced points first.
pub const MAX_FIT_POINTS: usize = 600;

/// Most samples a [`Trend`] keeps: the default 10 min window at 1 Hz. When sampling faster
/// than `window / MAX_SAMPLES`, the oldest samples go first and the span shortens.
pub const MAX_SAMPLES: usize = 600;

const SECS_PER_HOUR: f64 = 3600.0;

/// A robust straight-line fit, `bytes ≈ intercept + slope · t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Median of pairwise slopes, bytes per second.
    pub slope: f64,
    /// Median of `y − slope·t`, bytes at `t = 0`.
    pub intercept: f64,
    /// Kendall's τ_a of the pairs, signed by the slope (rising: τ, falling: −τ, flat:
    /// 1 − |τ|), clamped to `0.0..=1.0`. 1 is a perfectly monotone series in the slope's
    /// direction; pure noise is near 0; ties (equal bytes) count against it.
    pub quality: f64,
}

/// Theil–Sen fit of `(t seconds, bytes)` points; non-finite points are skipped.
///
/// `None` for fewer than 3 points or when every point has the same time. Inputs longer than
/// [`MAX_FIT_POINTS`] are thinned evenly, which keeps the cost O(`MAX_FIT_POINTS`²).
pub fn theil_sen(points: &[(f64, f64)]) -> Option<Fit> {
    let finite: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(t, y)| t.is_finite() && y.is_finite())
        .collect();
    let pts: Vec<(f64, f64)> = if finite.len() > MAX_FIT_POINTS {
        (0..MAX_FIT_POINTS)
            .filter_map(|i| finite.get(i * finite.len() / MAX_FIT_POINTS).copied())
            .collect()
    } else {
        finite
    };
    if pts.len() < 3 {
        return None;
    }
    let mut slopes = Vec::with_capacity(pts.len() * (pts.len() - 1) / 2);
    let (mut concordant, mut discordant) = (0u64, 0u64);
    for (i, &(ti, yi)) in pts.iter().enumerate() {
        for &(tj, yj) in &pts[i + 1..] {
            let (dt, dy) = (tj - ti, yj - yi);
            if dt == 0.0 {
                continue;
            }
            slopes.push(dy / dt);
            if dy != 0.0 {
                if (dt > 0.0) == (dy > 0.0) {
                    concordant += 1;
                } else {
                    discordant += 1;
                }
            }
        }
    }
    let pairs = slopes.len() as f64;
    let slope = median(&mut slopes)?;
    let mut residuals: Vec<f64> = pts.iter().map(|&(t, y)| y - slope * t).collect();
    let intercept = median(&mut residuals)?;
    let tau = (concordant as f64 - discordant as f64) / pairs;
    let quality = if slope > 0.0 {
        tau
    } else if slope < 0.0 {
        -tau
    } else {
        1.0 - tau.abs()
    };
    Some(Fit {
        slope,
        intercept,
        quality: quality.clamp(0.0, 1.0),
    })
}

/// Median by `total_cmp`; the mean of the middle two for an even count; `None` when empty.
/// A selection, not a sort: O(n) for the ~180 000 pairwise slopes of a full window (a sort
/// of them was most of a refit's cost), and the same value a sort gives.
fn median(values: &mut [f64]) -> Option<f64> {
    let (len, mid) = (values.len(), values.len() / 2);
    if len == 0 {
        return None;
    }
    let (below, upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if len % 2 == 1 {
        return Some(upper);
    }
    let lower = below.iter().copied().max_by(f64::total_cmp)?;
    Some((lower + upper) / 2.0)
}

/// Thresholds for the verdict (docs/agent.md, "Limits and leaks").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendConfig {
    /// Samples older than this, relative to the newest, are dropped.
    pub window: Duration,
    /// Until the samples span this long, the verdict is `WarmingUp`.
    pub warmup: Duration,
    /// Slope at or above this per hour is `Growing`.
    pub growing_per_hour: Bytes,
    /// Slope at or above this per hour is `Leaking`.
    pub leaking_per_hour: Bytes,
    /// Fitted growth over the samples' span below this is `Stable` whatever the rate: a
    /// few hundred KiB of allocator or page-cache jitter over a short window extrapolates to
    /// a large hourly rate without being a leak. The default 1 MiB is under half of the
    /// growth the `growing` rate gives over the default 10-minute window.
    pub min_change: Bytes,
    /// Fit quality below this is `Stable` whatever the slope. The default 0.3 sits between
    /// pure noise (τ ≈ 0) and a clean leak carrying 25 % wild outliers (τ ≈ 0.56).
    pub min_quality: f64,
}

impl Default for TrendConfig {
    fn default() -> Self {
        TrendConfig {
            window: Duration::from_secs(10 * 60),
            warmup: Duration::from_secs(2 * 60),
            growing_per_hour: Bytes::from_mib(16),
            leaking_per_hour: Bytes::from_mib(64),
            min_change: Bytes::from_mib(1),
            min_quality: 0.3,
        }
    }
}

/// What the trend says about one service; published as `stable`, `growing`, `leaking` or
/// `warming_up` (the status document's `trend.verdict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Stable,
    Growing,
    Leaking,
    /// The samples do not yet span the warm-up.
    WarmingUp,
}

/// A verdict with the figures behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assessment {
    pub verdict: Verdict,
    /// Theil–Sen slope, bytes per hour (0 when there is no fit yet).
    pub slope_bytes_per_hour: f64,
    /// [`Fit::quality`] (0 when there is no fit yet).
    pub quality: f64,
    /// Samples in the window.
    pub samples: usize,
    /// Seconds from the oldest to the newest sample in the window.
    pub window_secs: f64,
    /// When `Growing` or `Leaking` with a limit: time until `current` reaches the limit at
    /// this slope (zero when already at or past it).
    pub time_to_limit: Option<Duration>,
}

/// The sliding window of one service's memory samples, and its leak-episode state.
#[derive(Debug, Clone)]
pub struct Trend {
    config: TrendConfig,
    samples: VecDeque<(Duration, Bytes)>,
    in_leak: bool,
}

impl Trend {
    pub fn new(config: TrendConfig) -> Self {
        Trend {
            config,
            samples: VecDeque::with_capacity(MAX_SAMPLES),
            in_leak: false,
        }
    }

    /// Adds a sample taken at `t` and drops those outside the window or past
    /// [`MAX_SAMPLES`]. A `t` earlier than the newest sample means a new time origin (e.g. the
    /// service restarted): the window starts afresh.
    pub fn push(&mut self, t: Duration, bytes: Bytes) {
        if self.samples.back().is_some_and(|&(last, _)| t < last) {
            self.samples.clear();
        }
        self.samples.push_back((t, bytes));
        while self
            .samples
            .front()
            .is_some_and(|&(first, _)| t.saturating_sub(first) > self.config.window)
            || self.samples.len() > MAX_SAMPLES
        {
            self.samples.pop_front();
        }
    }

    /// Forgets every sample (the service was restarted); the episode state stays.
    pub fn clear(&mut self) {
        self.samples.clear();
    }

    /// Assesses the window; `current` and `limit` only feed `time_to_limit`.
    pub fn verdict(&self, limit: Option<Bytes>, current: Bytes) -> Assessment {
        let (first, last) = match (self.samples.front(), self.samples.back()) {
            (Some(&(f, _)), Some(&(l, _))) => (f, l),
            _ => (Duration::ZERO, Duration::ZERO),
        };
        let span = last.saturating_sub(first);
        let points: Vec<(f64, f64)> = self
            .samples
            .iter()
            .map(|&(t, b)| (t.saturating_sub(first).as_secs_f64(), b.get() as f64))
            .collect();
        let fit = theil_sen(&points);
        let mut a = Assessment {
            verdict: Verdict::WarmingUp,
            slope_bytes_per_hour: fit.map_or(0.0, |f| f.slope * SECS_PER_HOUR),
            quality: fit.map_or(0.0, |f| f.quality),
            samples: self.samples.len(),
            window_secs: span.as_secs_f64(),
            time_to_limit: None,
        };
        let Some(fit) = fit else { return a };
        if span < self.config.warmup {
            return a;
        }
        let per_hour = a.slope_bytes_per_hour;
        let change = per_hour / SECS_PER_HOUR * a.window_secs;
        a.verdict = if fit.quality < self.config.min_quality
            || change < self.config.min_change.get() as f64
        {
            Verdict::Stable
        } else if per_hour >= self.config.leaking_per_hour.get() as f64 {
            Verdict::Leaking
        } else if per_hour >= self.config.growing_per_hour.get() as f64 {
            Verdict::Growing
        } else {
            Verdict::Stable
        };
        if matches!(a.verdict, Verdict::Growing | Verdict::Leaking) {
            a.time_to_limit = limit.and_then(|limit| {
                let headroom = limit.saturating_sub(current).get() as f64;
                Duration::try_from_secs_f64(headroom / fit.slope).ok()
            });
        }
        a
    }

    /// True only on the transition into `Leaking`, so `leak_suspected` is emitted once per
    /// episode; any other verdict ends the episode and re-arms it.
    pub fn leak_episode(&mut self, assessment: &Assessment) -> bool {
        let leaking = assessment.verdict == Verdict::Leaking;
        let opened = leaking && !self.in_leak;
        self.in_leak = leaking;
        opened
    }
}

#[cfg(test)]
mod tests;
