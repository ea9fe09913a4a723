//! Unit tests of a load in flight: the kill floor, learned peaks, settling, timeouts,
//! reservations, the view and event mapping, and the three-models scenario.
#![allow(clippy::disallowed_methods)] // one base `Instant::now()` per harness; all else is base + d

use std::time::Duration;

use super::tests::*;
use super::*;
use crate::event::EventKind;

#[test]
fn aborts_at_once_when_available_falls_under_the_kill_floor() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(4));
    h.request("llm", Bytes::from_gib(2));
    h.advance(1500);
    let actions = h.read_with(Bytes::from_mib(200), Some(Bytes::from_gib(3)));
    let GateAction::Abort(a) = &actions[0] else {
        panic!("expected an abort first, got {actions:?}")
    };
    assert_eq!(a.available, Bytes::from_mib(200));
    assert_eq!(a.floor, Bytes::from_mib(256));
    assert_eq!(a.elapsed, Duration::from_millis(1500));
    assert_eq!(a.tree_pss, Some(Bytes::from_gib(3)));
    assert_eq!(a.consumed, Bytes(4 * GIB - 200 * MIB));
    // the available drop (3.8GiB) is larger than the tree PSS (3GiB): it becomes the peak
    assert!(actions.contains(&GateAction::RaiseLearnedPeak {
        model: "llm".into(),
        previous: Bytes::from_gib(2),
        peak: Bytes(4 * GIB - 200 * MIB),
    }));
    assert_eq!(h.gate.learned_peak("llm"), Some(Bytes(4 * GIB - 200 * MIB)));
    assert_eq!(h.gate.in_flight(), None);
    assert_eq!(h.gate.outstanding(), Bytes::ZERO);
    let e = actions[0].event();
    assert_eq!(e.kind, EventKind::LoadAborted);
    for f in [
        "available_bytes",
        "floor_bytes",
        "elapsed_ms",
        "tree_pss_bytes",
    ] {
        assert!(e.figures.contains_key(f), "{f} missing from {e:?}");
    }
    assert_eq!(e.figures["elapsed_ms"], 1500);
}

#[test]
fn an_abort_learns_the_tree_pss_when_it_is_larger_than_the_drop() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(1));
    h.request("m", Bytes::from_mib(100));
    h.advance(10);
    h.read_with(Bytes::from_mib(255), Some(Bytes::from_gib(2)));
    assert_eq!(h.gate.learned_peak("m"), Some(Bytes::from_gib(2)));
    // the next request is gated on what was seen, not on what was declared
    let actions = h.request("m", Bytes::from_mib(100));
    assert!(
        matches!(&actions[0], GateAction::Requested { need, .. } if *need == Bytes::from_gib(2))
    );
}

#[test]
fn logs_a_load_that_exceeds_its_need_without_killing_it() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(6));
    h.request("llm", Bytes::from_gib(1));
    h.advance(100);
    let actions = h.read(Bytes::from_mib(4500));
    assert!(matches!(
        &actions[0],
        GateAction::ExceededNeed { consumed, .. } if *consumed == Bytes::from_mib(1644)
    ));
    assert!(
        matches!(&actions[1], GateAction::RaiseLearnedPeak { peak, .. } if *peak == Bytes::from_mib(1644))
    );
    assert_eq!(actions[0].event().kind, EventKind::LoadExceededDeclared);
    assert_eq!(h.gate.in_flight(), Some("llm"), "not killed");
    h.advance(100);
    assert!(h.read(Bytes::from_mib(4400)).is_empty(), "logged once");
}

