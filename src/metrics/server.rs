//! The `/metrics` listener (`[metrics] listen`): TCP, one request per connection, answered
//! from the latest published [`Snapshot`](super::Snapshot) without asking the core loop.
//!
//! Bounded ([`BOUNDS`]): at most 8 connections at once (a ninth is closed at once, unread),
//! a request head of at most 8 KiB that must arrive within 5 s, a response that must be taken
//! within 10 s. Garbage gets 400, other paths 404, other methods 405; none of them touches
//! anything. The endpoint is unauthenticated: `docs/configuration.md` says so.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::http::{self, Route, MAX_HEAD_BYTES};
use super::{process, render, Snapshots};
use crate::tasks::Tasks;

/// What one scraper (or many) may cost the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Connections served at once; past it a new one is closed unread.
    pub max_connections: usize,
    /// A complete request head must arrive within this.
    pub read_timeout: Duration,
    /// The response must be taken within this.
    pub write_timeout: Duration,
}

pub const BOUNDS: Bounds = Bounds {
    max_connections: 8,
    read_timeout: Duration::from_secs(5),
    write_timeout: Duration::from_secs(10),
};

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("metrics.listen {addr}: cannot listen: {source}")]
pub struct BindError {
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// Binds `addr` (the agent refuses to start when it cannot).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| BindError { addr, source })
}

/// Serves connections until `tasks` is shut down, each on its own task.
pub async fn serve(listener: TcpListener, snapshots: Snapshots, tasks: Tasks) {
    let cancel = tasks.token();
    let slots = Arc::new(Semaphore::new(BOUNDS.max_connections));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Over the cap the stream is dropped here: closed, nothing read.
                    if let Ok(slot) = slots.clone().try_acquire_owned() {
                        let snapshots = snapshots.clone();
                        tasks.spawn_until_shutdown(async move {
                            answer(stream, &snapshots).await;
                            drop(slot);
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!("metrics accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// Reads one request head and writes its answer; a client that is too slow or sends too
/// much gets what fits (400) or nothing.
async fn answer(mut stream: TcpStream, snapshots: &Snapshots) {
    let route = match tokio::time::timeout(BOUNDS.read_timeout, read_head(&mut stream)).await {
        Ok(Some(route)) => route,
        Ok(None) | Err(_) => return,
    };
    let bytes = match route {
        Route::Metrics { format, head_only } => {
            let snapshot = snapshots.borrow().clone();
            match snapshot {
                Some(s) => {
                    let body = render(&s, process::read().as_ref(), format);
                    http::response("200 OK", format.content_type(), body.as_bytes(), head_only)
                }
                None => http::response(
                    "503 Service Unavailable",
                    "text/plain; charset=utf-8",
                    b"the agent is starting: no figures yet\n",
                    head_only,
                ),
            }
        }
        other => {
            let (status, body) = http::refusal(other);
            http::response(status, "text/plain; charset=utf-8", body.as_bytes(), false)
        }
    };
    let write = async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(BOUNDS.write_timeout, write).await;
}

/// The route of the request head on `stream`; `None` when the client closed before one.
async fn read_head(stream: &mut TcpStream) -> Option<Route> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let head = http::head_len(&buf);
        if head.unwrap_or(buf.len()) > MAX_HEAD_BYTES {
            return Some(Route::BadRequest("the request head is over 8 KiB"));
        }
        if let Some(len) = head {
            return Some(http::route(&buf[..len]));
        }
    }
}
