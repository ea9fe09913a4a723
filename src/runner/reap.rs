//! The agent as child subreaper, and reaping adopted orphans without stealing tokio's children.
//!
//! With `PR_SET_CHILD_SUBREAPER` set ([`become_subreaper`]), a model server's grandchildren whose
//! parent dies are re-parented to the agent instead of init, so a leaked tree stays visible and
//! its zombies come back to us. Those zombies must be reaped, but `waitpid(-1, WNOHANG)` would
//! also reap a process tokio spawned and still awaits: tokio would then lose the exit status
//! (its `wait` fails with `ECHILD`) and the supervisor would never learn how a model died.
//!
//! So [`reap_zombies`] never waits on "any child". It scans `/proc/*/stat` for zombies whose
//! parent is this process, skips every pid in the [`registry`](spawn_registered) of children
//! forked through this module, and calls `waitpid(pid, WNOHANG)` on each remaining one by pid.
//! The registry lock is held across `spawn` (fork+exec) and across the scan-and-reap, so a child
//! that dies instantly is always registered before a scan can see it. A pid leaves the registry
//! when its [`Tracked`] guard drops, after its owner has awaited it.
//!
//! Every spawn in the agent goes through [`spawn_registered`] (clippy's `disallowed-methods`
//! keeps `Command::new` inside the runner and probe modules); a process spawned some other way
//! is invisible to the registry and could be reaped here.
#![allow(clippy::disallowed_methods)] // I/O module: no clock reads, listed for Command use only

use std::collections::HashSet;
use std::io;
use std::sync::{Mutex, MutexGuard, OnceLock};

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::procstat::parse_stat;
use crate::sources::Root;

fn registry() -> MutexGuard<'static, HashSet<i32>> {
    static REGISTRY: OnceLock<Mutex<HashSet<i32>>> = OnceLock::new();
    let m = REGISTRY.get_or_init(|| Mutex::new(HashSet::new()));
    // A panic while holding the lock leaves a set of ints that is still valid: keep using it.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registration of one spawned child; removes the pid from the registry when dropped.
/// Drop it only after the child has been awaited (its exit status collected by tokio).
#[derive(Debug)]
pub struct Tracked {
    pid: i32,
}

impl Tracked {
    pub fn pid(&self) -> i32 {
        self.pid
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        registry().remove(&self.pid);
    }
}

/// True while `pid` is a registered child of this process.
pub fn is_tracked(pid: i32) -> bool {
    registry().contains(&pid)
}

/// Spawns `cmd` and registers the child's pid, atomically with respect to [`reap_zombies`].
pub fn spawn_registered(
    cmd: &mut tokio::process::Command,
) -> io::Result<(tokio::process::Child, Tracked)> {
    let mut reg = registry();
    let child = cmd.spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| io::Error::other("spawned child has no pid"))? as i32;
    reg.insert(pid);
    Ok((child, Tracked { pid }))
}

/// Marks this process as a child subreaper (`prctl(PR_SET_CHILD_SUBREAPER, 1)`).
pub fn become_subreaper() -> io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)
}

/// Reaps zombie children of this process that no one awaits (adopted orphans). Returns how many
/// were reaped. Never touches a pid registered by [`spawn_registered`]. Reads `/proc` via `root`
/// (the live root in the agent: reaping needs real pids).
pub fn reap_zombies(root: &Root) -> usize {
    let me = std::process::id() as i32;
    let Ok(entries) = root.list("/proc") else {
        return 0;
    };
    let reg = registry();
    let mut reaped = 0;
    for pid in entries.iter().filter_map(|e| e.parse::<i32>().ok()) {
        if reg.contains(&pid) {
            continue;
        }
        let Ok(text) = root.read(format!("/proc/{pid}/stat")) else {
            continue; // gone already
        };
        let Ok(stat) = parse_stat(&text) else {
            continue;
        };
        if stat.ppid != me || stat.state != 'Z' {
            continue;
        }
        match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => {}
            Ok(_) => reaped += 1,
        }
    }
    reaped
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn state_of(pid: i32) -> Option<char> {
        super::super::procstat::read_stat(&Root::host(), pid)
            .ok()
            .map(|s| s.state)
    }

    async fn until(what: &str, mut cond: impl FnMut() -> bool) {
        for _ in 0..2000 {
            if cond() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never happened: {what}");
    }

    #[tokio::test]
    async fn a_tracked_zombie_keeps_its_exit_status_for_tokio() {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", "exit 7"]);
        let (mut child, tracked) = spawn_registered(&mut cmd).unwrap();
        let pid = tracked.pid();
        assert!(is_tracked(pid));
        until("the child is a zombie", || state_of(pid) == Some('Z')).await;
        reap_zombies(&Root::host());
        assert_eq!(
            state_of(pid),
            Some('Z'),
            "reap_zombies stole a tracked child"
        );
        let status = child.wait().await.unwrap();
        assert_eq!(status.code(), Some(7));
        drop(tracked);
        assert!(!is_tracked(pid));
    }

    #[tokio::test]
    async fn an_adopted_orphan_is_reaped_once_the_agent_is_a_subreaper() {
        become_subreaper().unwrap();
        // The middle shell exits at once; its background sleep is re-parented to us and dies.
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", "sleep 0.2 & echo $!"])
            .stdout(std::process::Stdio::piped());
        let (child, tracked) = spawn_registered(&mut cmd).unwrap();
        let out = child.wait_with_output().await.unwrap();
        drop(tracked);
        let orphan: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        until("the orphan is our zombie", || {
            super::super::procstat::read_stat(&Root::host(), orphan)
                .map(|s| s.state == 'Z' && s.ppid == std::process::id() as i32)
                .unwrap_or(false)
        })
        .await;
        assert!(reap_zombies(&Root::host()) >= 1);
        assert_eq!(state_of(orphan), None, "the orphan's zombie is gone");
    }
}
