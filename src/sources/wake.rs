//! Kernel notifications that wake the idle sampler at once when memory moves toward the
//! reserve, so it can sample slowly while memory is far from it (`agent::sampling`).
//!
//! Owns [`UsageThreshold`] and [`PsiTrigger`]; each is a file descriptor that becomes ready
//! when the kernel has something to say, polled by the sampling task beside its timer.
//!
//! ```text
//! cgroup v1  cgroup.event_control ← "<eventfd> <fd of memory.usage_in_bytes> <bytes>"
//!            the eventfd counts each crossing of <bytes>, upward or downward
//! PSI        /proc/pressure/memory or a v2 cgroup's memory.pressure ← "some 150000 1000000"
//!            POLLPRI once tasks stalled on memory 150 ms within a 1 s window
//! ```
//!
//! A v1 usage threshold counts the group's page cache as used (`usage_in_bytes`), so it fires
//! at or before the point where `available` (which adds back the inactive file pages) crosses
//! the same level: early, never late. Closing the eventfd unregisters the threshold.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

use nix::sys::eventfd::{EfdFlags, EventFd};

use super::cgroup::{Cgroup, CgroupVersion};
use super::root::Root;
use crate::units::Bytes;

/// The PSI trigger's stall and window: woken once tasks waited on memory this long in a window.
pub const PSI_STALL: Duration = Duration::from_millis(150);
pub const PSI_WINDOW: Duration = Duration::from_secs(1);

/// A cgroup v1 threshold on `memory.usage_in_bytes`.
#[derive(Debug)]
pub struct UsageThreshold {
    eventfd: EventFd,
    level: Bytes,
}

impl UsageThreshold {
    /// Registers a threshold at `level` bytes of usage on `cgroup` (v1 only; a v2 cgroup is
    /// [`io::ErrorKind::Unsupported`]).
    pub fn arm(root: &Root, cgroup: &Cgroup, level: Bytes) -> io::Result<UsageThreshold> {
        if cgroup.version != CgroupVersion::V1 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "usage thresholds are a cgroup v1 interface",
            ));
        }
        let dir = root.path(&cgroup.dir);
        // The usage file is needed only while registering: the kernel holds the cgroup itself.
        let usage = File::open(dir.join("memory.usage_in_bytes"))?;
        let eventfd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(io::Error::from)?;
        let line = format!(
            "{} {} {}",
            eventfd.as_raw_fd(),
            usage.as_raw_fd(),
            level.get()
        );
        write_once(&dir.join("cgroup.event_control"), &line)?;
        Ok(UsageThreshold { eventfd, level })
    }

    pub fn level(&self) -> Bytes {
        self.level
    }

    /// Crossings since the last call; 0 when there were none (the eventfd does not block).
    pub fn take(&self) -> io::Result<u64> {
        match self.eventfd.read() {
            Ok(n) => Ok(n),
            Err(nix::errno::Errno::EAGAIN) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}

impl AsFd for UsageThreshold {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.eventfd.as_fd()
    }
}

impl AsRawFd for UsageThreshold {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.eventfd.as_raw_fd()
    }
}

/// A PSI trigger on memory stalls: the file it was written to, polled for `POLLPRI`.
#[derive(Debug)]
pub struct PsiTrigger {
    file: File,
}

impl PsiTrigger {
    /// A trigger of [`PSI_STALL`] within [`PSI_WINDOW`] on `path` (already under the root):
    /// `/proc/pressure/memory`, or a v2 cgroup's `memory.pressure`. Needs write access (root,
    /// or on newer kernels an unprivileged window that is a multiple of 2 s).
    pub fn arm(path: &Path) -> io::Result<PsiTrigger> {
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        let line = format!("some {} {}", PSI_STALL.as_micros(), PSI_WINDOW.as_micros());
        file.write_all(line.as_bytes())?;
        Ok(PsiTrigger { file })
    }
}

impl AsRawFd for PsiTrigger {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.file.as_raw_fd()
    }
}

/// Writes `line` in one `write` to a control file.
fn write_once(path: &Path, line: &str) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).open(path)?;
    f.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests;