#[test]
fn is_ready_only_after_the_probe_and_a_settled_window() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(6));
    h.request("llm", Bytes::from_gib(2));
    // memory is flat but the probe has not passed: not ready
    let actions = h.settle(Bytes::from_gib(5));
    assert!(actions.is_empty(), "{actions:?}");
    h.ready("llm");
    // still falling after ready
    for i in 0..30 {
        h.advance(100);
        let a = h.read(Bytes(5 * GIB - i * 20 * MIB));
        assert!(a.is_empty(), "reading {i}: {a:?}");
    }
    let mut ready = None;
    for _ in 0..=20 {
        h.advance(100);
        let a = h.read_with(Bytes(4 * GIB + 424 * MIB), Some(Bytes::from_mib(1700)));
        if let Some(r) = a
            .into_iter()
            .find(|a| matches!(a, GateAction::LoadReady { .. }))
        {
            ready = Some(r);
            break;
        }
    }
    let Some(GateAction::LoadReady {
        footprint,
        settled_in,
        ..
    }) = ready
    else {
        panic!("never became ready")
    };
    assert_eq!(footprint.available_drop_bytes, Bytes(GIB + 600 * MIB));
    assert_eq!(footprint.tree_pss_bytes, Some(Bytes::from_mib(1700)));
    assert!(settled_in >= Duration::from_secs(2));
    assert_eq!(h.gate.in_flight(), None);
    assert_eq!(h.gate.sampling_mode(), SamplingMode::Idle);
}

#[test]
fn fails_a_load_whose_ready_probe_never_passes_within_the_load_timeout() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(6));
    h.request("llm", Bytes::from_gib(2));
    h.advance(120_000);
    assert!(
        h.step(GateInput::Tick).is_empty(),
        "the limit itself is allowed"
    );
    h.advance(1);
    let actions = h.step(GateInput::Tick);
    assert!(matches!(
        &actions[0],
        GateAction::LoadFailed {
            reason: FailReason::LoadTimeout {
                probe_passed: false,
                ..
            },
            ..
        }
    ));
    let event = actions[0].event();
    assert_eq!(
        event.kind,
        EventKind::LoadTimedOut,
        "not a plain load_failed"
    );
    assert!(event
        .message
        .contains("not ready within the load timeout 2m"));
    assert_eq!(event.figures["timeout_ms"], 120_000);
    assert_eq!(event.figures["timeout"], "load_timeout");
    assert_eq!(event.figures["probe_passed"], false);
    assert_eq!(event.figures["elapsed_ms"], 120_001);
    assert!(event.figures.contains_key("consumed_bytes"));
}

#[test]
fn fails_a_load_whose_memory_does_not_settle_within_the_settle_timeout() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(6));
    h.request("llm", Bytes::from_gib(2));
    h.ready("llm");
    let mut failed = None;
    for i in 0..400u64 {
        h.advance(100);
        let a = h.read(Bytes(5 * GIB - (i % 2) * 100 * MIB));
        if let Some(f) = a
            .into_iter()
            .find(|a| matches!(a, GateAction::LoadFailed { .. }))
        {
            failed = Some((i, f));
            break;
        }
    }
    let Some((i, GateAction::LoadFailed { reason, .. })) = failed else {
        panic!("never failed")
    };
    assert_eq!(
        reason,
        FailReason::SettleTimeout {
            limit: Duration::from_secs(30)
        }
    );
    assert_eq!(i, 300, "fails on the first reading past 30s");
}

#[test]
fn fails_a_load_whose_process_exits_and_ignores_a_stale_exit() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(6));
    h.request("llm", Bytes::from_gib(2));
    assert!(h
        .step(GateInput::Exited {
            model: "other".into()
        })
        .is_empty());
    let actions = h.step(GateInput::Exited {
        model: "llm".into(),
    });
    assert!(matches!(
        &actions[0],
        GateAction::LoadFailed {
            reason: FailReason::Exited,
            ..
        }
    ));
    assert_eq!(actions[0].event().kind, EventKind::LoadFailed);
    assert!(h
        .step(GateInput::Exited {
            model: "llm".into()
        })
        .is_empty());
}

#[test]
fn the_load_reservation_is_need_minus_consumed_and_ends_with_the_load() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(6));
    h.request("llm", Bytes::from_gib(2));
    assert_eq!(h.gate.outstanding(), Bytes::from_gib(2));
    h.advance(100);
    h.read(Bytes::from_mib(5 * 1024 - 512));
    assert_eq!(h.gate.outstanding(), Bytes::from_mib(512));
    // the budget counts the reservation: 4.5GiB − 512MiB reserve − 512MiB outstanding
    assert_eq!(
        h.gate.snapshot(h.now()).budget_bytes,
        Some(Bytes::from_mib(3584))
    );
    h.ready("llm");
    h.settle(Bytes::from_mib(5 * 1024 - 512));
    assert_eq!(h.gate.outstanding(), Bytes::ZERO);
}

