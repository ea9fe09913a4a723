//! Exit codes by error kind, so scripts can tell a typo from a broken device.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | runtime failure (a read failed, a line did not parse, the agent refused) |
//! | 2 | usage error (bad flags or arguments; clap's own code) |
//! | 3 | configuration error (the file is unreadable or invalid) |
//! | 4 | the agent is not reachable on its control socket |

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
