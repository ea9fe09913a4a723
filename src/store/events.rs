//! The event log in the store: append (committed before returning), filtered queries in `seq`
//! order, and retention by count and age.
//!
//! Each row keeps the RFC 3339 `ts` shown to users and `ts_ms`, the same instant in ms since
//! the Unix epoch, both derived from one clock reading so they never disagree. `seq` comes
//! from `INTEGER PRIMARY KEY AUTOINCREMENT`: strictly increasing across restarts and never
//! reused, even when retention deletes the newest rows.
//!
//! ```text
//! store.query(&EventFilter { since_ms: Some(now_ms - 3_600_000), kind: Some(EventKind::LoadDenied),
//!                            ..EventFilter::default() })
//! ```

use std::time::{Duration, UNIX_EPOCH};

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Row, TransactionBehavior};
use serde_json::{Map, Value};

use crate::clock;
use crate::event::{Event, EventKind, NewEvent, Severity};
use crate::store::{from_sql, to_sql, Store, StoreError};

const INSERT: &str = "INSERT INTO events (ts, ts_ms, kind, severity, subject, message, figures)
                      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// Which events a query returns; every field narrows, `None` means "any". Results ascend by
/// `seq`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events at or after this instant (ms since the Unix epoch).
    pub since_ms: Option<u64>,
    /// Only events with a `seq` greater than this (for `--follow` and outbox catch-up).
    pub after_seq: Option<u64>,
    pub kind: Option<EventKind>,
    pub subject: Option<String>,
    /// Only events at least this severe.
    pub min_severity: Option<Severity>,
    /// At most this many (the oldest matching first).
    pub limit: Option<u64>,
}

fn rank(s: Severity) -> i64 {
    match s {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Error => 2,
    }
}

/// The severity stored as `rank`. A rank this build does not know (a damaged row, or a newer
/// schema) reads as `error`, the one that gets attention, and is logged: the event is still
/// shown and published, and the outbox never stalls on it.
fn severity_of(seq: u64, rank: i64) -> Severity {
    match rank {
        0 => Severity::Info,
        1 => Severity::Warning,
        2 => Severity::Error,
        _ => {
            tracing::warn!("event {seq} has unknown severity rank {rank}; read as error");
            Severity::Error
        }
    }
}

/// A row as read, before its severity and figures are decoded: the one decoder of stored
/// events, for queries and the MQTT outbox alike.
pub(super) struct RawEvent {
    seq: u64,
    ts: String,
    kind: String,
    severity: i64,
    subject: Option<String>,
    message: String,
    figures: String,
}

impl RawEvent {
    /// Reads `seq, ts, kind, severity, subject, message, figures`, in that order.
    pub(super) fn from_row(r: &Row<'_>) -> rusqlite::Result<RawEvent> {
        Ok(RawEvent {
            seq: from_sql(r.get(0)?),
            ts: r.get(1)?,
            kind: r.get(2)?,
            severity: r.get(3)?,
            subject: r.get(4)?,
            message: r.get(5)?,
            figures: r.get(6)?,
        })
    }

    pub(super) fn decode(self) -> Result<Event, StoreError> {
        let figures: Map<String, Value> =
            serde_json::from_str(&self.figures).map_err(|source| StoreError::Figures {
                seq: self.seq,
                source,
            })?;
        Ok(Event {
            seq: self.seq,
            ts: self.ts,
            // A kind this build does not know (a newer agent wrote it) is kept as
            // `EventKind::Unknown` with its text: the event is shown and published as stored,
            // never dropped (an unreadable severity or figures, by contrast, is an error).
            kind: EventKind::from_stored(self.kind),
            severity: severity_of(self.seq, self.severity),
            subject: self.subject,
            message: self.message,
            figures,
        })
    }
}

fn insert(tx: &rusqlite::Transaction<'_>, ev: NewEvent, now_ms: u64) -> Result<Event, StoreError> {
    let ts = clock::format_rfc3339(UNIX_EPOCH + Duration::from_millis(now_ms));
    let figures = Value::Object(ev.figures.clone()).to_string();
    let mut stmt = tx
        .prepare_cached(INSERT)
        .map_err(StoreError::sql("prepare event insert"))?;
    stmt.execute(params![
        ts,
        to_sql("event ts_ms", now_ms)?,
        ev.kind.as_str(),
        rank(ev.severity),
        ev.subject,
        ev.message,
        figures
    ])
    .map_err(StoreError::sql("insert event"))?;
    let seq = from_sql(tx.last_insert_rowid());
    Ok(ev.into_event(seq, ts))
}

