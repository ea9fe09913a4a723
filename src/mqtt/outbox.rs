//! The sending side of the durable outbox (pure): which events to read from the store next,
//! which to publish, and how far the acknowledged cursor may move; plus the drop policy.
//!
//! The store holds the outbox (every event after the cursor); this window holds at most
//! [`BATCH`] of them read ahead and [`WINDOW`] in flight. An event leaves the outbox only when
//! its PubAck arrives: the cursor is the seq just below the oldest unacknowledged one. On a
//! reconnect everything after the cursor is sent again, in seq order (consumers dedupe on seq).
//!
//! ```text
//! store: … 40 41 42 43 44 45 46 47 …     cursor = 41 (all ≤ 41 acked or dropped)
//!                in flight: 42 44          queued: 46 47         acked beyond: 43 45
//! ```
//!
//! Drop policy (`outbox_limit`): when the unsent events pass the limit, the oldest info
//! events are dropped until the outbox is back at [`LOW_WATER_PCT`] % of the limit, then
//! warnings, then errors; events already read or in flight are never dropped. Telemetry is
//! never queued at all.

use std::collections::{BTreeSet, VecDeque};

use crate::store::OutboxEntry;

/// Events read from the store per query: bounds the link's memory whatever the backlog.
pub const BATCH: u64 = 256;
/// Events published and not yet acknowledged at once. Below rumqttc's in-flight limit so
/// that presence, state and command replies always find a packet id.
pub const WINDOW: usize = 64;
/// After a drop the outbox is at most this share of its limit (hysteresis: a full outbox
/// does not drop one event per new event).
pub const LOW_WATER_PCT: u64 = 90;

/// The bytes to drop for an outbox of `bytes` under `limit`, or `None` while it fits.
pub fn bytes_to_free(bytes: u64, limit: u64) -> Option<u64> {
    if bytes <= limit {
        return None;
    }
    let low = limit / 100 * LOW_WATER_PCT;
    Some(bytes - low)
}

/// The sending window over the outbox.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    /// The cursor as last written to the store.
    persisted: u64,
    last_sent: u64,
    in_flight: BTreeSet<u64>,
    queue: VecDeque<OutboxEntry>,
    /// Everything up to here has been read into the queue (or sent).
    read_to: u64,
    /// The newest seq known to exist in the store.
    newest: u64,
}

impl Outbox {
    /// A window starting after the stored cursor, with the newest stored seq.
    pub fn new(cursor: u64, newest: u64) -> Outbox {
        Outbox {
            persisted: cursor,
            last_sent: cursor,
            read_to: cursor,
            newest,
            ..Outbox::default()
        }
    }

    /// A new event exists in the store.
    pub fn stored(&mut self, seq: u64) {
        self.newest = self.newest.max(seq);
    }

    /// `(after, limit)` for the next store read, when the queue is empty and more exists.
    pub fn want_read(&self) -> Option<(u64, u64)> {
        (self.queue.is_empty() && self.newest > self.read_to).then_some((self.read_to, BATCH))
    }

    /// The result of the read asked for by [`Outbox::want_read`]; `newest_then` is the newest
    /// seq known when the read was made (an empty read means nothing up to it is left).
    pub fn fill(&mut self, entries: Vec<OutboxEntry>, limit: u64, newest_then: u64) {
        let complete = (entries.len() as u64) < limit;
        for e in entries {
            if e.seq > self.read_to {
                self.read_to = e.seq;
                self.queue.push_back(e);
            }
        }
        if complete {
            self.read_to = self.read_to.max(newest_then);
        }
    }

    /// An event is read and the window has room for it.
    pub fn ready(&self) -> bool {
        !self.queue.is_empty() && self.in_flight.len() < WINDOW
    }

    /// The next event to publish, if the window has room; it counts as in flight.
    pub fn next_to_send(&mut self) -> Option<OutboxEntry> {
        if self.in_flight.len() >= WINDOW {
            return None;
        }
        let entry = self.queue.pop_front()?;
        self.last_sent = entry.seq;
        self.in_flight.insert(entry.seq);
        Some(entry)
    }

    /// The broker acknowledged `seq`.
    pub fn acked(&mut self, seq: u64) {
        self.in_flight.remove(&seq);
    }

    /// Every event up to here is acknowledged (or was never in the outbox).
    pub fn cursor(&self) -> u64 {
        match self.in_flight.first() {
            Some(&oldest) => oldest - 1,
            None => self.last_sent,
        }
    }

    /// The cursor to write to the store, if it moved since the last write.
    pub fn cursor_to_persist(&self) -> Option<u64> {
        let c = self.cursor();
        (c > self.persisted).then_some(c)
    }

    pub fn persisted(&mut self, cursor: u64) {
        self.persisted = self.persisted.max(cursor);
    }

    /// Events after this may be dropped by the policy (nothing read or in flight).
    pub fn droppable_after(&self) -> u64 {
        self.read_to.max(self.last_sent)
    }

    /// Events known to be stored after the cursor (by seq; gaps left by drops count).
    pub fn pending(&self) -> u64 {
        self.newest.saturating_sub(self.cursor())
    }

    /// Events published and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Nothing in flight, queued or known unread.
    pub fn drained(&self) -> bool {
        self.in_flight.is_empty() && self.queue.is_empty() && self.read_to >= self.newest
    }

    /// The connection ended: everything unacknowledged is sent again from the cursor.
    pub fn reset(&mut self) {
        let cursor = self.cursor();
        self.in_flight.clear();
        self.queue.clear();
        self.last_sent = cursor;
        self.read_to = cursor;
    }
}

#[cfg(test)]
mod tests;
