//! The control socket server: a Unix stream socket (mode 0600, or 0660 with `control.group`) that turns each
//! request line into a [`ControlRequest`] for the core loop and writes back its response line.
//!
//! The server never touches agent state: it decodes, forwards on one channel, and relays the
//! reply. Garbage, oversized or half-written requests are answered with an error line and change
//! nothing; the connection is then closed. A client may send several requests on one
//! connection; each gets exactly one response line, in order. `events` answers are written a
//! page at a time ([`pages`]); who keeps a place when all are taken is [`slots`]' decision.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken as CancelToken;

use super::protocol::{
    decode_request, Cmd, ErrorCode, Response, MAX_REQUEST_BYTES, TOO_MANY_CONNECTIONS,
};
use crate::event::figures::ControlConnectionsShed;
use crate::event::NewEvent;
use crate::tasks::Tasks;

pub mod pages;
pub mod slots;

use pages::{EventsAsk, Relayed};
use slots::{Admission, SlotId, Slots};

/// How long a new connection may take to send its first complete request. Short: a client
/// that connects has its request ready, and one that drips it a byte at a time must not hold
/// a place for long.
pub const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connection that was answered may sit before sending its next complete request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one piece of an answer (a line, or a page of events) may take to be written: a
/// client that does not read is closed after it.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections held at once (each is a task, a socket, a request buffer of up to
/// `MAX_REQUEST_BYTES` and at most one page of events, `pages::PAGE_ROWS` rows). When all are
/// held, a new connection takes the place of the one that has waited on its client longest
/// (idle, silent, dripping its request, or not reading its answer; see [`slots`]); only when
/// every one waits on the agent (a `load --wait`, a page being fetched) is the new one answered
/// `refused: too many connections` and closed. A client that opens sockets in a loop can
/// neither grow the agent nor lock others out.
pub const MAX_CONNECTIONS: usize = 128;

/// A decoded request on its way to the core loop, with where to send the answer.
#[derive(Debug)]
pub struct ControlRequest {
    pub cmd: Cmd,
    pub reply: oneshot::Sender<Response>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("control socket {path}: {source}")]
    Bind { path: PathBuf, source: io::Error },
    #[error("control socket {path}: another agent is listening there")]
    InUse { path: PathBuf },
    #[error("control socket {path}: group {group:?} does not exist")]
    NoGroup { path: PathBuf, group: String },
    #[error(
        "control socket {path}: a {kind} is there, not a socket; it is left as it is \
         (remove it or set `control.socket` to another path)"
    )]
    NotASocket { path: PathBuf, kind: &'static str },
}

/// What is at `path` where a socket should be, in words; `None` for a socket or nothing.
pub fn not_a_socket(path: &Path) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let kind = std::fs::symlink_metadata(path).ok()?.file_type();
    Some(if kind.is_socket() {
        return None;
    } else if kind.is_dir() {
        "directory"
    } else if kind.is_symlink() {
        "symbolic link"
    } else if kind.is_file() {
        "regular file"
    } else {
        "special file"
    })
}

/// Binds the socket: creates its directory, removes a stale socket left by a crashed agent
/// (but refuses if a live agent answers there, and never removes anything that is not a
/// socket), sets mode 0600, or 0660 and the group with `group`.
pub async fn bind(path: &Path, group: Option<&str>) -> Result<UnixListener, ServerError> {
    let err = |source| ServerError::Bind {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(err)?;
    }
    if let Some(kind) = not_a_socket(path) {
        return Err(ServerError::NotASocket {
            path: path.to_path_buf(),
            kind,
        });
    }
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(ServerError::InUse {
                path: path.to_path_buf(),
            });
        }
        tokio::fs::remove_file(path).await.map_err(err)?;
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    let mode = if group.is_some() { 0o660 } else { 0o600 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(err)?;
    if let Some(name) = group {
        let gid = nix::unistd::Group::from_name(name)
            .ok()
            .flatten()
            .ok_or_else(|| ServerError::NoGroup {
                path: path.to_path_buf(),
                group: name.to_string(),
            })?
            .gid;
        nix::unistd::chown(path, None, Some(gid)).map_err(|e| err(io::Error::from(e)))?;
    }
    Ok(listener)
}

/// Accepts connections until `tasks` is shut down; each connection is served on its own task,
/// spawned through `tasks`.
pub async fn serve(
    listener: UnixListener,
    core: mpsc::Sender<ControlRequest>,
    tasks: Tasks,
    report: Report,
) {
    let shed = ShedReport {
        every: SHED_REPORT_EVERY,
        report,
    };
    serve_limited(listener, core, tasks, MAX_CONNECTIONS, shed).await;
}

