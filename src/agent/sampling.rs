//! The sampling task: takes a full memory sample at the rate the core asks for and sends it to
//! the core loop, stamped with the monotonic instant it was taken.
//!
//! Idle it samples every `sample_interval` (default 100 ms); while a load is in flight the core
//! switches it to `load_sample_interval` (default 5 ms) and names the loading process tree, whose
//! PSS then rides along in each sample. A switch takes effect at once, not after the current
//! idle sleep. A failed sample is reported to the core once per distinct error (the gate then
//! has no fresh reading and admits nothing), never in a loop.
#![allow(clippy::disallowed_methods)] // stamps each sample with the monotonic clock

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::gate::MemReading;
use crate::sources::{MemorySample, Sampler};

/// What the core wants sampled, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamplingPlan {
    pub interval: Duration,
    /// The loading model's process (its tree's PSS is read each sample).
    pub tree_root: Option<u32>,
}

/// One message from the sampling task.
#[derive(Debug, Clone)]
pub enum Sampled {
    Sample {
        sample: Box<MemorySample>,
        taken_at: Instant,
    },
    /// A sample failed; sent once per distinct error until a sample succeeds again.
    Failed { error: String },
}

/// The gate's reading from a sample: `total` is the cgroup limit where the scope has one
/// (what can ever fit), else `MemTotal`.
pub fn reading(sample: &MemorySample, taken_at: Instant, tree_is_loading: bool) -> MemReading {
    let total = match sample.cgroup.and_then(|c| c.limit) {
        Some(limit) if sample.available_from == crate::sources::AvailableFrom::Cgroup => {
            limit.min(sample.meminfo.total)
        }
        _ => sample.meminfo.total,
    };
    MemReading {
        available: sample.available,
        total,
        taken_at,
        loading_tree_pss: sample.tree.filter(|_| tree_is_loading).map(|t| t.pss),
        loading_gpu: None,
    }
}

/// Samples until cancelled or until the core stops listening.
pub async fn run(
    mut sampler: Sampler,
    mut plan: watch::Receiver<SamplingPlan>,
    out: mpsc::Sender<Sampled>,
    cancel: CancellationToken,
) {
    let mut last_error: Option<String> = None;
    loop {
        let current = *plan.borrow_and_update();
        let taken_at = Instant::now();
        let message = match sampler.sample(current.tree_root) {
            Ok(sample) => {
                last_error = None;
                Some(Sampled::Sample {
                    sample: Box::new(sample),
                    taken_at,
                })
            }
            Err(e) => {
                let text = e.to_string();
                if last_error.as_deref() == Some(text.as_str()) {
                    None
                } else {
                    last_error = Some(text.clone());
                    Some(Sampled::Failed { error: text })
                }
            }
        };
        if let Some(m) = message {
            if out.send(m).await.is_err() {
                return;
            }
        }
        let next = tokio::time::Instant::from_std(taken_at + current.interval);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep_until(next) => {}
            changed = plan.changed() => if changed.is_err() { return },
        }
    }
}
