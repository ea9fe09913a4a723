//! Runner tests with real processes (and, where writable, the real cgroup v1 memory hierarchy).

mod cgroup_real;
mod cgroup_tree;
mod process;

use std::time::Duration;

use tokio::sync::mpsc;

use super::*;
use crate::sources::{CgroupVersion, Root};

/// Upper bound for any single wait in these tests: a hang fails the test instead of stalling CI.
/// Never used to assert speed.
pub(super) const PATIENCE: Duration = Duration::from_secs(20);

pub(super) struct Harness {
    pub runner: Runner,
    pub out: mpsc::Receiver<ChildOutput>,
    pub exits: mpsc::Receiver<ChildExit>,
}

pub(super) fn harness(scope: Option<CgroupScope>) -> Harness {
    let (out_tx, out) = mpsc::channel(1024);
    let (exit_tx, exits) = mpsc::channel(16);
    Harness {
        runner: Runner::new(Root::host(), scope, out_tx, exit_tx),
        out,
        exits,
    }
}

impl Harness {
    pub async fn next_exit(&mut self) -> ChildExit {
        tokio::time::timeout(PATIENCE, self.exits.recv())
            .await
            .expect("no exit within patience")
            .expect("exit channel closed")
    }

    pub async fn next_line(&mut self) -> ChildOutput {
        tokio::time::timeout(PATIENCE, self.out.recv())
            .await
            .expect("no output line within patience")
            .expect("output channel closed")
    }
}

/// A parent environment for hermetic tests: nothing from the test process leaks in.
pub(super) fn clean_env() -> ParentEnv {
    ParentEnv::Given(vec![("PATH".into(), "/usr/bin:/bin".into())])
}

pub(super) fn spec(name: &str, script: &str) -> Spec {
    Spec {
        parent_env: clean_env(),
        ..Spec::new(name, &["sh", "-c", script])
    }
}

/// True when the pid no longer runs (gone, or a zombie waiting for whoever adopted it).
pub(super) fn is_dead(pid: i32) -> bool {
    match procstat::read_stat(&Root::host(), pid) {
        Ok(s) => s.state == 'Z' || s.state == 'X',
        Err(_) => true,
    }
}

/// Polls `cond` every 10 ms until it holds or patience runs out.
pub(super) async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let polls = PATIENCE.as_millis() / 10;
    for _ in 0..polls {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}
