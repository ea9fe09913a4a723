//! Stopping a child: SIGTERM to its group, a grace period, then SIGKILL to group and cgroup
//! (or, without a cgroup, to every descendant seen: see [`super::descendants`]). A container
//! unit is stopped by its engine (`stop --time <grace>`) instead of SIGTERM; the SIGKILL of its
//! cgroup after the grace is the same.
//!
//! [`RunningChild::stop`] is the polite path (unload, restart, agent shutdown; the caller
//! shortens `grace` when memory is critical). [`RunningChild::kill_now`] is the abort path of a
//! load that is eating the reserve: synchronous, it sends SIGKILL to the process group and kills
//! the cgroup (one `cgroup.kill` write, or one SIGKILL per listed pid) before returning, with
//! nothing slow awaited first. Either way the exit is reported as a [`ChildExit`] on the exit
//! channel once the whole tree is gone.
//!
//! Signals go to the group only while the child is not yet [`Phase::Gone`]: after that the
//! group id may belong to someone else.
//!
//! [`ChildExit`]: super::ChildExit

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::container::stop_argv;
use super::descendants::lock;
use super::engine_cli::run_engine;
use super::spawn::{Phase, RunningChild};
use super::survivors::read_survivors;
use super::RunnerError;
use crate::config::container::Engine;
use crate::sources::Root;

/// What a container's stop may take beyond its grace: the engine rounds the grace up to whole
/// seconds and its client then has to notice the end and exit.
pub const ENGINE_STOP_SLACK: Duration = Duration::from_secs(2);

/// How long to wait for the tree to vanish after SIGKILL before reporting it stuck (a process
/// in uninterruptible sleep, e.g. on a hung GPU driver call, cannot die until it wakes).
pub const KILL_WAIT: Duration = Duration::from_secs(10);

/// How a stop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// The child was already gone before the stop.
    AlreadyGone,
    /// The tree ended within the grace period after SIGTERM.
    Terminated,
    /// The grace period ran out and the tree was SIGKILLed.
    Killed,
}

impl RunningChild {
    /// SIGTERM to the process group, up to `grace` for the tree to end, then SIGKILL to the group
    /// and the cgroup. Returns once the child is gone and its exit has been sent.
    pub async fn stop(&self, grace: Duration) -> Result<StopOutcome, RunnerError> {
        self.stop_within(grace, KILL_WAIT).await
    }

    /// [`RunningChild::stop`] with its wait after SIGKILL bounded by `kill_wait` instead of
    /// [`KILL_WAIT`]. A tree still there after it is [`RunnerError::StillAlive`], naming each
    /// process left and its state.
    pub async fn stop_within(
        &self,
        grace: Duration,
        kill_wait: Duration,
    ) -> Result<StopOutcome, RunnerError> {
        if self.phase() == Phase::Gone {
            return Ok(StopOutcome::AlreadyGone);
        }
        if let Some(engine) = self.container {
            if self.engine_stop(engine, grace).await {
                return Ok(StopOutcome::Terminated);
            }
        } else {
            self.walk_tree(); // before the group's signal re-parents what it leaves
            self.signal_group(Signal::SIGTERM)?;
            self.signal_tree(Signal::SIGTERM);
            if tokio::time::timeout(grace, self.wait_gone()).await.is_ok() {
                return Ok(StopOutcome::Terminated);
            }
        }
        self.kill_now()?;
        if tokio::time::timeout(kill_wait, self.wait_gone())
            .await
            .is_ok()
        {
            return Ok(StopOutcome::Killed);
        }
        Err(RunnerError::StillAlive {
            name: self.name().to_string(),
            pid: self.pid(),
            waited: kill_wait,
            survivors: read_survivors(&self.tree_pids()),
        })
    }

    /// A container unit: the engine's `stop` with the grace (it signals the container's own
    /// process 1, then kills it), the client then ends with its container. Whether the tree
    /// was gone within the grace (plus [`ENGINE_STOP_SLACK`]); where the engine's stop could
    /// not be run, the client gets SIGTERM, which it passes to the container.
    async fn engine_stop(&self, engine: Engine, grace: Duration) -> bool {
        let argv = stop_argv(engine, self.name(), grace);
        let stopped = async {
            match run_engine(&argv).await {
                Ok(out) if out.success => {}
                failed => {
                    tracing::warn!("{}: {} failed: {failed:?}", self.name(), argv.join(" "));
                    let _ = self.signal_group(Signal::SIGTERM);
                }
            }
            self.wait_gone().await;
        };
        tokio::time::timeout(grace + ENGINE_STOP_SLACK, stopped)
            .await
            .is_ok()
    }

    /// The pids the runner knows of this tree: the child (until it is reaped) and its
    /// cgroup's members.
    fn tree_pids(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        if self.phase() == Phase::Running {
            pids.push(self.pid());
        }
        if let Some(cg) = &self.cgroup {
            pids.extend(cg.pids().unwrap_or_default());
        }
        if let Some(tree) = &self.tree {
            pids.extend(lock(tree).pids());
        }
        pids
    }

    /// Without a cgroup: walks the tree once more, so a descendant started since the last
    /// walk is known before a signal to the group kills its parent.
    fn walk_tree(&self) {
        if let Some(tree) = &self.tree {
            let leader = (self.phase() == Phase::Running).then(|| self.pid());
            lock(tree).refresh(&Root::host(), leader);
        }
    }

    /// Without a cgroup: signals every descendant known, also those that left the process
    /// group. Returns how many were signalled.
    fn signal_tree(&self, signal: Signal) -> usize {
        match &self.tree {
            Some(tree) => lock(tree).signal(&Root::host(), signal),
            None => 0,
        }
    }

    /// Immediate SIGKILL to the process group and the child cgroup. Does not wait.
    pub fn kill_now(&self) -> Result<(), RunnerError> {
        if self.phase() == Phase::Gone {
            return Ok(());
        }
        self.walk_tree();
        let group = self.signal_group(Signal::SIGKILL);
        self.signal_tree(Signal::SIGKILL);
        let cgroup = match &self.cgroup {
            Some(cg) => cg
                .kill_once()
                .map(|_| ())
                .map_err(|source| RunnerError::Cgroup {
                    name: self.name().to_string(),
                    source,
                }),
            None => Ok(()),
        };
        group.and(cgroup)
    }

    /// Resolves once the tree is gone, the cgroup removed and the exit sent.
    pub async fn wait_gone(&self) {
        let mut phase = self.phase.clone();
        // An Err means the waiter task ended without saying Gone (runtime shutting down).
        let _ = phase.wait_for(|p| *p == Phase::Gone).await;
    }

    fn signal_group(&self, signal: Signal) -> Result<(), RunnerError> {
        match killpg(Pid::from_raw(self.pgid()), signal) {
            // ESRCH: the group is already empty; the waiter is finishing up.
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(source) => Err(RunnerError::Signal {
                name: self.name().to_string(),
                pgid: self.pgid(),
                signal,
                source,
            }),
        }
    }
}
