//! One process from `/proc/PID/{stat,smaps_rollup,status,fd}`.
//!
//! Owns the pure parsers [`parse_stat`], [`parse_smaps_rollup`], [`parse_status_swap`] and the
//! reader [`ProcReader`], which fills a reused [`ProcessSample`]. Units: memory in [`Bytes`]
//! (stat's RSS is in pages, times the page size; smaps_rollup and status are in `kB`), start
//! time in clock ticks since boot (`USER_HZ`, 100 on Jetson kernels).
//!
//! ```text
//! /proc/PID/stat          4242 (python3 ) (x) S 1 4242 4242 0 -1 4194560 ... 3 0 51234 ...
//!                         └pid └comm: from the first '(' to the LAST ')'; may hold ") (" and spaces
//! /proc/PID/smaps_rollup  Rss: 884 kB / Pss: 182 kB / Swap: 0 kB      (kernels ≥ 4.14)
//! /proc/PID/status        VmSwap: 0 kB                                (swap when no rollup)
//! ```
//!
//! Traps handled: a comm with `)` and spaces (split at the last `)`); kernels before 4.14 have
//! no `smaps_rollup` (PSS then falls back to RSS and [`PssSource::Rss`] says so; the same when
//! the file is denied); a process that exits mid-read is "vanished" (`Ok(false)`), not an
//! error; `/proc/PID/fd` denied → `fds: None`.

use std::fmt::Write as _;
use std::path::Path;

use super::error::{parse_kb, parse_u64, ParseError, SourceError};
use super::root::{ReadError, Root};
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

/// Where a process's PSS figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PssSource {
    #[default]
    SmapsRollup,
    /// No `smaps_rollup` (kernel < 4.14) or not allowed to read it: PSS is the RSS.
    Rss,
}

/// One process, as the agent reports it. Reused between samples (the comm keeps its buffer).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ProcessSample {
    pub pid: u32,
    pub comm: String,
    pub state: char,
    pub ppid: u32,
    pub pgid: u32,
    /// Start time in clock ticks since boot: with the pid, identifies the process.
    pub start_ticks: u64,
    pub threads: u32,
    pub kernel_thread: bool,
    pub rss: Bytes,
    pub pss: Bytes,
    pub pss_source: PssSource,
    pub swap: Bytes,
    /// Open file descriptors; `None` when `/proc/PID/fd` is not readable to us.
    pub fds: Option<u32>,
}

impl ProcessSample {
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }
}

/// A read failure that means the process has gone (not a fault).
fn vanished(e: &ReadError) -> bool {
    match e {
        ReadError::Unsupported { .. } => true,
        ReadError::Io { source, .. } => source.raw_os_error() == Some(libc::ESRCH),
        ReadError::Denied { .. } => false,
    }
}

/// Reads processes under a [`Root`], reusing its buffers.
#[derive(Debug)]
pub struct ProcReader {
    root: Root,
    page_size: u64,
    has_rollup: bool,
    buf: String,
    path: String,
}

