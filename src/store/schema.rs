//! The store's schema: ordered migrations and the version kept in the `meta` table.
//!
//! `meta` holds `('schema_version', N)`. Opening a store runs, in one transaction, every
//! migration after N in order and records the new N; a store written by a newer jetgate (N
//! greater than we know) is refused rather than guessed at. Later issues append migrations
//! (the MQTT outbox, the session counter); a shipped migration is never edited.
//!
//! ```text
//! version 1: events, footprints, weights_hashes
//! version 2: mqtt_link (session counter, outbox cursor, drop total), mqtt_outbox_dropped
//! version 3: footprints.anon_bytes, footprints.file_bytes (where a model's memory is)
//! version 4: footprints.estimate_bytes, footprints.estimate_ratio (`memory = "auto"`)
//! version 5: mqtt_commands (remote command ids seen recently, with their outcome)
//! ```

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::store::StoreError;

/// Migration N+1 is `MIGRATIONS[N]`; the schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: the event log, learned footprints and the weights hash cache.
    "CREATE TABLE events (
         -- AUTOINCREMENT: a seq is never reused, even after retention deletes the newest rows.
         seq      INTEGER PRIMARY KEY AUTOINCREMENT,
         ts       TEXT    NOT NULL,           -- RFC 3339 UTC with ms, as shown to users
         ts_ms    INTEGER NOT NULL,           -- the same instant, ms since the Unix epoch
         kind     TEXT    NOT NULL,
         severity INTEGER NOT NULL,           -- 0 info, 1 warning, 2 error
         subject  TEXT,
         message  TEXT    NOT NULL,
         figures  TEXT    NOT NULL            -- a JSON object
     );
     CREATE INDEX events_ts_ms ON events (ts_ms);
     CREATE INDEX events_kind ON events (kind, seq);
     CREATE INDEX events_subject ON events (subject, seq);
     CREATE TABLE footprints (
         model          TEXT PRIMARY KEY,
         peak_bytes     INTEGER NOT NULL,
         settled_bytes  INTEGER NOT NULL,
         tree_pss_bytes INTEGER NOT NULL,
         gpu_bytes      INTEGER,
         loads          INTEGER NOT NULL,
         updated_ms     INTEGER NOT NULL
     );
     CREATE TABLE weights_hashes (
         path       BLOB PRIMARY KEY,         -- the path's raw bytes (paths need not be UTF-8)
         size_bytes INTEGER NOT NULL,
         mtime_ns   INTEGER NOT NULL,
         sha256     TEXT    NOT NULL
     );",
    // 2: the MQTT link. The outbox is the events table itself: everything after `acked_seq`
    // that is not in `mqtt_outbox_dropped` is still to be published.
    "CREATE TABLE mqtt_link (
         key   TEXT PRIMARY KEY,              -- 'session', 'acked_seq', 'dropped_total'
         value INTEGER NOT NULL
     );
     CREATE TABLE mqtt_outbox_dropped (
         seq INTEGER PRIMARY KEY              -- an event the outbox policy dropped unsent
     );",
    // 3: the breakdown of a model's tree PSS: anonymous and file-backed (mmap'd weights).
    // NULL where the kernel does not split PSS, and for footprints stored before.
    "ALTER TABLE footprints ADD COLUMN anon_bytes INTEGER;
     ALTER TABLE footprints ADD COLUMN file_bytes INTEGER;",
    // 4: `memory = "auto"`: the estimate of a model's latest load and its peak ÷ that estimate.
    "ALTER TABLE footprints ADD COLUMN estimate_bytes INTEGER;
     ALTER TABLE footprints ADD COLUMN estimate_ratio REAL;",
    // 5: remote command ids seen recently: a redelivered or replayed id is answered with its
    // outcome, never run again. Bounded by age and count at every insert.
    "CREATE TABLE mqtt_commands (
         id      TEXT PRIMARY KEY,
         seen_ms INTEGER NOT NULL,            -- when it was accepted, ms since the Unix epoch
         status  TEXT    NOT NULL,            -- accepted (running), succeeded, failed
         reason  TEXT                         -- why it failed
     );
     CREATE INDEX mqtt_commands_seen ON mqtt_commands (seen_ms);",
];

/// The schema version this build writes.
pub const CURRENT_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the schema up to [`CURRENT_VERSION`]; returns the version found before.
pub fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StoreError::sql("begin migration"))?;
    tx.execute(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        [],
    )
    .map_err(StoreError::sql("create meta table"))?;
    let found: u32 = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(StoreError::sql("read schema version"))?
        .unwrap_or(0);
    if found > CURRENT_VERSION {
        return Err(StoreError::NewerSchema {
            found,
            known: CURRENT_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as u32 + 1;
        tx.execute_batch(sql)
            .map_err(|source| StoreError::Migrate { version, source })?;
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [CURRENT_VERSION],
    )
    .map_err(StoreError::sql("record schema version"))?;
    tx.commit().map_err(StoreError::sql("commit migration"))?;
    Ok(found)
}

/// The schema version recorded in `meta`.
pub fn version(conn: &Connection) -> Result<u32, StoreError> {
    conn.query_row(
        "SELECT value FROM meta WHERE key = 'schema_version'",
        [],
        |r| r.get(0),
    )
    .map_err(StoreError::sql("read schema version"))
}
