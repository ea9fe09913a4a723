//! A child's tree followed by parent pid where it has no cgroup: every descendant seen while
//! it lived is remembered, so one that left the process group (`setsid()`, `setpgid()`) is
//! still stopped with its unit.
//!
//! Owned by the child's waiter, which refreshes it every [`TRACK_EVERY`] while the leader runs
//! and once more when it has exited; `stop` and `kill_now` refresh it before they signal. A
//! descendant is `(pid, start ticks)`, so a reused pid is never signalled. What it cannot see:
//! a process that is started and re-parented (its parent exited) between two refreshes. The
//! agent is a child subreaper, so such an orphan comes to the agent rather than to init, and
//! the agent's shutdown sweeps what is left of its own descendants ([`sweep_adopted`]).
//!
//! ```text
//! procs {10←1, 11←10, 12←11, 20←1}  roots [10]  →  {11, 12}   (12 then setsid()s: still 12)
//! ```
#![allow(clippy::disallowed_methods)] // I/O module: the kill loop measures its own deadline

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::cgroup::DRAIN_TIMEOUT;
use super::procstat::{read_stat, ProcStat};
use crate::sources::Root;

/// How often the waiter walks `/proc` for a child without a cgroup.
pub const TRACK_EVERY: Duration = Duration::from_millis(500);

/// A child's [`Descendants`], shared by its waiter and its handles.
pub type SharedDescendants = Arc<Mutex<Descendants>>;

/// The descendants of one child seen so far: pid → start ticks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Descendants {
    known: BTreeMap<i32, u64>,
}

/// Every pid under `roots` in the parent-of relation `procs` (the roots themselves excluded).
pub fn under(procs: &[ProcStat], roots: &[i32]) -> Vec<ProcStat> {
    let mut found: Vec<ProcStat> = Vec::new();
    let mut frontier: Vec<i32> = roots.to_vec();
    while let Some(parent) = frontier.pop() {
        for p in procs.iter().filter(|p| p.ppid == parent) {
            if !roots.contains(&p.pid) && !found.iter().any(|f| f.pid == p.pid) {
                found.push(*p);
                frontier.push(p.pid);
            }
        }
    }
    found
}

/// Every process of `/proc` under `root`, with its stat (zombies left out: they hold nothing).
pub fn read_procs(root: &Root) -> Vec<ProcStat> {
    let Ok(entries) = root.list("/proc") else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| e.parse::<i32>().ok())
        .filter_map(|pid| read_stat(root, pid).ok())
        .filter(|s| s.state != 'Z' && s.state != 'X')
        .collect()
}

impl Descendants {
    /// Pure refresh: forgets what is gone (or whose pid now names another process), then adds
    /// everything under `leader` (while it lives) and under each one still known.
    pub fn refresh_from(&mut self, procs: &[ProcStat], leader: Option<i32>) {
        let alive =
            |pid: i32, start: u64| procs.iter().any(|p| p.pid == pid && p.start_ticks == start);
        self.known.retain(|pid, start| alive(*pid, *start));
        let mut roots: Vec<i32> = self.known.keys().copied().collect();
        roots.extend(leader);
        for p in under(procs, &roots) {
            self.known.insert(p.pid, p.start_ticks);
        }
    }

    /// [`Descendants::refresh_from`] over the live `/proc`.
    pub fn refresh(&mut self, root: &Root, leader: Option<i32>) {
        self.refresh_from(&read_procs(root), leader);
    }

    /// The pids known and alive at the last refresh.
    pub fn pids(&self) -> Vec<i32> {
        self.known.keys().copied().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// Sends `signal` to every known descendant that is still the same process; returns how
    /// many were signalled.
    pub fn signal(&self, root: &Root, signal: Signal) -> usize {
        let mut sent = 0;
        for (pid, start) in &self.known {
            let same = read_stat(root, *pid)
                .is_ok_and(|s| s.start_ticks == *start && s.state != 'Z' && s.state != 'X');
            // ESRCH: it ended between the check and the signal, which is what we want.
            if same && kill(Pid::from_raw(*pid), signal).is_ok() {
                sent += 1;
            }
        }
        sent
    }
}

/// SIGKILLs every live descendant of this process that is not one of `spared` (the children it
/// still supervises): at the agent's shutdown, after every unit was stopped, what is left was
/// adopted from a unit's tree (the agent is a subreaper). Returns the pids killed.
pub fn sweep_adopted(root: &Root, spared: &[i32]) -> Vec<i32> {
    let me = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    let mut killed = Vec::new();
    for p in under(&read_procs(root), &[me]) {
        if !spared.contains(&p.pid) && kill(Pid::from_raw(p.pid), Signal::SIGKILL).is_ok() {
            killed.push(p.pid);
        }
    }
    killed
}

/// Awaits the leader, walking its tree every [`TRACK_EVERY`] meanwhile and once after.
pub(super) async fn follow_until_exit(
    child: &mut tokio::process::Child,
    tree: &SharedDescendants,
    root: &Root,
    pid: i32,
) -> Option<std::process::ExitStatus> {
    let status = loop {
        lock(tree).refresh(root, Some(pid));
        tokio::select! {
            status = child.wait() => break status.ok(),
            () = tokio::time::sleep(TRACK_EVERY) => {}
        }
    };
    lock(tree).refresh(root, None);
    status
}

/// SIGKILLs what is known of the tree until nothing of it is left (a forking descendant may
/// add pids between passes), for at most [`DRAIN_TIMEOUT`].
pub(super) async fn kill_descendants(tree: &SharedDescendants, root: &Root) {
    let start = Instant::now();
    loop {
        let left = {
            let mut t = lock(tree);
            t.refresh(root, None);
            t.signal(root, Signal::SIGKILL)
        };
        if left == 0 || start.elapsed() >= DRAIN_TIMEOUT {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The tree's lock; a panic while it was held leaves a map that is still valid.
pub fn lock(tree: &SharedDescendants) -> MutexGuard<'_, Descendants> {
    tree.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32, start_ticks: u64) -> ProcStat {
        ProcStat {
            pid,
            state: 'S',
            ppid,
            pgrp: pid,
            start_ticks,
        }
    }

    #[test]
    fn finds_every_generation_under_the_roots_and_nothing_beside_them() {
        let procs = [p(10, 1, 5), p(11, 10, 6), p(12, 11, 7), p(20, 1, 8)];
        let pids: Vec<i32> = under(&procs, &[10]).iter().map(|s| s.pid).collect();
        assert_eq!(pids, [11, 12]);
        assert!(under(&procs, &[12]).is_empty());
    }

    #[test]
    fn a_descendant_whose_parent_died_is_still_known_and_a_reused_pid_is_not() {
        let mut d = Descendants::default();
        d.refresh_from(&[p(10, 1, 5), p(11, 10, 6), p(12, 11, 7)], Some(10));
        assert_eq!(d.pids(), [11, 12]);
        // 11 exits; 12 is re-parented to the agent (pid 3) and has its own session now.
        d.refresh_from(&[p(10, 1, 5), p(12, 3, 7), p(13, 12, 9)], Some(10));
        assert_eq!(d.pids(), [12, 13], "followed through the orphan");
        // 12's pid is reused by an unrelated process: forgotten, and so is nothing else.
        d.refresh_from(&[p(12, 1, 99), p(13, 3, 9)], None);
        assert_eq!(d.pids(), [13]);
        d.refresh_from(&[], None);
        assert!(d.is_empty());
    }
}
