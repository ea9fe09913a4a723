//! The watcher's I/O edge: reading each running unit's tree (PSS, GPU memory, fds, threads)
//! on the refresh's blocking thread. Each tree goes to the engine as its own
//! [`Input::Tree`](crate::agent::engine::Input::Tree), which judges it.
#![allow(clippy::disallowed_methods)] // stamps each tree reading and decision with the monotonic clock

use std::path::PathBuf;
use std::time::Instant;

use crate::agent::pressure::PressureReading;
use crate::agent::sampling::tree_members;
use crate::agent::watch::TreeReading;
use crate::sources::refaults::RefaultSource;
use crate::sources::{read_pressure, Root};
use crate::sources::{ProcessGpuReader, TreeDetail, TreeSampler};

/// The scope's PSI and file refaults, for the pressure and thrashing judgement.
pub(super) fn read_pressure_figures(root: &Root, refaults: &RefaultSource) -> PressureReading {
    let mut buf = String::new();
    let psi = read_pressure(root, &mut buf).ok();
    PressureReading {
        taken_at: Instant::now(),
        some_avg10: psi.map(|p| f64::from(p.some.avg10)),
        full_avg10: psi.and_then(|p| p.full).map(|f| f64::from(f.avg10)),
        refaults: refaults.read(root, &mut buf),
    }
}

/// Reads each `(name, pid, container cgroup)` tree at full detail (fds included); GPU memory from the per-process
/// figures (nvmap, else NVML), read once for all trees, where this device and user have them.
pub(super) fn read_trees(
    reader: &mut TreeSampler,
    gpu: &ProcessGpuReader,
    pids: Vec<(String, u32, Option<PathBuf>)>,
) -> Vec<(String, Option<TreeReading>)> {
    let gpu = gpu.read(reader.reader().root());
    let mut members = Vec::new();
    pids.into_iter()
        .map(|(name, pid, cgroup)| {
            // A container unit: its cgroup's members (client, conmon, the container).
            let totals = match &cgroup {
                Some(dir) => reader.sample_members(pid, &tree_members(dir), TreeDetail::Full),
                None => reader.sample(pid),
            };
            let totals = totals.ok().flatten();
            let reading = totals.map(|t| {
                members.clear();
                members.extend(reader.members().iter().map(|m| m.pid));
                TreeReading {
                    pid,
                    tree_pss: t.pss,
                    pss_file: t.pss_file,
                    gpu: gpu.as_ref().and_then(|g| g.for_pids(&members)),
                    fds: (t.fds_unknown < t.processes).then_some(t.fds),
                    threads: t.threads,
                    taken_at: Instant::now(),
                }
            });
            (name, reading)
        })
        .collect()
}
