//! The store's file watched under a running agent: deleted, replaced, truncated or overwritten
//! behind SQLite's back.
//!
//! SQLite keeps writing to the file it opened: after `rm jetgate.db` every commit still
//! "succeeds", into an inode no path names, and is lost when the agent exits. So the writer
//! holds its own descriptor of the file ([`StoreFile`]) and compares, before and after every
//! job and once a second, what that descriptor and the path say ([`judge`], pure):
//!
//! | seen                                                 | fault         |
//! |------------------------------------------------------|---------------|
//! | the descriptor's file has no links left              | `deleted`     |
//! | the path names another file, or none                 | `replaced`    |
//! | the file is shorter than at the last check           | `truncated`   |
//! | its first 16 bytes are not `SQLite format 3\0`       | `overwritten` |
//!
//! The database file never shrinks on its own: retention deletes rows but does not vacuum, and
//! the WAL is a separate file. SQLite's own `SQLITE_CORRUPT` / `SQLITE_NOTADB` on a job is the
//! fifth fault, `corrupt` ([`corrupt_error`]). What the writer does about a fault is
//! [`super::recover`]'s.
//!
//! ```text
//! linked 0, path absent                      → deleted
//! linked 1, path (8, 1234) ≠ ours (8, 1200)  → replaced
//! size 4096 after 98304                      → truncated { from: 98304, to: 4096 }
//! ```

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::StoreError;

/// The first bytes of every SQLite database file.
pub const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// What happened to the store's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    Deleted,
    Replaced,
    Truncated {
        from: u64,
        to: u64,
    },
    Overwritten,
    /// SQLite said so (the error's text).
    Corrupt(String),
}

impl Fault {
    /// The `fault` figure: `deleted`, `replaced`, `truncated`, `overwritten`, `corrupt`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Fault::Deleted => "deleted",
            Fault::Replaced => "replaced",
            Fault::Truncated { .. } => "truncated",
            Fault::Overwritten => "overwritten",
            Fault::Corrupt(_) => "corrupt",
        }
    }

    /// The open connection still reads the whole database: the file is only gone from its
    /// path, so its content can be copied back there.
    pub fn salvageable(&self) -> bool {
        matches!(self, Fault::Deleted | Fault::Replaced)
    }
}

/// One look at the file through the descriptor and through the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Links of the descriptor's file (0: deleted).
    pub links: u64,
    /// `(dev, ino)` of the descriptor's file.
    pub ours: (u64, u64),
    /// `(dev, ino)` of what the path names now, `None` when nothing.
    pub at_path: Option<(u64, u64)>,
    pub size: u64,
    /// The first 16 bytes (fewer when the file is shorter).
    pub head: Vec<u8>,
}

/// The fault `now` shows, given the size at the last check (pure).
pub fn judge(last_size: u64, now: &Observed) -> Option<Fault> {
    if now.links == 0 {
        return Some(Fault::Deleted);
    }
    if now.at_path != Some(now.ours) {
        return Some(Fault::Replaced);
    }
    if now.size < last_size {
        return Some(Fault::Truncated {
            from: last_size,
            to: now.size,
        });
    }
    // An empty file is a database SQLite has not written yet.
    if now.size > 0 && now.head.as_slice() != MAGIC.as_slice() {
        return Some(Fault::Overwritten);
    }
    None
}

/// SQLite's word that the file is not (or no longer) a sound database.
pub fn corrupt_error(e: &StoreError) -> Option<String> {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    let source = match e {
        StoreError::Open { source, .. }
        | StoreError::Sql { source, .. }
        | StoreError::Migrate { source, .. } => source,
        _ => return None,
    };
    matches!(
        source.sqlite_error_code(),
        Some(DatabaseCorrupt | NotADatabase)
    )
    .then(|| e.to_string())
}

/// The writer's own descriptor of the database file and its size at the last check.
#[derive(Debug)]
pub struct StoreFile {
    pub path: PathBuf,
    file: File,
    size: u64,
}

impl StoreFile {
    /// Opens `path` read-only: the file SQLite has just opened there.
    pub fn open(path: &Path) -> io::Result<StoreFile> {
        let file = File::open(path)?;
        let size = file.metadata()?.len();
        Ok(StoreFile {
            path: path.to_path_buf(),
            file,
            size,
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Looks at the file through the descriptor and the path.
    pub fn observe(&self) -> io::Result<Observed> {
        let meta = self.file.metadata()?;
        let at_path = match std::fs::metadata(&self.path) {
            Ok(m) => Some((m.dev(), m.ino())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let mut head = vec![0u8; MAGIC.len()];
        let n = self.file.read_at(&mut head, 0)?;
        head.truncate(n);
        Ok(Observed {
            links: meta.nlink(),
            ours: (meta.dev(), meta.ino()),
            at_path,
            size: meta.len(),
            head,
        })
    }

    /// The fault the file shows now, if any; a sound file's size becomes the new baseline. A
    /// look that fails (the descriptor unreadable) is no fault: the next write says more.
    pub fn check(&mut self) -> Option<Fault> {
        let now = self.observe().ok()?;
        let fault = judge(self.size, &now);
        if fault.is_none() {
            self.size = now.size;
        }
        fault
    }
}

#[cfg(test)]
mod tests;
