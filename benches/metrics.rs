//! Cost of a scrape: rendering the metrics text for 20 units (each with its state, memory,
//! GPU memory, restarts, backoff and leak slope) plus everything else the golden status
//! document has (memory, gate, tegrastats, link, every event kind), in both formats. Prints
//! the text's size once. Figures: `docs/benchmarks.md`.
//!
//! ```text
//! cargo bench --bench metrics
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use jetgate::metrics::process::ProcessFigures;
use jetgate::metrics::{render, Format, Snapshot};
use jetgate::mqtt::stats::LinkStats;
use jetgate::status::StatusDocument;

/// The golden agent document with its 4 units repeated to 20 (renamed, so 20 distinct series).
fn snapshot() -> Snapshot {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/status_agent.json"
    );
    let mut status: StatusDocument =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let four = status.services.take().unwrap();
    let units = (0..20)
        .map(|i| {
            let mut u = four[i % four.len()].clone();
            u.name = format!("unit-{i:02}");
            u
        })
        .collect();
    status.services = Some(units);
    Snapshot {
        status,
        link: Some(LinkStats::default()),
        started_unix_ms: 1_764_000_000_000,
        ..Snapshot::default()
    }
}

fn render_20_units(c: &mut Criterion) {
    let s = snapshot();
    let own = ProcessFigures {
        cpu_seconds: 1.5,
        resident_bytes: 10 << 20,
    };
    for format in [Format::Text, Format::OpenMetrics] {
        let text = render(&s, Some(&own), format);
        println!(
            "{format:?}: {} bytes, {} samples",
            text.len(),
            text.lines().filter(|l| !l.starts_with('#')).count()
        );
    }
    c.bench_function("render 20 units, text 0.0.4", |b| {
        b.iter(|| render(black_box(&s), Some(&own), Format::Text))
    });
    c.bench_function("render 20 units, OpenMetrics", |b| {
        b.iter(|| render(black_box(&s), Some(&own), Format::OpenMetrics))
    });
}

criterion_group!(benches, render_20_units);
criterion_main!(benches);
