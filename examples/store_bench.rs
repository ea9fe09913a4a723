//! Store benchmark: insert rates (single commits and batches) and `query(since 1h)` latency on
//! a store of one million events. Figures go to `docs/benchmarks-store.md`.
//!
//! ```text
//! cargo run --release --example store_bench -- [DIR]     # DIR defaults to a temporary dir
//! ```
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock by definition

use std::time::{Duration, Instant};

use jetgate::clock;
use jetgate::event::EventKind;
#[path = "common/synthetic.rs"]
mod synthetic;
use jetgate::store::{EventFilter, Store};
use synthetic::event;

const TOTAL: u64 = 1_000_000;
const SPAN_MS: u64 = 30 * 24 * 3_600_000; // the million events cover 30 days
const HOUR_MS: u64 = 3_600_000;

fn per_sec(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let path = dir.join("bench.db");
    let _ = std::fs::remove_file(&path);
    let mut store = Store::open(&path)?;
    println!("store: {}", path.display());

    // 1. single appends: one transaction and one fsync (synchronous=FULL) each.
    let n = 500;
    let t = Instant::now();
    for i in 0..n {
        store.append(event(i))?;
    }
    let single = t.elapsed();
    println!(
        "single append:   {n} events in {single:?} = {:.0} events/s",
        per_sec(n, single)
    );

    // 2. batched appends of 100 (a burst), one fsync per batch.
    let (batches, size) = (100, 100);
    let t = Instant::now();
    for b in 0..batches {
        store.append_batch((0..size).map(|i| event(b * size + i)).collect())?;
    }
    let batched = t.elapsed();
    println!(
        "batch of {size}:    {} events in {batched:?} = {:.0} events/s",
        batches * size,
        per_sec(batches * size, batched)
    );

    // 3. fill to one million events spread over 30 days ending now, in batches of 10 000.
    let now = clock::now_unix_ms();
    let start = now - SPAN_MS;
    let have = n + batches * size;
    let t = Instant::now();
    let mut i = have;
    while i < TOTAL {
        let end = (i + 10_000).min(TOTAL);
        let at = start + SPAN_MS * i / TOTAL;
        store.append_batch_at((i..end).map(event).collect(), at)?;
        i = end;
    }
    let fill = t.elapsed();
    println!(
        "fill:            {} events in {fill:?} = {:.0} events/s (batches of 10 000)",
        TOTAL - have,
        per_sec(TOTAL - have, fill)
    );
    let size_mib = std::fs::metadata(&path)?.len() as f64 / (1 << 20) as f64;
    println!("db size:         {size_mib:.1} MiB");

    // 4. queries on the full store.
    let since_1h = EventFilter {
        since_ms: Some(now - HOUR_MS),
        ..EventFilter::default()
    };
    let kind_1h = EventFilter {
        kind: Some(EventKind::LoadQueued),
        ..since_1h.clone()
    };
    let tail = EventFilter {
        after_seq: Some(TOTAL - 100),
        ..EventFilter::default()
    };
    for (name, f) in [
        ("since 1h", &since_1h),
        ("since 1h + kind", &kind_1h),
        ("after_seq (last 100)", &tail),
    ] {
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..50 {
            let t = Instant::now();
            rows = store.query(f)?.len();
            times.push(t.elapsed());
        }
        println!(
            "query {name:<22} {rows:>5} rows: median {:?}, max {:?}",
            median(times.clone()),
            times.iter().max().copied().unwrap_or_default()
        );
    }

    // 5. retention down to 100 000 events.
    let t = Instant::now();
    let pruned = store.prune(100_000, u64::MAX, now)?;
    println!("prune to 100k:   {pruned} deleted in {:?}", t.elapsed());
    Ok(())
}
