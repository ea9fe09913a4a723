//! `ready.timeout` in the engine (`ready.rs`): a probe that never passes is a failed start,
//! stopped and handed to the restart policy; a probe that passed in time stops nothing; a
//! model's ready timeout equal to the gate's load timeout still acts.

use std::time::Duration;

use super::rig::{event, kinds, service, spawns, Rig, GIB};
use super::*;
use crate::event::EventKind;

fn svc(timeout_ms: u64) -> UnitSpec {
    let mut s = service("svc", None);
    s.awaits_ready = true;
    s.ready_timeout = Some(Duration::from_millis(timeout_ms));
    s
}

fn model(timeout: Duration) -> UnitSpec {
    let mut s = svc(0);
    s.name = "m".into();
    s.declared = Some(Bytes(GIB / 4));
    s.ready_timeout = Some(timeout);
    s
}

fn stops(out: &[Action]) -> usize {
    out.iter()
        .filter(|a| matches!(a, Action::Stop { .. }))
        .count()
}

#[test]
fn a_service_whose_ready_probe_never_passes_is_stopped_and_restarted() {
    let mut rig = Rig::new(vec![svc(1000)]);
    rig.engine.load("svc", rig.at(0)).unwrap();
    rig.spawned(0, "svc", 10);
    assert!(rig.input(999, Input::Tick).is_empty(), "not due yet");
    assert_eq!(rig.state("svc"), "running");
    let out = rig.input(1000, Input::Tick);
    let e = event(&out, EventKind::ReadyTimeout).expect("a ready_timeout event");
    assert_eq!(e.figures["timeout_ms"], 1000);
    assert_eq!(e.figures["waited_ms"], 1000);
    assert_eq!(e.figures["pid"], 10);
    assert_eq!(e.figures["kind"], "service");
    assert_eq!(stops(&out), 1, "{:?}", kinds(&out));
    assert!(rig.input(1500, Input::Tick).is_empty(), "decided once");
    let out = rig.exited(1600, "svc", 10, 143);
    let exited = event(&out, EventKind::ServiceExited).unwrap();
    assert_eq!(exited.figures["cause"], "ready_timeout");
    let restart = event(&out, EventKind::RestartScheduled).expect("the restart policy decides");
    assert_eq!(restart.figures["cause"], "ready_timeout");
    assert_eq!(rig.state("svc"), "backing_off");
}

#[test]
fn a_ready_probe_that_passed_in_time_stops_nothing() {
    let mut rig = Rig::new(vec![svc(1000)]);
    rig.engine.load("svc", rig.at(0)).unwrap();
    rig.spawned(0, "svc", 10);
    rig.input(999, Input::ReadyProbePassed { name: "svc".into() });
    let out = rig.input(5000, Input::Tick);
    assert!(event(&out, EventKind::ReadyTimeout).is_none());
    assert_eq!(stops(&out), 0);
    assert_eq!(rig.state("svc"), "running");
}

#[test]
fn a_service_without_a_ready_probe_is_never_timed_out() {
    let mut rig = Rig::new(vec![service("svc", None)]);
    rig.engine.load("svc", rig.at(0)).unwrap();
    rig.spawned(0, "svc", 10);
    assert!(rig.input(3_600_000, Input::Tick).is_empty());
    assert_eq!(rig.state("svc"), "running");
}

#[test]
fn a_model_whose_probe_hangs_fails_its_load_and_goes_to_the_restart_policy() {
    // The rig's gate has a 5 min load timeout; the ready timeout is 2 s.
    let mut rig = Rig::new(vec![model(Duration::from_secs(2))]);
    rig.reading(0, 2 * GIB);
    let out = rig.engine.load("m", rig.at(1)).unwrap();
    assert_eq!(spawns(&out), 1);
    rig.spawned(5, "m", 7);
    rig.reading(1000, 2 * GIB);
    assert_eq!(rig.state("m"), "loading");
    let out = rig.reading(2001, 2 * GIB);
    let e = event(&out, EventKind::ReadyTimeout).expect("judged on a reading's now too");
    assert_eq!(e.figures["kind"], "model");
    assert_eq!(e.figures["timeout_ms"], 2000);
    assert_eq!(stops(&out), 1);
    let out = rig.exited(2100, "m", 7, 143);
    assert!(
        event(&out, EventKind::LoadFailed).is_some(),
        "{:?}",
        kinds(&out)
    );
    let restart = event(&out, EventKind::RestartScheduled).expect("restarted like a crash");
    assert_eq!(restart.figures["cause"], "ready_timeout");
    assert_eq!(rig.state("m"), "backing_off");
    assert!(
        rig.engine.gate().in_flight().is_none(),
        "the gate's place is free"
    );
}

#[test]
fn a_models_ready_timeout_equal_to_the_load_timeout_acts_before_the_gate_fails_the_load() {
    let load_timeout = crate::gate::GateConfig::with_reserve(Bytes(GIB / 2)).load_timeout;
    let mut rig = Rig::new(vec![model(load_timeout)]);
    rig.reading(0, 2 * GIB);
    rig.engine.load("m", rig.at(0)).unwrap();
    rig.spawned(3, "m", 7);
    let end = u64::try_from(load_timeout.as_millis()).unwrap();
    let out = rig.input(end + 1, Input::Tick);
    assert!(
        event(&out, EventKind::ReadyTimeout).is_some(),
        "{:?}",
        kinds(&out)
    );
    // The gate's own timeout fails the load on the same step, but the stop stays the ready
    // timeout's: its exit goes to the restart policy.
    let out = rig.exited(end + 200, "m", 7, 143);
    let restart = event(&out, EventKind::RestartScheduled).expect("restart policy");
    assert_eq!(restart.figures["cause"], "ready_timeout");
}
