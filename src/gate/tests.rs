//! Unit tests of every gate rule, and the three-models scenario that motivated the gate.
#![allow(clippy::disallowed_methods)] // one base `Instant::now()` per harness; all else is base + d

use std::time::{Duration, Instant};

use super::*;
use crate::event::EventKind;

pub(super) const MIB: u64 = Bytes::MIB;
pub(super) const GIB: u64 = Bytes::GIB;

pub(super) fn config() -> GateConfig {
    GateConfig {
        reserve: Bytes::from_mib(512),
        headroom: 0.10,
        kill_floor: Bytes::from_mib(256),
        fresh_within: Duration::from_millis(500),
        settle_window: Duration::from_secs(2),
        settle_tolerance: Bytes::from_mib(32),
        settle_timeout: Duration::from_secs(30),
        load_timeout: Duration::from_secs(120),
        overshoot_tolerance: Bytes::ZERO,
        overshoot_tolerance_percent: 0.0,
    }
}

/// A gate and a clock that only moves when told.
pub(super) struct Harness {
    pub(super) gate: Gate,
    pub(super) base: Instant,
    pub(super) t: Duration,
    pub(super) total: Bytes,
}

impl Harness {
    pub(super) fn new() -> Harness {
        Harness {
            gate: Gate::new(config()),
            base: Instant::now(),
            t: Duration::ZERO,
            total: Bytes::from_gib(8),
        }
    }

    pub(super) fn now(&self) -> Instant {
        self.base + self.t
    }

    pub(super) fn advance(&mut self, ms: u64) {
        self.t += Duration::from_millis(ms);
    }

    pub(super) fn step(&mut self, input: GateInput) -> Vec<GateAction> {
        self.gate.step(input, self.now())
    }

    pub(super) fn request(&mut self, model: &str, declared: Bytes) -> Vec<GateAction> {
        self.step(GateInput::Request {
            model: model.into(),
            declared,
            learned_peak: None,
            gpu_offload: false,
        })
    }

    pub(super) fn read(&mut self, available: Bytes) -> Vec<GateAction> {
        self.read_with(available, None)
    }

    pub(super) fn read_with(
        &mut self,
        available: Bytes,
        tree_pss: Option<Bytes>,
    ) -> Vec<GateAction> {
        let r = MemReading {
            available,
            total: self.total,
            taken_at: self.now(),
            loading_tree_pss: tree_pss,
            loading_tree_pss_file: None,
            loading_gpu: None,
        };
        self.step(GateInput::Reading(r))
    }

    pub(super) fn ready(&mut self, model: &str) -> Vec<GateAction> {
        self.step(GateInput::ReadyProbePassed {
            model: model.into(),
        })
    }

    /// Readings every 100 ms at `available` until the settle window is covered.
    pub(super) fn settle(&mut self, available: Bytes) -> Vec<GateAction> {
        let mut all = Vec::new();
        for _ in 0..=20 {
            self.advance(100);
            all.extend(self.read(available));
        }
        all
    }
}

pub(super) fn admitted(actions: &[GateAction]) -> Vec<&str> {
    actions
        .iter()
        .filter_map(|a| match a {
            GateAction::Admit(a) => Some(a.model.as_str()),
            _ => None,
        })
        .collect()
}

pub(super) fn queued_reason(actions: &[GateAction]) -> Option<&str> {
    actions.iter().find_map(|a| match a {
        GateAction::Queued { reason, .. } => Some(reason.as_str()),
        _ => None,
    })
}

#[test]
fn admits_a_request_when_a_fresh_reading_covers_need_with_headroom() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(6));
    let actions = h.request("llm", Bytes::from_gib(4));
    assert!(matches!(&actions[0], GateAction::Requested { model, .. } if model == "llm"));
    let GateAction::Admit(a) = &actions[1] else {
        panic!("expected an admission, got {actions:?}")
    };
    assert_eq!(a.need, Bytes::from_gib(4));
    assert_eq!(a.available, Bytes::from_gib(6));
    assert_eq!(a.budget.value(), Bytes(6 * GIB - 512 * MIB));
    assert_eq!(a.required, budget::required(Bytes::from_gib(4), 0.10));
    assert_eq!(h.gate.in_flight(), Some("llm"));
}

