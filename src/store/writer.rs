//! The store's one writer: a thread that owns the agent's [`Store`] connection and runs every
//! request in the order it arrived. The core loop, the MQTT link and retention send it jobs
//! and never touch SQLite themselves, so the core loop never waits on an fsync, and there is
//! one writer to reason about.
//!
//! A job's answer comes after it returned, so for a write after its commit (`synchronous =
//! FULL`): an acknowledged event is on disk. Fire-and-forget jobs ([`StoreWriter::submit`],
//! [`StoreWriter::record`]) log their failure on the writer's thread. Every stored event's seq
//! is published on [`StoreWriter::newest_seq`] (the MQTT outbox's wake-up).
//!
//! Every event append and submitted write is also counted in the store's health
//! ([`super::health`]): the first failure of an outage is a `store_write_failed` event, the
//! first success after it a `store_recovered` one, each logged before the writer tries to store
//! it (a full disk may keep the first); [`StoreWriter::health`] is `status`'s `store` section.
//!
//! Before and after every job, and once a second ([`StoreWriter::watch_file`]), the writer
//! looks at the store's file ([`super::fault`]); a store deleted, replaced, truncated or
//! corrupted under it is rebuilt ([`super::recover`], `store_replaced`) before the job's answer,
//! so a write that went into a lost file is never acknowledged (see [`guard`]).
//!
//! Every event it takes is counted by kind ([`EventCounts`], stored or not), published on
//! [`StoreWriter::event_counts`] for the metrics endpoint.
//!
//! ```text
//! core loop ── record / submit / run ──┐
//! MQTT link ── call ───────────────────┼─► writer thread: one Store, jobs in order ─► newest seq
//! retention ── call ───────────────────┘                    (answers after commit)
//! ```

use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::fault::StoreFile;
use super::health::{StoreHealth, StoreHealthView};
use super::{Store, StoreError};
use crate::clock;
use crate::event::{Event, EventCounts, NewEvent};
use crate::tasks::Tasks;

mod guard;

/// How often the store's file is looked at while no job runs.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// What the writer thread owns: the connection and the newest seq it publishes.
struct Owned {
    /// `None` only while a lost store could not be rebuilt (each job tries again).
    store: Option<Store>,
    /// The writer's own descriptor of the database file (`None` for an in-memory store).
    file: Option<StoreFile>,
    /// Why the store is gone, while `store` is `None`.
    lost: Option<String>,
    newest: watch::Sender<u64>,
    health: StoreHealth,
    health_out: watch::Sender<StoreHealthView>,
    counts: watch::Sender<EventCounts>,
}

impl Owned {
    /// Counts a write's outcome in the health; the event that starts or ends an outage is
    /// logged, then stored if the store takes it (a failure to is counted, not retried).
    fn after_write(&mut self, result: Result<(), &StoreError>, lost: &str) {
        let now = clock::now_unix_ms();
        let said = match result {
            Ok(()) => self.health.succeeded(now),
            Err(e) => self.health.failed(now, lost, &e.to_string()),
        };
        if let Some(event) = said {
            event.log();
            self.counts.send_modify(|c| c.count(&event.kind));
            let lost = format!("event {}", event.kind);
            let stored = match self.store.as_mut() {
                Some(store) => store.append(event),
                None => Err(self.lost_error()),
            };
            match stored {
                Ok(stored) => {
                    self.newest.send_replace(stored.seq);
                }
                Err(e) => {
                    if let Some(again) = self.health.failed(now, &lost, &e.to_string()) {
                        again.log();
                    }
                }
            }
        }
        self.health_out.send_replace(self.health.view().clone());
    }
}

type Job = Box<dyn FnOnce(&mut Owned) + Send>;

enum Request {
    Run(Job),
    /// Ends the writer once every request before it has run.
    Close,
}

/// A handle on the writer; clones share it.
#[derive(Debug, Clone)]
pub struct StoreWriter {
    requests: mpsc::UnboundedSender<Request>,
    newest: watch::Receiver<u64>,
    health: watch::Receiver<StoreHealthView>,
    counts: watch::Receiver<EventCounts>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Request::Run(_) => "Run",
            Request::Close => "Close",
        })
    }
}

