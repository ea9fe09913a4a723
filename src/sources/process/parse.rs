//! Pure parsers of one process's files: `/proc/PID/stat`, `smaps_rollup`, `status`.
//!
//! Functions of text only ([`parse_stat`] borrows the comm from its input and allocates
//! nothing); the reader in [`super`] joins paths and attaches them to errors. Units: stat's
//! RSS in pages, the others in `kB` converted to [`Bytes`].
//!
//! ```text
//! 4242 (python3 ) (x) S 1 4242 4242 0 -1 4194560 ...    comm: first '(' to the LAST ')'
//! ```

use crate::sources::error::{parse_kb, parse_u64, ParseError};
use crate::units::Bytes;

/// `PF_KTHREAD` in stat's `flags`: a kernel thread.
pub const PF_KTHREAD: u64 = 0x0020_0000;

/// The fields of `/proc/PID/stat` jetgate uses, borrowing the comm from the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFields<'a> {
    pub pid: u32,
    pub comm: &'a str,
    /// `R`, `S`, `D`, `Z` (zombie), `T`, `t`, `X`, `I` (idle kernel thread), ...
    pub state: char,
    pub ppid: u32,
    pub pgid: u32,
    pub flags: u64,
    pub threads: u32,
    pub start_ticks: u64,
    pub rss_pages: u64,
}

impl StatFields<'_> {
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

/// Parses `/proc/PID/stat` without allocating.
pub fn parse_stat(text: &str) -> Result<StatFields<'_>, ParseError> {
    let open = text.find('(').ok_or(ParseError::Missing("comm"))?;
    let close = text.rfind(')').ok_or(ParseError::Missing("comm"))?;
    if close < open {
        return Err(ParseError::Malformed(
            "comm parentheses out of order".into(),
        ));
    }
    let pid = parse_u64("pid", &text[..open])? as u32;
    let comm = &text[open + 1..close];
    // Fields after the comm, numbered from 0 = state (field 3 in proc(5)).
    let mut rest = text[close + 1..].split_ascii_whitespace();
    let state = rest
        .next()
        .and_then(|s| s.chars().next())
        .ok_or(ParseError::Missing("state"))?;
    let mut field = |n: usize, name: &'static str| -> Result<u64, ParseError> {
        // `nth` consumes, so n counts from the previous field taken.
        let t = rest.nth(n).ok_or(ParseError::Missing(name))?;
        t.parse::<i64>()
            .ok()
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| ParseError::bad(name, t))
    };
    let ppid = field(0, "ppid")? as u32; // 1
    let pgid = field(0, "pgrp")? as u32; // 2
    let flags = field(3, "flags")?; // 6
    let threads = field(10, "num_threads")? as u32; // 17
    let start_ticks = field(1, "starttime")?; // 19
    let rss_pages = field(1, "rss")?; // 21
    Ok(StatFields {
        pid,
        comm,
        state,
        ppid,
        pgid,
        flags,
        threads,
        start_ticks,
        rss_pages,
    })
}

/// The figures of `/proc/PID/smaps_rollup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rollup {
    pub rss: Bytes,
    pub pss: Bytes,
    /// The file-backed share of `pss` (`Pss_File`: mapped files such as mmap'd model weights);
    /// `None` on kernels before 5.10, which do not split PSS.
    pub pss_file: Option<Bytes>,
    pub swap: Bytes,
}

/// Parses `/proc/PID/smaps_rollup`. A kernel thread's file is empty: all zero.
pub fn parse_smaps_rollup(text: &str) -> Result<Rollup, ParseError> {
    let mut r = Rollup::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key {
            "Rss" => r.rss = parse_kb("Rss", value)?,
            "Pss" => r.pss = parse_kb("Pss", value)?,
            "Pss_File" => r.pss_file = Some(parse_kb("Pss_File", value)?),
            "Swap" => r.swap = parse_kb("Swap", value)?,
            _ => {}
        }
    }
    Ok(r)
}

/// `VmSwap` from `/proc/PID/status` (zero for kernel threads, which have none).
pub fn parse_status_swap(text: &str) -> Result<Bytes, ParseError> {
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("VmSwap:") {
            return parse_kb("VmSwap", v);
        }
    }
    Ok(Bytes::ZERO)
}
