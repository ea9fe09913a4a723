//! Probes as configured: one enum for readiness, one for liveness, each checked the same way.
//!
//! ```text
//! ready  = { http = "http://127.0.0.1:8080/health" }   → Ready::Http(HttpTarget)
//! health = { exec = ["/opt/llama/check"] }             → Liveness::Exec(argv)
//! ```
//! A [`Ready::Log`] probe is fed the child's output lines with [`Ready::feed`]; `check` then
//! reports whether a line has matched so far.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use super::{
    exec, file_exists, http_get, tcp_connect, HeartbeatWatch, HttpTarget, LogMatcher, ProbeError,
    ProbeOutcome,
};

/// How a model or service shows it is ready.
#[derive(Debug, Clone)]
pub enum Ready {
    Http(HttpTarget),
    Tcp(String),
    Log(LogMatcher),
    File(PathBuf),
}

/// How a running service shows it is still alive.
#[derive(Debug, Clone)]
pub enum Liveness {
    Http(HttpTarget),
    Tcp(String),
    Exec(Vec<String>),
    /// Remembers the last mtime it saw: check it through one `&mut` for the unit's life.
    Heartbeat(HeartbeatWatch),
}

impl Ready {
    /// Feeds one output line of the child (only a log probe cares).
    pub fn feed(&mut self, line: &str) {
        if let Ready::Log(m) = self {
            m.feed(line);
        }
    }

    pub async fn check(&self, timeout: Duration) -> ProbeOutcome {
        match self {
            Ready::Http(t) => http_get(t, timeout).await,
            Ready::Tcp(addr) => tcp_connect(addr, timeout).await,
            Ready::Log(m) => m.outcome(),
            Ready::File(path) => file_exists(path),
        }
    }
}

impl Liveness {
    /// Runs the probe once; the clocks decide heartbeat staleness (see [`HeartbeatWatch`]).
    pub async fn check(
        &mut self,
        timeout: Duration,
        wall_now: SystemTime,
        mono_now: Instant,
    ) -> Result<ProbeOutcome, ProbeError> {
        Ok(match self {
            Liveness::Http(t) => http_get(t, timeout).await,
            Liveness::Tcp(addr) => tcp_connect(addr, timeout).await,
            Liveness::Exec(argv) => exec(argv, timeout).await?,
            Liveness::Heartbeat(watch) => watch.check(wall_now, mono_now),
        })
    }
}
