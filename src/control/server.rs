//! The control socket server: a Unix stream socket (mode 0600, or 0660 with `control.group`) that turns each
//! request line into a [`ControlRequest`] for the core loop and writes back its response line.
//!
//! The server never touches agent state: it decodes, forwards on one channel, and relays the
//! reply. Garbage, oversized or half-written requests are answered with an error line and change
//! nothing; the connection is then closed. A client may send several requests on one
//! connection; each gets exactly one response line, in order.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken as CancelToken;

use super::protocol::{decode_request, Cmd, ErrorCode, Response, MAX_REQUEST_BYTES};
use crate::tasks::Tasks;

/// How long a connection may sit without sending a complete request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections served at once (each is a task, a socket and a request buffer of up to
/// `MAX_REQUEST_BYTES`; a `load --wait` or `events --follow` holds one for its duration).
/// Past it a new connection is answered `refused: too many connections` and closed, so a
/// client that opens sockets in a loop cannot grow the agent.
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
pub async fn serve(listener: UnixListener, core: mpsc::Sender<ControlRequest>, tasks: Tasks) {
    serve_limited(listener, core, tasks, MAX_CONNECTIONS).await;
}

async fn serve_limited(
    listener: UnixListener,
    core: mpsc::Sender<ControlRequest>,
    tasks: Tasks,
    max_connections: usize,
) {
    let cancel = tasks.token();
    let slots = std::sync::Arc::new(Semaphore::new(max_connections));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        let core = core.clone();
                        let cancel = cancel.clone();
                        tasks.spawn(serve_connection(stream, core, cancel, slot));
                    }
                    Err(_) => {
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

/// Answers a connection over [`MAX_CONNECTIONS`] with one error line and closes it.
async fn refuse_busy(mut stream: UnixStream, max_connections: usize) {
    let line = Response::error(
        ErrorCode::Refused,
        format!("too many connections (at most {max_connections} at once): try again"),
    )
    .to_line();
    let _ = tokio::time::timeout(IDLE_TIMEOUT, stream.write_all(line.as_bytes())).await;
    let _ = stream.shutdown().await;
}

/// Serves one connection; `_slot` frees its place among [`MAX_CONNECTIONS`] when it ends.
async fn serve_connection(
    stream: UnixStream,
    core: mpsc::Sender<ControlRequest>,
    cancel: CancelToken,
    _slot: OwnedSemaphorePermit,
) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let next = tokio::select! {
            _ = cancel.cancelled() => return,
            r = tokio::time::timeout(IDLE_TIMEOUT, read_request_line(&mut reader)) => r,
        };
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
                Ok(req) => (forward(&core, req.cmd).await, false),
            },
        };
        if write
            .write_all(response.to_line().as_bytes())
            .await
            .is_err()
            || close
        {
            let _ = write.shutdown().await;
            return;
        }
    }
}

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
mod tests {
    use super::*;
    use crate::control::client::Client;
    use std::io::{BufRead, BufReader, Write};

    /// A stand-in core loop that answers every command with its debug form.
    fn echo_core() -> mpsc::Sender<ControlRequest> {
        let (tx, mut rx) = mpsc::channel::<ControlRequest>(8);
        tokio::spawn(async move {
            while let Some(req) = rx.recv().await {
                let _ = req
                    .reply
                    .send(Response::ok(serde_json::json!(format!("{:?}", req.cmd))));
            }
        });
        tx
    }

