//! A bounded hand-off buffer: items kept in memory between two `take`s, the oldest dropped
//! first once it is full. The executor keeps the events it stored here for followers and
//! publishers; what falls off is still in the durable store, where a reader catches up by
//! `seq`, so the bound costs nothing but a re-read.
//!
//! ```text
//! cap 3: push a b c d  ->  take() == [b, c, d], dropped() == 1
//! ```

use std::collections::VecDeque;

/// Events kept in memory for followers and publishers between two takes. An agent whose
/// events nobody takes (no publisher yet) would otherwise grow by one event per event.
pub const MAX_PENDING_EVENTS: usize = 1024;

/// At most `cap` items, oldest dropped first.
#[derive(Debug)]
pub struct Pending<T> {
    items: VecDeque<T>,
    cap: usize,
    dropped: u64,
}

impl<T> Pending<T> {
    pub fn new(cap: usize) -> Self {
        Pending {
            items: VecDeque::new(),
            cap: cap.max(1),
            dropped: 0,
        }
    }

    /// Adds `item`, dropping the oldest when full.
    pub fn push(&mut self, item: T) {
        if self.items.len() >= self.cap {
            self.items.pop_front();
            self.dropped += 1;
        }
        self.items.push_back(item);
    }

    /// Everything kept since the last take, oldest first.
    pub fn take(&mut self) -> Vec<T> {
        self.items.drain(..).collect()
    }

    /// How many items were dropped for room since this buffer was made.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_items_up_to_its_cap() {
        let mut p = Pending::new(3);
        for i in 0..10 {
            p.push(i);
            assert!(p.len() <= 3);
        }
        assert_eq!(p.dropped(), 7);
        assert_eq!(p.take(), vec![7, 8, 9]);
        assert!(p.is_empty());
        p.push(10);
        assert_eq!(p.take(), vec![10]);
    }
}
