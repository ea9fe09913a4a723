//! The tegrastats source: runs the board's `tegrastats --interval 1000` as a child, parses each
//! line with `tegrastats_parser` in its own task (never on the core loop), and keeps the latest
//! figures in a `watch` channel the status document reads.
//!
//! It owns the child process and the [`TegrastatsView`] it publishes. A missing binary, one
//! that cannot start, or one that exits makes the view `unavailable` with the reason, logged
//! once per distinct reason (no error spam); it is tried again every [`RETRY`]. A line that is
//! not tegrastats output is counted and the previous figures stay. A tegrastats that gave
//! figures and then ends is one `source_unavailable` event, its next good line one
//! `source_recovered`.
//!
//! The status document's `tegrastats` key (sizes in bytes, power in mW; `sample` is one
//! `jetgate tegrastats --json` object, see `docs/tegrastats.md`):
//!
//! ```json
//! {"state": "running", "path": "/usr/bin/tegrastats", "interval_ms": 1000, "reason": null,
//!  "age_ms": 420, "lines": 37, "bad_lines": 0, "last_error": null,
//!  "sample": {"time": "2024-11-15T08:38:09", "ram": {...}, "cpus": [...], "gpu": {...}, ...}}
//! {"state": "unavailable", "path": "/usr/bin/tegrastats", "interval_ms": 1000,
//!  "reason": "/usr/bin/tegrastats not found", "age_ms": null, "lines": 0, "bad_lines": 0,
//!  "last_error": null, "sample": null}
//! ```
// I/O module: spawns tegrastats (through the runner's registry, so orphan reaping never steals
// its exit status) and stamps each line with the monotonic clock for `age_ms`.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::agent::source_watch::Availability;
use crate::event::NewEvent;
use crate::tasks::Tasks;

use crate::runner::child_env;
use crate::runner::reap::spawn_registered;
use crate::status::TegrastatsSection;

/// The sampling interval passed to `tegrastats --interval`, in milliseconds.
pub const INTERVAL_MS: u32 = 1000;
/// How long after tegrastats is found missing, fails to start, or exits it is tried again.
pub const RETRY: Duration = Duration::from_secs(30);
/// The longest line kept; a longer one is counted as bad (tegrastats lines are under 1 KiB).
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Where the source stands.
pub use crate::status::TegrastatsState as State;

/// The latest tegrastats figures and the source's health.
#[derive(Debug, Clone)]
pub struct TegrastatsView {
    pub path: PathBuf,
    pub state: State,
    pub reason: Option<String>,
    /// The latest good line as a `jetgate tegrastats --json` object.
    pub sample: Option<Value>,
    /// When that line was read.
    pub at: Option<Instant>,
    pub lines: u64,
    pub bad_lines: u64,
    pub last_error: Option<String>,
}

impl TegrastatsView {
    pub fn new(path: PathBuf) -> TegrastatsView {
        TegrastatsView {
            path,
            state: State::Starting,
            reason: None,
            sample: None,
            at: None,
            lines: 0,
            bad_lines: 0,
            last_error: None,
        }
    }

    /// Takes one output line read at `at`: a good line replaces the figures, a bad one is
    /// counted and remembered. Blank lines are skipped.
    pub fn ingest(&mut self, line: &str, at: Instant) {
        let line = line.trim_end();
        if line.trim().is_empty() {
            return;
        }
        if line.len() > MAX_LINE_BYTES {
            self.bad_lines += 1;
            self.last_error = Some(format!("line of {} bytes is too long", line.len()));
            return;
        }
        match tegrastats_parser::parse_line(line) {
            Ok(sample) => {
                self.sample = Some(serde_json::to_value(&sample).unwrap_or(Value::Null));
                self.at = Some(at);
                self.lines += 1;
                self.state = State::Running;
                self.reason = None;
            }
            Err(e) => {
                self.bad_lines += 1;
                self.last_error = Some(e.to_string());
            }
        }
    }

    /// Marks the source unavailable; the last figures stay (with their age) for context.
    pub fn unavailable(&mut self, reason: String) {
        self.state = State::Unavailable;
        self.reason = Some(reason);
    }

