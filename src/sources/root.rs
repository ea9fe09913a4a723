//! The injectable filesystem root every `/proc` and `/sys` reader hangs off.
//!
//! `Root::host()` is `/`; tests and `jetgate status --root captured-tree/` point it at a fixture
//! tree of a real Jetson. Readers never build absolute paths themselves: they ask the root for
//! `proc/meminfo`, `sys/fs/cgroup/...` and get back either the text or a [`ReadError`] that
//! keeps "this kernel does not have that file" ([`ReadError::Unsupported`]) apart from "the read
//! failed" ([`ReadError::Io`]): a board without PSI is not a broken board.

use std::io;
use std::path::{Path, PathBuf};

/// Where `/` is for the readers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    base: PathBuf,
}

impl Default for Root {
    fn default() -> Self {
        Root::host()
    }
}

/// A file could not be read. Carries the full path it tried.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file does not exist on this kernel or board: the feature is not there.
    #[error("{path} is not present on this system (unsupported)")]
    Unsupported { path: PathBuf },
    /// The file exists but needs privileges we do not have (nvmap debugfs is root only).
    #[error("{path}: permission denied (run as root to read it)")]
    Denied { path: PathBuf },
    /// Any other failure: the file was there and the read broke.
    #[error("reading {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

impl ReadError {
    /// True when the source simply does not exist here, as opposed to failing.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, ReadError::Unsupported { .. })
    }

    pub fn path(&self) -> &Path {
        match self {
            ReadError::Unsupported { path }
            | ReadError::Denied { path }
            | ReadError::Io { path, .. } => path,
        }
    }

    pub(crate) fn classify(path: PathBuf, source: io::Error) -> ReadError {
        match source.kind() {
            // ENOTDIR: a path through a file that is not a directory on this kernel.
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
                ReadError::Unsupported { path }
            }
            io::ErrorKind::PermissionDenied => ReadError::Denied { path },
            _ => ReadError::Io { path, source },
        }
    }
}

impl Root {
    /// The real system: `/`.
    pub fn host() -> Root {
        Root {
            base: PathBuf::from("/"),
        }
    }

    /// A fixture tree (or a chroot): `base/proc/meminfo` stands for `/proc/meminfo`.
    pub fn new(base: impl Into<PathBuf>) -> Root {
        Root { base: base.into() }
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// True when this root is the live system rather than a captured tree.
    pub fn is_host(&self) -> bool {
        self.base == Path::new("/")
    }

    /// The real path for an absolute-looking one: `path("/proc/meminfo")`.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        let rel = rel.as_ref();
        let rel = rel.strip_prefix("/").unwrap_or(rel);
        self.base.join(rel)
    }

    /// Reads a whole text file under the root.
    pub fn read(&self, rel: impl AsRef<Path>) -> Result<String, ReadError> {
        let path = self.path(rel);
        std::fs::read_to_string(&path).map_err(|e| ReadError::classify(path, e))
    }

    /// Reads a text file into a caller-owned buffer, for the sampling hot path (no allocation
    /// once the buffer has grown to the file's size).
    pub fn read_into(&self, rel: impl AsRef<Path>, buf: &mut String) -> Result<(), ReadError> {
        use std::io::Read;
        let path = self.path(rel);
        buf.clear();
        std::fs::File::open(&path)
            .and_then(|mut f| f.read_to_string(buf))
            .map(|_| ())
            .map_err(|e| ReadError::classify(path, e))
    }

    /// Names of the entries in a directory under the root (unsorted).
    pub fn list(&self, rel: impl AsRef<Path>) -> Result<Vec<String>, ReadError> {
        let path = self.path(rel);
        let entries = std::fs::read_dir(&path).map_err(|e| ReadError::classify(path.clone(), e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| ReadError::classify(path.clone(), e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }

    /// True when the path exists under the root.
    pub fn exists(&self, rel: impl AsRef<Path>) -> bool {
        self.path(rel).exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_absolute_paths_under_the_base() {
        let root = Root::new("/tmp/tree");
        assert_eq!(
            root.path("/proc/meminfo"),
            PathBuf::from("/tmp/tree/proc/meminfo")
        );
        assert_eq!(
            root.path("proc/meminfo"),
            PathBuf::from("/tmp/tree/proc/meminfo")
        );
        assert!(Root::host().is_host());
    }

    #[test]
    fn a_missing_file_is_unsupported_not_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        let err = root.read("/proc/pressure/memory").unwrap_err();
        assert!(err.is_unsupported(), "{err}");
        assert!(err.to_string().contains("pressure/memory"));
    }

    #[test]
    fn a_directory_read_as_a_file_is_a_failure_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc/meminfo")).unwrap();
        let err = Root::new(dir.path()).read("/proc/meminfo").unwrap_err();
        assert!(!err.is_unsupported());
        assert!(err.path().ends_with("proc/meminfo"));
    }
}
