//! The process side of `sim-model`: SIGTERM, timers, heartbeat, ready signals, children, exit.
//!
//! SIGTERM is blocked in every thread (the mask is set before any thread starts, so all inherit
//! it) and taken synchronously by one thread with `sigwait`: no signal handler, no unsafe code.
//! With `--ignore-term` that thread logs and carries on; otherwise it exits 0 at once.
//!
//! Exit is one path, [`Control::exit`]: children get SIGTERM, a short grace, then SIGKILL, so
//! a test never leaves orphans behind. A child is this same program run as
//! `jetgate sim-model --alloc SIZE [--ignore-term]`; it prints `READY` on stdout and the
//! parent waits for that line before it goes on, so the whole tree is resident before ready.
#![allow(clippy::disallowed_methods)] // an I/O module: spawns its children and reads the clock

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::Pid;

use crate::simmodel::{log, Options};
use crate::units::{format_duration, Bytes};

/// How long children get between SIGTERM and SIGKILL when the parent exits.
const CHILD_GRACE: Duration = Duration::from_secs(2);

/// Why a process-level step failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot block SIGTERM for sigwait: {0}")]
    SignalMask(nix::Error),
    #[error("cannot write ready file {path}: {source}")]
    ReadyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot print READY on stdout: {0}")]
    Stdout(std::io::Error),
    #[error("cannot find this program to spawn children: {0}")]
    CurrentExe(std::io::Error),
    #[error("cannot spawn child {index} ({exe}): {source}")]
    Spawn {
        index: u32,
        exe: PathBuf,
        source: std::io::Error,
    },
    #[error("child {index} (pid {pid}) exited before it printed READY")]
    ChildNotReady { index: u32, pid: u32 },
}

/// Shared process state: the children to take down on exit.
#[derive(Debug, Clone)]
pub struct Control {
    children: Arc<Mutex<Vec<Child>>>,
}

impl Control {
    /// Blocks SIGTERM in this (still single) thread and starts the thread that takes it.
    pub fn install(ignore_term: bool) -> Result<Control, ProcessError> {
        let mut term = SigSet::empty();
        term.add(Signal::SIGTERM);
        term.thread_block().map_err(ProcessError::SignalMask)?;
        let control = Control {
            children: Arc::new(Mutex::new(Vec::new())),
        };
        let taker = control.clone();
        std::thread::spawn(move || loop {
            match term.wait() {
                Ok(_) if ignore_term => log("SIGTERM received, ignoring it (--ignore-term)"),
                Ok(_) => {
                    log("SIGTERM received, exiting 0");
                    taker.exit(0);
                }
                Err(e) => log(format_args!("sigwait failed: {e}")),
            }
        });
        Ok(control)
    }

    /// Takes the children down (TERM, grace, KILL) and exits the process with `code`.
    pub fn exit(&self, code: u8) -> ! {
        let mut children = match self.children.lock() {
            Ok(mut guard) => std::mem::take(&mut *guard),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for child in &children {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + CHILD_GRACE;
        while Instant::now() < deadline
            && children
                .iter_mut()
                .any(|c| matches!(c.try_wait(), Ok(None)))
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        for child in &mut children {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        std::process::exit(i32::from(code))
    }

    /// Spawns `n` children holding `alloc` each and waits until each printed `READY`.
    pub fn spawn_children(
        &self,
        n: u32,
        alloc: Bytes,
        ignore_term: bool,
    ) -> Result<(), ProcessError> {
        let exe = std::env::current_exe().map_err(ProcessError::CurrentExe)?;
        log(format_args!("spawning {n} children of {alloc} each"));
        for index in 0..n {
            let mut cmd = Command::new(&exe);
            cmd.arg("sim-model")
                .arg("--alloc")
                .arg(alloc.get().to_string());
            if ignore_term {
                cmd.arg("--ignore-term");
            }
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|source| ProcessError::Spawn {
                    index,
                    exe: exe.clone(),
                    source,
                })?;
            let pid = child.id();
            let stdout = child.stdout.take();
            self.push(child);
            let ready = stdout.is_some_and(|out| {
                BufReader::new(out)
                    .lines()
                    .map_while(Result::ok)
                    .any(|line| line.trim() == "READY")
            });
            if !ready {
                return Err(ProcessError::ChildNotReady { index, pid });
            }
        }
        Ok(())
    }

    fn push(&self, child: Child) {
        match self.children.lock() {
            Ok(mut guard) => guard.push(child),
            Err(poisoned) => poisoned.into_inner().push(child),
        }
    }
}

/// Starts the timer threads: `--exit-after`, the unhealthy flip's log line, the heartbeat.
pub fn spawn_timers(opts: &Options, start: Instant, control: &Control) {
    if let Some(after) = opts.exit_after {
        let (control, code) = (control.clone(), opts.exit_code);
        std::thread::spawn(move || {
            sleep_until(start + after);
            log(format_args!(
                "exiting with code {code} after {} (--exit-after)",
                format_duration(after)
            ));
            control.exit(code);
        });
    }
    if let Some(after) = opts.unhealthy_after {
        std::thread::spawn(move || {
            sleep_until(start + after);
            log("unhealthy: /health now answers 503");
        });
    }
    if let Some(path) = opts.heartbeat.clone() {
        let interval = opts.heartbeat_interval.max(Duration::from_millis(1));
        let stop = opts.heartbeat_stop_after.map(|d| start + d);
        std::thread::spawn(move || heartbeat(&path, interval, stop));
    }
}

fn heartbeat(path: &Path, interval: Duration, stop: Option<Instant>) {
    log(format_args!(
        "heartbeat to {} every {}",
        path.display(),
        format_duration(interval)
    ));
    loop {
        if stop.is_some_and(|s| Instant::now() >= s) {
            log("heartbeat stopped (--heartbeat-stop-after)");
            return;
        }
        if let Err(e) = touch(path) {
            log(format_args!(
                "cannot touch heartbeat {}: {e}",
                path.display()
            ));
        }
        std::thread::sleep(interval);
    }
}

/// Creates `path` if missing and sets its mtime to now.
fn touch(path: &Path) -> std::io::Result<()> {
    let file = File::options().create(true).append(true).open(path)?;
    file.set_modified(SystemTime::now())
}

fn sleep_until(when: Instant) {
    let now = Instant::now();
    if when > now {
        std::thread::sleep(when - now);
    }
}

/// Writes `path` atomically: our pid into a temporary file beside it, then a rename.
pub fn write_ready_file(path: &Path) -> Result<(), ProcessError> {
    let err = |source| ProcessError::ReadyFile {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp.{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut file = File::create(&tmp).map_err(err)?;
    writeln!(file, "{}", std::process::id()).map_err(err)?;
    file.sync_all().map_err(err)?;
    fs::rename(&tmp, path).map_err(err)
}

/// Prints `READY` on stdout and flushes it.
pub fn print_ready() -> Result<(), ProcessError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY")
        .and_then(|()| out.flush())
        .map_err(ProcessError::Stdout)
}
