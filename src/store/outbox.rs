//! The MQTT outbox and session counter in the store.
//!
//! The outbox is the events table itself: every event with a `seq` after the acknowledged
//! cursor (`mqtt_link.acked_seq`) that the drop policy has not put in `mqtt_outbox_dropped`
//! is still to be published. Nothing is copied, so an event costs one insert whether or not a
//! broker is configured, and the backlog is read back in `seq` order, a batch at a time.
//!
//! Sizes are an estimate of the published payload: the stored text columns plus
//! [`ENTRY_OVERHEAD_BYTES`] for the JSON keys, `seq` and `severity`.
//!
//! ```text
//! mqtt_link: ('session', 7), ('acked_seq', 1042), ('dropped_total', 0)
//! ```

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::events::RawEvent;
use crate::store::{from_sql, to_sql, Store, StoreError};

/// Bytes added to each event's stored text for its JSON framing (keys, quotes, seq, severity).
pub const ENTRY_OVERHEAD_BYTES: u64 = 64;

/// The SQL estimate of one event's payload size.
fn size_expr() -> String {
    format!(
        "(length(ts) + length(kind) + coalesce(length(subject), 0) + length(message) \
         + length(figures) + {ENTRY_OVERHEAD_BYTES})"
    )
}

/// One event waiting in the outbox, with its payload as published.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub seq: u64,
    pub payload: String,
}

/// How much the outbox holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxSize {
    pub events: u64,
    pub bytes: u64,
}

/// What one application of the drop policy removed from the outbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    pub events: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Events dropped per severity: info, warning, error.
    pub by_severity: [u64; 3],
    /// Every event ever dropped from this store's outbox, this time included.
    pub total: u64,
}

impl Store {
    fn link_value(&self, key: &str) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT value FROM mqtt_link WHERE key = ?1", [key], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .map(|v| v.map_or(0, from_sql))
            .map_err(StoreError::sql("read mqtt_link"))
    }

    /// Raises and returns the MQTT session number (1 for the first connection ever).
    pub fn next_session(&mut self) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "INSERT INTO mqtt_link (key, value) VALUES ('session', 1)
                 ON CONFLICT (key) DO UPDATE SET value = value + 1
                 RETURNING value",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(from_sql)
            .map_err(StoreError::sql("raise the mqtt session"))
    }

    /// The newest `seq` up to which every event was acknowledged by the broker or dropped.
    pub fn outbox_cursor(&self) -> Result<u64, StoreError> {
        self.link_value("acked_seq")
    }

    /// Moves the cursor forward to `seq` (never back) and forgets drop marks at or below it.
    pub fn set_outbox_cursor(&mut self, seq: u64) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sql("begin outbox cursor"))?;
        let seq = to_sql("outbox cursor", seq)?;
        tx.execute(
            "INSERT INTO mqtt_link (key, value) VALUES ('acked_seq', ?1)
             ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
            [seq],
        )
        .map_err(StoreError::sql("write outbox cursor"))?;
        tx.execute("DELETE FROM mqtt_outbox_dropped WHERE seq <= ?1", [seq])
            .map_err(StoreError::sql("forget dropped marks"))?;
        tx.commit().map_err(StoreError::sql("commit outbox cursor"))
    }

    /// Up to `limit` outbox entries after `after`, oldest first.
    pub fn outbox_batch(&self, after: u64, limit: u64) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, ts, kind, severity, subject, message, figures FROM events
                 WHERE seq > ?1 AND seq NOT IN (SELECT seq FROM mqtt_outbox_dropped WHERE seq > ?1)
                 ORDER BY seq LIMIT ?2",
            )
            .map_err(StoreError::sql("prepare outbox batch"))?;
        let rows = stmt
            .query_map(
                params![
                    to_sql("outbox after", after)?,
                    to_sql("outbox limit", limit)?
                ],
                RawEvent::from_row,
            )
            .map_err(StoreError::sql("read outbox batch"))?;
        let mut out = Vec::new();
        for row in rows {
            let event = row.map_err(StoreError::sql("read outbox row"))?.decode()?;
            let seq = event.seq;
            let payload = serde_json::to_string(&event)
                .map_err(|source| StoreError::Figures { seq, source })?;
            out.push(OutboxEntry { seq, payload });
        }
        Ok(out)
    }

    /// How many events and (estimated) payload bytes wait after `after`.
    pub fn outbox_size(&self, after: u64) -> Result<OutboxSize, StoreError> {
        let sql = format!(
            "SELECT count(*), coalesce(sum({}), 0) FROM events
             WHERE seq > ?1 AND seq NOT IN (SELECT seq FROM mqtt_outbox_dropped WHERE seq > ?1)",
            size_expr()
        );
        self.conn
            .query_row(&sql, [to_sql("outbox after", after)?], |r| {
                Ok(OutboxSize {
                    events: from_sql(r.get(0)?),
                    bytes: from_sql(r.get(1)?),
                })
            })
            .map_err(StoreError::sql("measure the outbox"))
    }

    /// Drops unsent events after `after` until `need` bytes are freed: every info event,
    /// oldest first, before any warning, and every warning before any error. Committed in one
    /// transaction with the running total.
    pub fn outbox_drop(&mut self, after: u64, need: u64) -> Result<Dropped, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sql("begin outbox drop"))?;
        let mut dropped = Dropped::default();
        for rank in 0..3i64 {
            if dropped.bytes >= need {
                break;
            }
            let sql = format!(
                "SELECT seq, {} FROM events
                 WHERE seq > ?1 AND severity = ?2
                   AND seq NOT IN (SELECT seq FROM mqtt_outbox_dropped WHERE seq > ?1)
                 ORDER BY seq",
                size_expr()
            );
            let mut select = tx
                .prepare(&sql)
                .map_err(StoreError::sql("prepare outbox drop"))?;
            let mut rows = select
                .query(params![to_sql("outbox after", after)?, rank])
                .map_err(StoreError::sql("select outbox drops"))?;
            let mut mark = tx
                .prepare_cached("INSERT OR IGNORE INTO mqtt_outbox_dropped (seq) VALUES (?1)")
                .map_err(StoreError::sql("prepare drop mark"))?;
            while dropped.bytes < need {
                let Some(row) = rows.next().map_err(StoreError::sql("read outbox drop"))? else {
                    break;
                };
                let seq: i64 = row.get(0).map_err(StoreError::sql("read drop seq"))?;
                let bytes: i64 = row.get(1).map_err(StoreError::sql("read drop size"))?;
                mark.execute([seq])
                    .map_err(StoreError::sql("mark dropped event"))?;
                let seq = from_sql(seq);
                dropped.events += 1;
                dropped.bytes += from_sql(bytes);
                dropped.first_seq = if dropped.first_seq == 0 {
                    seq
                } else {
                    dropped.first_seq.min(seq)
                };
                dropped.last_seq = dropped.last_seq.max(seq);
                dropped.by_severity[rank as usize] += 1;
            }
        }
        let total: i64 = tx
            .query_row(
                "INSERT INTO mqtt_link (key, value) VALUES ('dropped_total', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = value + excluded.value
                 RETURNING value",
                [to_sql("dropped events", dropped.events)?],
                |r| r.get(0),
            )
            .map_err(StoreError::sql("count dropped events"))?;
        dropped.total = from_sql(total);
        tx.commit().map_err(StoreError::sql("commit outbox drop"))?;
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests;
