//! The TCP probe: healthy when a connection to `host:port` is accepted within the timeout.
//!
//! ```text
//! tcp_connect("127.0.0.1:8080", 1s) → ProbeOutcome { ok: false, detail: "connect refused (127.0.0.1:8080)" }
//! ```
#![allow(clippy::disallowed_methods)] // I/O module: measures how long the probe took

use std::io;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::{timed_out, ProbeOutcome};

/// Connects to `addr` (`host:port`) and closes again.
pub async fn tcp_connect(addr: &str, timeout: Duration) -> ProbeOutcome {
    let start = Instant::now();
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => ProbeOutcome::fail(timed_out(timeout), start.elapsed()),
        Ok(Err(e)) => ProbeOutcome::fail(connect_failure(addr, &e), start.elapsed()),
        Ok(Ok(_)) => ProbeOutcome::pass(format!("connected to {addr}"), start.elapsed()),
    }
}

/// `"connect refused (127.0.0.1:8080)"`, or the OS error for anything else.
pub(crate) fn connect_failure(addr: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => format!("connect refused ({addr})"),
        _ => format!("connect to {addr} failed: {e}"),
    }
}
