//! The owner of every task the agent spawns: one [`Tasks`] holds a tracker and a
//! cancellation token, so shutdown can cancel them all and wait, within a deadline, until the
//! last one has ended, and say which did not.
//!
//! Every long-lived task takes a [`Tasks`] (a cheap clone) and spawns through it; each watches
//! [`Tasks::token`] (or a child of it) to end its loop. Short jobs (a probe, a hash, a blocking
//! read) are spawned through it too, so none outlives the agent unseen.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Every spawned task of one agent, and the token that ends them.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    token: CancellationToken,
}

impl Tasks {
    pub fn new() -> Tasks {
        Tasks::default()
    }

    /// The token every task watches; cancelled by [`Tasks::shutdown`].
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Spawns `task` on the current runtime, tracked.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(task)
    }

    /// Spawns `task`, tracked, and drops it at shutdown: for loops that do not watch the token
    /// themselves (probes polling until a process is ready or gone).
    pub fn spawn_until_shutdown<F>(&self, task: F) -> JoinHandle<Option<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let token = self.token.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                _ = token.cancelled() => None,
                output = task => Some(output),
            }
        })
    }

    /// Spawns `task` on `runtime` (for callers outside a runtime context), tracked.
    pub fn spawn_on<F>(&self, task: F, runtime: &tokio::runtime::Handle) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn_on(task, runtime)
    }

    /// Runs `job` on the blocking pool, tracked.
    pub fn spawn_blocking<F, T>(&self, job: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.tracker.spawn_blocking(job)
    }

    /// Tasks spawned and not yet ended.
    pub fn running(&self) -> usize {
        self.tracker.len()
    }

    /// Cancels the token and waits up to `deadline` for every task to end. Returns how many
    /// were still running at the deadline (0: all ended).
    pub async fn shutdown(&self, deadline: Duration) -> usize {
        self.token.cancel();
        self.tracker.close();
        match tokio::time::timeout(deadline, self.tracker.wait()).await {
            Ok(()) => 0,
            Err(_) => self.tracker.len(),
        }
    }
}

#[cfg(test)]
mod tests;
