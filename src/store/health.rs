//! The store's health as the writer sees it: every write that failed is counted, the first
//! failure after a healthy stretch is a `store_write_failed` event and the first success after
//! failures a `store_recovered` one (pure: the writer feeds it results and the wall clock).
//!
//! A failing store may not be able to keep the event that says so (a full disk): the writer
//! logs each one at its severity first and then tries to store it; `store_recovered` carries
//! the whole outage (since when, how many writes, the first and the last error), so once the
//! store works again the outage is on record even if `store_write_failed` never was. `status`
//! shows [`StoreHealthView`] either way.
//!
//! ```text
//! ok ─write fails─► failing {since, first_error} ─write fails─► failing (counted, no event)
//!  ▲   (store_write_failed)                         │
//!  └──────────── a write succeeds (store_recovered: failed_for_ms, writes_failed) ◄──┘
//! ```

use serde::{Deserialize, Serialize};

use crate::event::figures::{StoreRecovered, StoreWriteFailed};
use crate::event::NewEvent;

/// `ok`, or `failing` since the last write that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreState {
    #[default]
    Ok,
    Failing,
}

/// The `store` section of the agent's status document.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreHealthView {
    pub state: StoreState,
    /// Writes that failed since the agent started.
    pub writes_failed: u64,
    /// While failing: when the first write of this outage failed (ms since the Unix epoch).
    pub failing_since_ms: Option<u64>,
    /// The newest failure's error, kept after a recovery.
    pub last_error: Option<String>,
    /// What the newest failed write did not persist (`event agent_started`, `footprint of llm`).
    pub last_lost: Option<String>,
}

/// The running tally behind [`StoreHealthView`].
#[derive(Debug, Clone, Default)]
pub struct StoreHealth {
    view: StoreHealthView,
    /// Failures of the current outage.
    failed_in_outage: u64,
    first_error: Option<String>,
}

impl StoreHealth {
    pub fn view(&self) -> &StoreHealthView {
        &self.view
    }

    /// A write that failed at `now_ms`: `lost` says what it did not persist. The event when
    /// this starts an outage; nothing (only the count) while one lasts.
    pub fn failed(&mut self, now_ms: u64, lost: &str, error: &str) -> Option<NewEvent> {
        self.view.writes_failed += 1;
        self.view.last_error = Some(error.to_string());
        self.view.last_lost = Some(lost.to_string());
        self.failed_in_outage += 1;
        if self.view.state == StoreState::Failing {
            return None;
        }
        self.view.state = StoreState::Failing;
        self.view.failing_since_ms = Some(now_ms);
        self.first_error = Some(error.to_string());
        Some(
            NewEvent::new(
                StoreWriteFailed {
                    error: error.to_string(),
                    lost: lost.to_string(),
                    writes_failed: self.view.writes_failed,
                },
                None,
            )
            .message(format!(
                "store write failed ({lost}): {error}; further failures are counted until \
                 a write succeeds"
            )),
        )
    }

    /// A write that succeeded at `now_ms`: the event when it ends an outage.
    pub fn succeeded(&mut self, now_ms: u64) -> Option<NewEvent> {
        if self.view.state == StoreState::Ok {
            return None;
        }
        let since = self.view.failing_since_ms.take().unwrap_or(now_ms);
        let failed = std::mem::take(&mut self.failed_in_outage);
        let first = self.first_error.take().unwrap_or_default();
        let last = self.view.last_error.clone().unwrap_or_default();
        self.view.state = StoreState::Ok;
        Some(
            NewEvent::new(
                StoreRecovered {
                    failing_since_ms: since,
                    failed_for_ms: now_ms.saturating_sub(since),
                    writes_failed: failed,
                    writes_failed_total: self.view.writes_failed,
                    first_error: first.clone(),
                    last_error: last,
                },
                None,
            )
            .message(format!(
                "store writes succeed again after {failed} failed over {}ms: {first}",
                now_ms.saturating_sub(since)
            )),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;

    #[test]
    fn the_first_failure_is_an_event_the_rest_are_counted_and_a_success_ends_the_outage() {
        let mut h = StoreHealth::default();
        assert!(h.succeeded(1_000).is_none(), "healthy: nothing to say");
        let e = h
            .failed(2_000, "event note", "database or disk is full")
            .expect("store_write_failed");
        assert_eq!(e.kind, EventKind::StoreWriteFailed);
        assert_eq!(e.figures["lost"], "event note");
        assert!(h
            .failed(2_500, "footprint of llm", "disk I/O error")
            .is_none());
        assert!(h.failed(2_600, "event note", "disk I/O error").is_none());
        assert_eq!(
            h.view(),
            &StoreHealthView {
                state: StoreState::Failing,
                writes_failed: 3,
                failing_since_ms: Some(2_000),
                last_error: Some("disk I/O error".into()),
                last_lost: Some("event note".into()),
            }
        );

        let r = h.succeeded(5_000).expect("store_recovered");
        assert_eq!(r.kind, EventKind::StoreRecovered);
        assert_eq!(r.figures["failing_since_ms"], 2_000);
        assert_eq!(r.figures["failed_for_ms"], 3_000);
        assert_eq!(r.figures["writes_failed"], 3);
        assert_eq!(r.figures["first_error"], "database or disk is full");
        assert_eq!(r.figures["last_error"], "disk I/O error");
        assert_eq!(h.view().state, StoreState::Ok);
        assert_eq!(h.view().failing_since_ms, None);
        assert!(h.succeeded(6_000).is_none());

        // A second outage is its own event, and the total keeps counting.
        assert!(h.failed(7_000, "event note", "full").is_some());
        assert_eq!(h.view().writes_failed, 4);
        assert_eq!(h.succeeded(8_000).unwrap().figures["writes_failed"], 1);
    }
}
