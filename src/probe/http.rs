//! The HTTP probe: a minimal HTTP/1.1 `GET` over a tokio `TcpStream`, `http://` only.
//!
//! Sends one request with `Connection: close`, reads only the status line, and calls any 2xx
//! healthy. No redirects, no TLS, no body: model servers expose a plain local `/health`.
//!
//! ```text
//! GET /health HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: jetgate-probe\r\nConnection: close\r\n\r\n
//! ← HTTP/1.1 503 Service Unavailable     → ProbeOutcome { ok: false, detail: "http 503 from 127.0.0.1:8080/health" }
//! ```
#![allow(clippy::disallowed_methods)] // I/O module: measures how long the probe took

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{timed_out, ProbeError, ProbeOutcome};

/// Longest status line read before giving up on the answer.
const MAX_STATUS_LINE: usize = 1024;

/// A parsed `http://host[:port][/path]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    /// Host as written (an IPv6 literal keeps its brackets).
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl HttpTarget {
    pub fn parse(url: &str) -> Result<HttpTarget, ProbeError> {
        let bad = |reason| ProbeError::BadUrl {
            url: url.to_string(),
            reason,
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("only http:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(bad("credentials in the URL are not supported"));
        }
        let (host, port) = match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => {
                let port = authority[i + 1..]
                    .parse::<u16>()
                    .map_err(|_| bad("the port is not a number from 0 to 65535"))?;
                (&authority[..i], port)
            }
            _ => (authority, 80),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(HttpTarget {
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }

    /// `host:port` (what `TcpStream::connect` and the `Host` header take).
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    fn request(&self) -> String {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: jetgate-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            self.path,
            self.authority()
        )
    }
}

impl std::fmt::Display for HttpTarget {
    /// `127.0.0.1:8080/health`, the form used in details.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.authority(), self.path)
    }
}

/// Parses the status code out of `HTTP/1.x NNN reason`.
pub fn parse_status_line(line: &str) -> Option<u16> {
    let mut parts = line.split_ascii_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

/// One `GET`; healthy on 2xx. The whole exchange (resolve, connect, send, status line) is
/// bounded by `timeout`.
pub async fn http_get(target: &HttpTarget, timeout: Duration) -> ProbeOutcome {
    let start = Instant::now();
    match tokio::time::timeout(timeout, exchange(target)).await {
        Err(_) => ProbeOutcome::fail(timed_out(timeout), start.elapsed()),
        Ok(Err(detail)) => ProbeOutcome::fail(detail, start.elapsed()),
        Ok(Ok(code)) => {
            let detail = format!("http {code} from {target}");
            if (200..300).contains(&code) {
                ProbeOutcome::pass(detail, start.elapsed())
            } else {
                ProbeOutcome::fail(detail, start.elapsed())
            }
        }
    }
}

async fn exchange(target: &HttpTarget) -> Result<u16, String> {
    let authority = target.authority();
    let mut stream = TcpStream::connect(&authority)
        .await
        .map_err(|e| super::tcp::connect_failure(&authority, &e))?;
    stream
        .write_all(target.request().as_bytes())
        .await
        .map_err(|e| format!("sending the request to {target}: {e}"))?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    loop {
        if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..end]);
            return parse_status_line(&line)
                .ok_or_else(|| format!("not an HTTP status line from {target}: {line:?}"));
        }
        if buf.len() > MAX_STATUS_LINE {
            return Err(format!(
                "no status line in the first {MAX_STATUS_LINE} bytes from {target}"
            ));
        }
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading the answer from {target}: {e}"))?;
        if n == 0 {
            return Err(format!("{target} closed the connection without an answer"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_and_path() {
        let t = HttpTarget::parse("http://127.0.0.1:8080/health?full=1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 8080, "/health?full=1")
        );
        let t = HttpTarget::parse("http://localhost").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("localhost", 80, "/")
        );
        let t = HttpTarget::parse("http://[::1]:9000/h").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("[::1]", 9000));
        let t = HttpTarget::parse("http://[::1]/h").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("[::1]", 80));
    }

    #[test]
    fn refuses_https_bad_ports_and_missing_hosts() {
        for url in [
            "https://x/",
            "ftp://x",
            "http://x:99999/",
            "http://:80/",
            "http://u:p@x/",
        ] {
            let err = HttpTarget::parse(url).unwrap_err();
            assert!(err.to_string().contains(url), "{err}");
        }
    }

    #[test]
    fn reads_the_status_code_from_the_status_line() {
        assert_eq!(parse_status_line("HTTP/1.1 204 No Content"), Some(204));
        assert_eq!(parse_status_line("HTTP/1.0 503"), Some(503));
        assert_eq!(parse_status_line("SSH-2.0-OpenSSH"), None);
        assert_eq!(parse_status_line("HTTP/1.1 2000 x"), None);
    }
}
