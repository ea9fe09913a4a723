//! Event retention on a schedule, off the core loop: a task that asks the store's one writer
//! to delete events past `[store] max_age` and beyond `[store] max_events`.
//!
//! Every [`CHECK_EVERY`] it reads the last `seq` (one indexed row) and prunes when
//! [`PRUNE_EVERY`] has passed since the last prune or [`PRUNE_AFTER_INSERTS`] events were
//! appended since; [`due`] is that decision, pure. Pruning runs on the writer in chunks of
//! [`CHUNK`] rows, one job and one transaction each, so an append waits at most one chunk. When anything went, an `events_pruned`
//! event with the figures is handed to the core loop to record (it owns the event stream).
//!
//!
//! Age is judged by the events' wall-clock stamps, which a clock step falsifies: an RTC-less
//! board whose NTP steps 40 days forward would see its whole history "40 days old". So age never
//! deletes what this agent appended within `max_age` of **monotonic** time: [`Marks`] notes the
//! last `seq` every `max_age / 256` (at least every [`CHECK_EVERY`], at most 257 marks) and gives
//! the first seq to spare. The count limit still applies to everything.
//!
//! ```text
//! events_pruned  by_age=120 by_count=4880 chunks=2 took_ms=41 max_events=100000 max_age_ms=2592000000 last_seq=104880
//! ```
#![allow(clippy::disallowed_methods)] // schedules by the monotonic clock, stamps by the wall clock

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::tasks::Tasks;
use tokio::sync::mpsc;

use crate::clock;
use crate::event::figures::EventsPruned;
use crate::event::NewEvent;
use crate::store::writer::StoreWriter;
use crate::store::Pruned;

/// How often the task looks at the store.
pub const CHECK_EVERY: Duration = Duration::from_secs(10);
/// Prune at least this often.
pub const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// ... and whenever this many events were appended since the last prune.
pub const PRUNE_AFTER_INSERTS: u64 = 1_000;
/// Rows deleted per transaction.
pub const CHUNK: u64 = 5_000;

/// The limits from `[store]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub max_events: u64,
    pub max_age: Duration,
}

/// `(when, last seq then)` marks on the monotonic clock, for the seqs age must spare.
#[derive(Debug, Clone)]
pub struct Marks {
    every: Duration,
    marks: VecDeque<(Instant, u64)>,
}

impl Marks {
    /// The first mark: the agent starts at `now` with `seq` the store's last.
    pub fn new(now: Instant, seq: u64, max_age: Duration) -> Marks {
        Marks {
            every: (max_age / 256).max(CHECK_EVERY),
            marks: VecDeque::from([(now, seq)]),
        }
    }

    /// Notes `seq` at `now` when the last mark is `every` old; drops marks that no longer
    /// decide anything (all but the newest of those at least `max_age` old).
    pub fn note(&mut self, now: Instant, seq: u64, max_age: Duration) {
        if self
            .marks
            .back()
            .is_none_or(|(at, _)| now.saturating_duration_since(*at) >= self.every)
        {
            self.marks.push_back((now, seq));
        }
        while self
            .marks
            .get(1)
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) >= max_age)
        {
            self.marks.pop_front();
        }
    }

    /// The first seq age must spare: everything after the newest mark at least `max_age` old
    /// (appended within `max_age`, give or take one mark's spacing on the safe side), or
    /// everything this agent appended when it is younger than `max_age`.
    pub fn spare_from(&self, now: Instant, max_age: Duration) -> u64 {
        let old_enough = self
            .marks
            .iter()
            .take_while(|(at, _)| now.saturating_duration_since(*at) >= max_age)
            .last();
        let (_, seq) = old_enough
            .or(self.marks.front())
            .copied()
            .unwrap_or((now, 0));
        seq + 1
    }

    pub fn len(&self) -> usize {
        self.marks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }
}

/// Whether to prune now: never pruned, [`PRUNE_EVERY`] passed, or [`PRUNE_AFTER_INSERTS`]
/// appended since the last prune (`seq_then` is the last seq after it).
pub fn due(now: Instant, last: Option<(Instant, u64)>, seq_now: u64) -> bool {
    match last {
        None => true,
        Some((at, seq_then)) => {
            now.saturating_duration_since(at) >= PRUNE_EVERY
                || seq_now.saturating_sub(seq_then) >= PRUNE_AFTER_INSERTS
        }
    }
}

