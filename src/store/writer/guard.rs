//! The writer's side of store faults: every job runs on a store whose file was just looked at,
//! and its answer is given only after a second look.
//!
//! A fault before a job: the store is rebuilt ([`super::super::recover::replace`]) and the job
//! runs on the new one. A fault after it: the job's write may have gone into the lost file. If
//! the old content was copied back (`salvaged`), it is there; otherwise an event is stored
//! again in the new store and answered with its new seq, and any other job is answered with
//! [`StoreError::Lost`] instead of its result: nothing is acknowledged that is not on disk at
//! the store's path. A job that SQLite answers with `SQLITE_CORRUPT` / `SQLITE_NOTADB` is the
//! fault `corrupt` after it. A store that could not be rebuilt stays gone: each later job tries
//! again, and is answered with [`StoreError::Lost`] until one succeeds.
//!
//! ```text
//! job ─► look (fault? rebuild) ─► run ─► look (fault? rebuild; event: store again) ─► answer
//! ```

use super::super::fault::{corrupt_error, Fault};
use super::super::recover::{open_or_move_aside, replace};
use super::super::{Store, StoreError};
use super::Owned;
use crate::clock;
use crate::event::{Event, NewEvent};

/// What a look at the file found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Look {
    Sound,
    /// The store was rebuilt: `salvaged` when the old content was copied back.
    Rebuilt {
        salvaged: bool,
    },
}

impl Owned {
    pub(super) fn lost_error(&self) -> StoreError {
        StoreError::Lost {
            reason: self.lost.clone().unwrap_or_else(|| "unknown".into()),
        }
    }

    /// The store to run a job on, after a look at its file.
    pub(super) fn store(&mut self) -> Result<&mut Store, StoreError> {
        self.look();
        let lost = self.lost_error();
        self.store.as_mut().ok_or(lost)
    }

    /// The periodic look (no job).
    pub(super) fn guard_idle(&mut self) {
        self.look();
    }

    /// A job's answer after the second look: a write that cannot be vouched for is an error.
    pub(super) fn settle<T>(&mut self, answer: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &answer {
            if let Some(why) = corrupt_error(e) {
                self.rebuild(Fault::Corrupt(why));
            }
            return answer;
        }
        match self.look() {
            Look::Rebuilt { salvaged: false } => Err(StoreError::Lost {
                reason: "the store's file was lost while the job ran; the store was rebuilt, \
                         the job's write is not in it"
                    .into(),
            }),
            _ => answer,
        }
    }

    /// Stores `event`, and stores it again in the rebuilt store if the first write may have
    /// gone into a lost file.
    pub(super) fn append_checked(&mut self, event: NewEvent) -> Result<Event, StoreError> {
        let again = event.clone();
        let first = self.store().and_then(|s| s.append(event));
        let lost = match &first {
            Err(e) => match corrupt_error(e) {
                Some(why) => {
                    self.rebuild(Fault::Corrupt(why)) == (Look::Rebuilt { salvaged: false })
                }
                None => false,
            },
            Ok(_) => self.look() == (Look::Rebuilt { salvaged: false }),
        };
        if lost {
            return self.store().and_then(|s| s.append(again));
        }
        first
    }

    /// Looks at the file and rebuilds the store on a fault; while the store is gone, tries to
    /// make a new one.
    fn look(&mut self) -> Look {
        if self.store.is_none() {
            return self.reopen();
        }
        match self.file.as_mut().and_then(|f| f.check()) {
            Some(fault) => self.rebuild(fault),
            None => Look::Sound,
        }
    }

    fn rebuild(&mut self, fault: Fault) -> Look {
        let (Some(old), Some(file)) = (self.store.take(), self.file.take()) else {
            return Look::Sound; // in memory: no file to lose
        };
        let now = clock::now_unix_ms();
        let last_seq = *self.newest.borrow();
        match replace(old, &file, &fault, last_seq, now) {
            Ok(done) => {
                self.store = Some(done.store);
                self.file = done.file;
                self.lost = None;
                self.record(done.event);
                Look::Rebuilt {
                    salvaged: done.salvaged,
                }
            }
            Err(e) => {
                let why = format!(
                    "the store {} was {}: {e}",
                    file.path.display(),
                    fault.as_str()
                );
                tracing::error!("{why}; every store job fails until it can be rebuilt");
                self.lost = Some(why);
                self.file = Some(file); // its path, for the next try
                Look::Rebuilt { salvaged: false }
            }
        }
    }

    /// A new store at the lost one's path, its seqs continuing after the last one given.
    fn reopen(&mut self) -> Look {
        let Some(path) = self.file.as_ref().map(|f| f.path.clone()) else {
            return Look::Sound;
        };
        let last_seq = *self.newest.borrow();
        let opened = open_or_move_aside(&path, clock::now_unix_ms()).and_then(|(mut s, ev)| {
            if s.last_seq()? < last_seq {
                s.continue_after(last_seq, &[])?;
            }
            Ok((s, ev))
        });
        match opened {
            Ok((store, moved)) => {
                self.file = super::StoreFile::open(&path).ok();
                self.store = Some(store);
                let why = self.lost.take().unwrap_or_default();
                tracing::error!("the store {} is back after: {why}", path.display());
                if let Some(event) = moved {
                    self.record(event);
                }
                Look::Rebuilt { salvaged: false }
            }
            Err(_) => Look::Rebuilt { salvaged: false },
        }
    }

    /// Logs and stores an event of the writer's own, publishing its seq.
    fn record(&mut self, event: NewEvent) {
        event.log();
        if let Some(store) = self.store.as_mut() {
            match store.append(event) {
                Ok(stored) => {
                    self.newest.send_replace(stored.seq);
                }
                Err(e) => tracing::error!("the store's own event not stored: {e}"),
            }
        }
    }
}
