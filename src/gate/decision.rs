//! The gate's decisions as counted for the metrics endpoint
//! (`jetgate_gate_decisions_total{decision, reason}`): each [`GateAction`] that decides
//! something about a load, as a short `decision` and a `reason` from a fixed list, so the
//! label sets are bounded whatever the models are called. [`DecisionCounts`] is kept by the
//! engine, the gate's one owner, and starts at zero for every pair in [`DECISIONS`].
//!
//! | decision | reasons |
//! |---|---|
//! | `admit` | `available`, `ledger` (the budget that admitted it) |
//! | `deny` | `never_fits` |
//! | `queue` | `load_in_flight`, `no_fresh_reading`, `budget`, `behind_head`, `other` |
//! | `duplicate` | `queued`, `loading`, `loaded` |
//! | `withdraw` | `unload` |
//! | `abort` | `kill_floor` |
//! | `fail` | `load_timeout`, `settle_timeout`, `exited`, `cancelled`, `stopped` |
//! | `ready` | `settled` |
//!
//! A request, a load over its need and a raised learned peak are not decisions of their own
//! (their events count them under `jetgate_events_total`).

use super::{FailReason, GateAction, Presence};

/// Every `(decision, reason)` pair, in the table's order.
pub const DECISIONS: [(&str, &str); 21] = [
    ("admit", "available"),
    ("admit", "ledger"),
    ("deny", "never_fits"),
    ("queue", "load_in_flight"),
    ("queue", "no_fresh_reading"),
    ("queue", "budget"),
    ("queue", "behind_head"),
    ("queue", "other"),
    ("duplicate", "queued"),
    ("duplicate", "loading"),
    ("duplicate", "loaded"),
    ("withdraw", "unload"),
    ("abort", "kill_floor"),
    ("fail", "load_timeout"),
    ("fail", "settle_timeout"),
    ("fail", "exited"),
    ("fail", "cancelled"),
    ("fail", "stopped"),
    ("ready", "settled"),
    // Kept last: the two pairs no action maps to today stay countable if one ever does.
    ("deny", "other"),
    ("fail", "other"),
];

/// Why a queued load waits, from the reason the queue gives it (`waiting: ...`).
pub fn wait_class(reason: &str) -> &'static str {
    let rest = reason.strip_prefix("waiting: ").unwrap_or(reason);
    if rest.starts_with("load of ") {
        "load_in_flight"
    } else if rest.starts_with("no fresh memory reading") {
        "no_fresh_reading"
    } else if rest.starts_with("budget ") {
        "budget"
    } else if rest.starts_with("behind ") {
        "behind_head"
    } else {
        "other"
    }
}

impl GateAction {
    /// The `(decision, reason)` this action counts as, or `None` for one that decides nothing.
    pub fn decision(&self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            GateAction::Admit(a) => ("admit", a.budget.from().as_str()),
            GateAction::Deny { .. } => ("deny", "never_fits"),
            GateAction::Queued { reason, .. } => ("queue", wait_class(reason)),
            GateAction::Duplicate { presence, .. } => match presence {
                Presence::Queued { .. } => ("duplicate", "queued"),
                Presence::Loading => ("duplicate", "loading"),
                Presence::Loaded => ("duplicate", "loaded"),
            },
            GateAction::Withdrawn { .. } => ("withdraw", "unload"),
            GateAction::Abort(_) => ("abort", "kill_floor"),
            GateAction::LoadFailed { reason, .. } => match reason {
                FailReason::LoadTimeout { .. } => ("fail", "load_timeout"),
                FailReason::SettleTimeout { .. } => ("fail", "settle_timeout"),
                FailReason::Exited => ("fail", "exited"),
                FailReason::Cancelled => ("fail", "cancelled"),
                FailReason::Stopped => ("fail", "stopped"),
            },
            GateAction::LoadReady { .. } => ("ready", "settled"),
            GateAction::Requested { .. }
            | GateAction::ExceededNeed { .. }
            | GateAction::RaiseLearnedPeak { .. } => return None,
        })
    }
}

/// How many of each decision the gate took since the agent started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionCounts {
    counts: [u64; DECISIONS.len()],
}