impl StoreWriter {
    /// Starts the writer on a blocking thread of `tasks`, owning `store`.
    pub fn spawn(store: Store, tasks: &Tasks) -> Result<StoreWriter, StoreError> {
        let (newest_tx, newest) = watch::channel(store.last_seq()?);
        let (requests, mut inbox) = mpsc::unbounded_channel::<Request>();
        let (health_out, health) = watch::channel(StoreHealthView::default());
        let file = store.path().and_then(|p| StoreFile::open(&p).ok());
        let (counts_out, counts) = watch::channel(EventCounts::default());
        let mut owned = Owned {
            store: Some(store),
            file,
            lost: None,
            newest: newest_tx,
            health: StoreHealth::default(),
            health_out,
            counts: counts_out,
        };
        tasks.spawn_blocking(move || {
            while let Some(Request::Run(job)) = inbox.blocking_recv() {
                job(&mut owned);
            }
        });
        Ok(StoreWriter {
            requests,
            newest,
            health,
            counts,
        })
    }

    fn send(&self, job: Job) -> bool {
        self.requests.send(Request::Run(job)).is_ok()
    }

    /// Runs `job` on the writer; the answer comes once it has returned (after its commit).
    pub fn run<T, F>(&self, job: F) -> oneshot::Receiver<Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        // A closed writer drops the job and with it `tx`: the receiver then says so.
        self.send(Box::new(move |owned: &mut Owned| {
            let answer = owned.store().and_then(job);
            let _ = tx.send(owned.settle(answer));
        }));
        rx
    }

    /// Looks at the store's file every [`CHECK_EVERY`] until the writer closes, so a store
    /// deleted while nothing is written is rebuilt then, not at the next write.
    pub fn watch_file(&self, tasks: &Tasks) {
        let writer = self.clone();
        tasks.spawn_until_shutdown(async move {
            loop {
                tokio::time::sleep(CHECK_EVERY).await;
                if !writer.send(Box::new(|owned: &mut Owned| owned.guard_idle())) {
                    return;
                }
            }
        });
    }

    /// [`StoreWriter::run`] and wait for its answer (async callers).
    pub async fn call<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        self.run(job).await.unwrap_or(Err(StoreError::Closed))
    }

    /// Runs `job` without waiting for it; a failure is logged after `what` (e.g. "footprint
    /// of llm not stored").
    pub fn submit<F>(&self, what: String, job: F)
    where
        F: FnOnce(&mut Store) -> Result<(), StoreError> + Send + 'static,
    {
        let sent = self.send(Box::new(move |owned: &mut Owned| {
            let result = owned.store().and_then(job);
            let result = owned.settle(result);
            if let Err(e) = &result {
                tracing::error!("{what}: {e}");
            }
            owned.after_write(result.as_ref().map(drop), &what);
        }));
        if !sent {
            tracing::error!("the store writer has stopped");
        }
    }

    /// Stores `event`; the answer is the numbered event, once it is on disk.
    pub fn append(&self, event: NewEvent) -> oneshot::Receiver<Result<Event, StoreError>> {
        let (tx, rx) = oneshot::channel();
        self.send(Box::new(move |owned: &mut Owned| {
            owned.counts.send_modify(|c| c.count(&event.kind));
            let lost = format!("event {}", event.kind);
            let stored = owned.append_checked(event);
            match &stored {
                Ok(e) => {
                    owned.newest.send_replace(e.seq);
                }
                Err(e) => tracing::error!("{lost} not stored: {e}"),
            }
            owned.after_write(stored.as_ref().map(drop), &lost);
            let _ = tx.send(stored);
        }));
        rx
    }

    /// Stores `event` without waiting (the core loop's path); a failure is logged.
    pub fn record(&self, event: NewEvent) {
        drop(self.append(event));
    }

    /// The store's health: writes failed, and since when it fails (`status`'s `store`).
    pub fn health(&self) -> StoreHealthView {
        self.health.borrow().clone()
    }

    /// Events taken since the writer started, by kind (stored or not).
    pub fn event_counts(&self) -> EventCounts {
        self.counts.borrow().clone()
    }

    /// The newest stored event's seq, updated after each commit.
    pub fn newest_seq(&self) -> watch::Receiver<u64> {
        self.newest.clone()
    }

    /// Ends the writer after every request sent before this one has run.
    pub fn close(&self) {
        let _ = self.requests.send(Request::Close);
    }
}

#[cfg(test)]
mod tests;
