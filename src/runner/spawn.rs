//! Spawning a model or service: argv (never a shell), own process group, own cgroup, piped output.
//!
//! Owns each child from `spawn` until its whole tree is gone. One waiter task per child awaits
//! the leader, then kills whatever is left of its process group and cgroup, or without a cgroup
//! of the descendants it followed by parent pid ([`super::descendants`]) (a supervised
//! service is its tree: once the leader has exited, anything still running is an orphan that
//! holds memory), removes the cgroup, and reports a [`ChildExit`] on the exit channel, with the
//! kernel's figures when its OOM killer acted in the cgroup (see [`super::oom`]). Children
//! must stay in the foreground: a server that daemonizes looks like an exit here.
//!
//! ```text
//! Spec { name: "llama", argv: ["llama-server", "-m", "q4.gguf"], env: [("CUDA_VISIBLE_DEVICES", "0")],
//!        cwd: None, memory_limit: Some(6GiB), parent_env: ParentEnv::Agent }
//!   → pid 4242, pgid 4242, start 183377 ticks, cgroup <scope>/llama (placed before exec)
//! ```
//!
//! The environment is the parent environment minus [`STRIPPED_ENV`] (the agent's systemd
//! notify/watchdog/socket-activation variables), plus `Spec::env`, which wins: a child only
//! gets one of those variables if the configuration names it explicitly. Children are not
//! killed when the agent exits (no `kill_on_drop`). With [`Runner::with_records`], each child's
//! [`PidRecord`] is written to `<dir>/<name>.pid` at spawn and removed once its tree is gone, so
//! an agent restarted after a crash finds and stops what its previous instance left
//! (`agent::orphans`; see [`super::pidfile`]).
#![allow(clippy::disallowed_methods)] // I/O module: spawns processes and measures run time

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::BufReader;
use tokio::sync::{mpsc, watch};

use super::cgroup::{CgroupScope, ChildCgroup, DRAIN_TIMEOUT};
pub use super::child_env::{child_env, ParentEnv, STRIPPED_ENV};
use super::container::ContainerRun;
use super::container_spawn::remove_after_exit;
use super::descendants::{follow_until_exit, kill_descendants, lock, SharedDescendants};
use super::engine_cli::Removed;
use super::oom::{OomKill, OomProbe};
use super::output::{pump, ChildOutput, SharedRing, Stream};
use super::pidfile;
use super::placement::place_before_exec;
use super::procstat::read_stat;
use super::reap::spawn_registered;
use super::RunnerError;
use crate::config::container::Engine;
use crate::sources::Root;
use crate::tasks::Tasks;
use crate::units::Bytes;

/// How long the waiter lets the output readers drain after the tree is gone.
const READER_DRAIN: Duration = Duration::from_secs(1);

/// What to run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    /// Service or model name; also the child cgroup's directory name.
    pub name: String,
    /// Program and arguments, executed directly.
    pub argv: Vec<String>,
    /// Variables set for the child on top of the (stripped) parent environment.
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// Written to the child cgroup's memory limit when there is a cgroup scope.
    pub memory_limit: Option<Bytes>,
    pub parent_env: ParentEnv,
    /// Run as a container: `argv` is then built at spawn ([`super::container::run_argv`]),
    /// with the unit's cgroup as the container's `--cgroup-parent`.
    pub container: Option<ContainerRun>,
}

impl Spec {
    pub fn new(name: impl Into<String>, argv: &[&str]) -> Spec {
        Spec {
            name: name.into(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            ..Spec::default()
        }
    }
}

/// Identifies a spawned child across an agent restart (pid reuse is caught by `start_ticks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidRecord {
    pub name: String,
    pub pid: i32,
    pub pgid: i32,
    /// `/proc/PID/stat` field 22 (clock ticks after boot); `None` if it could not be read.
    pub start_ticks: Option<u64>,
    pub cgroup: Option<PathBuf>,
}

/// A child's tree has ended. `code` is set for a normal exit, `signal` for death by signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildExit {
    pub name: String,
    pub pid: i32,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub ran_for: Duration,
    /// The child cgroup, if it could not be emptied and removed (it is still there).
    pub cgroup_left: Option<PathBuf>,
    /// The kernel's OOM killer acted in the child's cgroup since spawn (read once the leader
    /// had exited, before the cgroup was emptied); `None` without a cgroup or a kill.
    pub oom: Option<OomKill>,
    /// A container unit: its container and how its removal went once the tree was gone.
    pub container: Option<(String, Removed)>,
}

/// Where a child is in its life, as seen by [`RunningChild`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Running,
    /// The leader has been reaped; leftovers are being killed and the cgroup removed.
    Exited,
    /// Tree gone, cgroup removed, [`ChildExit`] sent.
    Gone,
}

/// Spawns children; shared configuration and the two channels every child reports on.
#[derive(Debug, Clone)]
pub struct Runner {
    pub(super) root: Root,
    scope: Option<CgroupScope>,
    output: mpsc::Sender<ChildOutput>,
    exits: mpsc::Sender<ChildExit>,
    /// Whether `Spec::memory_limit` is written to the child cgroup (not in the system scope,
    /// where child cgroups only hold the tree together).
    limits: bool,
    /// Where pid records go (`None`: not written).
    pub(super) records: Option<PathBuf>,
    /// Output pumps and exit waiters are spawned through these.
    tasks: Tasks,
}

