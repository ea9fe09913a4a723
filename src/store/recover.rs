//! A broken store replaced, so the agent keeps supervising: at start a file that is not a sound
//! database is moved aside and a fresh one created ([`open_or_move_aside`]); while running, a
//! store whose file was deleted, replaced, truncated or overwritten ([`super::fault`]) is
//! rebuilt at its path ([`replace`]). Either way the file found is kept for the operator, never
//! deleted, and an error event says what was found and what was lost.
//!
//! | found                         | what the agent does                                          |
//! |-------------------------------|--------------------------------------------------------------|
//! | at start: not a database, corrupt | `<store>.corrupt-<UTC>` (and its `-wal`, `-shm`), fresh store whose seqs continue after the old one's last where SQLite can still read it, else after the clock's Unix milliseconds; `store_moved_aside` |
//! | running: `deleted`, `replaced`| the open connection still reads the whole database: `VACUUM INTO` back at the path (nothing lost); what else is at the path is moved aside; `store_replaced` |
//! | running: `truncated`, `overwritten`, `corrupt` | the file moved aside, fresh store whose seqs continue after the last one and which keeps the MQTT link's cursor and session where they were readable; `store_replaced` |
//!
//! ```text
//! /var/lib/jetgate/jetgate.db  →  /var/lib/jetgate/jetgate.db.corrupt-20261207T214143.120Z
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use super::fault::{corrupt_error, Fault, StoreFile, MAGIC};
use super::{Store, StoreError};
use crate::event::figures::{EventsLost, StoreMovedAside, StoreReplaced, Unreadable};
use crate::event::NewEvent;

/// The name a broken file is kept under: `<store>.corrupt-<UTC, compact>`.
pub fn aside_path(path: &Path, now_ms: u64) -> PathBuf {
    let stamp: String = crate::clock::format_rfc3339(UNIX_EPOCH + Duration::from_millis(now_ms))
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".corrupt-{stamp}"));
    PathBuf::from(name)
}

/// Renames what is at `path` (and its `-wal`, `-shm`) to [`aside_path`]; `None` when nothing
/// is there.
pub fn move_aside(path: &Path, now_ms: u64) -> io::Result<Option<PathBuf>> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(None);
    }
    let to = aside_path(path, now_ms);
    std::fs::rename(path, &to)?;
    for suffix in ["-wal", "-shm"] {
        let (mut from_side, mut to_side) = (path.as_os_str().to_owned(), to.as_os_str().to_owned());
        from_side.push(suffix);
        to_side.push(suffix);
        if std::fs::symlink_metadata(&from_side).is_ok() {
            std::fs::rename(&from_side, &to_side)?;
        }
    }
    Ok(Some(to))
}

/// Why the store at `path` cannot be used as it is, if SQLite finds it unsound (not a
/// database, corrupt pages); other errors (a newer schema, permissions) are not this.
fn unsound(path: &Path) -> Result<Option<String>, StoreError> {
    // Read before SQLite opens it: closing a connection to a file that is not a database may
    // remove its `-wal`, which is kept for the operator with the rest.
    if let Ok(head) = read_head(path) {
        if !head.is_empty() && head.as_slice() != MAGIC.as_slice() {
            return Ok(Some("not an SQLite database: its header is gone".into()));
        }
    }
    let checked = Store::open(path).and_then(|s| s.quick_check());
    match checked {
        Ok(problems) if problems.is_empty() => Ok(None),
        Ok(problems) => Ok(Some(format!("quick_check: {}", problems.join("; ")))),
        Err(e) => corrupt_error(&e).map(Some).ok_or(e),
    }
}

fn read_head(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(MAGIC.len());
    std::fs::File::open(path)?
        .take(MAGIC.len() as u64)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// Opens the store at `path`; one that is not a sound database is moved aside first and a
/// fresh one created, with the `store_moved_aside` event to record.
pub fn open_or_move_aside(
    path: &Path,
    now_ms: u64,
) -> Result<(Store, Option<NewEvent>), StoreError> {
    let Some(reason) = unsound(path)? else {
        return Ok((Store::open(path)?, None));
    };
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let moved = move_aside(path, now_ms).map_err(|source| StoreError::Create {
        path: path.to_path_buf(),
        source,
    })?;
    let mut store = Store::open(path)?;
    let (last_seq, read_back) = match moved.as_deref().and_then(readable_tail) {
        Some((seq, link)) => {
            store.continue_after(seq, &link)?;
            (seq, "the last seq it gave")
        }
        None => {
            store.continue_after(now_ms, &[])?;
            (now_ms, "the clock (its own last seq is unreadable)")
        }
    };
    let moved = moved.map_or(String::new(), |p| p.display().to_string());
    let message = format!(
        "the store {} is not a sound database ({reason}): moved aside to {moved}, a new one \
         created whose seqs continue after {last_seq}, from {read_back}; the events and \
         learned footprints it held are not in the new one",
        path.display()
    );
    let event = NewEvent::new(
        StoreMovedAside {
            path: path.display().to_string(),
            moved_to: moved,
            reason: reason.to_string(),
            size_bytes: size,
            last_seq,
        },
        None,
    )
    .message(message);
    Ok((store, Some(event)))
}

/// The last seq a store moved aside gave and its MQTT link rows, if SQLite can still read
/// them there (read-only; a corrupt page elsewhere does not matter). When it cannot, the fresh
/// store's seqs continue after the clock's Unix milliseconds instead: a seq is given once per
/// event, so no device has reached that count, and readers never see a seq twice.
fn readable_tail(moved: &Path) -> Option<(u64, Vec<(String, i64)>)> {
    use rusqlite::{Connection, OpenFlags};
    let conn = Connection::open_with_flags(moved, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    let seq: i64 = conn
        .query_row(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
                        coalesce((SELECT max(seq) FROM events), 0))",
            [],
            |r| r.get(0),
        )
        .ok()?;
    let link = conn
        .prepare("SELECT key, value FROM mqtt_link")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<(String, i64)>, _>>()
        })
        .unwrap_or_default();
    Some((u64::try_from(seq).ok()?, link))
}