/// Where the server's own events go (the store's writer, in the agent).
pub type Report = Arc<dyn Fn(NewEvent) + Send + Sync>;

/// How often, at most, connections closed or refused for room become one event.
pub const SHED_REPORT_EVERY: Duration = Duration::from_secs(60);

/// The shed connections' event: at most one per `every`, with the counts since the last.
pub struct ShedReport {
    pub every: Duration,
    pub report: Report,
}

/// Connections given up for room since the last report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Shed {
    /// Closed to make room (they waited on their clients longest).
    evicted: u64,
    /// Refused: every place waited on the agent.
    refused: u64,
}

impl Shed {
    /// The event for what was shed in a window of `window`, if anything was; pure.
    fn event(self, window: Duration, max_connections: usize) -> Option<NewEvent> {
        if self == Shed::default() {
            return None;
        }
        let message = format!(
            "control socket full ({max_connections} connections): {} idle connections closed \
             and {} refused in the last {} s",
            self.evicted,
            self.refused,
            window.as_secs()
        );
        Some(
            NewEvent::new(
                ControlConnectionsShed {
                    evicted: self.evicted,
                    refused: self.refused,
                    window_s: window.as_secs(),
                    max_connections: max_connections as u64,
                },
                None,
            )
            .message(message),
        )
    }
}