    async fn start() -> (tempfile::TempDir, PathBuf, CancelToken) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/control.sock");
        let listener = bind(&path, None).await.unwrap();
        let tasks = Tasks::new();
        let cancel = tasks.token();
        tokio::spawn(serve(listener, echo_core(), tasks));
        (dir, path, cancel)
    }

    fn raw_exchange(path: &Path, bytes: &[u8]) -> Response {
        let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
        s.write_all(bytes).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refuses_connections_past_the_limit_and_serves_again_once_one_closes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let listener = bind(&path, None).await.unwrap();
        let tasks = Tasks::new();
        let cancel = tasks.token();
        tokio::spawn(serve_limited(listener, echo_core(), tasks, 2));
        let p = path.clone();
        tokio::task::spawn_blocking(move || {
            let held: Vec<_> = (0..2)
                .map(|_| Client::connect(&p, Some(Duration::from_secs(5))).unwrap())
                .collect();
            // Both held connections are served first, so the third is past the limit.
            let mut held = held;
            for c in &mut held {
                assert!(c.call(Cmd::Status {}).unwrap().data.is_some());
            }
            let busy = raw_exchange(&p, b"");
            assert!(
                format!("{busy:?}").contains("too many connections"),
                "{busy:?}"
            );
            drop(held);
            assert!(
                served_within_retries(&p),
                "a slot was not given back when its connection closed"
            );
        })
        .await
        .unwrap();
        cancel.cancel();
    }

    /// A closed connection frees its slot shortly after: retry a bounded number of times.
    fn served_within_retries(path: &Path) -> bool {
        (0..200).any(|_| {
            let served = Client::connect(path, Some(Duration::from_secs(5)))
                .and_then(|mut c| c.call(Cmd::Status {}))
                .is_ok_and(|r| r.data.is_some());
            if !served {
                std::thread::sleep(Duration::from_millis(10));
            }
            served
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_valid_requests_in_order_on_one_connection() {
        let (_dir, path, cancel) = start().await;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "owner only without `control.group`");
        let answers = tokio::task::spawn_blocking(move || {
            let mut c = Client::connect(&path, Some(Duration::from_secs(5))).unwrap();
            let a = c.call(Cmd::Status {}).unwrap();
            let b = c.call(Cmd::Unload { name: "llm".into() }).unwrap();
            (a, b)
        })
        .await
        .unwrap();
        assert_eq!(answers.0.data.unwrap(), "Status");
        assert!(answers.1.data.unwrap().as_str().unwrap().contains("llm"));
        cancel.cancel();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_garbage_oversized_and_half_written_requests_with_errors() {
        let (_dir, path, cancel) = start().await;
        let cases: Vec<Vec<u8>> = vec![
            b"garbage\n".to_vec(),
            b"{\"v\":1,\"cmd\":\"load\"}\n".to_vec(),
            b"{\"v\":1,\"cmd\":\"status\"".to_vec(), // no newline, then EOF
            vec![b'x'; MAX_REQUEST_BYTES + 10],
            vec![0xff, 0x00, b'\n'],
        ];
        for bytes in cases {
            let p = path.clone();
            let resp = tokio::task::spawn_blocking(move || raw_exchange(&p, &bytes))
                .await
                .unwrap();
            assert!(!resp.ok);
            assert_eq!(resp.error.unwrap().code, ErrorCode::BadRequest);
        }
        cancel.cancel();
    }

    #[tokio::test]
    async fn refuses_to_take_over_a_socket_where_an_agent_listens() {
        let (_dir, path, cancel) = start().await;
        assert!(matches!(
            bind(&path, None).await,
            Err(ServerError::InUse { .. })
        ));
        cancel.cancel();
    }

    #[tokio::test]
    async fn replaces_a_stale_socket_left_by_a_crashed_agent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        bind(&path, None).await.unwrap();
    }

    #[tokio::test]
    async fn never_removes_a_file_that_is_not_a_socket_and_says_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("precious.txt");
        std::fs::write(&file, "keep me").unwrap();
        let err = bind(&file, None).await.unwrap_err();
        assert!(
            matches!(
                err,
                ServerError::NotASocket {
                    kind: "regular file",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
        let sub = dir.path().join("a-dir");
        std::fs::create_dir(&sub).unwrap();
        let err = bind(&sub, None).await.unwrap_err();
        assert!(err.to_string().contains("a directory is there"), "{err}");
        let link = dir.path().join("link.sock");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(matches!(
            bind(&link, None).await,
            Err(ServerError::NotASocket {
                kind: "symbolic link",
                ..
            })
        ));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    }

    #[tokio::test]
    async fn names_a_missing_group() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let err = bind(&path, Some("no-such-group-jetgate"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no-such-group-jetgate"));
    }
}