    /// The status document's `tegrastats` section at `now` (see the module doc).
    pub fn section(&self, now: Instant) -> TegrastatsSection {
        TegrastatsSection {
            state: self.state,
            path: self.path.display().to_string(),
            interval_ms: INTERVAL_MS,
            reason: self.reason.clone(),
            age_ms: self
                .at
                .map(|at| now.saturating_duration_since(at).as_millis() as u64),
            lines: self.lines,
            bad_lines: self.bad_lines,
            last_error: self.last_error.clone(),
            sample: self.sample.clone(),
        }
    }
}

/// Where the source's `source_unavailable` and `source_recovered` events go (the agent: its
/// store).
pub type EventSink = Box<dyn Fn(NewEvent) + Send + Sync>;

/// The source's name in its events.
const SOURCE: &str = "tegrastats";

/// Starts the source task under `tasks`; the receiver always holds the latest view.
pub fn spawn(path: PathBuf, tasks: &Tasks, events: EventSink) -> watch::Receiver<TegrastatsView> {
    spawn_retrying(path, tasks, events, RETRY)
}

/// [`spawn`], trying again every `retry` instead of [`RETRY`].
pub fn spawn_retrying(
    path: PathBuf,
    tasks: &Tasks,
    events: EventSink,
    retry: Duration,
) -> watch::Receiver<TegrastatsView> {
    let (tx, rx) = watch::channel(TegrastatsView::new(path.clone()));
    tasks.spawn(run(path, tx, tasks.token(), events, retry));
    rx
}

/// Runs tegrastats until `cancel`, restarting it after `retry` when it is missing or ends. A
/// tegrastats that gave figures and then ends is one `source_unavailable`; its first good line
/// after that one `source_recovered` (a board without tegrastats is no event).
async fn run(
    path: PathBuf,
    tx: watch::Sender<TegrastatsView>,
    cancel: CancellationToken,
    events: EventSink,
    retry: Duration,
) {
    let mut logged: Option<String> = None;
    let mut availability = Availability::default();
    loop {
        let reason = tokio::select! {
            reason = run_once(&path, &tx, &mut availability, &events) => reason,
            _ = cancel.cancelled() => return,
        };
        if logged.as_deref() != Some(reason.as_str()) {
            tracing::info!("tegrastats figures unavailable: {reason}; retrying every {retry:?}");
            logged = Some(reason.clone());
        }
        if let Some(event) = availability.observe(SOURCE, Err(&reason), Instant::now()) {
            events(event);
        }
        tx.send_modify(|v| v.unavailable(reason));
        tokio::select! {
            _ = tokio::time::sleep(retry) => {}
            _ = cancel.cancelled() => return,
        }
    }
}

/// One run of tegrastats, until it cannot start or its output ends; returns why. Dropping this
/// future (on cancel) kills the child (`kill_on_drop`).
async fn run_once(
    path: &std::path::Path,
    tx: &watch::Sender<TegrastatsView>,
    availability: &mut Availability,
    events: &EventSink,
) -> String {
    if !path.exists() {
        return format!("{} not found", path.display());
    }
    let mut cmd = tokio::process::Command::new(path);
    cmd.args(["--interval", &INTERVAL_MS.to_string()])
        .env_clear()
        .envs(child_env(std::env::vars_os(), &[]))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let (mut child, tracked) = match spawn_registered(&mut cmd) {
        Ok(c) => c,
        Err(e) => return format!("cannot run {}: {e}", path.display()),
    };
    tx.send_modify(|v| {
        v.state = State::Starting;
        v.reason = None;
    });
    let Some(stdout) = child.stdout.take() else {
        return format!("{} has no stdout", path.display());
    };
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    let ended = loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) => break "its output ended".to_string(),
            Ok(_) => {
                let at = Instant::now();
                let text = String::from_utf8_lossy(&line);
                let mut good = false;
                tx.send_modify(|v| {
                    let before = v.lines;
                    v.ingest(&text, at);
                    good = v.lines > before;
                });
                if good {
                    if let Some(event) = availability.observe(SOURCE, Ok(()), at) {
                        events(event);
                    }
                }
            }
            Err(e) => break format!("reading its output failed: {e}"),
        }
    };
    let _ = child.start_kill();
    let status = child.wait().await;
    drop(tracked);
    match status {
        Ok(s) => format!("{} exited ({s}); {ended}", path.display()),
        Err(_) => format!("{} stopped; {ended}", path.display()),
    }
}

#[cfg(test)]
mod tests;
