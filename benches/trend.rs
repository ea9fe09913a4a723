//! Cost of the leak-trend refit: one Theil–Sen fit over a full window (the default 10 min at
//! 1 Hz: 600 samples) and one refresh of 20 services whose windows are all full, as the
//! engine runs them on the core loop once a second. Figures: `docs/benchmarks.md`.
//!
//! ```text
//! cargo bench --bench trend
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use jetgate::supervisor::trend::{theil_sen, Trend, TrendConfig, MAX_SAMPLES};
use jetgate::units::Bytes;

/// A leak of 20 MiB/s with a little deterministic jitter, one sample a second.
fn leaking_samples(n: usize) -> Vec<(Duration, Bytes)> {
    (0..n as u64)
        .map(|s| {
            let jitter = (s * 7919 % 13) << 16;
            (
                Duration::from_secs(s),
                Bytes::from_mib(1024 + 20 * s) + Bytes(jitter),
            )
        })
        .collect()
}

fn full_trend() -> Trend {
    let mut trend = Trend::new(TrendConfig::default());
    for (t, b) in leaking_samples(MAX_SAMPLES) {
        trend.push(t, b);
    }
    trend
}

fn refit(c: &mut Criterion) {
    let points: Vec<(f64, f64)> = leaking_samples(MAX_SAMPLES)
        .into_iter()
        .map(|(t, b)| (t.as_secs_f64(), b.get() as f64))
        .collect();
    c.bench_function("theil_sen/600 points", |b| {
        b.iter(|| theil_sen(black_box(&points)))
    });
    let mut group = c.benchmark_group("refresh of full windows");
    for services in [1usize, 20] {
        let trends: Vec<Trend> = (0..services).map(|_| full_trend()).collect();
        group.bench_with_input(
            BenchmarkId::from_parameter(services),
            &trends,
            |b, trends| {
                b.iter(|| {
                    for trend in trends {
                        black_box(trend.verdict(Some(Bytes::from_gib(16)), Bytes::from_gib(13)));
                    }
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = refit
}
criterion_main!(benches);