#[test]
fn queues_a_request_whose_budget_is_just_under_need_with_headroom() {
    let mut h = Harness::new();
    // budget = 4.9GiB − 512MiB = 4.4GiB − ε, need 4GiB × 1.10 = 4.4GiB
    let required = budget::required(Bytes::from_gib(4), 0.10);
    h.read(
        required
            .saturating_add(Bytes::from_mib(512))
            .saturating_sub(Bytes(1)),
    );
    let actions = h.request("llm", Bytes::from_gib(4));
    assert_eq!(admitted(&actions), Vec::<&str>::new());
    h.advance(10);
    let actions = h.read(required.saturating_add(Bytes::from_mib(512)));
    assert_eq!(admitted(&actions), vec!["llm"]);
}

#[test]
fn denies_at_once_a_request_that_can_never_fit() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(8));
    // total 8GiB − reserve 512MiB = 7.5GiB < 7GiB × 1.10 = 7.7GiB
    let actions = h.request("huge", Bytes::from_gib(7));
    let GateAction::Deny {
        need,
        required,
        total,
        reserve,
        ..
    } = &actions[1]
    else {
        panic!("expected a denial, got {actions:?}")
    };
    assert_eq!(
        (*need, *total, *reserve),
        (Bytes::from_gib(7), Bytes::from_gib(8), Bytes::from_mib(512))
    );
    assert!(*required > Bytes(8 * GIB - 512 * MIB));
    assert_eq!(actions.len(), 2, "nothing queued: {actions:?}");
    assert_eq!(h.gate.queued().count(), 0);
    let e = actions[1].event();
    assert_eq!(e.kind, EventKind::LoadDenied);
    assert_eq!(e.figures["capacity_bytes"], 8 * GIB - 512 * MIB);
}

#[test]
fn denies_a_queued_request_once_a_reading_shows_it_can_never_fit() {
    let mut h = Harness::new();
    let actions = h.request("llm", Bytes::from_gib(4));
    assert_eq!(
        queued_reason(&actions),
        Some("waiting: no fresh memory reading")
    );
    h.total = Bytes::from_gib(4);
    let actions = h.read(Bytes::from_gib(4));
    assert!(matches!(&actions[0], GateAction::Deny { model, .. } if model == "llm"));
    assert_eq!(h.gate.queued().count(), 0);
}

#[test]
fn queues_without_a_fresh_reading_and_admits_when_one_arrives() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(6));
    h.advance(501);
    let actions = h.request("llm", Bytes::from_gib(1));
    assert_eq!(admitted(&actions), Vec::<&str>::new());
    assert_eq!(
        queued_reason(&actions),
        Some("waiting: no fresh memory reading")
    );
    assert_eq!(admitted(&h.step(GateInput::Tick)), Vec::<&str>::new());
    let actions = h.read(Bytes::from_gib(6));
    assert_eq!(admitted(&actions), vec!["llm"]);
}

#[test]
fn a_reading_exactly_at_the_freshness_limit_still_admits() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(6));
    h.advance(500);
    assert_eq!(admitted(&h.request("llm", Bytes::from_gib(1))), vec!["llm"]);
}

#[test]
fn queues_with_the_budget_reason_when_memory_is_short() {
    let mut h = Harness::new();
    h.read(Bytes::from_mib(1536));
    let actions = h.request("asr", Bytes::from_gib(1));
    assert_eq!(
        queued_reason(&actions),
        Some("waiting: budget 1.0GiB < need 1.0GiB × 1.10")
    );
    let view = h.gate.snapshot(h.now());
    assert_eq!(
        view.queue[0].reason,
        "waiting: budget 1.0GiB < need 1.0GiB × 1.10"
    );
}

