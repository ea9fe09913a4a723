//! File probes: a readiness file that must exist, and a heartbeat file whose mtime must advance.
//!
//! The heartbeat is stale when its mtime is more than `stale_after` before `now` (an argument:
//! the caller's clock, so tests set mtimes and pass a `now`). An mtime in the future counts as
//! fresh (a clock step must not restart a healthy service).
//!
//! ```text
//! heartbeat("/run/llama.hb", 30s, now) → "heartbeat /run/llama.hb is 42s old (limit 30s)"
//! ```

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::ProbeOutcome;

/// Ready when `path` exists.
pub fn file_exists(path: &Path) -> ProbeOutcome {
    if path.exists() {
        ProbeOutcome::pass(format!("{} exists", path.display()), Duration::ZERO)
    } else {
        ProbeOutcome::fail(format!("{} does not exist", path.display()), Duration::ZERO)
    }
}

/// Live while `path` was modified at most `stale_after` before `now`.
pub fn heartbeat(path: &Path, stale_after: Duration, now: SystemTime) -> ProbeOutcome {
    let mtime = match std::fs::metadata(path).and_then(|m| m.modified()) {
        Ok(t) => t,
        Err(e) => {
            return ProbeOutcome::fail(
                format!("heartbeat {} unreadable: {e}", path.display()),
                Duration::ZERO,
            )
        }
    };
    let age = now.duration_since(mtime).unwrap_or(Duration::ZERO);
    let detail = format!(
        "heartbeat {} is {}s old (limit {stale_after:?})",
        path.display(),
        age.as_secs()
    );
    if age > stale_after {
        ProbeOutcome::fail(detail, Duration::ZERO)
    } else {
        ProbeOutcome::pass(detail, Duration::ZERO)
    }
}
