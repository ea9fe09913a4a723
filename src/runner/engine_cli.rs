//! Running a container engine's short commands (`stop`, `rm`, `ps`, `image inspect`) for a
//! container unit; the command lines come from [`super::container`].
//!
//! Each runs as a registered child (see [`super::reap`]) with the agent's environment (so
//! `CONTAINERS_CONF`, `DOCKER_HOST` and the like reach it), bounded by [`ENGINE_TIMEOUT`], and
//! is killed if that passes. [`remove`] first runs the engine's `kill`: after the runner has
//! SIGKILLed a podman container's `conmon`, an `rm --force` alone waits 5 s for an exit file
//! that never comes and fails; the `kill` (which fails: nothing runs) brings podman's record
//! up to date, and the `rm` then takes a tenth of a second. `rm` is retried all the same.
#![allow(clippy::disallowed_methods)] // I/O module: spawns the engine's client

use std::process::Stdio;
use std::time::Duration;

use super::child_env::child_env;
use super::container::{kill_argv, list_argv, rm_argv, NAME_PREFIX};
use super::reap::spawn_registered;
use crate::config::container::Engine;

/// The longest one engine command may take.
pub const ENGINE_TIMEOUT: Duration = Duration::from_secs(30);
/// How many `rm --force` attempts [`remove`] makes before it gives up.
pub const REMOVE_ATTEMPTS: u32 = 3;

/// What one engine command did: its exit status and what it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `argv` to completion (or [`ENGINE_TIMEOUT`]); `Err` when it could not be started or
/// timed out.
pub async fn run_engine(argv: &[String]) -> Result<EngineOutput, String> {
    let (program, args) = argv.split_first().ok_or("empty engine command")?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(child_env(std::env::vars_os(), &[]))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let (child, tracked) =
        spawn_registered(&mut cmd).map_err(|e| format!("starting {program}: {e}"))?;
    let waited = tokio::time::timeout(ENGINE_TIMEOUT, child.wait_with_output()).await;
    drop(tracked);
    match waited {
        Ok(Ok(out)) => Ok(EngineOutput {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        }),
        Ok(Err(e)) => Err(format!("waiting for {program}: {e}")),
        Err(_) => Err(format!(
            "{} did not finish within {ENGINE_TIMEOUT:?}",
            argv.join(" ")
        )),
    }
}

/// How a removal ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// `rm --force` attempts made.
    pub attempts: u32,
    /// There was a container to remove (the client's own `--rm` had not removed it).
    pub existed: bool,
    /// The last failure, when no attempt succeeded.
    pub error: Option<String>,
    /// Zombies of the tree (the container's process 1, adopted by the agent) reaped first.
    pub zombies_reaped: usize,
}

/// The engine's `kill`, then `rm --force` until it succeeds or says there is no such
/// container, at most [`REMOVE_ATTEMPTS`] times.
pub async fn remove(engine: Engine, name: &str) -> Removed {
    // Its failure ("not running", "no such container") is the normal case: see the module doc.
    let _ = run_engine(&kill_argv(engine, name)).await;
    let mut error = None;
    for attempt in 1..=REMOVE_ATTEMPTS {
        match run_engine(&rm_argv(engine, name)).await {
            Ok(out) if out.success || no_such_container(&out.stderr) => {
                return Removed {
                    attempts: attempt,
                    existed: out.success,
                    error: None,
                    zombies_reaped: 0,
                }
            }
            Ok(out) => error = Some(out.stderr),
            Err(e) => error = Some(e),
        }
    }
    Removed {
        attempts: REMOVE_ATTEMPTS,
        existed: true,
        error,
        zombies_reaped: 0,
    }
}

/// The engines' words for a container that is not there.
fn no_such_container(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    s.contains("no such container") || s.contains("no container with name")
}

/// The names of every container this agent instance started (its label), running or not.
pub async fn leftovers(engine: Engine, instance: &str) -> Result<Vec<String>, String> {
    let out = run_engine(&list_argv(engine, instance)).await?;
    if !out.success {
        return Err(out.stderr);
    }
    Ok(out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|n| n.starts_with(NAME_PREFIX))
        .map(String::from)
        .collect())
}