#[test]
fn holds_a_second_request_while_a_load_is_in_flight() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(7));
    h.request("llm", Bytes::from_gib(1));
    let actions = h.request("asr", Bytes::from_gib(1));
    assert_eq!(admitted(&actions), Vec::<&str>::new());
    assert!(matches!(
        &actions[1],
        GateAction::Queued { position: 1, .. }
    ));
    assert_eq!(
        queued_reason(&actions),
        Some("waiting: load of llm in flight")
    );
}

#[test]
fn answers_a_duplicate_request_without_queueing_it_twice() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(7));
    h.request("llm", Bytes::from_gib(1));
    h.request("asr", Bytes::from_gib(1));
    let presence = |actions: &[GateAction]| match &actions[1] {
        GateAction::Duplicate { presence, .. } => *presence,
        other => panic!("expected a duplicate answer, got {other:?}"),
    };
    assert_eq!(
        presence(&h.request("asr", Bytes::from_gib(1))),
        Presence::Queued { position: 1 }
    );
    assert_eq!(
        presence(&h.request("llm", Bytes::from_gib(1))),
        Presence::Loading
    );
    assert_eq!(h.gate.queued().count(), 1);
    h.ready("llm");
    h.settle(Bytes::from_gib(6));
    h.step(GateInput::Exited {
        model: "asr".into(),
    });
    assert_eq!(
        presence(&h.request("llm", Bytes::from_gib(1))),
        Presence::Loaded
    );
    assert_eq!(
        h.request("llm", Bytes::from_gib(1))[1].event().kind,
        EventKind::LoadDuplicate
    );
}

#[test]
fn a_duplicate_of_a_queued_request_leaves_it_queued_once_even_when_its_step_admits_it() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(7));
    h.request("llm", Bytes::from_gib(1));
    h.request("asr", Bytes::from_gib(1));
    h.advance(120_000 - 100);
    h.read(Bytes::from_gib(7));
    h.advance(101);
    // llm's load timeout is due: this step fails it, answers asr as a duplicate of its queued
    // request, and admits that queued request (with its need), not a second copy.
    let actions = h.request("asr", Bytes::from_gib(2));
    let kinds: Vec<_> = actions.iter().map(|a| a.event().kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::LoadTimedOut,
            EventKind::LoadRequested,
            EventKind::LoadDuplicate,
            EventKind::LoadAdmitted
        ],
        "{actions:?}"
    );
    assert!(matches!(
        &actions[2],
        GateAction::Duplicate {
            presence: Presence::Queued { position: 1 },
            ..
        }
    ));
    assert!(matches!(&actions[3], GateAction::Admit(a) if a.need == Bytes::from_gib(1)));
    assert_eq!(h.gate.in_flight(), Some("asr"));
    assert_eq!(h.gate.queued().count(), 0);
}

#[test]
fn cancel_removes_a_queued_request_and_keeps_the_rest_in_order() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(7));
    for m in ["a", "b", "c"] {
        h.request(m, Bytes::from_gib(1));
    }
    let actions = h.step(GateInput::Cancel { model: "b".into() });
    assert!(matches!(&actions[0], GateAction::Withdrawn { model, .. } if model == "b"));
    assert_eq!(h.gate.queued().collect::<Vec<_>>(), vec!["c"]);
    assert_eq!(actions[0].event().kind, EventKind::LoadCancelled);
}

#[test]
fn cancel_during_a_load_fails_it_and_admits_the_next() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(7));
    h.request("a", Bytes::from_gib(1));
    h.request("b", Bytes::from_gib(1));
    let actions = h.step(GateInput::Cancel { model: "a".into() });
    assert!(matches!(
        &actions[0],
        GateAction::LoadFailed {
            reason: FailReason::Cancelled,
            ..
        }
    ));
    assert_eq!(admitted(&actions), vec!["b"]);
}