impl Default for DecisionCounts {
    fn default() -> Self {
        DecisionCounts {
            counts: [0; DECISIONS.len()],
        }
    }
}

impl DecisionCounts {
    /// Counts `action` if it is a decision.
    pub fn count(&mut self, action: &GateAction) {
        let Some(pair) = action.decision() else {
            return;
        };
        if let Some(i) = DECISIONS.iter().position(|d| *d == pair) {
            self.counts[i] = self.counts[i].saturating_add(1);
        }
    }

    /// Every `(decision, reason, count)`, zeros included, in [`DECISIONS`]' order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str, u64)> + '_ {
        DECISIONS
            .iter()
            .zip(self.counts)
            .map(|(&(d, r), n)| (d, r, n))
    }

    /// The count of one pair (0 for a pair not in [`DECISIONS`]).
    pub fn get(&self, decision: &str, reason: &str) -> u64 {
        self.iter()
            .find(|&(d, r, _)| d == decision && r == reason)
            .map_or(0, |(_, _, n)| n)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::units::Bytes;

    #[test]
    fn each_wait_the_queue_names_has_its_own_class() {
        // The texts of the queue's reasons (gate/queue.rs's module doc).
        for (text, class) in [
            ("waiting: load of llm in flight", "load_in_flight"),
            ("waiting: no fresh memory reading", "no_fresh_reading"),
            ("waiting: budget 412.0MiB < need 1.0GiB × 1.10", "budget"),
            (
                "waiting: budget 307.0MiB < need 1.0GiB × 1.10 (committed 2.2GiB to det)",
                "budget",
            ),
            ("waiting: behind llm in the queue", "behind_head"),
            ("", "other"),
        ] {
            assert_eq!(wait_class(text), class, "{text:?}");
        }
    }

    #[test]
    fn every_decision_an_action_names_is_in_the_table() {
        let failed = |reason| GateAction::LoadFailed {
            model: "m".into(),
            reason,
            elapsed: Duration::ZERO,
            consumed: Bytes::ZERO,
            peak: Bytes::ZERO,
        };
        let limit = Duration::from_secs(1);
        let actions = [
            GateAction::Deny {
                model: "m".into(),
                need: Bytes::ZERO,
                required: Bytes::ZERO,
                total: Bytes::ZERO,
                reserve: Bytes::ZERO,
            },
            GateAction::Queued {
                model: "m".into(),
                position: 1,
                need: Bytes::ZERO,
                reason: "waiting: behind a in the queue".into(),
            },
            GateAction::Withdrawn {
                model: "m".into(),
                waited: Duration::ZERO,
            },
            failed(FailReason::LoadTimeout {
                limit,
                probe_passed: false,
            }),
            failed(FailReason::SettleTimeout { limit }),
            failed(FailReason::Exited),
            failed(FailReason::Cancelled),
            failed(FailReason::Stopped),
        ];
        let mut counts = DecisionCounts::default();
        for a in &actions {
            let pair = a.decision().expect("a decision");
            assert!(DECISIONS.contains(&pair), "{pair:?} missing from DECISIONS");
            counts.count(a);
        }
        assert_eq!(counts.get("deny", "never_fits"), 1);
        assert_eq!(counts.get("queue", "behind_head"), 1);
        assert_eq!(counts.get("fail", "stopped"), 1);
        assert_eq!(counts.get("admit", "available"), 0);
        assert_eq!(counts.iter().count(), DECISIONS.len());
        let requested = GateAction::Requested {
            model: "m".into(),
            declared: Bytes::ZERO,
            learned_peak: None,
            need: Bytes::ZERO,
        };
        assert_eq!(requested.decision(), None);
        counts.count(&requested);
        assert_eq!(
            counts.iter().map(|(_, _, n)| n).sum::<u64>(),
            actions.len() as u64
        );
    }

    #[test]
    fn the_table_has_no_pair_twice() {
        let mut pairs = DECISIONS.to_vec();
        pairs.sort();
        pairs.dedup();
        assert_eq!(pairs.len(), DECISIONS.len());
    }
}
