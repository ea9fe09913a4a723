//! Remote command ids seen recently, so that a command the broker redelivers, or an operator
//! replays, is answered with its first outcome and never run twice, across agent restarts.
//!
//! A row is written when a command is accepted (before `accepted` is published, so a crash
//! after the answer cannot run it again) and updated with its outcome. Rows older than the
//! window, and the oldest beyond the row cap, are deleted at every insert, so the table stays
//! bounded by both. Rows still `accepted` when an agent starts belong to a run that stopped
//! before the command finished: [`Store::commands_interrupted`] turns them into `failed`.
//!
//! ```text
//! mqtt_commands: ('c-17', 1764990000000, 'succeeded', NULL), ('c-18', …, 'failed', 'no model …')
//! ```

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use crate::store::{from_sql, to_sql, Store, StoreError};

/// The outcome a command id was given: `accepted` (still running), `succeeded` or `failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenCommand {
    pub status: String,
    pub reason: Option<String>,
    pub seen_ms: u64,
}

impl Store {
    /// The outcome of command `id` if it was seen at or after `since_ms`.
    pub fn command_seen(&self, id: &str, since_ms: u64) -> Result<Option<SeenCommand>, StoreError> {
        let since = to_sql("since_ms", since_ms)?;
        self.conn
            .query_row(
                "SELECT status, reason, seen_ms FROM mqtt_commands WHERE id = ?1 AND seen_ms >= ?2",
                params![id, since],
                |r| {
                    Ok(SeenCommand {
                        status: r.get(0)?,
                        reason: r.get(1)?,
                        seen_ms: from_sql(r.get(2)?),
                    })
                },
            )
            .optional()
            .map_err(StoreError::sql("read a seen command"))
    }

    /// Records command `id` as `status` at `at_ms` (replacing an older row of the same id),
    /// then deletes rows seen before `keep_since_ms` and the oldest beyond `max_rows`.
    /// Returns how many rows the bounds deleted.
    pub fn command_record(
        &mut self,
        id: &str,
        at_ms: u64,
        status: &str,
        keep_since_ms: u64,
        max_rows: u64,
    ) -> Result<u64, StoreError> {
        let at = to_sql("seen_ms", at_ms)?;
        let keep = to_sql("keep_since_ms", keep_since_ms)?;
        let max = to_sql("max_rows", max_rows)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sql("begin recording a command"))?;
        tx.execute(
            "INSERT INTO mqtt_commands (id, seen_ms, status, reason) VALUES (?1, ?2, ?3, NULL)
             ON CONFLICT (id) DO UPDATE SET seen_ms = excluded.seen_ms,
                 status = excluded.status, reason = NULL",
            params![id, at, status],
        )
        .map_err(StoreError::sql("record a command"))?;
        let old = tx
            .execute("DELETE FROM mqtt_commands WHERE seen_ms < ?1", [keep])
            .map_err(StoreError::sql("forget old commands"))?;
        let over = tx
            .execute(
                "DELETE FROM mqtt_commands WHERE id IN (
                     SELECT id FROM mqtt_commands ORDER BY seen_ms DESC, rowid DESC
                     LIMIT -1 OFFSET ?1)",
                [max],
            )
            .map_err(StoreError::sql("hold the command table to its cap"))?;
        tx.commit()
            .map_err(StoreError::sql("commit recording a command"))?;
        Ok((old + over) as u64)
    }

    /// Sets the outcome of command `id` (a row the bounds deleted meanwhile stays deleted).
    pub fn command_outcome(
        &mut self,
        id: &str,
        status: &str,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE mqtt_commands SET status = ?2, reason = ?3 WHERE id = ?1",
                params![id, status, reason],
            )
            .map(|_| ())
            .map_err(StoreError::sql("record a command's outcome"))
    }

    /// Commands still `accepted` from an earlier run become `failed` with `reason`; returns
    /// how many.
    pub fn commands_interrupted(&mut self, reason: &str) -> Result<u64, StoreError> {
        self.conn
            .execute(
                "UPDATE mqtt_commands SET status = 'failed', reason = ?1 WHERE status = 'accepted'",
                [reason],
            )
            .map(|n| n as u64)
            .map_err(StoreError::sql("close interrupted commands"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seen_id_keeps_its_outcome_within_the_window() {
        let mut s = Store::open_in_memory().unwrap();
        assert_eq!(s.command_seen("c-1", 0).unwrap(), None);
        s.command_record("c-1", 1_000, "accepted", 0, 100).unwrap();
        assert_eq!(
            s.command_seen("c-1", 0).unwrap().unwrap().status,
            "accepted"
        );
        s.command_outcome("c-1", "failed", Some("no such model"))
            .unwrap();
        let seen = s.command_seen("c-1", 1_000).unwrap().unwrap();
        assert_eq!(seen.status, "failed");
        assert_eq!(seen.reason.as_deref(), Some("no such model"));
        // Older than the window asked about: not seen.
        assert_eq!(s.command_seen("c-1", 1_001).unwrap(), None);
    }

    #[test]
    fn the_table_is_bounded_by_age_and_by_count() {
        let mut s = Store::open_in_memory().unwrap();
        for i in 0..10u64 {
            s.command_record(&format!("c-{i}"), 1_000 + i, "succeeded", 0, 4)
                .unwrap();
        }
        let kept: Vec<bool> = (0..10)
            .map(|i| s.command_seen(&format!("c-{i}"), 0).unwrap().is_some())
            .collect();
        assert_eq!(
            kept,
            [false, false, false, false, false, false, true, true, true, true]
        );
        // Everything seen before 1_009 goes with the next insert.
        let deleted = s
            .command_record("c-new", 2_000, "accepted", 1_009, 4)
            .unwrap();
        assert_eq!(deleted, 3);
        assert!(s.command_seen("c-9", 0).unwrap().is_some());
        assert!(s.command_seen("c-8", 0).unwrap().is_none());
    }

    #[test]
    fn commands_running_when_an_agent_stopped_are_failed_at_the_next_start() {
        let mut s = Store::open_in_memory().unwrap();
        s.command_record("c-1", 1, "accepted", 0, 10).unwrap();
        s.command_record("c-2", 2, "succeeded", 0, 10).unwrap();
        assert_eq!(s.commands_interrupted("the agent stopped").unwrap(), 1);
        let c1 = s.command_seen("c-1", 0).unwrap().unwrap();
        assert_eq!(
            (c1.status.as_str(), c1.reason.as_deref()),
            ("failed", Some("the agent stopped"))
        );
        assert_eq!(
            s.command_seen("c-2", 0).unwrap().unwrap().status,
            "succeeded"
        );
    }
}
