//! The process runner: spawns models and services, streams their output, stops them, and keeps
//! each one inside its own cgroup under the memory scope.
//!
//! This is the only module that starts processes (clippy's `disallowed-methods` holds the line)
//! and the only one that signals them. It owns every child from spawn until its tree is gone and
//! reports what happened on two channels: every output line as a [`ChildOutput`], every end of
//! a tree as a [`ChildExit`]. Durations are `std::time::Duration`, limits [`Bytes`].
//!
//! ```text
//! let (out_tx, out_rx) = mpsc::channel(1024);   let (exit_tx, exit_rx) = mpsc::channel(64);
//! let runner = Runner::new(Root::host(), Some(CgroupScope { kind: V1, path }), out_tx, exit_tx);
//! let child = runner.spawn(&Spec::new("llama", &["llama-server", "-m", "q4.gguf"]))?;
//! child.kill_now()?;                         // abort a load: SIGKILL group + cgroup, no waiting
//! child.stop(Duration::from_secs(10)).await?; // or: SIGTERM, grace, SIGKILL
//! exit_rx.recv().await → ChildExit { name: "llama", pid, code: None, signal: Some(9), .. }
//! ```
//!
//! - [`spawn`]: [`Spec`], [`Runner`], [`RunningChild`], the waiter.
//! - [`child_env`]: a child's environment, the agent's service-manager variables stripped.
//! - [`stop`]: SIGTERM → grace → SIGKILL, and `kill_now`.
//! - [`survivors`]: what is left of a tree after SIGKILL, and why (`D`, `Z`).
//! - [`cgroup`]: child cgroups (v1 and v2): create, limit, kill, remove.
//! - [`container`]: a container unit's engine command lines (`run`, `stop`, `rm`), pure.
//! - [`engine_cli`]: running the engine's short commands (`stop`, `rm`, `ps`, `inspect`).
//! - `container_spawn`: a container unit's argv from its cgroup, and its clean-up at reap.
//! - [`descendants`]: a tree without a cgroup, followed by parent pid (escapes included).
//! - [`system_scope`]: the parent of the units' cgroups when the memory scope is the system.
//! - [`placement`]: the pre-exec write that puts a child in its cgroup before it runs.
//! - [`oom`]: the kernel's OOM kill counter and figures of a child cgroup.
//! - [`output`]: line reading, the output channel, the ring of recent lines.
//! - [`reap`]: subreaper and reaping adopted orphans without stealing tokio's children.
//! - [`procstat`]: `/proc/PID/stat` fields (start time for the pid record).
//! - [`pidfile`]: the pid record per running unit, so a restarted agent finds its orphans.
//!
//! [`Bytes`]: crate::units::Bytes

pub mod cgroup;
pub mod child_env;
pub mod container;
mod container_spawn;
pub mod descendants;
pub mod engine_cli;
pub mod oom;
pub mod output;
pub mod pidfile;
pub mod placement;
pub mod procstat;
pub mod reap;
pub mod spawn;
pub mod stop;
pub mod survivors;
pub mod system_scope;

#[cfg(test)]
mod tests;

use std::io;
use std::time::Duration;

pub use cgroup::{CgroupError, CgroupScope, ChildCgroup};
pub use oom::OomKill;
pub use output::{ChildOutput, Stream, OUTPUT_RING_LINES};
pub use reap::{become_subreaper, reap_zombies};
pub use spawn::{
    child_env, ChildExit, ParentEnv, Phase, PidRecord, Runner, RunningChild, Spec, STRIPPED_ENV,
};
pub use stop::{StopOutcome, KILL_WAIT};
pub use survivors::Survivor;

/// A runner operation failed. Every variant names the child.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("{name}: the command is empty (argv needs at least the program)")]
    EmptyArgv { name: String },
    #[error("{name}: cannot run its container: {reason}")]
    Container { name: String, reason: String },
    #[error("{name}: spawn must run inside a tokio runtime")]
    NoRuntime { name: String },
    #[error("{name}: starting {program:?}: {source}")]
    Spawn {
        name: String,
        program: String,
        source: io::Error,
    },
    #[error("{name}: {source}")]
    Cgroup { name: String, source: CgroupError },
    #[error("{name}: sending {signal} to process group {pgid}: {source}")]
    Signal {
        name: String,
        pgid: i32,
        signal: nix::sys::signal::Signal,
        source: nix::Error,
    },
    #[error(
        "{name}: pid {pid} still not gone {waited:?} after SIGKILL{}",
        describe(survivors)
    )]
    StillAlive {
        name: String,
        pid: i32,
        waited: Duration,
        /// What of the tree was still there when the wait ended, with each one's state.
        survivors: Vec<Survivor>,
    },
}

/// `; left: pid 4242 (D: uninterruptible sleep ...)`, or nothing when no pid was seen.
fn describe(survivors: &[Survivor]) -> String {
    if survivors.is_empty() {
        return String::new();
    }
    let each: Vec<String> = survivors
        .iter()
        .map(|s| format!("pid {} ({}: {})", s.pid, s.state, s.why()))
        .collect();
    format!("; left: {}", each.join(", "))
}
