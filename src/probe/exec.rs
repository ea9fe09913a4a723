//! The exec liveness probe: run a configured argv, healthy when it exits 0 within the timeout.
//!
//! The command runs directly (no shell), in its own process group, stdin/stdout/stderr null,
//! with the agent's systemd variables stripped like every child (see
//! [`crate::runner::child_env`]). On timeout the whole group is SIGKILLed and awaited, so a
//! hung check never piles up. It is spawned through [`crate::runner::reap::spawn_registered`]
//! so orphan reaping never steals its exit status.
//!
//! ```text
//! exec(["/opt/llama/check", "--quick"], 2s) → "exit 3 from /opt/llama/check"
//! ```
#![allow(clippy::disallowed_methods)] // I/O module: spawns the check and measures its time

use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::{timed_out, ProbeError, ProbeOutcome};
use crate::runner::reap::spawn_registered;
use crate::runner::{child_env, KILL_WAIT};

/// Runs `argv` once.
pub async fn exec(argv: &[String], timeout: Duration) -> Result<ProbeOutcome, ProbeError> {
    let (program, args) = argv.split_first().ok_or(ProbeError::EmptyArgv)?;
    let start = Instant::now();
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(child_env(std::env::vars_os(), &[]))
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let (mut child, tracked) = match spawn_registered(&mut cmd) {
        Ok(c) => c,
        Err(e) => {
            return Ok(ProbeOutcome::fail(
                format!("starting {program}: {e}"),
                start.elapsed(),
            ))
        }
    };
    let outcome = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => {
            use std::os::unix::process::ExitStatusExt;
            let detail = match (status.code(), status.signal()) {
                (Some(code), _) => format!("exit {code} from {program}"),
                (None, Some(sig)) => format!("{program} killed by signal {sig}"),
                (None, None) => format!("{program} ended without a status"),
            };
            if status.success() {
                ProbeOutcome::pass(detail, start.elapsed())
            } else {
                ProbeOutcome::fail(detail, start.elapsed())
            }
        }
        Ok(Err(e)) => ProbeOutcome::fail(format!("waiting for {program}: {e}"), start.elapsed()),
        Err(_) => {
            let _ = killpg(Pid::from_raw(tracked.pid()), Signal::SIGKILL);
            let _ = tokio::time::timeout(KILL_WAIT, child.wait()).await;
            ProbeOutcome::fail(
                format!("{} ({program} killed)", timed_out(timeout)),
                start.elapsed(),
            )
        }
    };
    drop(tracked);
    Ok(outcome)
}
