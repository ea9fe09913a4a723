//! The sampling task: takes a full memory sample at the rate the core asks for and sends it to
//! the core loop, stamped with the monotonic instant it was taken.
//!
//! Idle it samples every `sample_interval` (default 100 ms); while a load is in flight the core
//! switches it to `load_sample_interval` (default 5 ms) and names the loading process tree. A
//! switch takes effect at once, not after the current idle sleep. A failed sample is reported to
//! the core once per distinct error (the gate then has no fresh reading and admits nothing),
//! never in a loop; a source (meminfo, PSI, the cgroup) that was read and then fails is one
//! `source_unavailable`, and its return one `source_recovered` ([`SourceWatch`]).
//!
//! The fast path reads only the system and cgroup figures the kill decision rests on. The
//! loading tree's PSS (and its GPU memory, from nvmap's or NVML's per-process figures where
//! this device and user have them, and where the GPU allocates from the device's DRAM) is read
//! apart, on a blocking thread every [`TREE_INTERVAL`], and the
//! latest figures ride along in each sample: `smaps_rollup` walks the page tables of a model
//! that may already hold gigabytes (tens of milliseconds, under the model's mmap lock), and a
//! kill must never wait behind it.
//!
//! How fast is the core's decision ([`rate`]): the load rate during a load, `sample_interval`
//! while anything else is happening or memory is near the reserve, the idle rate otherwise. At
//! the idle rate a kernel notification ([`waker`]: a cgroup v1 usage threshold, a PSI trigger)
//! wakes the sampler at once.
#![allow(clippy::disallowed_methods)] // stamps each sample with the monotonic clock

pub mod rate;
pub mod waker;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::tasks::Tasks;
use tokio::sync::{mpsc, watch};

use crate::agent::source_watch::SourceWatch;
use crate::event::NewEvent;
use crate::gate::MemReading;
use crate::runner::ChildCgroup;
use crate::sources::{
    MemorySample, ProcessGpuReader, Root, Sampler, TreeDetail, TreeSampler, TreeTotals,
};
use crate::units::Bytes;
pub use waker::Waker;

/// How often the loading tree's PSS is read while a load is in flight.
pub const TREE_INTERVAL: Duration = Duration::from_millis(100);

/// The loading tree as the tree thread last read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LoadingTree {
    totals: TreeTotals,
    /// Per-process GPU memory summed over the tree's members; `None` where no source is
    /// readable (not a Jetson and no NVML, an Orin read as a user) or the GPU has memory of its
    /// own (a discrete GPU: not the device's DRAM, so not the gate's business).
    gpu: Option<Bytes>,
}

/// The latest tree reading, shared between the tree thread and the fast loop.
type LatestTree = Arc<Mutex<Option<LoadingTree>>>;

/// What the core wants sampled, and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamplingPlan {
    pub interval: Duration,
    /// The loading model's process (its tree's PSS is read each sample).
    pub tree_root: Option<u32>,
    /// A container unit's cgroup: the tree is its members ([`tree_members`]).
    pub tree_cgroup: Option<PathBuf>,
}

/// The pids of a container unit's cgroup and the cgroups below it, for
/// [`TreeSampler::sample_members`]; empty when it cannot be read.
pub fn tree_members(cgroup: &Path) -> Vec<u32> {
    let cg = ChildCgroup {
        version: crate::sources::CgroupVersion::V1, // reading pids is the same in v1 and v2
        path: cgroup.to_path_buf(),
    };
    cg.pids()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| u32::try_from(p).ok())
        .collect()
}

/// One message from the sampling task.
#[derive(Debug, Clone)]
pub enum Sampled {
    Sample {
        sample: Box<MemorySample>,
        taken_at: Instant,
        /// GPU memory of the loading tree, where known per process and drawn from DRAM.
        loading_gpu: Option<Bytes>,
    },
    /// A sample failed; sent once per distinct error until a sample succeeds again.
    Failed { error: String },
    /// A source became unreadable or readable again ([`SourceWatch`]): the event to record.
    Source(Box<NewEvent>),
}

/// The gate's reading from a sample: `total` is the cgroup limit where the scope has one
/// (what can ever fit), else `MemTotal`.
pub fn reading(
    sample: &MemorySample,
    taken_at: Instant,
    tree_is_loading: bool,
    loading_gpu: Option<Bytes>,
) -> MemReading {
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
        loading_gpu: loading_gpu.filter(|_| tree_is_loading && sample.tree.is_some()),
    }
}

