//! The watcher's I/O edge: reading each running unit's tree (PSS, GPU memory, fds, threads)
//! on the refresh's blocking thread. Each tree goes to the engine as its own
//! [`Input::Tree`](crate::agent::engine::Input::Tree), which judges it.
#![allow(clippy::disallowed_methods)] // stamps each tree reading and decision with the monotonic clock

use std::time::Instant;

use crate::agent::watch::TreeReading;
use crate::sources::nvmap::read_nvmap_clients;
use crate::sources::TreeSampler;

/// Reads each `(name, pid)` tree at full detail (fds included); GPU memory from nvmap's
/// per-process figures, read once for all trees, where this board and user can read them.
pub(super) fn read_trees(
    reader: &mut TreeSampler,
    pids: Vec<(String, u32)>,
) -> Vec<(String, Option<TreeReading>)> {
    let nvmap = read_nvmap_clients(reader.reader().root()).ok();
    let mut members = Vec::new();
    pids.into_iter()
        .map(|(name, pid)| {
            let totals = reader.sample(pid).ok().flatten();
            let reading = totals.map(|t| {
                members.clear();
                members.extend(reader.members().iter().map(|m| m.pid));
                TreeReading {
                    pid,
                    tree_pss: t.pss,
                    pss_file: t.pss_file,
                    gpu: nvmap.as_ref().map(|c| c.for_pids(&members)),
                    fds: (t.fds_unknown < t.processes).then_some(t.fds),
                    threads: t.threads,
                    taken_at: Instant::now(),
                }
            });
            (name, reading)
        })
        .collect()
}
