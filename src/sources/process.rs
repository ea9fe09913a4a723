//! One process from `/proc/PID/{stat,smaps_rollup,status,fd}`.
//!
//! Owns the reader [`ProcReader`], which fills a reused [`ProcessSample`], over the pure
//! parsers in [`parse`] ([`parse_stat`], [`parse_smaps_rollup`], [`parse_status_swap`]).
//! Units: memory in [`Bytes`] (stat's RSS is in pages, times the page size; smaps_rollup and
//! status are in `kB`), start time in clock ticks since boot (`USER_HZ`, 100 on Jetson
//! kernels).
//!
//! ```text
//! /proc/PID/stat          4242 (python3 ) (x) S 1 4242 4242 0 -1 4194560 ... 3 0 51234 ...
//!                         └pid └comm: from the first '(' to the LAST ')'; may hold ") (" and spaces
//! /proc/PID/smaps_rollup  Rss: 884 kB / Pss: 182 kB / Swap: 0 kB      (kernels ≥ 4.14)
//!                         Pss_File: 120 kB (file-backed share, kernels ≥ 5.10)
//! /proc/PID/status        VmSwap: 0 kB                                (swap when no rollup)
//! ```
//!
//! Traps handled: a comm with `)` and spaces (split at the last `)`); kernels before 4.14 have
//! no `smaps_rollup` (PSS then falls back to RSS and [`PssSource::Rss`] says so; the same when
//! the file is denied); a process that exits mid-read is "vanished" (`Ok(false)`), not an
//! error; `/proc/PID/fd` denied → `fds: None`.
//!
//! [`ProcReader::read_process`] opens each file afresh (for one-off readings and the whole-system
//! listing); [`ProcReader::read_member`] reads a watched tree's member through kept handles
//! ([`super::members::PidFiles`]) and, at [`TreeDetail::Memory`], skips the fd count.

use std::fmt::Write as _;
use std::path::Path;

pub mod parse;

use super::error::SourceError;
use super::members::{parse_children, PidFile, PidFiles};
use super::root::{ReadError, Root};

use crate::units::Bytes;
pub use parse::{
    parse_smaps_rollup, parse_stat, parse_status_swap, Rollup, StatFields, PF_KTHREAD,
};

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
    /// The file-backed share of `pss` (mapped files, e.g. mmap'd weights); `None` where the
    /// kernel does not split PSS or PSS fell back to RSS.
    pub pss_file: Option<Bytes>,
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

/// How much of each tree member to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TreeDetail {
    /// What the gate needs: `stat` (state, ppid, threads, RSS) and `smaps_rollup` (PSS, swap;
    /// `status` for swap where there is no rollup). `fds` is left `None`.
    Memory,
    /// Also the fd count (`/proc/PID/fd`), for the status views.
    #[default]
    Full,
}

/// Outcome of reading a process's children lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Children {
    /// Appended (possibly none; a process that vanished meanwhile has none).
    Listed,
    /// This kernel has no `task/TID/children` files (built without `CONFIG_PROC_CHILDREN`).
    Unsupported,
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
    members: PidFiles,
    tids: Vec<u32>,
    buf: String,
    path: String,
}

/// This kernel's page size in bytes (4 KiB where it cannot be asked; 64 KiB on some Jetson
/// kernels).
pub fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(4096)
}

