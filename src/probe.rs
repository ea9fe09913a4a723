//! Readiness and liveness probes: is the model up yet, is the service still healthy?
//!
//! Each probe runs once and returns a [`ProbeOutcome`] (`ok`, a detail a human can act on, and
//! how long it took); it never errors, because "the check failed" is the answer, not a fault.
//! Only building a probe can fail ([`ProbeError`]: a bad URL or regex). Deciding what a run of
//! outcomes means is the pure [`HealthTracker`]: K failures in a row → [`Verdict::Failed`].
//!
//! | kind      | ready | live | ok when                                              |
//! |-----------|-------|------|------------------------------------------------------|
//! | http      | yes   | yes  | `GET` answers 2xx (`http://` only, HTTP/1.1)          |
//! | tcp       | yes   | yes  | a TCP connect succeeds                               |
//! | log       | yes   |      | a child output line matches a regex                  |
//! | file      | yes   |      | the path exists                                      |
//! | exec      |       | yes  | argv exits 0 within the timeout (killed otherwise)   |
//! | heartbeat |       | yes  | the file's mtime changed within `stale_after` (monotonic) |
//!
//! ```text
//! ProbeOutcome { ok: false, detail: "http 503 from 127.0.0.1:8080/health", took: 2.1ms }
//! ProbeOutcome { ok: false, detail: "timed out after 1s", took: 1.0s }
//! ```
//! Time is an argument where it decides (a heartbeat check takes both clocks); `took` is
//! measured here.

pub mod exec;
pub mod file;
pub mod health;
pub mod http;
pub mod kinds;
pub mod log;
pub mod tcp;

use std::time::Duration;

pub use exec::exec;
pub use file::{file_exists, HeartbeatWatch};
pub use health::{HealthTracker, Verdict};
pub use http::{http_get, HttpTarget};
pub use kinds::{Liveness, Ready};
pub use log::LogMatcher;
pub use tcp::tcp_connect;

/// The result of one probe run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    pub ok: bool,
    /// What was seen, naming the target: `"http 200 from 127.0.0.1:8080/health"`.
    pub detail: String,
    pub took: Duration,
}

impl ProbeOutcome {
    pub fn pass(detail: impl Into<String>, took: Duration) -> ProbeOutcome {
        ProbeOutcome {
            ok: true,
            detail: detail.into(),
            took,
        }
    }

    pub fn fail(detail: impl Into<String>, took: Duration) -> ProbeOutcome {
        ProbeOutcome {
            ok: false,
            detail: detail.into(),
            took,
        }
    }
}

/// A probe could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("probe URL {url:?}: {reason}")]
    BadUrl { url: String, reason: &'static str },
    #[error("log probe pattern {pattern:?}: {source}")]
    BadRegex {
        pattern: String,
        source: regex::Error,
    },
    #[error("exec probe: the command is empty")]
    EmptyArgv,
}

/// `"timed out after 1s"`: the one wording every probe uses for its timeout.
pub(crate) fn timed_out(timeout: Duration) -> String {
    format!("timed out after {timeout:?}")
}

#[cfg(test)]
mod tests;
