//! Child cgroups: each supervised model gets its own cgroup under the agent's memory scope.
//!
//! Owns the directory `<scope>/<name>/` from spawn until the child's whole tree is gone: creates
//! it, writes an optional memory limit, opens `cgroup.procs` for the pre-exec placement (see
//! [`super::placement`]), kills everything inside it, and removes it. Limits are [`Bytes`].
//! Cgroups made below it (a container engine's `libpod-<id>` and `conmon`) are part of it:
//! their pids are listed, killed, and the directories removed with it, deepest first.
//!
//! | hierarchy | limit file                                                   | kill                                         |
//! |-----------|--------------------------------------------------------------|----------------------------------------------|
//! | v1        | `memory.limit_in_bytes`, `memory.memsw.limit_in_bytes` where present | SIGKILL every pid in `cgroup.procs` and below, repeat |
//! | v2        | `memory.max` (swap, `memory.swap.max`, is left as inherited) | `echo 1 > cgroup.kill` (5.14+), else as v1   |
//!
//! ```text
//! /sys/fs/cgroup/memory/jetgate/models/llama/cgroup.procs     (v1, scope = .../models)
//! /sys/fs/cgroup/jetgate.service/models/llama/memory.max      (v2, scope = .../models)
//! ```
//!
//! The scope path is given by the caller (resolved from `/proc/self/cgroup` elsewhere). On v2,
//! `memory.max` exists in the child only when the scope lists `memory` in its
//! `cgroup.subtree_control`; asking for a limit without it is an error naming the path. The
//! v2 "no internal processes" rule also means the agent itself must not live in the scope once
//! controllers are enabled for its children; choosing such a scope is the resolver's job.
#![allow(clippy::disallowed_methods)] // I/O module: the drain loop measures its own deadline

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::sources::CgroupVersion;
use crate::units::Bytes;

/// How long [`ChildCgroup::kill_and_remove`] keeps killing and retrying `rmdir` by default.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause between two kill passes / rmdir attempts while a cgroup drains.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// The cgroup directory under which every model gets its own child cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupScope {
    pub version: CgroupVersion,
    pub path: PathBuf,
}

/// A cgroup operation failed. Every variant names the cgroup path.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("child cgroup name {name:?} is not a single path component")]
    BadName { name: String },
    #[error("creating cgroup {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("cgroup {path} already exists (a previous child was not cleaned up?)")]
    Exists { path: PathBuf },
    #[error("writing {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: io::Error,
    },
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cgroup {path} still holds pids {pids:?} after {waited:?}")]
    NotEmpty {
        path: PathBuf,
        pids: Vec<i32>,
        waited: Duration,
    },
    #[error("removing cgroup {path}: {source}")]
    Remove { path: PathBuf, source: io::Error },
}

impl CgroupScope {
    /// The directory a child called `name` gets.
    pub fn child_path(&self, name: &str) -> Result<PathBuf, CgroupError> {
        let ok = !name.is_empty() && name != "." && name != ".." && !name.contains('/');
        if !ok {
            return Err(CgroupError::BadName {
                name: name.to_string(),
            });
        }
        Ok(self.path.join(name))
    }

    /// Creates `<scope>/<name>` and writes the memory limit if one is given.
    pub fn create_child(
        &self,
        name: &str,
        limit: Option<Bytes>,
    ) -> Result<ChildCgroup, CgroupError> {
        let path = self.child_path(name)?;
        if let Err(source) = std::fs::create_dir(&path) {
            return Err(match source.kind() {
                io::ErrorKind::AlreadyExists => CgroupError::Exists { path },
                _ => CgroupError::Create { path, source },
            });
        }
        let cg = ChildCgroup {
            version: self.version,
            path,
        };
        if let Some(limit) = limit {
            if let Err(e) = cg.set_limit(limit) {
                let _ = std::fs::remove_dir(&cg.path);
                return Err(e);
            }
        }
        Ok(cg)
    }
}

/// One model's cgroup directory. Dropping it does not remove it: call
/// [`ChildCgroup::kill_and_remove`] once the child is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildCgroup {
    pub version: CgroupVersion,
    pub path: PathBuf,
}

impl ChildCgroup {
    /// `cgroup.procs` of this cgroup (same name in v1 and v2).
    pub fn procs_path(&self) -> PathBuf {
        self.path.join("cgroup.procs")
    }

    /// The memory limit file for this hierarchy.
    pub fn limit_path(&self) -> PathBuf {
        match self.version {
            CgroupVersion::V1 => self.path.join("memory.limit_in_bytes"),
            CgroupVersion::V2 => self.path.join("memory.max"),
        }
    }

    /// v1's memory + swap limit file; the kernel has it only with swap accounting.
    pub fn memsw_limit_path(&self) -> Option<PathBuf> {
        match self.version {
            CgroupVersion::V1 => Some(self.path.join("memory.memsw.limit_in_bytes")),
            CgroupVersion::V2 => None,
        }
    }