impl ProcReader {
    pub fn new(root: Root) -> ProcReader {
        let page_size = page_size();
        // Kernels < 4.14 lack the file for every process; decide once, from our own.
        let has_rollup = root.exists("/proc/self/smaps_rollup")
            || (!root.exists("/proc/self") && root.exists("/proc/1/smaps_rollup"));
        ProcReader {
            members: PidFiles::new(root.clone()),
            tids: Vec::new(),
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

    /// [`ProcReader::load`] through a kept member handle (`cached`) or by path.
    fn load_via(&mut self, pid: u32, file: PidFile, cached: bool) -> Result<bool, ReadError> {
        // `self.path` names the file in errors either way.
        file.rel(pid, &mut self.path);
        let read = if cached {
            self.members.read(pid, file, &mut self.buf)
        } else {
            self.root.read_into(&self.path, &mut self.buf)
        };
        match read {
            Ok(()) => Ok(true),
            Err(e) if vanished(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Appends the children of every thread of `pid` to `out`: one read when `threads` is 1
    /// (through the kept handle), else a listing of `/proc/PID/task` and one read per thread.
    /// A process or thread that vanished meanwhile adds none.
    pub fn children(
        &mut self,
        pid: u32,
        threads: u32,
        out: &mut Vec<u32>,
    ) -> Result<Children, SourceError> {
        if threads <= 1 {
            return self.thread_children(pid, pid, out);
        }
        self.set_path(pid, "task");
        let dir = self.root.path(&self.path);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            // No `task` directory: the process has gone, or (its `stat` still there) this
            // tree has none at all, as in a captured fixture: fall back to the ppid scan.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.set_path(pid, "stat");
                return Ok(if self.root.exists(&self.path) {
                    Children::Unsupported
                } else {
                    Children::Listed
                });
            }
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(Children::Listed),
            Err(e) => return Err(ReadError::classify(dir, e).into()),
        };
        let mut tids = std::mem::take(&mut self.tids);
        tids.clear();
        tids.extend(
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok())),
        );
        let mut outcome = Ok(Children::Listed);
        for &tid in &tids {
            outcome = self.thread_children(pid, tid, out);
            if !matches!(outcome, Ok(Children::Listed)) {
                break;
            }
        }
        self.tids = tids;
        outcome
    }

    fn thread_children(
        &mut self,
        pid: u32,
        tid: u32,
        out: &mut Vec<u32>,
    ) -> Result<Children, SourceError> {
        let read = if tid == pid {
            PidFile::Children.rel(pid, &mut self.path);
            self.members.read(pid, PidFile::Children, &mut self.buf)
        } else {
            self.path.clear();
            let _ = write!(self.path, "/proc/{pid}/task/{tid}/children");
            self.root.read_into(&self.path, &mut self.buf)
        };
        match read {
            Ok(()) => {
                parse_children(&self.buf, out)
                    .map_err(|e| SourceError::parse(self.root.path(&self.path), e))?;
                Ok(Children::Listed)
            }
            Err(ReadError::Unsupported { .. }) if self.children_absent(pid, tid) => {
                Ok(Children::Unsupported)
            }
            Err(e) if vanished(&e) => Ok(Children::Listed),
            Err(e) => Err(e.into()),
        }
    }

    /// After a `children` file was not found: true when the thread is still there (so the
    /// kernel lacks the file), or when this tree has no `task` directories at all (a captured
    /// fixture); false when the thread or process has gone.
    fn children_absent(&mut self, pid: u32, tid: u32) -> bool {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/task/{tid}");
        if self.root.exists(&self.path) {
            return true;
        }
        self.set_path(pid, "task");
        let has_task_dir = self.root.exists(&self.path);
        self.set_path(pid, "stat");
        !has_task_dir && self.root.exists(&self.path)
    }

    /// Starts a tree sample: kept member handles not used again by
    /// [`ProcReader::end_members`] are closed.
    pub fn begin_members(&mut self) {
        self.members.begin_pass();
    }

    /// Ends a tree sample: closes the handles of pids that left the tree.
    pub fn end_members(&mut self) {
        self.members.end_pass();
    }

    /// Calls `f` with the parsed stat of `pid`; `Ok(None)` when the process has gone.
    pub fn with_stat<T>(
        &mut self,
        pid: u32,
        f: impl FnOnce(&StatFields<'_>) -> T,
    ) -> Result<Option<T>, SourceError> {
        self.with_stat_via(pid, false, f)
    }

    fn with_stat_via<T>(
        &mut self,
        pid: u32,
        cached: bool,
        f: impl FnOnce(&StatFields<'_>) -> T,
    ) -> Result<Option<T>, SourceError> {
        if !self.load_via(pid, PidFile::Stat, cached)? {
            return Ok(None);
        }
        match parse_stat(&self.buf) {
            Ok(s) => Ok(Some(f(&s))),
            Err(e) => Err(SourceError::parse(self.root.path(&self.path), e)),
        }
    }

    /// Fills `out` with one process, every field, opening each file afresh; `Ok(false)` when
    /// it vanished mid-read.
    pub fn read_process(&mut self, pid: u32, out: &mut ProcessSample) -> Result<bool, SourceError> {
        self.fill(pid, out, TreeDetail::Full, false)
    }

    /// Fills `out` with a watched tree's member through kept handles, at `detail` (`fds` is
    /// `None` at [`TreeDetail::Memory`]); `Ok(false)` when it vanished mid-read. Call between
    /// [`ProcReader::begin_members`] and [`ProcReader::end_members`].
    pub fn read_member(
        &mut self,
        pid: u32,
        out: &mut ProcessSample,
        detail: TreeDetail,
    ) -> Result<bool, SourceError> {
        self.fill(pid, out, detail, true)
    }

    fn fill(
        &mut self,
        pid: u32,
        out: &mut ProcessSample,
        detail: TreeDetail,
        cached: bool,
    ) -> Result<bool, SourceError> {
        let page_size = self.page_size;
        let found = self.with_stat_via(pid, cached, |s| {
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
        out.pss_file = None;
        out.pss_source = PssSource::Rss;
        out.swap = Bytes::ZERO;
        if out.is_zombie() {
            // A zombie has no memory left; its smaps_rollup answers ESRCH, which would
            // otherwise read as "vanished" and hide the zombie from the tree's count.
            out.rss = Bytes::ZERO;
            out.pss = Bytes::ZERO;
            out.pss_file = Some(Bytes::ZERO);
            out.pss_source = PssSource::SmapsRollup;
            out.fds = Some(0);
            return Ok(true);
        }
        let rollup_read = if self.has_rollup {
            match self.load_via(pid, PidFile::SmapsRollup, cached) {
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
            out.pss_file = r.pss_file;
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
        out.fds = match detail {
            TreeDetail::Memory => None,
            TreeDetail::Full => match self.count_fds(pid) {
                Ok(Some(n)) => Some(n),
                Ok(None) => return Ok(false),
                Err(()) => None,
            },
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
mod tests;