/// Handle to one spawned child. Stop it with [`RunningChild::stop`] or [`RunningChild::kill_now`].
#[derive(Debug, Clone)]
pub struct RunningChild {
    pub(super) record: PidRecord,
    pub(super) cgroup: Option<ChildCgroup>,
    pub(super) ring: SharedRing,
    pub(super) phase: watch::Receiver<Phase>,
    /// The tree followed by parent pid, when there is no cgroup to hold it.
    pub(super) tree: Option<SharedDescendants>,
    /// A container unit's engine: stopped through it ([`super::stop`]).
    pub(super) container: Option<Engine>,
}

impl Runner {
    /// `scope`: the memory scope cgroup, or `None` when the scope is the whole system.
    /// `output` gets every line (`try_send`: size it for bursts); `exits` gets every exit.
    pub fn new(
        root: Root,
        scope: Option<CgroupScope>,
        output: mpsc::Sender<ChildOutput>,
        exits: mpsc::Sender<ChildExit>,
    ) -> Runner {
        Runner {
            root,
            scope,
            output,
            exits,
            limits: true,
            records: None,
            tasks: Tasks::new(),
        }
    }

    /// Child cgroups hold each tree together but get no memory limit (the system scope: a
    /// unit's `limit` stays the agent's own check there, as `kernel_limit_unset` says).
    pub fn without_limits(mut self) -> Runner {
        self.limits = false;
        self
    }

    /// Writes each child's pid record into `dir` at spawn, and removes it once the tree is gone.
    pub fn with_records(mut self, dir: PathBuf) -> Runner {
        self.records = Some(dir);
        self
    }

    /// Spawns each child's output pumps and exit waiter through `tasks` (the agent's), so
    /// shutdown knows of them; without it they are tracked by a set of the runner's own.
    pub fn with_tasks(mut self, tasks: Tasks) -> Runner {
        self.tasks = tasks;
        self
    }

    /// Starts `spec` (must be called inside a tokio runtime). When a scope is set, the child is
    /// in `<scope>/<name>` before its first instruction of the new program.
    pub fn spawn(&self, spec: &Spec) -> Result<RunningChild, RunnerError> {
        let name = spec.name.clone();
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| RunnerError::NoRuntime { name: name.clone() })?;
        let limit = spec.memory_limit.filter(|_| self.limits);
        let cgroup =
            match &self.scope {
                Some(scope) => Some(scope.create_child(&name, limit).map_err(|source| {
                    RunnerError::Cgroup {
                        name: name.clone(),
                        source,
                    }
                })?),
                None => None,
            };
        let built = match &spec.container {
            Some(run) => self.container_argv(run, &name, cgroup.as_ref()),
            None => Ok((spec.argv.clone(), Vec::new())),
        };
        let (argv, engine_dirs) = match built {
            Ok((argv, dirs)) if !argv.is_empty() => (argv, dirs),
            failed => {
                if let Some(cg) = &cgroup {
                    let _ = std::fs::remove_dir(&cg.path); // empty: nothing ran
                }
                return Err(failed
                    .err()
                    .unwrap_or_else(|| RunnerError::EmptyArgv { name: name.clone() }));
            }
        };
        let Some((program, args)) = argv.split_first() else {
            return Err(RunnerError::EmptyArgv { name });
        };
        let oom_probe = cgroup.as_ref().map(OomProbe::at_spawn);
        if let (Some(cg), Some(false)) = (&cgroup, oom_probe.as_ref().map(OomProbe::counts)) {
            tracing::warn!(
                "{name}: no OOM kill counter in {} on this kernel; a kernel OOM kill there \
                 shows only as a SIGKILL",
                cg.path.display()
            );
        }
        let spawned = self.start(spec, program, args, cgroup.as_ref());
        let (mut child, tracked) = match spawned {
            Ok(c) => c,
            Err(e) => {
                if let Some(cg) = &cgroup {
                    let _ = std::fs::remove_dir(&cg.path); // empty: the child never ran
                }
                return Err(e);
            }
        };
        let started = Instant::now();
        let pid = tracked.pid();
        let record = PidRecord {
            name: name.clone(),
            pid,
            pgid: pid, // process_group(0): the child leads a group named after its pid
            start_ticks: read_stat(&self.root, pid).ok().map(|s| s.start_ticks),
            cgroup: cgroup.as_ref().map(|c| c.path.clone()),
        };
        if let Some(dir) = &self.records {
            if let Err(e) = pidfile::write(dir, &record) {
                tracing::warn!("{name}: writing its pid record in {}: {e}", dir.display());
            }
        }