/// The SELECT for `filter` and its arguments, in order.
fn query_sql(filter: &EventFilter) -> Result<(String, Vec<SqlValue>), StoreError> {
    let mut sql =
        String::from("SELECT seq, ts, kind, severity, subject, message, figures FROM events");
    // Left to itself, SQLite walks the whole table in seq order to save the sort, even when
    // `since` selects the last hour of a million rows. Reading the time range from its index
    // and sorting those rows is what recent-history queries need (unless `after_seq` already
    // narrows by seq, which the rowid does best).
    if filter.since_ms.is_some() && filter.after_seq.is_none() {
        sql.push_str(" INDEXED BY events_ts_ms");
    }
    sql.push_str(" WHERE 1");
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(ms) = filter.since_ms {
        sql.push_str(" AND ts_ms >= ?");
        args.push(SqlValue::Integer(to_sql("since_ms", ms)?));
    }
    if let Some(seq) = filter.after_seq {
        sql.push_str(" AND seq > ?");
        args.push(SqlValue::Integer(to_sql("after_seq", seq)?));
    }
    if let Some(kind) = &filter.kind {
        sql.push_str(" AND kind = ?");
        args.push(SqlValue::Text(kind.as_str().to_string()));
    }
    if let Some(subject) = &filter.subject {
        sql.push_str(" AND subject = ?");
        args.push(SqlValue::Text(subject.clone()));
    }
    if let Some(s) = filter.min_severity {
        sql.push_str(" AND severity >= ?");
        args.push(SqlValue::Integer(rank(s)));
    }
    sql.push_str(" ORDER BY seq");
    if let Some(limit) = filter.limit {
        sql.push_str(" LIMIT ?");
        args.push(SqlValue::Integer(to_sql("limit", limit)?));
    }
    Ok((sql, args))
}

impl Store {
    /// Numbers, stamps (now) and commits one event; returns it as stored.
    pub fn append(&mut self, ev: NewEvent) -> Result<Event, StoreError> {
        self.append_at(ev, clock::now_unix_ms())
    }

    /// [`Store::append`] with the instant given (ms since the Unix epoch).
    pub fn append_at(&mut self, ev: NewEvent, now_ms: u64) -> Result<Event, StoreError> {
        self.append_batch_at(vec![ev], now_ms)?
            .pop()
            .ok_or(StoreError::Sql {
                what: "return the appended event",
                source: rusqlite::Error::QueryReturnedNoRows,
            })
    }

    /// Commits a burst of events in one transaction (one fsync); all or none are stored.
    pub fn append_batch(&mut self, events: Vec<NewEvent>) -> Result<Vec<Event>, StoreError> {
        self.append_batch_at(events, clock::now_unix_ms())
    }

    /// [`Store::append_batch`] with the instant given (ms since the Unix epoch).
    pub fn append_batch_at(
        &mut self,
        events: Vec<NewEvent>,
        now_ms: u64,
    ) -> Result<Vec<Event>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sql("begin event append"))?;
        let stored = events
            .into_iter()
            .map(|ev| insert(&tx, ev, now_ms))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().map_err(StoreError::sql("commit events"))?;
        Ok(stored)
    }

    /// Events matching `filter`, ascending by `seq`.
    pub fn query(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let (sql, args) = query_sql(filter)?;
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(StoreError::sql("prepare event query"))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), RawEvent::from_row)
            .map_err(StoreError::sql("query events"))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(StoreError::sql("read event row"))?.decode()?);
        }
        Ok(out)
    }

    /// The highest `seq` ever assigned (0 for a new store), deleted rows included.
    pub fn last_seq(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(from_sql)
            .map_err(StoreError::sql("read last seq"))
    }

    /// Deletes events older than `max_age_ms` before `now_ms`, then the oldest beyond the newest
    /// `max_events`; returns how many went. Pass `u64::MAX` for "no limit".
    pub fn prune(
        &mut self,
        max_events: u64,
        max_age_ms: u64,
        now_ms: u64,
    ) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sql("begin prune"))?;
        let mut deleted = 0;
        if max_age_ms < now_ms {
            let cutoff = to_sql("prune cutoff_ms", now_ms - max_age_ms)?;
            deleted += tx
                .execute("DELETE FROM events WHERE ts_ms < ?1", [cutoff])
                .map_err(StoreError::sql("prune events by age"))?;
        }
        if let Ok(keep) = i64::try_from(max_events) {
            deleted += tx
                .execute(
                    "DELETE FROM events WHERE seq <= (
                         SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?1)",
                    [keep],
                )
                .map_err(StoreError::sql("prune events by count"))?;
        }
        tx.commit().map_err(StoreError::sql("commit prune"))?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests;
