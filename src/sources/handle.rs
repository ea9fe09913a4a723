//! Files read every sample, kept open and re-read with `pread` at offset 0.
//!
//! Owns [`CachedFile`]. On this build VM opening and closing a `/proc` or cgroup file costs
//! more than reading it (see `docs/benchmarks-sampling.md`), so a file read at 100 Hz is opened
//! once. procfs and cgroupfs files are `seq_file`s: a read at offset 0 resets the iterator and
//! re-runs the kernel's `show`, so each `pread(fd, buf, 0)` returns fresh content (the live
//! tests below see `/proc/self/stat`'s utime and `/proc/self/status`'s VmRSS change).
//!
//! A handle can die under us: a process file answers `ESRCH` once its process has gone (it
//! never reads a later process that reuses the pid, unlike a re-open by path), and a removed
//! cgroup's files answer `ENODEV`. Any error on a handle that was already open closes it and the
//! read is retried once by path, so the error the caller sees is the one a fresh open gives
//! (`ENOENT` → [`ReadError::Unsupported`], which the process readers take as "vanished").
//! `/proc/meminfo`'s handle never dies.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::root::ReadError;

/// Read size for the first `pread` when the file's size is not known yet; every file read
/// each sample fits in one page except `smaps_rollup` on some kernels and a long `memory.stat`.
const FIRST_READ: usize = 4096;

/// One file under the root, opened on first use and re-read at offset 0.
#[derive(Debug)]
pub struct CachedFile {
    path: PathBuf,
    file: Option<File>,
    /// Bytes the last read returned: the next read asks for a little more in one call.
    last_len: usize,
}

impl CachedFile {
    /// A handle for `path` (already joined under the root); nothing is opened yet.
    pub fn new(path: PathBuf) -> CachedFile {
        CachedFile {
            path,
            file: None,
            last_len: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True while a file descriptor is held.
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// Closes the descriptor; the next read opens the file again.
    pub fn close(&mut self) {
        self.file = None;
    }

    /// Reads the whole file into `buf` (cleared first), opening it if needed. A read error on
    /// a handle that was already open closes it and retries once with a fresh open.
    pub fn read_into(&mut self, buf: &mut String) -> Result<(), ReadError> {
        let was_open = self.file.is_some();
        match self.read_once(buf) {
            Ok(()) => Ok(()),
            Err(_) if was_open => {
                self.file = None;
                self.read_once(buf)
            }
            Err(e) => Err(e),
        }
    }

    fn read_once(&mut self, buf: &mut String) -> Result<(), ReadError> {
        let file = match &self.file {
            Some(f) => f,
            None => {
                let f = File::open(&self.path).map_err(|e| self.error(e))?;
                self.file.insert(f)
            }
        };
        let mut bytes = std::mem::take(buf).into_bytes();
        bytes.clear();
        let result = pread_all(file, &mut bytes, self.last_len.max(FIRST_READ / 2) * 2);
        match result {
            Ok(()) => {
                self.last_len = bytes.len();
                *buf = String::from_utf8(bytes).map_err(|e| {
                    self.error(io::Error::new(io::ErrorKind::InvalidData, e.utf8_error()))
                })?;
                Ok(())
            }
            Err(e) => {
                self.file = None;
                Err(self.error(e))
            }
        }
    }

    fn error(&self, e: io::Error) -> ReadError {
        ReadError::classify(self.path.clone(), e)
    }
}

/// `pread`s from offset 0 until end of file, first asking for `first` bytes. A short read is
/// not taken as the end: a `seq_file` returns one page of records at a time.
fn pread_all(file: &File, out: &mut Vec<u8>, first: usize) -> io::Result<()> {
    let mut want = first.max(64);
    loop {
        let start = out.len();
        out.resize(start + want, 0);
        let n = loop {
            match file.read_at(&mut out[start..], start as u64) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match n {
            Ok(n) => {
                out.truncate(start + n);
                if n == 0 {
                    return Ok(());
                }
            }
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        }
        want = want.max(FIRST_READ);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::process::parse_stat;

    #[test]
    fn a_kept_handle_sees_our_own_cpu_time_grow() {
        let mut stat = CachedFile::new(PathBuf::from("/proc/thread-self/stat"));
        let mut buf = String::new();
        let utime = |buf: &String| -> u64 {
            // utime is field 14: the 12th after the comm's closing parenthesis.
            let after = &buf[buf.rfind(')').unwrap() + 1..];
            after
                .split_ascii_whitespace()
                .nth(11)
                .unwrap()
                .parse()
                .unwrap()
        };
        stat.read_into(&mut buf).unwrap();
        assert!(parse_stat(&buf).is_ok());
        let before = utime(&buf);
        let mut x = 0u64;
        let mut now = before;
        // Spin until the kernel has charged at least one more tick of user time to this
        // thread; bounded by the loop count, not by a clock.
        for i in 0..2_000_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            if i % 1_000_000 == 0 {
                stat.read_into(&mut buf).unwrap();
                now = utime(&buf);
                if now > before {
                    break;
                }
            }
        }
        assert!(stat.is_open());
        assert!(
            now > before,
            "utime stayed at {before} through the same handle"
        );
    }

    #[test]
    fn a_kept_status_handle_sees_this_process_grow_after_touching_pages() {
        // This process's own VmRSS, not system-wide MemFree: other tests allocating in
        // parallel move MemFree, but not our resident set.
        fn vm_rss(text: &str) -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap()
        }
        let mut status = CachedFile::new(PathBuf::from("/proc/self/status"));
        let mut buf = String::new();
        status.read_into(&mut buf).unwrap();
        let before = vm_rss(&buf);
        // 256 MiB, every byte written, so the kernel must hand out real pages.
        let block = vec![1u8; 256 << 20];
        status.read_into(&mut buf).unwrap();
        let during = vm_rss(&buf);
        assert_eq!(std::hint::black_box(&block)[block.len() - 1], 1);
        assert!(
            during >= before + (200 << 10),
            "VmRSS kB (before, during) through the same handle: {before} {during}"
        );
    }

    #[test]
    fn a_file_larger_than_the_first_read_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let text = "x".repeat(3 * FIRST_READ + 17);
        std::fs::write(&path, &text).unwrap();
        let mut f = CachedFile::new(path);
        let mut buf = String::new();
        f.read_into(&mut buf).unwrap();
        assert_eq!(buf, text);
        f.read_into(&mut buf).unwrap();
        assert_eq!(buf.len(), text.len());
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // spawns the process whose file it holds
    fn a_handle_on_a_gone_process_reads_as_unsupported_after_the_retry() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut stat = CachedFile::new(PathBuf::from(format!("/proc/{}/stat", child.id())));
        let mut buf = String::new();
        stat.read_into(&mut buf).unwrap();
        assert!(stat.is_open());
        child.kill().unwrap();
        child.wait().unwrap();
        let err = stat.read_into(&mut buf).unwrap_err();
        assert!(err.is_unsupported(), "{err}");
        assert!(!stat.is_open());
    }

    #[test]
    fn a_missing_file_is_unsupported_and_names_its_path() {
        let mut f = CachedFile::new(PathBuf::from("/proc/no-such-file"));
        let err = f.read_into(&mut String::new()).unwrap_err();
        assert!(err.is_unsupported());
        assert!(err.path().ends_with("no-such-file"));
    }
}
