//! Supervision through the engine on synthetic instants with a fixed jitter draw (0.5: every
//! backoff is half its ceiling): restart timing, the crash-loop cap, revival, liveness with
//! teeth, pid-keyed probe results, the shortened grace, gated restarts.
use super::rig::*;
use super::supervise::CRITICAL_STOP_GRACE;
use super::*;
use crate::event::EventKind;

#[test]
fn restarts_follow_the_policy_then_give_up_and_restart_revives() {
    let mut rig = Rig::new(vec![service("svc", None)]);
    let out = rig.engine.load("svc", rig.at(0)).unwrap();
    assert_eq!(spawns(&out), 1);
    let mut now = 0;
    let mut pid = 100;
    // Ceilings 200, 400, 800 ms; the fixed draw takes half of each.
    for (attempt, backoff) in [(0u64, 100u64), (1, 200), (2, 400)] {
        let started = rig.spawned(now, "svc", pid);
        assert!(event(&started, EventKind::ServiceStarted).is_some());
        now += 5;
        let out = rig.exited(now, "svc", pid, 1);
        let e = event(&out, EventKind::RestartScheduled).expect("a restart is scheduled");
        assert_eq!(e.figures["attempt"], attempt);
        assert_eq!(e.figures["backoff_ms"], backoff);
        assert_eq!(e.figures["uptime_ms"], 5);
        assert_eq!(e.figures["exit_code"], 1);
        assert_eq!(rig.state("svc"), "backing_off");
        assert_eq!(rig.engine.view("svc").unwrap().restart_in_ms, Some(backoff));
        // No hot loop: ticks before the backoff has run out start nothing.
        for t in (now..now + backoff).step_by(10) {
            assert_eq!(spawns(&rig.input(t, Input::Tick)), 0, "spawned at {t} ms");
        }
        now += backoff;
        assert_eq!(spawns(&rig.input(now, Input::Tick)), 1);
        assert_eq!(rig.state("svc"), "running");
        pid += 1;
    }
    assert_eq!(rig.engine.view("svc").unwrap().restarts, 3);
    rig.spawned(now, "svc", pid);
    let out = rig.exited(now + 5, "svc", pid, 1);
    let e = event(&out, EventKind::GaveUp).expect("the fourth exit in the window gives up");
    assert_eq!(e.severity, crate::event::Severity::Error);
    assert_eq!(e.figures["restarts_in_window"], 4);
    assert_eq!(e.figures["max_restarts"], 3);
    assert!(event(&out, EventKind::RestartScheduled).is_none());
    assert_eq!(rig.state("svc"), "gave_up");
    for t in (now..now + 120_000).step_by(100) {
        assert_eq!(spawns(&rig.input(t, Input::Tick)), 0);
    }
    let out = rig.engine.restart("svc", rig.at(now + 120_000)).unwrap();
    assert!(event(&out, EventKind::Revived).is_some());
    assert_eq!(spawns(&out), 1);
    rig.spawned(now + 120_000, "svc", pid + 1);
    let out = rig.exited(now + 120_005, "svc", pid + 1, 1);
    let e = event(&out, EventKind::RestartScheduled).expect("revived: restarts again");
    assert_eq!(e.figures["attempt"], 0);
}

#[test]
fn the_attempt_counter_resets_after_proven_uptime() {
    let mut rig = Rig::new(vec![service("svc", None)]);
    rig.engine.load("svc", rig.at(0)).unwrap();
    rig.spawned(0, "svc", 1);
    rig.exited(5, "svc", 1, 1);
    rig.input(105, Input::Tick);
    rig.spawned(105, "svc", 2);
    // Up 10 s (reset_after) before this exit: attempt 0 again, not 1.
    let out = rig.exited(10_105, "svc", 2, 1);
    let e = event(&out, EventKind::RestartScheduled).unwrap();
    assert_eq!(e.figures["attempt"], 0);
    assert_eq!(e.figures["uptime_ms"], 10_000);
}

