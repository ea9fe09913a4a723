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
//! ```text
//! core loop ── record / submit / run ──┐
//! MQTT link ── call ───────────────────┼─► writer thread: one Store, jobs in order ─► newest seq
//! retention ── call ───────────────────┘                    (answers after commit)
//! ```

use tokio::sync::{mpsc, oneshot, watch};

use super::{Store, StoreError};
use crate::event::{Event, NewEvent};
use crate::tasks::Tasks;

/// What the writer thread owns: the connection and the newest seq it publishes.
struct Owned {
    store: Store,
    newest: watch::Sender<u64>,
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
        let mut owned = Owned {
            store,
            newest: newest_tx,
        };
        tasks.spawn_blocking(move || {
            while let Some(Request::Run(job)) = inbox.blocking_recv() {
                job(&mut owned);
            }
        });
        Ok(StoreWriter { requests, newest })
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
            let _ = tx.send(job(&mut owned.store));
        }));
        rx
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
            if let Err(e) = job(&mut owned.store) {
                tracing::error!("{what}: {e}");
            }
        }));
        if !sent {
            tracing::error!("the store writer has stopped");
        }
    }

    /// Stores `event`; the answer is the numbered event, once it is on disk.
    pub fn append(&self, event: NewEvent) -> oneshot::Receiver<Result<Event, StoreError>> {
        let (tx, rx) = oneshot::channel();
        self.send(Box::new(move |owned: &mut Owned| {
            let stored = owned.store.append(event);
            match &stored {
                Ok(e) => {
                    owned.newest.send_replace(e.seq);
                }
                Err(e) => tracing::error!("event not stored: {e}"),
            }
            let _ = tx.send(stored);
        }));
        rx
    }

    /// Stores `event` without waiting (the core loop's path); a failure is logged.
    pub fn record(&self, event: NewEvent) {
        drop(self.append(event));
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
