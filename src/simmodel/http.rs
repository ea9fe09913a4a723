//! The `sim-model` health endpoint: a tiny HTTP/1.1 server on one std thread.
//!
//! Bound only once the model is ready, so "connection refused" means "still loading", as with
//! most real model servers. It answers one request per connection and closes it:
//!
//! ```text
//! GET /health HTTP/1.1   →  200 ok           while healthy
//!                        →  503 unhealthy    once --unhealthy-after has passed
//! GET /anything-else     →  404 not found
//! POST /health           →  405 method not allowed
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::simmodel::Health;

/// Why the health server could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// A request line's longest accepted length and the longest header section read.
const MAX_HEADER_BYTES: usize = 8 * 1024;

/// The status line and body for a request line such as `GET /health HTTP/1.1`. Pure.
pub fn respond(request_line: &str, healthy: bool) -> (u16, &'static str) {
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/health") if healthy => (200, "ok\n"),
        ("GET", "/health") => (503, "unhealthy\n"),
        (_, "/health") => (405, "method not allowed\n"),
        _ => (404, "not found\n"),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    }
}

/// Binds `addr` and serves health on a background thread; returns the bound address (useful
/// with port 0).
pub fn serve(addr: &str, health: Arc<Health>) -> Result<SocketAddr, HttpError> {
    let bind_err = |source| HttpError::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).map_err(bind_err)?;
    let local = listener.local_addr().map_err(bind_err)?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Err(e) = answer(stream, &health) {
                eprintln!("sim-model: health request failed: {e}");
            }
        }
    });
    Ok(local)
}

fn answer(stream: TcpStream, health: &Health) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Drain the headers up to the blank line so the client sees a clean close.
    let mut seen = request_line.len();
    let mut line = String::new();
    while seen < MAX_HEADER_BYTES {
        line.clear();
        let n = reader.read_line(&mut line)?;
        seen += n;
        if n == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let (status, body) = respond(&request_line, health.is_healthy());
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        reason(status),
        body.len()
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_200_while_healthy_and_503_after() {
        assert_eq!(respond("GET /health HTTP/1.1\r\n", true).0, 200);
        assert_eq!(respond("GET /health?x=1 HTTP/1.1\r\n", true).0, 200);
        assert_eq!(respond("GET /health HTTP/1.1\r\n", false).0, 503);
    }

    #[test]
    fn other_paths_are_404_and_other_methods_405() {
        assert_eq!(respond("GET / HTTP/1.1\r\n", true).0, 404);
        assert_eq!(respond("GET /healthz HTTP/1.1\r\n", true).0, 404);
        assert_eq!(respond("POST /health HTTP/1.1\r\n", true).0, 405);
        assert_eq!(respond("", true).0, 404);
    }
}