#[test]
fn k_failed_probes_in_a_row_restart_the_service_and_old_results_are_ignored() {
    let mut rig = Rig::new(vec![service("svc", Some(3))]);
    rig.engine.load("svc", rig.at(0)).unwrap();
    let out = rig.spawned(0, "svc", 10);
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::WatchHealth { pid: 10, .. })));
    assert!(rig.health(1000, "svc", 10, false).is_empty());
    assert!(rig.health(2000, "svc", 10, false).is_empty());
    assert!(
        rig.health(3000, "svc", 10, true).is_empty(),
        "a pass resets"
    );
    assert!(rig.health(4000, "svc", 10, false).is_empty());
    assert!(rig.health(5000, "svc", 10, false).is_empty());
    let out = rig.health(6000, "svc", 10, false);
    let e = event(&out, EventKind::HealthFailed).expect("three in a row fail");
    assert_eq!(e.figures["failures"], 3);
    assert_eq!(e.figures["probe"], "http");
    assert_eq!(e.figures["detail"], "http 500");
    assert_eq!(e.figures["interval_ms"], 1000);
    assert!(out.iter().any(|a| matches!(a, Action::Stop { .. })));
    // Results still in flight for the stopping process change nothing.
    assert!(rig.health(6100, "svc", 10, false).is_empty());
    let out = rig.input(
        6200,
        Input::Exited {
            name: "svc".into(),
            pid: 10,
            code: None,
            signal: Some(15),
        },
    );
    let exited = event(&out, EventKind::ServiceExited).expect("the stop is not an unload");
    assert_eq!(exited.figures["cause"], EventKind::HealthFailed.as_str());
    let e = event(&out, EventKind::RestartScheduled).unwrap();
    assert_eq!(e.figures["cause"], EventKind::HealthFailed.as_str());
    assert_eq!(e.figures["signal"], 15);
    rig.input(6300, Input::Tick);
    rig.spawned(6300, "svc", 11);
    for t in 0..5 {
        assert!(
            rig.health(6400 + t, "svc", 10, false).is_empty(),
            "a result about the old pid counted"
        );
    }
    assert_eq!(rig.state("svc"), "running");
}

#[test]
fn a_service_with_a_ready_probe_is_watched_only_once_ready() {
    let mut spec = service("svc", Some(1));
    spec.awaits_ready = true;
    let mut rig = Rig::new(vec![spec]);
    rig.engine.load("svc", rig.at(0)).unwrap();
    let out = rig.spawned(0, "svc", 10);
    assert!(!out.iter().any(|a| matches!(a, Action::WatchHealth { .. })));
    let out = rig.input(50, Input::ReadyProbePassed { name: "svc".into() });
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::WatchHealth { pid: 10, .. })));
}

#[test]
fn the_stop_grace_shortens_while_memory_is_under_the_reserve() {
    let mut rig = Rig::new(vec![service("a", None), service("b", None)]);
    rig.engine.load("a", rig.at(0)).unwrap();
    rig.spawned(0, "a", 1);
    rig.engine.load("b", rig.at(0)).unwrap();
    rig.spawned(0, "b", 2);
    rig.reading(10, GIB);
    let out = rig.engine.unload("a", rig.at(10)).unwrap();
    assert!(event(&out, EventKind::StopHastened).is_none());
    assert!(out.contains(&Action::Stop {
        name: "a".into(),
        grace: Duration::from_secs(10)
    }));
    rig.reading(20, GIB / 4);
    let out = rig.engine.unload("b", rig.at(20)).unwrap();
    let e = event(&out, EventKind::StopHastened).expect("under the reserve");
    assert_eq!(e.figures["grace_ms"], 2000);
    assert_eq!(e.figures["configured_grace_ms"], 10_000);
    assert_eq!(e.figures["available_bytes"], GIB / 4);
    assert_eq!(e.figures["reserve_bytes"], GIB / 2);
    assert!(out.contains(&Action::Stop {
        name: "b".into(),
        grace: CRITICAL_STOP_GRACE
    }));
}

#[test]
fn unloading_a_unit_backing_off_cancels_its_restart() {
    let mut rig = Rig::new(vec![service("svc", None)]);
    rig.engine.load("svc", rig.at(0)).unwrap();
    rig.spawned(0, "svc", 1);
    rig.exited(5, "svc", 1, 1);
    assert!(matches!(
        rig.engine.load("svc", rig.at(6)),
        Err(Refusal::Already { .. })
    ));
    let out = rig.engine.unload("svc", rig.at(6)).unwrap();
    assert!(event(&out, EventKind::RestartCancelled).is_some());
    assert_eq!(rig.state("svc"), "stopped");
    assert_eq!(spawns(&rig.input(10_000, Input::Tick)), 0);
}

