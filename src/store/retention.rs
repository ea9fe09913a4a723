//! Retention in small steps: events past the age or count limit deleted a bounded chunk per
//! transaction, so a second connection (the agent's retention task) never holds the write lock
//! long enough to stall the core loop's appends (they wait on `busy_timeout`, a chunk at most).
//!
//! ```text
//! loop { let p = store.prune_chunk(100_000, 30 * 86_400_000, now_ms, 5_000)?; if p.total() < 5_000 { break } }
//! ```

use rusqlite::TransactionBehavior;

use crate::store::{to_sql, Store, StoreError};

/// What one chunk deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Older than the age limit.
    pub by_age: u64,
    /// Beyond the newest `max_events`.
    pub by_count: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.by_age + self.by_count
    }
}

impl Store {
    /// Deletes at most `chunk` events in one transaction: first the oldest past `max_age_ms`
    /// before `now_ms`, then (with what is left of the chunk) the oldest beyond the newest
    /// `max_events`. A result below `chunk` means nothing is left to prune. `u64::MAX` means
    /// "no limit".
    pub fn prune_chunk(
        &mut self,
        max_events: u64,
        max_age_ms: u64,
        now_ms: u64,
        chunk: u64,
    ) -> Result<Pruned, StoreError> {
        self.prune_chunk_sparing(max_events, max_age_ms, now_ms, chunk, None)
    }

    /// [`Store::prune_chunk`], except that age never deletes an event from `spare_from` on:
    /// those were appended within `max_age` of monotonic time, whatever their wall-clock
    /// stamps say after a clock step (the count limit still applies).
    pub fn prune_chunk_sparing(
        &mut self,
        max_events: u64,
        max_age_ms: u64,
        now_ms: u64,
        chunk: u64,
        spare_from: Option<u64>,
    ) -> Result<Pruned, StoreError> {
        let chunk = to_sql("prune chunk", chunk)?;
        // Past i64::MAX no seq can exist: nothing to spare.
        let spare_from = spare_from.map_or(i64::MAX, |s| i64::try_from(s).unwrap_or(i64::MAX));
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sql("begin prune chunk"))?;
        let mut pruned = Pruned::default();
        if max_age_ms < now_ms {
            let cutoff = to_sql("prune cutoff_ms", now_ms - max_age_ms)?;
            pruned.by_age =
                tx.execute(
                    "DELETE FROM events WHERE seq IN (
                         SELECT seq FROM events WHERE ts_ms < ?1 AND seq < ?3
                         ORDER BY seq LIMIT ?2)",
                    [cutoff, chunk, spare_from],
                )
                .map_err(StoreError::sql("prune a chunk by age"))? as u64;
        }
        let left = chunk - pruned.by_age as i64;
        if let (Ok(keep), true) = (i64::try_from(max_events), left > 0) {
            pruned.by_count =
                tx.execute(
                    "DELETE FROM events WHERE seq IN (
                         SELECT seq FROM events WHERE seq <= (
                             SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?1)
                         ORDER BY seq LIMIT ?2)",
                    [keep, left],
                )
                .map_err(StoreError::sql("prune a chunk by count"))? as u64;
        }
        tx.commit().map_err(StoreError::sql("commit prune chunk"))?;
        Ok(pruned)
    }
}

#[cfg(test)]
mod tests {
    use crate::event::{EventKind, NewEvent};
    use crate::store::{EventFilter, Store};

    const DAY_MS: u64 = 86_400_000;

    fn store_with(n: u64, start_ms: u64, step_ms: u64) -> Store {
        let mut store = Store::open_in_memory().unwrap();
        for i in 0..n {
            store
                .append_at(
                    NewEvent::untyped(EventKind::Note, None),
                    start_ms + i * step_ms,
                )
                .unwrap();
        }
        store
    }

    fn seqs(store: &Store) -> Vec<u64> {
        store
            .query(&EventFilter::default())
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect()
    }

    #[test]
    fn a_chunk_deletes_at_most_its_size_oldest_first() {
        let mut store = store_with(10, 0, 1);
        let p = store.prune_chunk(3, u64::MAX, 100, 4).unwrap();
        assert_eq!(p.by_count, 4);
        assert_eq!(seqs(&store), vec![5, 6, 7, 8, 9, 10]);
        let p = store.prune_chunk(3, u64::MAX, 100, 4).unwrap();
        assert_eq!(p.total(), 3, "below the chunk: done");
        assert_eq!(seqs(&store), vec![8, 9, 10]);
        assert_eq!(store.prune_chunk(3, u64::MAX, 100, 4).unwrap().total(), 0);
    }

    #[test]
    fn age_goes_first_and_count_takes_what_is_left_of_the_chunk() {
        // Ten events a day apart; now = day 10; keep 5 days and at most 3 events.
        let mut store = store_with(10, 0, DAY_MS);
        let p = store.prune_chunk(3, 5 * DAY_MS, 10 * DAY_MS, 100).unwrap();
        assert_eq!(p.by_age, 5, "days 0..4 are older than 5 days");
        assert_eq!(p.by_count, 2);
        assert_eq!(seqs(&store), vec![8, 9, 10]);
    }

    #[test]
    fn age_spares_the_events_from_spare_from_on_but_count_does_not() {
        // A clock stepped 40 days forward: every event now looks 40 days old.
        let mut store = store_with(10, 0, 1);
        let now = 40 * DAY_MS;
        let p = store
            .prune_chunk_sparing(u64::MAX, 30 * DAY_MS, now, 100, Some(4))
            .unwrap();
        assert_eq!(p.by_age, 3, "seqs 1..3 came before the spared ones");
        assert_eq!(seqs(&store), vec![4, 5, 6, 7, 8, 9, 10]);
        let p = store
            .prune_chunk_sparing(5, 30 * DAY_MS, now, 100, Some(4))
            .unwrap();
        assert_eq!((p.by_age, p.by_count), (0, 2));
    }

    #[test]
    fn no_limits_delete_nothing() {
        let mut store = store_with(5, 0, 1);
        let p = store.prune_chunk(u64::MAX, u64::MAX, 10, 100).unwrap();
        assert_eq!(p.total(), 0);
        assert_eq!(seqs(&store).len(), 5);
    }
}