async fn serve_limited(
    listener: UnixListener,
    core: mpsc::Sender<ControlRequest>,
    tasks: Tasks,
    max_connections: usize,
    shed: ShedReport,
) {
    let cancel = tasks.token();
    let table = Arc::new(Mutex::new(Table {
        slots: Slots::new(max_connections),
        tokens: HashMap::new(),
        pages: Arc::new(Semaphore::new(pages::PAGES_IN_FLIGHT)),
        shed: Shed::default(),
    }));
    let mut report_tick = tokio::time::interval(shed.every);
    report_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = report_tick.tick() => {
                let since = std::mem::take(&mut lock(&table).shed);
                if let Some(event) = since.event(shed.every, max_connections) {
                    event.log();
                    (shed.report)(event);
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => match Place::take(&table, &cancel) {
                    Some(place) => {
                        tasks.spawn(serve_connection(stream, core.clone(), place));
                    }
                    None => {
                        tracing::debug!("control socket full, every place busy: refusing a connection");
                        lock(&table).shed.refused += 1;
                        tasks.spawn(refuse_busy(stream, max_connections));
                    }
                },
                Err(e) => {
                    tracing::warn!("control socket accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// The connections held ([`Slots`]), how to close each one (its token), and the turns to
/// fetch a page of events ([`pages::PAGES_IN_FLIGHT`]).
struct Table {
    slots: Slots,
    tokens: HashMap<SlotId, CancelToken>,
    pages: Arc<Semaphore>,
    /// Given up for room since the last report.
    shed: Shed,
}

/// A connection's place in the table: it says what the connection waits on, is cancelled when
/// the connection is evicted or the agent stops, and frees the place when dropped.
pub struct Place {
    table: Arc<Mutex<Table>>,
    id: SlotId,
    cancel: CancelToken,
}

/// Locks the table; a panic elsewhere while it was held leaves it usable (it holds plain data).
fn lock(table: &Mutex<Table>) -> MutexGuard<'_, Table> {
    table.lock().unwrap_or_else(|p| p.into_inner())
}

impl Place {
    /// A place for a new connection, evicting the one that has waited on its client longest
    /// when the table is full; `None` when every connection waits on the agent.
    fn take(table: &Arc<Mutex<Table>>, server: &CancelToken) -> Option<Place> {
        let mut t = lock(table);
        let Admission::Admitted { id, evicted } = t.slots.admit() else {
            return None;
        };
        if let Some(token) = evicted.and_then(|victim| t.tokens.remove(&victim)) {
            tracing::debug!("control socket full: closing the connection idle longest");
            token.cancel();
            t.shed.evicted += 1;
        }
        let cancel = server.child_token();
        t.tokens.insert(id, cancel.clone());
        Some(Place {
            table: Arc::clone(table),
            id,
            cancel,
        })
    }

    /// The connection waits on the agent from now; false if it was evicted meanwhile (it is
    /// then closed without an answer: its place is someone else's).
    fn on_agent(&self) -> bool {
        let mut t = lock(&self.table);
        t.slots.on_agent(self.id);
        t.tokens.contains_key(&self.id) && !self.cancel.is_cancelled()
    }

    /// The connection waits on its client from now (for a request, or to read an answer).
    fn on_client(&self) {
        lock(&self.table).slots.on_client(self.id);
    }

    /// A turn to fetch a page of events, once one is free; `None` if the connection is
    /// closed meanwhile (evicted, or the agent stops).
    async fn fetching(&self) -> Option<OwnedSemaphorePermit> {
        let pages = Arc::clone(&lock(&self.table).pages);
        tokio::select! {
            _ = self.cancel.cancelled() => None,
            permit = pages.acquire_owned() => permit.ok(),
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut t = lock(&self.table);
        t.slots.release(self.id);
        t.tokens.remove(&self.id);
    }
}

enum LineRead {
    Line(Vec<u8>),
    Eof,
    TooLong,
    Partial,
}

async fn read_request_line(
    reader: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
) -> io::Result<LineRead> {
    let mut line = Vec::new();
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(if line.is_empty() {
                LineRead::Eof
            } else {
                LineRead::Partial
            });
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if line.len() + chunk.len() > MAX_REQUEST_BYTES {
            return Ok(LineRead::TooLong);
        }
        line.extend_from_slice(chunk);
        let used = done.unwrap_or(buf.len());
        reader.consume(used);
        if done.is_some() {
            return Ok(LineRead::Line(line));
        }
    }
}

/// Answers a connection past [`MAX_CONNECTIONS`] (every place waits on the agent) with one
/// error line and closes it.
async fn refuse_busy(mut stream: UnixStream, max_connections: usize) {
    let line = Response::error(
        ErrorCode::Refused,
        format!("{TOO_MANY_CONNECTIONS} (at most {max_connections} at once): try again"),
    )
    .to_line();
    let _ = tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(line.as_bytes())).await;
    let _ = stream.shutdown().await;
}

/// Writes `bytes` to the client within [`WRITE_TIMEOUT`]; an error when the client is gone,
/// too slow, or the connection was evicted or the agent stops meanwhile.
async fn send(out: &mut OwnedWriteHalf, bytes: &[u8], place: &Place) -> Result<(), ()> {
    tokio::select! {
        _ = place.cancel.cancelled() => Err(()),
        r = tokio::time::timeout(WRITE_TIMEOUT, out.write_all(bytes)) => match r {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        },
    }
}

/// Serves one connection; dropping `place` frees its place among [`MAX_CONNECTIONS`].
async fn serve_connection(stream: UnixStream, core: mpsc::Sender<ControlRequest>, place: Place) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut wait = FIRST_REQUEST_TIMEOUT;
    loop {
        let next = tokio::select! {
            _ = place.cancel.cancelled() => return,
            r = tokio::time::timeout(wait, read_request_line(&mut reader)) => r,
        };
        wait = IDLE_TIMEOUT;
        let (response, close) = match next {
            Err(_) | Ok(Err(_)) | Ok(Ok(LineRead::Eof)) => return,
            Ok(Ok(LineRead::TooLong)) => (
                Response::error(
                    ErrorCode::BadRequest,
                    format!("request is over the {MAX_REQUEST_BYTES}-byte limit"),
                ),
                true,
            ),
            Ok(Ok(LineRead::Partial)) => (
                Response::error(
                    ErrorCode::BadRequest,
                    "incomplete request: no newline before end of stream",
                ),
                true,
            ),
            Ok(Ok(LineRead::Line(line))) => match decode_request(&line) {
                Err(resp) => (resp, true),
                Ok(req) => match EventsAsk::from_cmd(req.cmd) {
                    Ok(ask) => match pages::relay(ask, &core, &place, &mut write).await {
                        Relayed::Whole => continue,
                        Relayed::Cut => break,
                    },
                    Err(cmd) => {
                        if !place.on_agent() {
                            return;
                        }
                        let response = forward(&core, cmd).await;
                        place.on_client();
                        (response, false)
                    }
                },
            },
        };
        if send(&mut write, response.to_line().as_bytes(), &place)
            .await
            .is_err()
            || close
        {
            break;
        }
    }
    let _ = write.shutdown().await;
}

/// Hands `cmd` to the core loop and waits for its answer.
async fn forward(core: &mpsc::Sender<ControlRequest>, cmd: Cmd) -> Response {
    let (reply, answer) = oneshot::channel();
    if core.send(ControlRequest { cmd, reply }).await.is_err() {
        return Response::error(ErrorCode::ShuttingDown, "the agent is shutting down");
    }
    answer
        .await
        .unwrap_or_else(|_| Response::error(ErrorCode::ShuttingDown, "the agent is shutting down"))
}

#[cfg(test)]
mod tests;