/// Samples until cancelled or until the core stops listening; woken early by a plan change
/// or a kernel notification (`waker`).
pub async fn run(
    mut sampler: Sampler,
    mut waker: Waker,
    root: Root,
    gpu: ProcessGpuReader,
    mut plan: watch::Receiver<SamplingPlan>,
    out: mpsc::Sender<Sampled>,
    tasks: Tasks,
) {
    let cancel = tasks.token();
    let latest_tree: LatestTree = Arc::default();
    tasks.spawn(watch_tree(
        root,
        gpu,
        plan.clone(),
        latest_tree.clone(),
        tasks.clone(),
    ));
    let mut last_error: Option<String> = None;
    let mut sources = SourceWatch::default();
    loop {
        let current = plan.borrow_and_update().clone();
        let taken_at = Instant::now();
        let sampled = sampler.sample(None);
        for event in sources.observe(sampler.reads(), taken_at) {
            if out.send(Sampled::Source(Box::new(event))).await.is_err() {
                return;
            }
        }
        let message = match sampled {
            Ok(mut sample) => {
                last_error = None;
                waker.follow(&sample);
                let tree = latest_tree.lock().ok().and_then(|t| *t);
                let tree = tree.filter(|t| Some(t.totals.root_pid) == current.tree_root);
                sample.tree = tree.map(|t| t.totals);
                Some(Sampled::Sample {
                    sample: Box::new(sample),
                    taken_at,
                    loading_gpu: tree.and_then(|t| t.gpu),
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
            _ = waker.notified() => tracing::debug!("sampler woken by a kernel notification"),
        }
    }
}

/// GPU memory of the tree `sampler` just read, summed over its members, where the GPU draws
/// it from the device's DRAM; `None` where no source can say or the GPU is discrete.
fn tree_gpu(sampler: &mut TreeSampler, gpu: &ProcessGpuReader) -> Option<Bytes> {
    // A discrete GPU's memory is not the DRAM the gate guards: not read at the loading rate.
    if !gpu.shares_dram() {
        return None;
    }
    let reading = gpu.read(sampler.reader().root())?;
    if !reading.shares_dram {
        return None;
    }
    let pids: Vec<u32> = sampler.members().iter().map(|m| m.pid).collect();
    reading.for_pids(&pids)
}

/// Reads the named tree every [`TREE_INTERVAL`] on a blocking thread while there is one.
async fn watch_tree(
    root: Root,
    gpu: ProcessGpuReader,
    mut plan: watch::Receiver<SamplingPlan>,
    latest: LatestTree,
    tasks: Tasks,
) {
    let cancel = tasks.token();
    let mut trees = Some(TreeSampler::new(root));
    loop {
        let (wanted, cgroup) = {
            let plan = plan.borrow_and_update();
            (plan.tree_root, plan.tree_cgroup.clone())
        };
        // Take the reader only when there is a tree to read: it comes back with the result.
        if let Some((pid, mut sampler)) = wanted.and_then(|pid| Some((pid, trees.take()?))) {
            let gpu = gpu.clone();
            let read = tasks
                .spawn_blocking(move || {
                    let tree = match &cgroup {
                        Some(dir) => {
                            sampler.sample_members(pid, &tree_members(dir), TreeDetail::Memory)
                        }
                        None => sampler.sample_detail(pid, TreeDetail::Memory),
                    };
                    let tree = tree.ok().flatten().map(|totals| LoadingTree {
                        totals,
                        gpu: tree_gpu(&mut sampler, &gpu),
                    });
                    (sampler, tree)
                })
                .await;
            let Ok((sampler, tree)) = read else { return };
            trees = Some(sampler);
            if let Ok(mut slot) = latest.lock() {
                *slot = tree;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// A root whose `/proc` is this machine's and whose nvmap lists `pid` with `kib` KiB.
    fn root_with_nvmap(pid: u32, kib: u64) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/proc", dir.path().join("proc")).unwrap();
        let nvmap = dir.path().join("sys/kernel/debug/nvmap/iovmm");
        std::fs::create_dir_all(&nvmap).unwrap();
        std::fs::write(
            nvmap.join("clients"),
            format!(
                "CLIENT                        PROCESS      PID        SIZE\n\
                 user                       gnome-shell        1     36868K\n\
                 user                            sleep {pid:>8} {kib:>9}K\n\
                 total                                              99999K\n"
            ),
        )
        .unwrap();
        dir
    }

    #[test]
    fn the_loading_trees_gpu_memory_is_nvmaps_figure_for_its_members() {
        let mut child = Command::new("sleep")
            .arg("30")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let root = root_with_nvmap(pid, 2048);
        let mut sampler = TreeSampler::new(Root::new(root.path()));
        let totals = sampler.sample_detail(pid, TreeDetail::Memory).unwrap();
        assert!(totals.is_some());
        // pid 1's share is not this tree's.
        let gpu = ProcessGpuReader::nvmap_only();
        assert_eq!(tree_gpu(&mut sampler, &gpu), Some(Bytes::from_mib(2)));
        // Where nvmap cannot be read (not a Jetson, not root), there is no figure, not zero.
        std::fs::remove_dir_all(root.path().join("sys")).unwrap();
        assert_eq!(tree_gpu(&mut sampler, &gpu), None);
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn a_reading_carries_the_gpu_figure_only_for_a_loading_tree() {
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/orin-nano-8gb-jp6");
        let mut sample = Sampler::new(Root::new(&fixture), crate::sources::Scope::System)
            .sample(None)
            .expect("the fixture samples");
        let at = Instant::now();
        let gpu = Some(Bytes::from_gib(1));
        assert_eq!(
            reading(&sample, at, true, gpu).loading_gpu,
            None,
            "no tree read yet"
        );
        sample.tree = Some(TreeTotals::default());
        assert_eq!(reading(&sample, at, true, gpu).loading_gpu, gpu);
        assert_eq!(reading(&sample, at, false, gpu).loading_gpu, None);
    }
}
