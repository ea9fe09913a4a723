//! The CLI's side of the control socket: connect, send one request line, read the response.
//!
//! Blocking std I/O on purpose: a CLI invocation makes one or a few round trips and needs no
//! runtime. Each way the agent can be out of reach is its own error, and the CLI turns every
//! one into exit code 4 ([`ClientError::unreachable`]):
//!
//! - no socket, or nothing listens on it (a stopped agent's stale socket):
//!   [`ClientError::NoAgent`], with a hint (`--local` reads the device directly);
//! - the agent holds as many connections as it serves, every one on a request it is working
//!   on: [`ClientError::TooManyConnections`];
//! - the connection is made (or queued by the kernel) but no answer comes within the timeout,
//!   as with an agent stopped by SIGSTOP or hung: [`ClientError::NotResponding`].

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::protocol::{Cmd, ErrorCode, Request, Response, TOO_MANY_CONNECTIONS};

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
    /// Every place on the socket is taken by a request the agent is working on.
    #[error("the agent at {path} refused the connection: {message}")]
    TooManyConnections { path: PathBuf, message: String },
    /// Connected (or queued), but no answer within `after`.
    #[error(
        "agent not responding on {path}: no answer within {}s; it may be stopped or hung \
         (check `systemctl status jetgate` or its log), or read the device directly with `--local`",
        after.as_secs()
    )]
    NotResponding { path: PathBuf, after: Duration },
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

impl ClientError {
    /// Whether the agent is out of reach (exit code 4), rather than answering badly.
    pub fn unreachable(&self) -> bool {
        matches!(
            self,
            ClientError::NoAgent { .. }
                | ClientError::TooManyConnections { .. }
                | ClientError::NotResponding { .. }
        )
    }
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
    timeout: Option<Duration>,
}

/// Whether an I/O error is a timeout running out (a socket timeout reads as either kind).
fn timed_out(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl Client {
    /// Connects; `timeout` bounds each read and write (None: wait as long as the agent takes,
    /// for `load --wait`).
    pub fn connect(path: &Path, timeout: Option<Duration>) -> Result<Client, ClientError> {
        let stream = match timeout {
            None => UnixStream::connect(path).map_err(|error| ClientError::NoAgent {
                path: path.to_path_buf(),
                error,
            })?,
            Some(after) => connect_within(path, after)?,
        };
        let io_err = |source| ClientError::Io {
            path: path.to_path_buf(),
            source,
        };
        stream.set_read_timeout(timeout).map_err(io_err)?;
        stream.set_write_timeout(timeout).map_err(io_err)?;
        let writer = stream.try_clone().map_err(io_err)?;
        Ok(Client {
            path: path.to_path_buf(),
            reader: BufReader::new(stream),
            writer,
            timeout,
        })
    }

    /// An I/O error on the connection: a timeout that ran out is the agent not responding.
    fn io_error(&self, source: io::Error) -> ClientError {
        match self.timeout {
            Some(after) if timed_out(&source) => ClientError::NotResponding {
                path: self.path.clone(),
                after,
            },
            _ => ClientError::Io {
                path: self.path.clone(),
                source,
            },
        }
    }

    /// Sends one command and returns the agent's response (an `ok: false` response is still
    /// `Ok` here: the caller decides how to report it).
    /// The agent's refusal of a connection past its limit is [`ClientError::TooManyConnections`].
    pub fn call(&mut self, cmd: Cmd) -> Result<Response, ClientError> {
        let mut line = String::new();
        let wrote = self
            .writer
            .write_all(Request::new(cmd).to_line().as_bytes());
        if let Err(e) = wrote {
            if timed_out(&e) {
                return Err(self.io_error(e));
            }
            // A refused connection is answered before its request is read, and may be closed
            // before the request is written (a broken pipe): its answer is still there to read.
            let read = self.reader.read_line(&mut line);
            return match read {
                Ok(n) if n > 0 => self.decode(&line),
                _ => Err(self.io_error(e)),
            };
        }
        let read = self.reader.read_line(&mut line);
        match read {
            Err(e) => Err(self.io_error(e)),
            Ok(0) => Err(ClientError::Closed {
                path: self.path.clone(),
            }),
            Ok(_) => self.decode(&line),
        }
    }

    /// A response line, with the refusal of a full agent as its own error.
    fn decode(&self, line: &str) -> Result<Response, ClientError> {
        let response: Response =
            serde_json::from_str(line).map_err(|source| ClientError::BadResponse {
                path: self.path.clone(),
                source,
            })?;
        match &response.error {
            Some(e)
                if e.code == ErrorCode::Refused && e.message.starts_with(TOO_MANY_CONNECTIONS) =>
            {
                Err(ClientError::TooManyConnections {
                    path: self.path.clone(),
                    message: e.message.clone(),
                })
            }
            _ => Ok(response),
        }
    }
}

/// How often a connection the kernel cannot queue yet is tried again.
const CONNECT_RETRY: Duration = Duration::from_millis(20);

/// Connects within `after`. A listener that does not accept (an agent stopped by SIGSTOP)
/// still gets connections queued by the kernel, until its backlog is full; then a blocking
/// connect would wait forever. So the connect is non-blocking and tried again until `after`
/// has passed (counted in tries: no clock read), which is the agent not responding.
fn connect_within(path: &Path, after: Duration) -> Result<UnixStream, ClientError> {
    use nix::errno::Errno;
    use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};
    use std::os::fd::AsRawFd;

    let no_agent = |errno: Errno| ClientError::NoAgent {
        path: path.to_path_buf(),
        error: io::Error::from(errno),
    };
    let addr = UnixAddr::new(path).map_err(no_agent)?;
    let tries = (after.as_millis() / CONNECT_RETRY.as_millis()).max(1);
    for _ in 0..tries {
        let fd = socket::socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(no_agent)?;
        match socket::connect(fd.as_raw_fd(), &addr) {
            Ok(()) => {
                let stream = UnixStream::from(fd);
                stream
                    .set_nonblocking(false)
                    .map_err(|source| ClientError::Io {
                        path: path.to_path_buf(),
                        source,
                    })?;
                return Ok(stream);
            }
            Err(Errno::EAGAIN) => std::thread::sleep(CONNECT_RETRY),
            Err(errno) => return Err(no_agent(errno)),
        }
    }
    Err(ClientError::NotResponding {
        path: path.to_path_buf(),
        after,
    })
}

/// Connects, sends one command, returns the response.
pub fn call(path: &Path, cmd: Cmd, timeout: Option<Duration>) -> Result<Response, ClientError> {
    Client::connect(path, timeout)?.call(cmd)
}

#[cfg(test)]
mod tests;