        let ring = SharedRing::default();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            let task = pump(
                BufReader::new(out),
                name.clone(),
                Stream::Stdout,
                self.output.clone(),
                ring.clone(),
            );
            readers.push(self.tasks.spawn_on(task, &runtime));
        }
        if let Some(err) = child.stderr.take() {
            let task = pump(
                BufReader::new(err),
                name.clone(),
                Stream::Stderr,
                self.output.clone(),
                ring.clone(),
            );
            readers.push(self.tasks.spawn_on(task, &runtime));
        }

        let (phase_tx, phase_rx) = watch::channel(Phase::Running);
        let exits = self.exits.clone();
        let waiter_cgroup = cgroup.clone();
        let records = self.records.clone();
        let tree = cgroup.is_none().then(SharedDescendants::default);
        let container = spec.container.as_ref().map(|c| c.engine);
        let waiter_tree = tree.clone();
        let root = Root::host(); // the tree is real processes, whatever root the agent reads
        self.tasks.spawn_on(
            async move {
                let status = match &waiter_tree {
                    Some(t) => follow_until_exit(&mut child, t, &root, pid).await,
                    None => child.wait().await.ok(),
                };
                drop(tracked); // reaped by tokio: the pid may now be reused
                               // Before the cgroup is emptied and removed: its counters go with it.
                let oom = oom_probe.as_ref().and_then(OomProbe::after_exit);
                let _ = phase_tx.send(Phase::Exited);
                // Leftovers of the tree: ESRCH when the group is already empty.
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                if let Some(t) = &waiter_tree {
                    kill_descendants(t, &root).await;
                }
                let mut cgroup_left = None;
                if let Some(cg) = &waiter_cgroup {
                    if cg.kill_and_remove(DRAIN_TIMEOUT).await.is_err() {
                        cgroup_left = Some(cg.path.clone());
                    }
                }
                let container = match container {
                    Some(engine) => {
                        Some(remove_after_exit(engine, &name, engine_dirs, &root).await)
                    }
                    None => None,
                };
                for reader in readers {
                    let _ = tokio::time::timeout(READER_DRAIN, reader).await;
                }
                if let Some(dir) = &records {
                    pidfile::remove(dir, &name, pid); // the tree is gone and reaped
                }
                use std::os::unix::process::ExitStatusExt;
                let exit = ChildExit {
                    name,
                    pid,
                    code: status.and_then(|s| s.code()),
                    signal: status.and_then(|s| s.signal()),
                    ran_for: started.elapsed(),
                    cgroup_left,
                    oom,
                    container,
                };
                let _ = exits.send(exit).await;
                let _ = phase_tx.send(Phase::Gone);
            },
            &runtime,
        );

        Ok(RunningChild {
            record,
            cgroup,
            ring,
            phase: phase_rx,
            tree,
            container,
        })
    }

    fn start(
        &self,
        spec: &Spec,
        program: &str,
        args: &[String],
        cgroup: Option<&ChildCgroup>,
    ) -> Result<(tokio::process::Child, super::reap::Tracked), RunnerError> {
        let parent: Vec<(OsString, OsString)> = match &spec.parent_env {
            ParentEnv::Agent => std::env::vars_os().collect(),
            ParentEnv::Given(vars) => vars.iter().map(|(k, v)| (k.into(), v.into())).collect(),
        };
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(child_env(parent, &spec.env))
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(cwd) = &spec.cwd {
            cmd.current_dir(cwd);
        }
        let procs = match cgroup {
            Some(cg) => {
                Some(
                    cg.open_procs_for_placement()
                        .map_err(|source| RunnerError::Cgroup {
                            name: spec.name.clone(),
                            source,
                        })?,
                )
            }
            None => None,
        };
        if let Some(file) = &procs {
            place_before_exec(&mut cmd, file);
        }
        let spawned = spawn_registered(&mut cmd).map_err(|source| RunnerError::Spawn {
            name: spec.name.clone(),
            program: program.to_string(),
            source,
        });
        drop(procs); // the child has exec'd (or failed): the parent's copy can close
        spawned
    }
}

impl RunningChild {
    pub fn name(&self) -> &str {
        &self.record.name
    }

    pub fn pid(&self) -> i32 {
        self.record.pid
    }

    pub fn pgid(&self) -> i32 {
        self.record.pgid
    }

    /// The adoption record: pid, pgid, start time, cgroup.
    pub fn record(&self) -> &PidRecord {
        &self.record
    }

    pub fn cgroup(&self) -> Option<&ChildCgroup> {
        self.cgroup.as_ref()
    }

    /// A container unit's cgroup: its tree is the cgroup's members (the engine's `conmon` and
    /// the container are no descendants of the `run` client), `None` for a plain process.
    pub fn container_cgroup(&self) -> Option<&ChildCgroup> {
        self.container.and(self.cgroup.as_ref())
    }

    /// The descendants followed by parent pid (none when the child has a cgroup).
    pub fn descendants(&self) -> Vec<i32> {
        self.tree
            .as_ref()
            .map(|t| lock(t).pids())
            .unwrap_or_default()
    }

    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// The last output lines (at most [`super::OUTPUT_RING_LINES`]), oldest first, and how many
    /// lines could not be forwarded on the output channel.
    pub fn recent_output(&self) -> (Vec<(Stream, String)>, u64) {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        (ring.lines(), ring.dropped())
    }
}
