//! Exit codes by error kind, so scripts can tell a typo from a broken device.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | runtime failure (a read failed, a line did not parse, the agent refused) |
//! | 2 | usage error (bad flags or arguments; clap's own code) |
//! | 3 | configuration error (the file is unreadable or invalid) |
//! | 4 | the agent is not reachable on its control socket: no socket, nothing listening, no answer in time (stopped or hung), or too many connections |

use std::process::ExitCode;

pub const SUCCESS: u8 = 0;
pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;
pub const CONFIG: u8 = 3;
pub const NO_AGENT: u8 = 4;

/// An error with the exit code it should end the process with.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub error: anyhow::Error,
}

impl CliError {
    pub fn new(code: u8, error: impl Into<anyhow::Error>) -> CliError {
        CliError {
            code,
            error: error.into(),
        }
    }

    pub fn usage(msg: impl std::fmt::Display) -> CliError {
        CliError::new(USAGE, anyhow::anyhow!("{msg}"))
    }
}

impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> CliError {
        CliError {
            code: FAILURE,
            error,
        }
    }
}

/// What a command returns: the exit code to use on success (a stream with a bad line still
/// ends with [`FAILURE`]), or an error with its code.
pub type CliResult = Result<u8, CliError>;

pub fn to_exit_code(code: u8) -> ExitCode {
    ExitCode::from(code)
}

/// The one line the CLI prints for an error: its message, then each cause in the chain that
/// the text so far does not already say. Many errors carry their cause both in their message
/// (`reading /proc/meminfo: No such file ...`) and as their `source()`; printed as a plain
/// chain, the cause would appear twice.
pub fn describe(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading {path}: {source}")]
    struct Read {
        path: String,
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_in_the_message_is_said_once() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let cause = io.to_string();
        let e = anyhow::Error::new(Read {
            path: "/proc/meminfo".into(),
            source: io,
        })
        .context("sampling memory");
        let line = describe(&e);
        assert_eq!(
            line,
            format!("sampling memory: reading /proc/meminfo: {cause}")
        );
        assert_eq!(line.matches(&cause).count(), 1);
    }

    #[test]
    fn distinct_causes_are_all_kept() {
        let e = anyhow::anyhow!("disk full").context("writing the store");
        assert_eq!(describe(&e), "writing the store: disk full");
    }
}