#[test]
fn external_reservations_shrink_the_budget_until_released() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(3));
    h.step(GateInput::Reserve {
        key: "leak:api".into(),
        bytes: Bytes::from_gib(2),
    });
    // 3GiB − 512MiB reserve − 2GiB reserved = 512MiB
    let actions = h.request("llm", Bytes::from_gib(1));
    assert_eq!(
        queued_reason(&actions),
        Some("waiting: budget 512.0MiB < need 1.0GiB × 1.10 (2.0GiB reserved for leak:api)")
    );
    assert_eq!(admitted(&actions), Vec::<&str>::new());
    assert_eq!(h.gate.snapshot(h.now()).reserved_bytes, Bytes::from_gib(2));
    let actions = h.step(GateInput::Release {
        key: "leak:api".into(),
    });
    assert_eq!(admitted(&actions), vec!["llm"]);
    assert_eq!(
        h.gate.outstanding(),
        Bytes::from_gib(1),
        "only the load's own"
    );
}

#[test]
fn a_learned_peak_larger_than_declared_becomes_the_need() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(3));
    let actions = h.step(GateInput::Request {
        model: "llm".into(),
        declared: Bytes::from_gib(1),
        learned_peak: Some(Bytes::from_gib(3)),
        gpu_offload: false,
    });
    assert!(
        matches!(&actions[0], GateAction::Requested { need, .. } if *need == Bytes::from_gib(3))
    );
    assert_eq!(admitted(&actions), Vec::<&str>::new());
}

#[test]
fn samples_fast_only_while_a_load_is_in_flight() {
    let mut h = Harness::new();
    assert_eq!(h.gate.sampling_mode(), SamplingMode::Idle);
    h.read(Bytes::from_gib(6));
    h.request("llm", Bytes::from_gib(1));
    assert_eq!(h.gate.sampling_mode(), SamplingMode::Loading);
    h.step(GateInput::Exited {
        model: "llm".into(),
    });
    assert_eq!(h.gate.sampling_mode(), SamplingMode::Idle);
}

#[test]
fn a_restart_after_exit_passes_through_the_gate_again() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(6));
    h.request("llm", Bytes::from_gib(2));
    h.ready("llm");
    h.settle(Bytes::from_gib(4));
    // it crashes; memory comes back; the supervisor's restart is an ordinary request
    h.step(GateInput::Exited {
        model: "llm".into(),
    });
    h.advance(100);
    h.read(Bytes::from_mib(1536));
    let actions = h.request("llm", Bytes::from_gib(2));
    assert!(queued_reason(&actions).is_some_and(|r| r.starts_with("waiting: budget")));
    h.advance(100);
    assert_eq!(admitted(&h.read(Bytes::from_gib(6))), vec!["llm"]);
}

#[test]
fn the_head_of_the_queue_is_never_overtaken_by_a_smaller_request() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(2));
    h.request("big", Bytes::from_gib(3));
    let actions = h.request("small", Bytes::from_mib(100));
    assert_eq!(admitted(&actions), Vec::<&str>::new());
    assert_eq!(
        queued_reason(&actions),
        Some("waiting: behind big in the queue")
    );
}

#[test]
fn snapshot_shows_the_load_in_flight_and_the_queue_with_reasons() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(6));
    h.request("llm", Bytes::from_gib(2));
    h.advance(1200);
    h.request("asr", Bytes::from_gib(1));
    h.advance(40);
    h.read(Bytes::from_gib(5));
    h.ready("llm");
    h.advance(60);
    let v = h.gate.snapshot(h.now());
    let f = v.in_flight.as_ref().expect("a load in flight");
    assert_eq!((f.model.as_str(), f.phase), ("llm", Phase::Settling));
    assert_eq!(f.consumed_bytes, Bytes::from_gib(1));
    assert_eq!(v.outstanding_bytes, Bytes::from_gib(1));
    assert_eq!(v.reading_age_ms, Some(60));
    let json = serde_json::to_value(&v).expect("serializable");
    assert_eq!(json["in_flight"]["elapsed_ms"], 1300);
    assert_eq!(json["in_flight"]["phase"], "settling");
    assert_eq!(json["queue"][0]["model"], "asr");
    assert_eq!(json["queue"][0]["reason"], "waiting: load of llm in flight");
    assert_eq!(json["queue"][0]["waiting_ms"], 100);
    assert_eq!(json["budget_bytes"], 5 * GIB - 512 * MIB - GIB);
    assert_eq!(json["reserve_bytes"], 512 * MIB);
}

