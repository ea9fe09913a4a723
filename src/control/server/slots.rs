//! The table of connections the server holds, and who gives up their place when it is full.
//!
//! A connection is either waiting on its **client** (for a request, or for the client to read
//! the answer) or on the **agent** (a request is being answered: a `load --wait`, a page of
//! events). When all [`Slots::max`] places are taken, a new connection takes the place of the
//! one that has waited on its client the longest; only when every connection waits on the
//! agent is the newcomer refused. So idle, silent or slow-dripping clients can never lock a
//! fresh request out, and a request the agent is working on is never cut off.
//!
//! Pure: no clock, no sockets. "Longest" is by a counter bumped at every change, so the
//! order is exact without reading time.
//!
//! ```text
//! let mut slots = Slots::new(2);
//! slots.admit()     // Admitted { id: 1, evicted: None }: 1 waits on its client
//! slots.admit()     // Admitted { id: 2, evicted: None }
//! slots.on_agent(2) // 2's request is being answered
//! slots.admit()     // Admitted { id: 3, evicted: Some(1) }: 1 is closed, 3 takes its place
//! slots.on_agent(3)
//! slots.admit()     // Refused: both places wait on the agent
//! ```

use std::collections::HashMap;

/// A connection's number in the table, never reused.
pub type SlotId = u64;

/// What the table says about a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Served; `evicted` is the connection to close to make room, if one had to go.
    Admitted { id: SlotId, evicted: Option<SlotId> },
    /// Every place is held by a connection the agent is answering.
    Refused,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// On its client, since this tick.
    Client(u64),
    /// On the agent.
    Agent,
}

/// The connections held, at most `max`.
#[derive(Debug)]
pub struct Slots {
    max: usize,
    next_id: SlotId,
    tick: u64,
    held: HashMap<SlotId, Waiting>,
}

impl Slots {
    pub fn new(max: usize) -> Slots {
        Slots {
            max,
            next_id: 0,
            tick: 0,
            held: HashMap::new(),
        }
    }

    /// The most connections held at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// How many are held now.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    fn bump(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// Takes a place for a new connection (waiting on its client for its first request),
    /// evicting the connection that has waited on its client longest if the table is full.
    pub fn admit(&mut self) -> Admission {
        let evicted = if self.held.len() >= self.max {
            let oldest = self
                .held
                .iter()
                .filter_map(|(id, w)| match w {
                    Waiting::Client(since) => Some((*since, *id)),
                    Waiting::Agent => None,
                })
                .min();
            let Some((_, victim)) = oldest else {
                return Admission::Refused;
            };
            self.held.remove(&victim);
            Some(victim)
        } else {
            None
        };
        self.next_id += 1;
        let id = self.next_id;
        let tick = self.bump();
        self.held.insert(id, Waiting::Client(tick));
        Admission::Admitted { id, evicted }
    }

    /// `id` waits on its client from now (for a request, or to read an answer). Nothing
    /// happens for a connection no longer held (it was evicted).
    pub fn on_client(&mut self, id: SlotId) {
        let tick = self.bump();
        if let Some(w) = self.held.get_mut(&id) {
            *w = Waiting::Client(tick);
        }
    }

    /// `id` waits on the agent from now: it cannot be evicted until it waits on its client.
    pub fn on_agent(&mut self, id: SlotId) {
        if let Some(w) = self.held.get_mut(&id) {
            *w = Waiting::Agent;
        }
    }

    /// `id` has closed; its place is free.
    pub fn release(&mut self, id: SlotId) {
        self.held.remove(&id);
    }
}

#[cfg(test)]
mod tests;
