//! Errors of the `sources` folder: one [`ParseError`] for the pure parsers, one [`SourceError`]
//! for the readers that wrap them.
//!
//! A parser never sees a path; its reader attaches the path, so a message reads
//! `parsing /proc/meminfo: MemTotal is missing`. "Unsupported" (the file does not exist on this
//! kernel or board) stays apart from "failed" all the way up: [`SourceError::is_unsupported`].

use std::path::PathBuf;

use super::root::ReadError;

/// Why a text could not be parsed. Carries the field or token that broke, never a path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A field every kernel prints is not there.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// A field is there but its value is not a number in the expected form.
    #[error("{field}: {text:?} is not a valid value")]
    BadValue { field: &'static str, text: String },
    /// The text does not have the expected shape at all.
    #[error("unexpected format: {0}")]
    Malformed(String),
}

impl ParseError {
    pub(crate) fn bad(field: &'static str, text: &str) -> ParseError {
        // Bounded so a garbage file cannot make a huge error message.
        let text: String = text.chars().take(80).collect();
        ParseError::BadValue { field, text }
    }
}

/// A reader failed: the file could not be read, or its text could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("parsing {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: ParseError,
    },
    /// The source does not exist here for a reason other than one missing file (no memory
    /// cgroup hierarchy mounted, no devfreq candidate present, a cgroup that does not exist).
    #[error("{what} is not available on this system: {reason}")]
    Unsupported { what: String, reason: String },
    /// Something the configuration names does not exist (a named cgroup that is not there).
    /// This is a mistake to report, not an absent feature.
    #[error("{what}: {path} does not exist")]
    Missing { what: String, path: PathBuf },
}

impl SourceError {
    pub(crate) fn parse(path: PathBuf, source: ParseError) -> SourceError {
        SourceError::Parse { path, source }
    }

    /// True when the source does not exist here (as opposed to failing).
    pub fn is_unsupported(&self) -> bool {
        match self {
            SourceError::Read(e) => e.is_unsupported(),
            SourceError::Unsupported { .. } => true,
            SourceError::Parse { .. } | SourceError::Missing { .. } => false,
        }
    }
}

/// Parses a decimal `u64` field.
pub(crate) fn parse_u64(field: &'static str, text: &str) -> Result<u64, ParseError> {
    text.trim()
        .parse()
        .map_err(|_| ParseError::bad(field, text))
}

/// Parses `12345 kB` (or a bare `12345`, as in `HugePages_Total`) into bytes.
pub(crate) fn parse_kb(field: &'static str, text: &str) -> Result<crate::units::Bytes, ParseError> {
    let t = text.trim();
    let digits = t.strip_suffix("kB").map(str::trim_end).unwrap_or(t);
    parse_u64(field, digits).map(crate::units::Bytes::from_kib)
}
