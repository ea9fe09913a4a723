//! Tests of leak trends: exact and noisy fits, verdicts, warm-up, outliers, episodes.
use super::*;
use proptest::prelude::*;

const MIB: f64 = Bytes::MIB as f64;

fn trend_of(series: impl IntoIterator<Item = (u64, u64)>) -> Trend {
    let mut trend = Trend::new(TrendConfig::default());
    for (s, b) in series {
        trend.push(Duration::from_secs(s), Bytes(b));
    }
    trend
}

#[test]
fn declines_to_fit_fewer_than_three_points_or_a_zero_time_span() {
    assert_eq!(theil_sen(&[(0.0, 1.0), (1.0, 2.0)]), None);
    assert_eq!(theil_sen(&[(5.0, 1.0), (5.0, 2.0), (5.0, 9.0)]), None);
}

#[test]
fn fits_slope_and_intercept_of_an_exact_line() {
    let pts: Vec<_> = (0..10).map(|i| (i as f64, 7.0 + 3.0 * i as f64)).collect();
    let fit = theil_sen(&pts);
    assert_eq!(
        fit,
        Some(Fit {
            slope: 3.0,
            intercept: 7.0,
            quality: 1.0
        })
    );
}

#[test]
fn leaking_at_twenty_mib_per_second_over_the_window_is_leaking_within_twenty_percent() {
    let trend = trend_of((0..=600).map(|s| (s, (1 << 30) + 20 * Bytes::MIB * s)));
    let a = trend.verdict(None, Bytes::ZERO);
    assert_eq!(a.verdict, Verdict::Leaking);
    let want = 20.0 * MIB * SECS_PER_HOUR;
    assert!((a.slope_bytes_per_hour - want).abs() <= 0.2 * want, "{a:?}");
    assert_eq!(a.samples, MAX_SAMPLES);
}

#[test]
fn a_series_shorter_than_the_warmup_is_warming_up() {
    let trend = trend_of((0..119).map(|s| (s, Bytes::GIB + 20 * Bytes::MIB * s)));
    let a = trend.verdict(Some(Bytes::from_gib(8)), Bytes::from_gib(1));
    assert_eq!(a.verdict, Verdict::WarmingUp);
    assert_eq!(a.time_to_limit, None);
}

#[test]
fn projects_time_to_limit_on_a_known_line() {
    // 1 MiB/s; 100 MiB of headroom left → 100 s.
    let trend = trend_of((0..=300).map(|s| (s, Bytes::GIB + Bytes::MIB * s)));
    let current = Bytes(Bytes::GIB + 300 * Bytes::MIB);
    let a = trend.verdict(Some(current.saturating_add(Bytes::from_mib(100))), current);
    assert_eq!(a.verdict, Verdict::Leaking);
    let ttl = a.time_to_limit.map(|d| d.as_secs_f64());
    assert!(ttl.is_some_and(|s| (s - 100.0).abs() < 1e-6), "{ttl:?}");
    assert_eq!(a.window_secs, 300.0);
    let past = trend.verdict(Some(Bytes::from_gib(1)), current);
    assert_eq!(past.time_to_limit, Some(Duration::ZERO));
    assert_eq!(trend.verdict(None, current).time_to_limit, None);
}

#[test]
fn slow_growth_between_the_thresholds_is_growing() {
    // 32 MiB/h, sampled every 5 s.
    let trend = trend_of((0..=120).map(|i| (5 * i, Bytes::GIB + 32 * Bytes::MIB * 5 * i / 3600)));
    let a = trend.verdict(Some(Bytes::from_gib(2)), Bytes::from_gib(1));
    assert_eq!(a.verdict, Verdict::Growing, "{a:?}");
    assert!(a.time_to_limit.is_some());
}

#[test]
fn a_shrinking_series_is_stable_with_no_time_to_limit() {
    let trend = trend_of((0..=300).map(|s| (s, 4 * Bytes::GIB - Bytes::MIB * s)));
    let a = trend.verdict(Some(Bytes::from_gib(8)), Bytes::from_gib(1));
    assert_eq!((a.verdict, a.time_to_limit), (Verdict::Stable, None));
}

#[test]
fn a_poor_fit_is_stable_never_leaking() {
    // A leak buried under a zigzag far larger than its whole rise: τ ≈ 0.5.
    let trend = trend_of((0..=600).map(|s| {
        let zig = if s % 2 == 0 { 0 } else { 4 * Bytes::GIB };
        (s, Bytes::GIB + Bytes::MIB * s + zig)
    }));
    assert_eq!(
        trend.verdict(None, Bytes::from_gib(1)).verdict,
        Verdict::Leaking
    );
    let strict = Trend {
        config: TrendConfig {
            min_quality: 0.9,
            ..TrendConfig::default()
        },
        ..trend
    };
    let a = strict.verdict(None, Bytes::from_gib(1));
    assert_eq!(a.verdict, Verdict::Stable, "{a:?}");
}

#[test]
fn keeps_only_the_window_and_starts_afresh_when_time_goes_back() {
    let mut trend = trend_of((0..2000).map(|s| (s * 2, Bytes::GIB)));
    let a = trend.verdict(None, Bytes::from_gib(1));
    assert_eq!((a.samples, a.window_secs), (301, 600.0));
    trend.push(Duration::from_secs(1), Bytes::from_gib(1));
    assert_eq!(trend.verdict(None, Bytes::from_gib(1)).samples, 1);
}

