//! What is left of a tree that did not end after SIGKILL, and why it can outlive the signal.
//!
//! SIGKILL cannot be caught, but it only takes effect when the process next runs in the
//! kernel's signal path. A process in uninterruptible sleep (`D`: a driver call that does not
//! return, e.g. a hung GPU ioctl; or frozen by a cgroup v1 freezer) keeps the signal pending;
//! a zombie (`Z`) is already dead and waits for its parent to reap it. Either one keeps its
//! pid, and the tree is "not gone". [`survivors`] lists them from the pids the runner knows
//! (the child, its cgroup's members) with the state `/proc/PID/stat` gives; the decision is
//! pure over a state reader so it is tested without such a process.
//!
//! ```text
//! pids [4242, 4250]  states {4242: 'D'}  →  [Survivor { pid: 4242, state: 'D' }]   (4250 gone)
//! ```

use serde::Serialize;

use super::procstat::read_stat;
use crate::sources::Root;

/// One process of the tree still there after SIGKILL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Survivor {
    pub pid: i32,
    /// The one-letter state of `/proc/PID/stat` (`D`, `Z`, `R`, ...).
    pub state: char,
}

impl Survivor {
    /// Why a process in this state outlives SIGKILL, in words.
    pub fn why(&self) -> &'static str {
        explain(self.state)
    }
}

/// Why a process in `state` outlives SIGKILL.
pub fn explain(state: char) -> &'static str {
    match state {
        'D' => "uninterruptible sleep: the kill waits for a kernel call (a driver, or a cgroup freezer) to return",
        'Z' => "zombie: dead, waiting for its parent to reap it",
        'T' | 't' => "stopped or traced: the kill is pending",
        'X' | 'x' => "dying",
        _ => "still running: the kill has not taken effect yet",
    }
}

/// The pids of `pids` (deduplicated, in order) that still exist, with their state from
/// `state_of` (`None`: the pid is gone).
pub fn survivors(pids: &[i32], mut state_of: impl FnMut(i32) -> Option<char>) -> Vec<Survivor> {
    let mut seen = Vec::with_capacity(pids.len());
    let mut out = Vec::new();
    for &pid in pids {
        if seen.contains(&pid) {
            continue;
        }
        seen.push(pid);
        if let Some(state) = state_of(pid) {
            out.push(Survivor { pid, state });
        }
    }
    out
}

/// [`survivors`] over the host's `/proc`.
pub fn read_survivors(pids: &[i32]) -> Vec<Survivor> {
    let root = Root::host();
    survivors(pids, |pid| read_stat(&root, pid).ok().map(|s| s.state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_each_pid_that_is_still_there_once_with_its_state() {
        let states = |pid| match pid {
            10 => Some('D'),
            12 => Some('Z'),
            _ => None,
        };
        assert_eq!(
            survivors(&[10, 11, 12, 10], states),
            [
                Survivor {
                    pid: 10,
                    state: 'D'
                },
                Survivor {
                    pid: 12,
                    state: 'Z'
                }
            ]
        );
        assert!(survivors(&[11], states).is_empty());
    }

    #[test]
    fn says_why_each_state_outlives_the_kill() {
        assert!(explain('D').starts_with("uninterruptible sleep"));
        assert!(explain('Z').starts_with("zombie"));
        assert!(explain('R').starts_with("still running"));
    }

    #[test]
    fn reads_a_live_process_and_leaves_out_a_pid_that_is_gone() {
        let me = i32::try_from(std::process::id()).unwrap();
        let found = read_survivors(&[me, i32::MAX]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].pid, me);
    }
}