/// What [`replace`] did.
#[derive(Debug)]
pub struct Replaced {
    pub store: Store,
    pub file: Option<StoreFile>,
    /// The old content was copied back: nothing acknowledged is lost.
    pub salvaged: bool,
    pub event: NewEvent,
}

/// Rebuilds the store at `file.path` after `fault`, from `old` (the connection that was
/// writing there; closed here before anything else opens the path). `last_seq`: the newest seq
/// the old store gave.
pub fn replace(
    old: Store,
    file: &StoreFile,
    fault: &Fault,
    last_seq: u64,
    now_ms: u64,
) -> Result<Replaced, StoreError> {
    let path = file.path.clone();
    let mut salvage = path.as_os_str().to_owned();
    salvage.push(".salvage");
    let salvage = PathBuf::from(salvage);
    let _ = std::fs::remove_file(&salvage);
    let salvaged = fault.salvageable() && old.vacuum_into(&salvage).is_ok();
    let events_held = old.count_events().ok();
    let link = if salvaged {
        Vec::new()
    } else {
        old.link_values().unwrap_or_default()
    };
    // Closing checkpoints and removes `<path>-wal` by name: before a new store is at the path.
    drop(old);
    let io_err = |source| StoreError::Create {
        path: path.clone(),
        source,
    };
    let moved = move_aside(&path, now_ms).map_err(io_err)?;
    if salvaged {
        std::fs::rename(&salvage, &path).map_err(io_err)?;
    }
    let mut store = Store::open(&path)?;
    if !salvaged {
        store.continue_after(last_seq, &link)?;
    }
    let lost = if salvaged { Some(0) } else { events_held };
    let moved = moved.map_or(String::new(), |p| p.display().to_string());
    let message = format!(
        "the store {} was {} under the running agent{}: {}",
        path.display(),
        fault.as_str(),
        match fault {
            Fault::Truncated { from, to } => format!(" ({from} bytes → {to})"),
            Fault::Corrupt(why) => format!(" ({why})"),
            _ => String::new(),
        },
        if salvaged {
            "its content was copied back from the open connection, nothing is lost".into()
        } else {
            format!(
                "a new store was created, its events continue after seq {last_seq}; the \
                     old file is kept as {moved}"
            )
        }
    );
    let event = NewEvent::new(
        StoreReplaced {
            fault: fault.as_str().to_string(),
            path: path.display().to_string(),
            moved_to: moved,
            salvaged,
            last_seq,
            size_before_bytes: file.size(),
            events_lost: match lost {
                Some(n) => EventsLost::Count(n),
                None => EventsLost::Unknown(Unreadable::Unreadable),
            },
        },
        None,
    )
    .message(message);
    let file = StoreFile::open(&path).ok();
    Ok(Replaced {
        store,
        file,
        salvaged,
        event,
    })
}

impl Store {
    /// The database file's path; `None` for an in-memory store.
    pub fn path(&self) -> Option<PathBuf> {
        self.conn
            .path()
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    }

    /// `PRAGMA quick_check`: the problems found, none for a sound database.
    pub fn quick_check(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA quick_check")
            .map_err(StoreError::sql("prepare quick_check"))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(StoreError::sql("run quick_check"))?;
        let rows: Vec<String> = rows
            .collect::<Result<_, _>>()
            .map_err(StoreError::sql("read quick_check"))?;
        Ok(rows.into_iter().filter(|r| r != "ok").collect())
    }

    /// A copy of the whole database into a new file at `to`.
    fn vacuum_into(&self, to: &Path) -> Result<(), StoreError> {
        let to = to.to_string_lossy().into_owned();
        self.conn
            .execute("VACUUM INTO ?1", [to])
            .map(drop)
            .map_err(StoreError::sql("copy the store (VACUUM INTO)"))
    }

    fn count_events(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))
            .map(super::from_sql)
            .map_err(StoreError::sql("count events"))
    }

    /// The MQTT link's rows (session, acked_seq, dropped_total).
    fn link_values(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM mqtt_link")
            .map_err(StoreError::sql("prepare mqtt_link"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(StoreError::sql("read mqtt_link"))?;
        rows.collect::<Result<_, _>>()
            .map_err(StoreError::sql("read mqtt_link"))
    }

    /// A fresh store taking over from a lost one: its events are numbered after `last_seq`
    /// (a seq is never given twice, which the MQTT outbox and its readers rely on) and the
    /// MQTT link's rows are carried over.
    pub(crate) fn continue_after(
        &mut self,
        last_seq: u64,
        link: &[(String, i64)],
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction()
            .map_err(StoreError::sql("begin continuing the store"))?;
        tx.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?1)",
            [super::to_sql("last seq", last_seq)?],
        )
        .map_err(StoreError::sql("continue the event seq"))?;
        for (key, value) in link {
            tx.execute(
                "INSERT INTO mqtt_link (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                rusqlite::params![key, value],
            )
            .map_err(StoreError::sql("carry the mqtt link over"))?;
        }
        tx.commit()
            .map_err(StoreError::sql("commit continuing the store"))
    }
}

#[cfg(test)]
mod tests;
