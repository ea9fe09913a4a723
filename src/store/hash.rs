//! Streaming sha256 of weights files, and the (size, mtime) stamp that keys the hash cache.
//!
//! Files are read in 1 MiB blocks, so a 20 GiB model hashes in constant memory. Hashes are
//! lowercase hex, as `sha256sum` prints them:
//!
//! ```text
//! e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855   (the empty file)
//! ```

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

const BLOCK: usize = 1 << 20;

/// Why a file could not be hashed or stamped.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("cannot read {path} to hash it: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot stat {path}: {source}")]
    Stat {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The sha256 of the file at `path`, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, HashError> {
    let err = |source| HashError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BLOCK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(err(e)),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A file's size and modification time: the key under which its hash stays valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub size: u64,
    /// Modification time in ns since the Unix epoch (negative before it).
    pub mtime_ns: i64,
}

impl FileStamp {
    pub fn of(path: &Path) -> Result<FileStamp, HashError> {
        let err = |source| HashError::Stat {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(err)?;
        let modified = meta.modified().map_err(err)?;
        let mtime_ns = match modified.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |n| -n),
        };
        Ok(FileStamp {
            size: meta.len(),
            mtime_ns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_known_sha256_values() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(
            sha256_file(&empty).unwrap(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let abc = dir.path().join("abc");
        std::fs::write(&abc, b"abc").unwrap();
        assert_eq!(
            sha256_file(&abc).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_file_larger_than_one_block_hashes_like_its_bytes_in_one_go() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        let data: Vec<u8> = (0..(BLOCK * 2 + 123)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let want: String = Sha256::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(sha256_file(&p).unwrap(), want);
        assert_eq!(FileStamp::of(&p).unwrap().size, data.len() as u64);
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let e = sha256_file(Path::new("/nonexistent/w.bin")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/w.bin"));
    }
}
