//! The weights hash cache: a pinned sha256 is computed once per version of a weights file, not
//! on every load (hashing gigabytes on eMMC takes minutes).
//!
//! A cached hash is keyed by the file's path and valid only while its size and mtime (ns since
//! the Unix epoch) are unchanged; a rewritten file misses and is hashed again. Paths are stored
//! as their raw bytes.
//!
//! ```text
//! let stamp = FileStamp::of(path)?;
//! let sha = match store.cached_hash(path, stamp.size, stamp.mtime_ns)? {
//!     Some(sha) => sha,
//!     None => { let sha = sha256_file(path)?; store.store_hash(path, stamp.size, stamp.mtime_ns, &sha)?; sha }
//! };
//! ```

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rusqlite::{params, OptionalExtension};

use crate::store::{to_sql, Store, StoreError};

impl Store {
    /// The sha256 (lowercase hex) cached for `path`, if its size and mtime still match.
    pub fn cached_hash(
        &self,
        path: &Path,
        size: u64,
        mtime_ns: i64,
    ) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT sha256 FROM weights_hashes
                 WHERE path = ?1 AND size_bytes = ?2 AND mtime_ns = ?3",
                params![
                    path.as_os_str().as_bytes(),
                    to_sql("weights size", size)?,
                    mtime_ns
                ],
                |r| r.get(0),
            )
            .optional()
            .map_err(StoreError::sql("read cached weights hash"))
    }

    /// Caches `sha256` for `path` at this size and mtime, replacing any older entry.
    pub fn store_hash(
        &mut self,
        path: &Path,
        size: u64,
        mtime_ns: i64,
        sha256: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO weights_hashes (path, size_bytes, mtime_ns, sha256)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (path) DO UPDATE SET size_bytes = excluded.size_bytes,
                     mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256",
                params![
                    path.as_os_str().as_bytes(),
                    to_sql("weights size", size)?,
                    mtime_ns,
                    sha256
                ],
            )
            .map(drop)
            .map_err(StoreError::sql("store weights hash"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_hash_is_returned_only_while_size_and_mtime_match() {
        let mut s = Store::open_in_memory().unwrap();
        let p = Path::new("/models/llm.gguf");
        assert_eq!(s.cached_hash(p, 10, 5).unwrap(), None);
        s.store_hash(p, 10, 5, "abc").unwrap();
        assert_eq!(s.cached_hash(p, 10, 5).unwrap().as_deref(), Some("abc"));
        assert_eq!(s.cached_hash(p, 11, 5).unwrap(), None);
        assert_eq!(s.cached_hash(p, 10, 6).unwrap(), None);
        s.store_hash(p, 11, 6, "def").unwrap();
        assert_eq!(s.cached_hash(p, 11, 6).unwrap().as_deref(), Some("def"));
        assert_eq!(s.cached_hash(p, 10, 5).unwrap(), None);
    }
}
