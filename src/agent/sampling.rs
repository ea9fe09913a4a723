//! The sampling task: takes a full memory sample at the rate the core asks for and sends it to
//! the core loop, stamped with the monotonic instant it was taken.
//!
//! Idle it samples every `sample_interval` (default 100 ms); while a load is in flight the core
//! switches it to `load_sample_interval` (default 5 ms) and names the loading process tree. A
//! switch takes effect at once, not after the current idle sleep. A failed sample is reported to
//! the core once per distinct error (the gate then has no fresh reading and admits nothing),
//! never in a loop.
//!
//! The fast path reads only the system and cgroup figures the kill decision rests on. The
//! loading tree's PSS is read apart, on a blocking thread every [`TREE_INTERVAL`], and the
//! latest figure rides along in each sample: `smaps_rollup` walks the page tables of a model
//! that may already hold gigabytes (tens of milliseconds, under the model's mmap lock), and a
//! kill must never wait behind it.
#![allow(clippy::disallowed_methods)] // stamps each sample with the monotonic clock

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::tasks::Tasks;
use tokio::sync::{mpsc, watch};

use crate::gate::MemReading;
use crate::sources::{MemorySample, Root, Sampler, TreeDetail, TreeSampler, TreeTotals};

/// How often the loading tree's PSS is read while a load is in flight.
pub const TREE_INTERVAL: Duration = Duration::from_millis(100);

/// The latest tree reading, shared between the tree thread and the fast loop.
type LatestTree = Arc<Mutex<Option<TreeTotals>>>;

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
        loading_tree_pss_file: sample
            .tree
            .filter(|_| tree_is_loading)
            .and_then(|t| t.pss_file),
        loading_gpu: None,
    }
}

/// Samples until cancelled or until the core stops listening.
pub async fn run(
    mut sampler: Sampler,
    root: Root,
    mut plan: watch::Receiver<SamplingPlan>,
    out: mpsc::Sender<Sampled>,
    tasks: Tasks,
) {
    let cancel = tasks.token();
    let latest_tree: LatestTree = Arc::default();
    tasks.spawn(watch_tree(
        root,
        plan.clone(),
        latest_tree.clone(),
        tasks.clone(),
    ));
    let mut last_error: Option<String> = None;
    loop {
        let current = *plan.borrow_and_update();
        let taken_at = Instant::now();
        let message = match sampler.sample(None) {
            Ok(mut sample) => {
                last_error = None;
                let tree = latest_tree.lock().ok().and_then(|t| *t);
                sample.tree = tree.filter(|t| Some(t.root_pid) == current.tree_root);
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

/// Reads the named tree every [`TREE_INTERVAL`] on a blocking thread while there is one.
async fn watch_tree(
    root: Root,
    mut plan: watch::Receiver<SamplingPlan>,
    latest: LatestTree,
    tasks: Tasks,
) {
    let cancel = tasks.token();
    let mut trees = Some(TreeSampler::new(root));
    loop {
        let wanted = plan.borrow_and_update().tree_root;
        // Take the reader only when there is a tree to read: it comes back with the result.
        if let Some((pid, mut sampler)) = wanted.and_then(|pid| Some((pid, trees.take()?))) {
            let read = tasks
                .spawn_blocking(move || {
                    let totals = sampler
                        .sample_detail(pid, TreeDetail::Memory)
                        .ok()
                        .flatten();
                    (sampler, totals)
                })
                .await;
            let Ok((sampler, totals)) = read else { return };
            trees = Some(sampler);
            if let Ok(mut slot) = latest.lock() {
                *slot = totals;
            }
        }
        // With no tree to read, sleep until the plan names one: no wake-ups while idle.
        let pause = async {
            match wanted {
                Some(_) => tokio::time::sleep(TREE_INTERVAL).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = pause => {}
            changed = plan.changed() => if changed.is_err() { return },
        }
    }
}
