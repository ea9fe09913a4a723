//! The CLI's side of the control socket: connect, send one request line, read the response.
//!
//! Blocking std I/O on purpose: a CLI invocation makes one or a few round trips and needs no
//! runtime. A missing socket or a refused connection becomes [`ClientError::NoAgent`], which
//! the CLI turns into exit code 4 with a hint (`--local` reads the device directly).

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::protocol::{Cmd, Request, Response};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket cannot be connected to. `error` is not a `source`: the message already says
    /// it in words, and the CLI prints each cause once.
    #[error(
        "no agent at {path} ({}); {}",
        no_agent_cause(error),
        no_agent_remedy(error)
    )]
    NoAgent { path: PathBuf, error: io::Error },
    #[error("control socket {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("control socket {path}: the agent closed the connection without answering")]
    Closed { path: PathBuf },
    #[error("control socket {path}: unreadable response: {source}")]
    BadResponse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// Why the socket could not be connected to, in words (the OS error's text otherwise).
fn no_agent_cause(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::NotFound => "the socket does not exist".to_string(),
        io::ErrorKind::ConnectionRefused => "nothing listens on the socket".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => error.to_string(),
    }
}

/// What to do about it.
fn no_agent_remedy(error: &io::Error) -> &'static str {
    match error.kind() {
        io::ErrorKind::PermissionDenied => {
            "run as root or as a member of the socket's group (`[control] group`), \
             or read the device directly with `--local`"
        }
        _ => {
            "start it with `systemctl start jetgate` or `jetgate agent`, give its socket with \
             `--socket`, or read the device directly with `--local`"
        }
    }
}

/// One connection to the agent.
pub struct Client {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects; `timeout` bounds each read (None: wait as long as the agent takes, for
    /// `load --wait`).
    pub fn connect(path: &Path, timeout: Option<Duration>) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).map_err(|error| ClientError::NoAgent {
            path: path.to_path_buf(),
            error,
        })?;
        let io_err = |source| ClientError::Io {
            path: path.to_path_buf(),
            source,
        };
        stream.set_read_timeout(timeout).map_err(io_err)?;
        let writer = stream.try_clone().map_err(io_err)?;
        Ok(Client {
            path: path.to_path_buf(),
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Sends one command and returns the agent's response (an `ok: false` response is still
    /// `Ok` here: the caller decides how to report it).
    pub fn call(&mut self, cmd: Cmd) -> Result<Response, ClientError> {
        let io_err = |source| ClientError::Io {
            path: self.path.clone(),
            source,
        };
        self.writer
            .write_all(Request::new(cmd).to_line().as_bytes())
            .map_err(io_err)?;
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .map_err(|source| ClientError::Io {
                path: self.path.clone(),
                source,
            })?;
        if n == 0 {
            return Err(ClientError::Closed {
                path: self.path.clone(),
            });
        }
        serde_json::from_str(&line).map_err(|source| ClientError::BadResponse {
            path: self.path.clone(),
            source,
        })
    }
}

/// Connects, sends one command, returns the response.
pub fn call(path: &Path, cmd: Cmd, timeout: Option<Duration>) -> Result<Response, ClientError> {
    Client::connect(path, timeout)?.call(cmd)
}