fn model(name: &str) -> UnitSpec {
    let mut s = service(name, Some(2));
    s.declared = Some(Bytes(GIB / 4));
    s.awaits_ready = true;
    s
}

/// Drives a model from its request to ready with pid `pid`, starting at `ms`.
fn load_model(rig: &mut Rig, ms: u64, pid: u32) -> Vec<Action> {
    rig.spawned(ms, "m", pid);
    let mut out = rig.input(ms, Input::ReadyProbePassed { name: "m".into() });
    for i in 0..12 {
        out.extend(rig.reading(ms + i * 100, 2 * GIB));
    }
    out
}

#[test]
fn a_crashed_model_restarts_through_the_gate_and_is_watched_once_ready() {
    let mut rig = Rig::new(vec![model("m")]);
    rig.reading(0, 2 * GIB);
    let out = rig.engine.load("m", rig.at(1)).unwrap();
    assert_eq!(spawns(&out), 1);
    let out = load_model(&mut rig, 1, 7);
    assert_eq!(rig.state("m"), "ready");
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::WatchHealth { pid: 7, .. })));
    let out = rig.exited(5000, "m", 7, 139);
    assert!(event(&out, EventKind::RestartScheduled).is_some());
    assert_eq!(rig.state("m"), "backing_off");
    rig.reading(5050, 2 * GIB);
    let out = rig.input(5100, Input::Tick);
    assert!(
        event(&out, EventKind::LoadRequested).is_some(),
        "a gate request"
    );
    assert!(event(&out, EventKind::LoadAdmitted).is_some());
    assert_eq!(spawns(&out), 1);
    assert_eq!(rig.state("m"), "loading");
}

#[test]
fn an_aborted_load_stays_failed_the_gate_decided() {
    let mut rig = Rig::new(vec![model("m")]);
    rig.reading(0, 2 * GIB);
    rig.engine.load("m", rig.at(1)).unwrap();
    rig.spawned(1, "m", 7);
    rig.reading(50, GIB / 8); // under the kill floor
    let out = rig.input(
        60,
        Input::Exited {
            name: "m".into(),
            pid: 7,
            code: None,
            signal: Some(9),
        },
    );
    assert!(event(&out, EventKind::RestartScheduled).is_none());
    assert_eq!(rig.state("m"), "failed");
}

#[test]
fn an_unload_during_a_restarts_stop_wins_the_process_is_not_started_again() {
    let mut rig = Rig::new(vec![service("s", None)]);
    rig.engine.load("s", rig.at(0)).unwrap();
    rig.spawned(0, "s", 10);
    let out = rig.engine.restart("s", rig.at(100)).unwrap();
    assert!(out.iter().any(|a| matches!(a, Action::Stop { .. })));
    rig.engine.unload("s", rig.at(200)).unwrap();
    let out = rig.exited(300, "s", 10, 0);
    assert_eq!(spawns(&out), 0, "the operator's latest word was unload");
    assert!(event(&out, EventKind::Unloaded).is_some());
    assert_eq!(rig.state("s"), "stopped");
}

#[test]
fn a_restart_stops_the_process_and_starts_it_again_once_it_has_exited() {
    let mut rig = Rig::new(vec![service("s", None)]);
    rig.engine.load("s", rig.at(0)).unwrap();
    rig.spawned(0, "s", 10);
    rig.engine.restart("s", rig.at(100)).unwrap();
    assert_eq!(rig.state("s"), "running", "still running until it exits");
    let out = rig.exited(300, "s", 10, 0);
    assert_eq!(spawns(&out), 1);
    assert_eq!(rig.engine.view("s").unwrap().restarts, 1);
}

#[test]
fn a_unit_backing_off_keeps_the_engine_busy_and_a_running_one_does_not() {
    let mut rig = Rig::new(vec![service("svc", None)]);
    assert!(!rig.engine.busy(), "nothing started");
    rig.engine.load("svc", rig.at(0)).unwrap();
    rig.spawned(0, "svc", 100);
    assert_eq!(rig.state("svc"), "running");
    assert!(!rig.engine.busy(), "a running service has no deadline");
    rig.exited(5, "svc", 100, 1);
    assert_eq!(rig.state("svc"), "backing_off");
    assert!(rig.engine.busy(), "its restart is due on a tick");
    rig.input(105, Input::Tick);
    rig.spawned(105, "svc", 101);
    assert!(!rig.engine.busy());
}
