//! The durable store: one SQLite database holding the event log, learned model footprints and
//! the weights hash cache, the MQTT outbox cursor, the MQTT session counter and the remote
//! command ids seen recently.
//!
//! One [`Store`] owns one connection; the agent has one owner of it (docs/architecture.md,
//! "Conventions"). Every write
//! commits before it returns, so an event shown to a user or acknowledged to a requester is
//! already on disk. All sizes are bytes, all instants ms since the Unix epoch (`*_ms`).
//!
//! # Pragmas, and why
//! - `journal_mode = WAL`: readers (`jetgate events --local`) never block the writer, and a
//!   commit appends to the log instead of rewriting pages in place.
//! - `synchronous = FULL`: the WAL is fsynced at every commit. WAL with `NORMAL` already
//!   survives a SIGKILL at any moment (the OS keeps the written pages), but on power loss it
//!   may drop the last commits, and the design promises that an acknowledged event exists.
//!   eMMC fsync costs a few ms: [`Store::append_batch`] commits many with one fsync (the
//!   agent's own events are one commit each, on the store's writer thread, never on the core
//!   loop; see [`writer`]).
//! - `busy_timeout = 5000` ms: a second process (the CLI reading locally) waits, not fails.
//! - `journal_size_limit = 16 MiB`: the WAL is truncated back after checkpoints, so a burst
//!   does not leave a large file on a small eMMC.
//! - `foreign_keys = ON` for later tables; `temp_store = MEMORY` keeps sorts off the flash.
//!
//! A store file deleted, replaced, truncated or overwritten under a running agent is found by
//! [`fault`] and rebuilt by [`recover`]; a malformed one is moved aside at start.
//!
//! ```text
//! let mut store = Store::open("/var/lib/jetgate/jetgate.db")?;
//! let ev = store.append(NewEvent::new(Note {}, None).message("hello"))?;   // ev.seq = 1
//! ```

use std::path::{Path, PathBuf};

use rusqlite::Connection;

mod commands;
mod events;
pub mod fault;
mod footprint;
pub mod hash;
mod hashcache;
pub mod health;
pub mod lock;
mod outbox;
pub mod recover;
mod retention;
pub mod schema;
pub mod writer;

pub use commands::SeenCommand;
pub use events::EventFilter;
pub use footprint::Footprint;
pub use health::{StoreHealth, StoreHealthView, StoreState};
pub use outbox::{Dropped, OutboxEntry, OutboxSize};
pub use retention::Pruned;
pub use writer::StoreWriter;

/// How long a second connection waits for the write lock before failing.
const BUSY_TIMEOUT_MS: u32 = 5_000;

/// What failed in the store, naming the file or the operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the store's directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create store {path} owner-only: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("store {path} refused journal_mode=WAL (got {mode:?}); is it on a filesystem without shared memory?")]
    NotWal { path: PathBuf, mode: String },
    #[error(
        "store schema version {found} is newer than this jetgate knows ({known}); upgrade jetgate"
    )]
    NewerSchema { found: u32, known: u32 },
    #[error("store migration to version {version} failed: {source}")]
    Migrate {
        version: u32,
        source: rusqlite::Error,
    },
    #[error("store: cannot {what}: {source}")]
    Sql {
        what: &'static str,
        source: rusqlite::Error,
    },
    #[error("store: figures of event {seq} are not a JSON object: {source}")]
    Figures { seq: u64, source: serde_json::Error },
    #[error("store: {what} = {value} does not fit SQLite's signed 64-bit integers")]
    TooLarge { what: &'static str, value: u64 },
    #[error("the store writer has stopped (the agent is shutting down)")]
    Closed,
    #[error("store lost: {reason}")]
    Lost { reason: String },
}

impl StoreError {
    /// A `map_err` adapter naming the operation that failed.
    fn sql(what: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
        move |source| StoreError::Sql { what, source }
    }
}

/// Converts a `u64` for SQLite, which stores signed 64-bit integers.
fn to_sql(what: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::TooLarge { what, value })
}

/// Reads back an integer written by [`to_sql`]; negative values (never written) clamp to 0.
fn from_sql(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// The durable store. See the module documentation for the pragmas.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, its parent directory included, in
    /// WAL mode with the pragmas above, and migrates its schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        owner_only(path).map_err(|source| StoreError::Create {
            path: path.to_path_buf(),
            source,
        })?;
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(StoreError::sql("set journal_mode=WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NotWal {
                path: path.to_path_buf(),
                mode,
            });
        }
        Store::configure(conn)
    }

    /// A private in-memory store for tests (same schema and pragmas, no WAL).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        Store::configure(conn)
    }

    fn configure(mut conn: Connection) -> Result<Store, StoreError> {
        conn.execute_batch(&format!(
            "PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};
             PRAGMA journal_size_limit = {};
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;",
            16 * 1024 * 1024
        ))
        .map_err(StoreError::sql("set pragmas"))?;
        schema::migrate(&mut conn)?;
        Ok(Store { conn })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        schema::version(&self.conn)
    }

    /// Runs `PRAGMA integrity_check`; `Ok(vec!["ok"])` for a sound database.
    pub fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(StoreError::sql("prepare integrity_check"))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(StoreError::sql("run integrity_check"))?;
        rows.collect::<Result<_, _>>()
            .map_err(StoreError::sql("read integrity_check"))
    }
}

/// Creates the database file owner-only (0600) and takes group and other access off an
/// existing one and its `-wal`/`-shm` files: the event log names models, commands and notes.
/// SQLite creates the `-wal` and `-shm` files with the database's mode.
fn owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let Ok(meta) = std::fs::metadata(&name) else {
            continue;
        };
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&name, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_creates_the_directory_and_a_wal_database_at_the_current_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/sub/jetgate.db");
        let store = Store::open(&path).unwrap();
        assert!(path.exists());
        assert_eq!(store.schema_version().unwrap(), schema::CURRENT_VERSION);
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = store
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous should be FULL");
        assert_eq!(store.integrity_check().unwrap(), vec!["ok".to_string()]);
    }

    #[test]
    fn the_database_and_its_wal_are_owner_only_and_a_readable_old_one_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let mut store = Store::open(&path).unwrap();
        store
            .append(crate::event::NewEvent::untyped(
                crate::event::EventKind::Note,
                None,
            ))
            .unwrap();
        let wal = dir.path().join("j.db-wal");
        assert_eq!((mode(&path), mode(&wal)), (0o600, 0o600));
        drop(store);
        // A store written by an older agent, world-readable.
        for p in [&path, &wal] {
            if p.exists() {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
            }
        }
        drop(Store::open(&path).unwrap());
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn reopening_keeps_the_schema_and_does_not_rerun_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        drop(Store::open(&path).unwrap());
        let mut store = Store::open(&path).unwrap();
        assert_eq!(
            schema::migrate(&mut store.conn).unwrap(),
            schema::CURRENT_VERSION
        );
    }

    #[test]
    fn a_store_from_a_newer_jetgate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let store = Store::open(&path).unwrap();
        store
            .conn
            .execute(
                "UPDATE meta SET value = 999 WHERE key = 'schema_version'",
                [],
            )
            .unwrap();
        drop(store);
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::NewerSchema { found: 999, .. })
        ));
    }
}