    /// Writes the memory limit in bytes; on v1 with swap accounting also the memory + swap
    /// limit, to the same value, so the tree cannot pass the limit by swapping (written after
    /// the memory limit: the kernel keeps memsw at or above it).
    pub fn set_limit(&self, limit: Bytes) -> Result<(), CgroupError> {
        let value = limit.get().to_string();
        write_existing(&self.limit_path(), &value)?;
        match self.memsw_limit_path().filter(|p| p.exists()) {
            Some(memsw) => write_existing(&memsw, &value),
            None => Ok(()),
        }
    }

    /// Opens `cgroup.procs` for writing, close-on-exec, so the forked child can place itself
    /// with one `write(2)` before it execs.
    pub fn open_procs_for_placement(&self) -> Result<File, CgroupError> {
        let path = self.procs_path();
        OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .map_err(|source| CgroupError::Write {
                path,
                value: "<open for placement>".to_string(),
                source,
            })
    }

    /// Writes one pid into `cgroup.procs` (from the parent; the spawn path uses the pre-exec
    /// placement instead).
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        write_existing(&self.procs_path(), &pid.to_string())
    }

    /// The pids currently in the cgroup and in every cgroup below it (a container engine makes
    /// its own under the unit's: `libpod-<id>`, `conmon`); zombies are not listed by the kernel.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let path = self.procs_path();
        let text = std::fs::read_to_string(&path).map_err(|source| CgroupError::Read {
            path: path.clone(),
            source,
        })?;
        let mut pids = parse_procs(&text);
        for sub in self.subgroups() {
            // A sub-cgroup removed between the listing and the read has no pids left.
            pids.extend(sub.pids().unwrap_or_default());
        }
        Ok(pids)
    }

    /// The cgroups directly below this one.
    fn subgroups(&self) -> Vec<ChildCgroup> {
        let Ok(dir) = std::fs::read_dir(&self.path) else {
            return Vec::new();
        };
        dir.filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| ChildCgroup {
                version: self.version,
                path: e.path(),
            })
            .collect()
    }

    /// Removes the (empty) cgroups below this one, deepest first, then this one.
    pub fn remove_tree(&self) -> io::Result<()> {
        for sub in self.subgroups() {
            match sub.remove_tree() {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {} // removed, or removed meanwhile by its engine
            }
        }
        std::fs::remove_dir(&self.path)
    }

    /// One immediate kill pass, no waiting: `cgroup.kill` on v2 where present, else SIGKILL to
    /// every listed pid. Used by `kill_now`. Returns how many pids were signalled (0 when
    /// `cgroup.kill` did the work).
    pub fn kill_once(&self) -> Result<usize, CgroupError> {
        if self.version == CgroupVersion::V2 {
            let kill_file = self.path.join("cgroup.kill");
            if kill_file.exists() {
                write_existing(&kill_file, "1")?;
                return Ok(0);
            }
        }
        let pids = self.pids()?;
        for pid in &pids {
            // ESRCH: it died between the read and the signal, which is what we want.
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        Ok(pids.len())
    }

    /// Kills until `cgroup.procs` is empty (a forking process may add pids between passes),
    /// then removes the directory, retrying `rmdir` while the kernel finishes tearing the
    /// tasks down. Gives up after `timeout` with the pids still there.
    pub async fn kill_and_remove(&self, timeout: Duration) -> Result<(), CgroupError> {
        let start = Instant::now();
        loop {
            let pids = match self.pids() {
                Ok(p) => p,
                // Already removed by someone else: nothing left to do.
                Err(CgroupError::Read { source, .. })
                    if source.kind() == io::ErrorKind::NotFound =>
                {
                    return Ok(())
                }
                Err(e) => return Err(e),
            };
            if pids.is_empty() {
                match self.remove_tree() {
                    Ok(()) => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                    Err(source) if start.elapsed() >= timeout => {
                        return Err(CgroupError::Remove {
                            path: self.path.clone(),
                            source,
                        })
                    }
                    Err(_) => {} // EBUSY while the last task is torn down: retry
                }
            } else if start.elapsed() >= timeout {
                return Err(CgroupError::NotEmpty {
                    path: self.path.clone(),
                    pids,
                    waited: start.elapsed(),
                });
            } else {
                self.kill_once()?;
            }
            tokio::time::sleep(DRAIN_POLL).await;
        }
    }
}

/// Parses `cgroup.procs`: one decimal pid a line.
pub fn parse_procs(text: &str) -> Vec<i32> {
    text.lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
        .collect()
}

/// Writes to a file that must already exist (cgroup control files are never created by us;
/// a missing one means the controller is not enabled there).
fn write_existing(path: &Path, value: &str) -> Result<(), CgroupError> {
    use std::io::Write;
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|source| CgroupError::Write {
            path: path.to_path_buf(),
            value: value.to_string(),
            source,
        })
}
