//! Fills a store for the end-to-end events benchmark (`scripts/bench-events.sh`): TOTAL events
//! over the 30 days before now, the last RECENT of them within the last hour.
//!
//! ```text
//! cargo run --release --example fill_store -- PATH [TOTAL=1000000] [RECENT=10000]
//! ```
#![allow(clippy::disallowed_methods)] // a benchmark fixture reads the clock by definition

use jetgate::clock;
#[path = "common/synthetic.rs"]
mod synthetic;
use jetgate::store::Store;
use synthetic::event;

const SPAN_MS: u64 = 30 * 24 * 3_600_000;
const RECENT_SPAN_MS: u64 = 50 * 60_000; // the recent events cover the last 50 minutes
const BATCH: u64 = 10_000;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: fill_store PATH [TOTAL] [RECENT]"))?;
    let total: u64 = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let recent: u64 = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let old = total.saturating_sub(recent);
    let mut store = Store::open(&path)?;
    let now = clock::now_unix_ms();
    let mut i = 0;
    while i < total {
        let end = (i + BATCH).min(if i < old { old } else { total });
        let at = if i < old {
            now - SPAN_MS + (SPAN_MS - 2 * RECENT_SPAN_MS) * i / old.max(1)
        } else {
            now - RECENT_SPAN_MS + RECENT_SPAN_MS * (i - old) / recent.max(1)
        };
        store.append_batch_at((i..end).map(event).collect(), at)?;
        i = end;
    }
    println!("{total} events in {path} (the last {recent} within the hour)");
    Ok(())
}