#[test]
fn fires_leak_suspected_once_per_episode_and_rearms_after_it_ends() {
    let mut trend = Trend::new(TrendConfig::default());
    let with = |verdict| Assessment {
        verdict,
        slope_bytes_per_hour: 0.0,
        quality: 1.0,
        samples: 0,
        window_secs: 0.0,
        time_to_limit: None,
    };
    let fired: Vec<bool> = [
        Verdict::WarmingUp,
        Verdict::Leaking,
        Verdict::Leaking,
        Verdict::Growing,
        Verdict::Leaking,
        Verdict::Leaking,
    ]
    .into_iter()
    .map(|v| trend.leak_episode(&with(v)))
    .collect();
    assert_eq!(fired, [false, true, false, false, true, false]);
}

/// Strictly increasing sample times (seconds) with irregular gaps, spanning ≥ warm-up.
fn times() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(1u64..=4, 60..=300).prop_map(|gaps| {
        gaps.iter()
            .scan(0u64, |t, g| {
                *t += g;
                Some(*t)
            })
            .collect()
    })
}

proptest! {
    // Each case fits up to 600 points (180 000 pairs); 64 cases keep a debug run short.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_constant_series_has_slope_zero_and_is_stable(
        ts in times(), level in 0u64..(64 * Bytes::GIB)
    ) {
        let trend = trend_of(ts.iter().map(|&t| (t, level)));
        let a = trend.verdict(Some(Bytes(level)), Bytes(level));
        prop_assert_eq!(a.slope_bytes_per_hour, 0.0);
        prop_assert_eq!(a.verdict, Verdict::Stable);
        prop_assert_eq!(a.time_to_limit, None);
    }

    #[test]
    fn a_linear_series_is_found_within_one_percent_of_its_slope(
        ts in times(), slope in 1.0f64..(50.0 * MIB), base in 0.0f64..(8.0 * Bytes::GIB as f64)
    ) {
        let pts: Vec<(f64, f64)> =
            ts.iter().map(|&t| (t as f64, base + slope * t as f64)).collect();
        let fit = theil_sen(&pts);
        prop_assert!(fit.is_some_and(|f| (f.slope - slope).abs() <= 0.01 * slope), "{fit:?}");
    }

    #[test]
    fn a_quarter_of_wild_outliers_does_not_flip_flat_to_leaking(
        noise in prop::collection::vec(0u64..(64 * Bytes::KIB), 200..=600),
        wild in prop::collection::vec((any::<prop::sample::Index>(), 0u64..(16 * Bytes::GIB)), 0..=150),
    ) {
        let mut ys: Vec<u64> = noise.iter().map(|n| 2 * Bytes::GIB + n).collect();
        let k = ys.len() / 4;
        for (i, v) in wild.iter().take(k) {
            let idx = i.index(ys.len());
            if let Some(y) = ys.get_mut(idx) { *y = *v; }
        }
        let trend = trend_of(ys.iter().enumerate().map(|(s, &y)| (s as u64, y)));
        let a = trend.verdict(None, Bytes::from_gib(1));
        prop_assert_ne!(a.verdict, Verdict::Leaking, "{:?}", a);
    }

    #[test]
    fn a_quarter_of_wild_outliers_does_not_flip_leaking_to_stable(
        noise in prop::collection::vec(0u64..(64 * Bytes::KIB), 200..=600),
        per_sec in (Bytes::MIB / 8)..(20 * Bytes::MIB),
        wild in prop::collection::vec((any::<prop::sample::Index>(), 0u64..(16 * Bytes::GIB)), 0..=150),
    ) {
        let mut ys: Vec<u64> = noise
            .iter()
            .enumerate()
            .map(|(s, n)| Bytes::GIB + per_sec * s as u64 + n)
            .collect();
        let k = ys.len() / 4;
        let mut hit = std::collections::BTreeSet::new();
        for (i, v) in &wild {
            let idx = i.index(ys.len());
            if hit.len() < k && hit.insert(idx) {
                if let Some(y) = ys.get_mut(idx) { *y = *v; }
            }
        }
        let trend = trend_of(ys.iter().enumerate().map(|(s, &y)| (s as u64, y)));
        let a = trend.verdict(None, Bytes::from_gib(1));
        prop_assert_eq!(a.verdict, Verdict::Leaking, "{:?}", a);
    }
}

#[test]
fn a_clean_rise_too_small_to_matter_over_a_short_window_is_stable() {
    // 100 KiB over 8 s is 45 MiB/h, fitted perfectly: growing by rate, noise by size.
    let config = TrendConfig {
        window: Duration::from_secs(8),
        warmup: Duration::from_secs(3),
        ..TrendConfig::default()
    };
    let mut trend = Trend::new(config);
    for s in 0..=8u64 {
        trend.push(Duration::from_secs(s), Bytes((64 << 20) + s * 12_800));
    }
    let a = trend.verdict(None, Bytes::ZERO);
    assert!(a.slope_bytes_per_hour > 40.0 * MIB, "{a:?}");
    assert_eq!(a.verdict, Verdict::Stable, "{a:?}");
    // The same rate sustained over the default window is growth.
    let long = trend_of((0..=600).map(|s| (s, (64 << 20) + s * 12_800)));
    assert_eq!(long.verdict(None, Bytes::ZERO).verdict, Verdict::Growing);
}

proptest! {
    /// The selection gives exactly what sorting gives (the refit's figures did not change).
    #[test]
    fn the_median_by_selection_is_the_median_by_sorting(
        values in proptest::collection::vec(-1e12f64..1e12, 0..200),
    ) {
        let mut sorted = values.clone();
        sorted.sort_unstable_by(f64::total_cmp);
        let by_sort = match sorted.len() {
            0 => None,
            n if n % 2 == 1 => Some(sorted[n / 2]),
            n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
        };
        let mut scratch = values;
        prop_assert_eq!(median(&mut scratch), by_sort);
    }
}