/// Runs until `tasks` shuts down, pruning through the store's one writer; age spares every event
/// after `last_seq_before_start` (this run's) while the run is younger than `max_age`.
pub async fn run(
    store: StoreWriter,
    policy: Policy,
    last_seq_before_start: u64,
    events: mpsc::UnboundedSender<NewEvent>,
    tasks: Tasks,
) {
    let cancel = tasks.token();
    let newest = store.newest_seq();
    let mut marks = Marks::new(Instant::now(), last_seq_before_start, policy.max_age);
    let mut last: Option<(Instant, u64)> = None;
    let mut check = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = check.tick() => {}
        }
        let seq_now = *newest.borrow();
        marks.note(Instant::now(), seq_now, policy.max_age);
        if !due(Instant::now(), last, seq_now) {
            continue;
        }
        let started = Instant::now();
        let spare_from = marks.spare_from(started, policy.max_age);
        let outcome = prune_all(&store, policy, spare_from).await;
        last = Some((Instant::now(), *newest.borrow()));
        match outcome {
            Ok((pruned, chunks)) if pruned.total() > 0 => {
                let took = started.elapsed();
                let event = NewEvent::new(
                    EventsPruned {
                        by_age: pruned.by_age,
                        by_count: pruned.by_count,
                        chunks,
                        took_ms: took.as_millis() as u64,
                        max_events: policy.max_events,
                        max_age_ms: policy.max_age.as_millis() as u64,
                        last_seq: seq_now,
                        spared_from_seq: spare_from,
                    },
                    None,
                )
                .message(format!(
                    "retention deleted {} events ({} past max_age, {} beyond max_events)",
                    pruned.total(),
                    pruned.by_age,
                    pruned.by_count
                ));
                if events.send(event).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!("retention: {e}"),
        }
    }
}

/// Prunes chunk by chunk until a chunk comes back short; returns the sum and the chunk count.
/// Each chunk is its own job on the writer, so an append waits at most one chunk.
async fn prune_all(
    store: &StoreWriter,
    policy: Policy,
    spare_from: u64,
) -> Result<(Pruned, u64), crate::store::StoreError> {
    let max_age_ms = u64::try_from(policy.max_age.as_millis()).unwrap_or(u64::MAX);
    let mut sum = Pruned::default();
    let mut chunks = 0;
    loop {
        let now_ms = clock::now_unix_ms();
        let p = store
            .call(move |s| {
                s.prune_chunk_sparing(
                    policy.max_events,
                    max_age_ms,
                    now_ms,
                    CHUNK,
                    Some(spare_from),
                )
            })
            .await?;
        chunks += 1;
        sum.by_age += p.by_age;
        sum.by_count += p.by_count;
        if p.total() < CHUNK {
            return Ok((sum, chunks));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_check_prunes() {
        assert!(due(Instant::now(), None, 0));
    }

    #[test]
    fn prunes_after_the_period_or_after_enough_inserts_and_not_before() {
        let t0 = Instant::now();
        let last = Some((t0, 500));
        assert!(!due(
            t0 + Duration::from_secs(60),
            last,
            500 + PRUNE_AFTER_INSERTS - 1
        ));
        assert!(due(
            t0 + Duration::from_secs(60),
            last,
            500 + PRUNE_AFTER_INSERTS
        ));
        assert!(due(t0 + PRUNE_EVERY, last, 500));
    }

    #[test]
    fn age_spares_what_was_appended_within_max_age_of_monotonic_time() {
        let day = Duration::from_secs(86_400);
        let max_age = 30 * day;
        let t0 = Instant::now();
        // Started with 100 events stored; 50 more appended in the first hour.
        let mut marks = Marks::new(t0, 100, max_age);
        assert_eq!(
            marks.spare_from(t0, max_age),
            101,
            "all of this run's events"
        );
        marks.note(t0 + day, 150, max_age);
        assert_eq!(marks.spare_from(t0 + day, max_age), 101);
        // Forty days on (monotonic), with marks along the way: the first day's events are
        // more than 30 days old now, the later ones are not.
        for d in 2..=40u32 {
            marks.note(t0 + day * d, 150 + u64::from(d) * 10, max_age);
        }
        let spare = marks.spare_from(t0 + day * 40, max_age);
        assert!(
            (240..=251).contains(&spare),
            "day 10's seq (250) or a mark before it: {spare}"
        );
        assert!(marks.len() <= 258, "{}", marks.len());
    }

    #[test]
    fn marks_stay_bounded_however_long_the_agent_runs() {
        let max_age = Duration::from_secs(3600);
        let t0 = Instant::now();
        let mut marks = Marks::new(t0, 0, max_age);
        for s in 0..100_000u64 {
            marks.note(t0 + Duration::from_secs(s * 10), s, max_age);
        }
        assert!(marks.len() <= 258, "{}", marks.len());
    }

    #[tokio::test]
    async fn prune_all_runs_chunks_until_one_comes_back_short() {
        let mut store = crate::store::Store::open_in_memory().unwrap();
        let now = clock::now_unix_ms();
        let batch = (0..(CHUNK + 10))
            .map(|_| NewEvent::new(crate::event::figures::Note {}, None))
            .collect();
        store.append_batch_at(batch, now).unwrap();
        let policy = Policy {
            max_events: 5,
            max_age: Duration::from_secs(3600),
        };
        let tasks = Tasks::new();
        let writer = StoreWriter::spawn(store, &tasks).unwrap();
        let (pruned, chunks) = prune_all(&writer, policy, u64::MAX).await.unwrap();
        assert_eq!(pruned.by_count, CHUNK + 5);
        assert_eq!(chunks, 2);
        writer.close();
        assert_eq!(tasks.shutdown(Duration::from_secs(5)).await, 0);
    }
}
