//! `/proc/PID/stat`: the few fields the runner needs, owned and with signed pids.
//!
//! The text is parsed by the one stat parser, [`crate::sources::process::parse_stat`]; this
//! module only keeps the runner's fields of it. Owns nothing; [`read_stat`] reads through a
//! [`Root`]. The start time is in clock ticks since
//! boot (`USER_HZ`, usually 100 a second), field 22: together with the pid it identifies a
//! process across pid reuse, which is what the adoption record after an agent crash needs.
//!
//! ```text
//! 4242 (python3 (v2) x) S 1 4242 4242 0 -1 4194560 ... 0 0 20 0 4 0 183377 ...
//! pid   comm, may hold ') ' state ppid pgrp                          field 22 ^
//! ```
//! The comm is cut at the *last* `)`, so names with spaces or parentheses parse.

use std::path::PathBuf;

use crate::sources::process::parse::{parse_stat as parse_fields, StatFields};
use crate::sources::{ParseError, ReadError, Root};

/// The fields of `/proc/PID/stat` the runner uses, owned, with pids as the kernel's signed
/// `pid_t` (what `nix` and `kill(2)` take).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    /// One letter: `R`, `S`, `D`, `Z`, `T`, ...
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    /// Field 22: start time in clock ticks after boot.
    pub start_ticks: u64,
}

/// `/proc/PID/stat` was unreadable or did not parse.
#[derive(Debug, thiserror::Error)]
pub enum StatError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: ParseError,
    },
}

impl TryFrom<StatFields<'_>> for ProcStat {
    type Error = ParseError;
    fn try_from(f: StatFields<'_>) -> Result<ProcStat, ParseError> {
        let pid_t = |name: &'static str, v: u32| {
            i32::try_from(v).map_err(|_| ParseError::bad(name, &v.to_string()))
        };
        Ok(ProcStat {
            pid: pid_t("pid", f.pid)?,
            state: f.state,
            ppid: pid_t("ppid", f.ppid)?,
            pgrp: pid_t("pgrp", f.pgid)?,
            start_ticks: f.start_ticks,
        })
    }
}

/// Parses the text of `/proc/PID/stat` with the one stat parser,
/// [`crate::sources::process::parse_stat`], keeping the runner's fields.
pub fn parse_stat(text: &str) -> Result<ProcStat, ParseError> {
    ProcStat::try_from(parse_fields(text)?)
}

/// Reads and parses `/proc/<pid>/stat` under `root`.
pub fn read_stat(root: &Root, pid: i32) -> Result<ProcStat, StatError> {
    let rel = format!("/proc/{pid}/stat");
    let text = root.read(&rel)?;
    parse_stat(&text).map_err(|source| StatError::Parse {
        path: root.path(&rel),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "4242 (python3 (v2) x) S 1 4240 4240 0 -1 4194560 100 0 0 0 5 3 0 0 \
                        20 0 4 0 183377 1000000 200 18446744073709551615";

    #[test]
    fn reads_start_time_ppid_and_group_past_a_name_with_spaces_and_parens() {
        let s = parse_stat(LINE).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.pgrp, 4240);
        assert_eq!(s.start_ticks, 183377);
    }

    #[test]
    fn a_truncated_line_is_an_error_not_a_zero() {
        assert!(parse_stat("12 (sh) S 1 12 12").is_err());
        assert!(parse_stat("garbage").is_err());
    }

    #[test]
    fn a_pid_past_pid_t_is_an_error_not_a_negative_pid() {
        let line = LINE.replacen("4242", "4294967295", 1);
        assert!(parse_stat(&line).is_err());
    }

    #[test]
    fn reads_the_live_stat_of_this_process() {
        let me = std::process::id() as i32;
        let s = read_stat(&Root::host(), me).unwrap();
        assert_eq!(s.pid, me);
        assert!(s.start_ticks > 0);
    }

    #[test]
    fn a_missing_process_names_its_stat_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_stat(&Root::new(dir.path()), 77).unwrap_err();
        assert!(err.to_string().contains("proc/77/stat"), "{err}");
    }
}