#[test]
fn every_action_maps_to_its_event_kind_with_unit_named_figures() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(6));
    let mut all = h.request("llm", Bytes::from_gib(1));
    all.extend(h.request("asr", Bytes::from_gib(1)));
    h.ready("llm");
    all.extend(h.settle(Bytes::from_gib(5)));
    let kinds: Vec<EventKind> = all.iter().map(|a| a.event().kind).collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::LoadRequested,
            EventKind::LoadAdmitted,
            EventKind::LoadRequested,
            EventKind::LoadQueued,
            EventKind::LoadReady,
            EventKind::LoadAdmitted
        ]
    );
    for a in &all {
        let e = a.event();
        assert_eq!(e.subject.as_deref(), Some(a.model()));
        assert!(!e.message.is_empty());
        for name in e.figures.keys() {
            assert!(
                name.ends_with("_bytes") || name.ends_with("_ms") || name == "position",
                "figure {name} of {} has no unit",
                e.kind
            );
        }
    }
    let admit = all[1].event();
    for f in [
        "available_bytes",
        "need_bytes",
        "budget_bytes",
        "reserve_bytes",
    ] {
        assert!(admit.figures.contains_key(f), "{f}");
    }
}

/// The failure jetgate exists for: three models requested 2 s apart must not overcommit.
#[test]
fn holds_the_third_model_with_its_reason() {
    let mut h = Harness::new();
    h.total = Bytes::from_gib(3);
    let os = Bytes::from_mib(100);
    let mut avail = Bytes::from_gib(3).saturating_sub(os);
    h.read(avail);
    assert_eq!(admitted(&h.request("a", Bytes::from_gib(1))), vec!["a"]);
    h.advance(2000);
    let b = h.request("b", Bytes::from_gib(1));
    assert_eq!(queued_reason(&b), Some("waiting: load of a in flight"));
    h.advance(2000);
    let c = h.request("c", Bytes::from_gib(1));
    assert!(matches!(&c[1], GateAction::Queued { position: 2, .. }));

    // a takes its gibibyte, passes its probe, settles: b is admitted, c still waits
    avail = avail.saturating_sub(Bytes::from_gib(1));
    h.read(avail);
    h.ready("a");
    let actions = h.settle(avail);
    assert_eq!(admitted(&actions), vec!["b"]);
    assert_eq!(h.gate.queued().collect::<Vec<_>>(), vec!["c"]);

    avail = avail.saturating_sub(Bytes::from_gib(1));
    h.read(avail);
    h.ready("b");
    let actions = h.settle(avail);
    assert!(actions
        .iter()
        .any(|a| matches!(a, GateAction::LoadReady { model, .. } if model == "b")));
    assert_eq!(admitted(&actions), Vec::<&str>::new(), "c would overcommit");
    let view = h.gate.snapshot(h.now());
    assert_eq!(view.queue.len(), 1);
    assert_eq!(view.queue[0].model, "c");
    assert_eq!(
        view.queue[0].reason,
        "waiting: budget 412.0MiB < need 1.0GiB × 1.10"
    );

    // a is unloaded, its memory comes back, c goes in
    h.step(GateInput::Unloaded { model: "a".into() });
    h.advance(100);
    let actions = h.read(avail.saturating_add(Bytes::from_gib(1)));
    assert_eq!(admitted(&actions), vec!["c"]);
}

/// Found by the property test: a timeout due at the same moment must not turn a kill into a
/// graceful stop.
#[test]
fn a_reading_under_the_floor_aborts_even_when_a_timeout_is_due() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(6));
    h.request("llm", Bytes::from_gib(2));
    h.ready("llm");
    h.advance(31_000);
    let actions = h.read(Bytes::from_mib(100));
    assert!(matches!(&actions[0], GateAction::Abort(_)), "{actions:?}");
    assert!(!actions
        .iter()
        .any(|a| matches!(a, GateAction::LoadFailed { .. })));
}