impl ProcReader {
    pub fn new(root: Root) -> ProcReader {
        let page_size = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(4096);
        // Kernels < 4.14 lack the file for every process; decide once, from our own.
        let has_rollup = root.exists("/proc/self/smaps_rollup")
            || (!root.exists("/proc/self") && root.exists("/proc/1/smaps_rollup"));
        ProcReader {
            root,
            page_size,
            has_rollup,
            buf: String::with_capacity(1024),
            path: String::with_capacity(32),
        }
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    /// False on kernels before 4.14: every PSS is then the RSS.
    pub fn has_smaps_rollup(&self) -> bool {
        self.has_rollup
    }

    fn set_path(&mut self, pid: u32, file: &str) {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/{file}");
    }

    /// Reads `/proc/PID/file` into the buffer; `Ok(false)` when the process has gone.
    fn load(&mut self, pid: u32, file: &str) -> Result<bool, ReadError> {
        self.set_path(pid, file);
        match self.root.read_into(&self.path, &mut self.buf) {
            Ok(()) => Ok(true),
            Err(e) if vanished(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Calls `f` with the parsed stat of `pid`; `Ok(None)` when the process has gone.
    pub fn with_stat<T>(
        &mut self,
        pid: u32,
        f: impl FnOnce(&StatFields<'_>) -> T,
    ) -> Result<Option<T>, SourceError> {
        if !self.load(pid, "stat")? {
            return Ok(None);
        }
        match parse_stat(&self.buf) {
            Ok(s) => Ok(Some(f(&s))),
            Err(e) => Err(SourceError::parse(self.root.path(&self.path), e)),
        }
    }

    /// Fills `out` with one process; `Ok(false)` when it vanished mid-read.
    pub fn read_process(&mut self, pid: u32, out: &mut ProcessSample) -> Result<bool, SourceError> {
        let page_size = self.page_size;
        let found = self.with_stat(pid, |s| {
            out.pid = s.pid;
            out.comm.clear();
            out.comm.push_str(s.comm);
            out.state = s.state;
            out.ppid = s.ppid;
            out.pgid = s.pgid;
            out.start_ticks = s.start_ticks;
            out.threads = s.threads;
            out.kernel_thread = s.is_kernel_thread();
            out.rss = Bytes(s.rss_pages.saturating_mul(page_size));
        })?;
        if found.is_none() {
            return Ok(false);
        }
        out.pss = out.rss;
        out.pss_source = PssSource::Rss;
        out.swap = Bytes::ZERO;
        if out.is_zombie() {
            // A zombie has no memory left; its smaps_rollup answers ESRCH, which would
            // otherwise read as "vanished" and hide the zombie from the tree's count.
            out.rss = Bytes::ZERO;
            out.pss = Bytes::ZERO;
            out.pss_source = PssSource::SmapsRollup;
            out.fds = Some(0);
            return Ok(true);
        }
        let rollup_read = if self.has_rollup {
            match self.load(pid, "smaps_rollup") {
                Ok(true) => true,
                Ok(false) => return Ok(false),
                Err(ReadError::Denied { .. }) => false,
                Err(e) => return Err(e.into()),
            }
        } else {
            false
        };
        if rollup_read {
            let r = parse_smaps_rollup(&self.buf)
                .map_err(|e| SourceError::parse(self.root.path(&self.path), e))?;
            if !out.kernel_thread {
                out.rss = r.rss;
            }
            out.pss = r.pss;
            out.pss_source = PssSource::SmapsRollup;
            out.swap = r.swap;
        } else {
            match self.load(pid, "status") {
                Ok(true) => {
                    out.swap = parse_status_swap(&self.buf)
                        .map_err(|e| SourceError::parse(self.root.path(&self.path), e))?;
                }
                Ok(false) => return Ok(false),
                Err(ReadError::Denied { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        out.fds = match self.count_fds(pid) {
            Ok(Some(n)) => Some(n),
            Ok(None) => return Ok(false),
            Err(()) => None,
        };
        Ok(true)
    }

    /// Entries of `/proc/PID/fd`: `Ok(None)` vanished, `Err(())` not readable (denied).
    fn count_fds(&mut self, pid: u32) -> Result<Option<u32>, ()> {
        self.set_path(pid, "fd");
        let dir = self.root.path(&self.path);
        match std::fs::read_dir(&dir) {
            Ok(entries) => Ok(Some(entries.filter(|e| e.is_ok()).count() as u32)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(None),
            Err(_) => Err(()),
        }
    }

    /// Every pid in `/proc`, into `out` (cleared first).
    pub fn pids(&self, out: &mut Vec<u32>) -> Result<(), SourceError> {
        out.clear();
        let dir = self.root.path("/proc");
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            SourceError::Read(match e.kind() {
                std::io::ErrorKind::NotFound => ReadError::Unsupported { path: dir.clone() },
                _ => ReadError::Io {
                    path: dir.clone(),
                    source: e,
                },
            })
        })?;
        for entry in entries.flatten() {
            if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                out.push(pid);
            }
        }
        Ok(())
    }
}

/// A fixture-friendly check that `/proc/PID` exists under the root.
pub fn process_exists(root: &Root, pid: u32) -> bool {
    root.exists(Path::new("/proc").join(pid.to_string()))
}

#[cfg(test)]
#[path = "process_tests.rs"]
mod tests;
