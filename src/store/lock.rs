//! One agent per store: an exclusive `flock` on `<store>.lock`, held for the agent's life.
//!
//! Two agents on one store would both start the same services and interleave their events
//! (a second agent is easy to start by mistake: its socket check passes once the first one's
//! socket file was removed). The lock file holds the holder's pid, so the refusal names it. The
//! kernel drops the lock when the holder's process ends however it ends (SIGKILL included), so a
//! crash never leaves a stale lock: the file stays, its lock does not.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// Why the store could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "the store {store} is in use by another agent (pid {}, lock {lock}): one agent per \
         store; stop it first or give this one another `store.path`",
        pid.map_or_else(|| "unknown".to_string(), |p| p.to_string())
    )]
    Held {
        store: PathBuf,
        lock: PathBuf,
        pid: Option<u32>,
    },
    #[error("cannot lock the store with {lock}: {source}")]
    Io {
        lock: PathBuf,
        source: std::io::Error,
    },
}

/// The held lock; dropping it releases the store.
#[derive(Debug)]
pub struct StoreLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl StoreLock {
    /// The lock file of the store at `store`: `<store>.lock`.
    pub fn path_for(store: &Path) -> PathBuf {
        let mut name = store.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the store for this process, or names the agent that holds it. The store's
    /// directory must exist.
    pub fn acquire(store: &Path) -> Result<StoreLock, LockError> {
        let path = StoreLock::path_for(store);
        let io = |source| LockError::Io {
            lock: path.clone(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Held {
                    store: store.to_path_buf(),
                    lock: path,
                    pid: text.trim().parse().ok(),
                });
            }
            Err((_, errno)) => return Err(io(std::io::Error::from(errno))),
        };
        lock.set_len(0).map_err(io)?;
        lock.rewind().map_err(io)?;
        writeln!(lock, "{}", std::process::id()).map_err(io)?;
        lock.sync_all().map_err(io)?;
        Ok(StoreLock { _lock: lock, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // spawns flock(1) as the other holder
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_and_the_lock_ends_with_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("jetgate.db");
        let lock = StoreLock::path_for(&store);
        assert_eq!(lock, dir.path().join("jetgate.db.lock"));
        // Another process holds the lock: flock(1) takes it and, not forking, becomes `sleep`.
        let mut holder = Command::new("flock")
            .args(["--exclusive", "--no-fork"])
            .arg(&lock)
            .args([
                "sh",
                "-c",
                &format!("echo $$ > {}; exec sleep 30", lock.display()),
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("flock(1) from util-linux");
        let pid = (0..500)
            .find_map(|_| {
                let pid = std::fs::read_to_string(&lock)
                    .ok()
                    .and_then(|t| t.trim().parse::<u32>().ok());
                if pid.is_none() {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                pid
            })
            .expect("the holder wrote its pid");
        match StoreLock::acquire(&store) {
            Err(LockError::Held { pid: Some(p), .. }) => assert_eq!(p, pid),
            other => panic!("expected Held with pid {pid}, got {other:?}"),
        }
        let text = StoreLock::acquire(&store).unwrap_err().to_string();
        assert!(text.contains(&format!("pid {pid}")) && text.contains("one agent per store"));
        // Killed without a chance to clean up: the kernel releases the lock.
        holder.kill().unwrap();
        holder.wait().unwrap();
        let held = StoreLock::acquire(&store).unwrap();
        let mine = std::fs::read_to_string(held.path()).unwrap();
        assert_eq!(mine.trim(), std::process::id().to_string());
    }

    #[test]
    fn a_lock_file_it_creates_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let held = StoreLock::acquire(&dir.path().join("s.db")).unwrap();
        let mode = std::fs::metadata(held.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
