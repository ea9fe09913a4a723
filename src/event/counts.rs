//! [`EventCounts`]: how many events of each kind the agent has emitted since it started, for
//! the metrics endpoint (`jetgate_events_total{kind}`). The store's writer is its one owner:
//! every event passes through it, so it counts each one as it takes it (stored or not).
//!
//! Every known kind has a count from the start (zero until one happens), so a rate over a
//! kind that has not happened yet is 0, not absent.

use super::EventKind;

/// A count per known kind, in [`EventKind::ALL`]'s order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCounts {
    counts: Vec<u64>,
}

impl Default for EventCounts {
    fn default() -> Self {
        EventCounts {
            counts: vec![0; EventKind::ALL.len()],
        }
    }
}

impl EventCounts {
    /// One more event of `kind`. A kind this build does not know (never emitted by the agent
    /// itself) is not counted.
    pub fn count(&mut self, kind: &EventKind) {
        if let Some(i) = EventKind::ALL.iter().position(|k| k == kind) {
            if let Some(n) = self.counts.get_mut(i) {
                *n = n.saturating_add(1);
            }
        }
    }

    /// Every known kind with its count, in [`EventKind::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        EventKind::ALL
            .iter()
            .zip(&self.counts)
            .map(|(k, n)| (k.as_str(), *n))
    }

    /// The count of `kind` (0 for a kind never emitted).
    pub fn get(&self, kind: &EventKind) -> u64 {
        EventKind::ALL
            .iter()
            .position(|k| k == kind)
            .and_then(|i| self.counts.get(i).copied())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_kind_apart_and_lists_every_known_kind() {
        let mut c = EventCounts::default();
        c.count(&EventKind::LoadAdmitted);
        c.count(&EventKind::LoadAdmitted);
        c.count(&EventKind::Note);
        assert_eq!(c.get(&EventKind::LoadAdmitted), 2);
        assert_eq!(c.get(&EventKind::Note), 1);
        assert_eq!(c.get(&EventKind::GaveUp), 0);
        let all: Vec<_> = c.iter().collect();
        assert_eq!(all.len(), EventKind::ALL.len());
        assert!(all.contains(&("load_admitted", 2)));
        assert!(all.contains(&("gave_up", 0)));
    }

    #[test]
    fn an_unknown_kind_read_from_elsewhere_is_not_counted() {
        let mut c = EventCounts::default();
        let unknown = EventKind::from_stored("from_a_newer_agent".to_string());
        c.count(&unknown);
        assert_eq!(c.iter().map(|(_, n)| n).sum::<u64>(), 0);
    }
}
