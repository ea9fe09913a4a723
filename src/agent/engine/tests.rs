//! Unit tests of the engine: lifecycles driven through the real gate, with instants built
//! from one base.
use super::rig::*;
use super::*;
use crate::event::EventKind;

#[test]
fn refuses_a_name_the_configuration_does_not_have() {
    let mut rig = Rig::new(vec![spec("a", Some(GIB))]);
    let now = rig.at(0);
    assert_eq!(
        rig.engine.load("nope", now).unwrap_err(),
        Refusal::UnknownName("nope".into())
    );
}

#[test]
fn admits_two_holds_the_third_with_its_reason_and_admits_it_after_an_unload() {
    let mut rig = Rig::new(vec![
        spec("a", Some(GIB)),
        spec("b", Some(GIB)),
        spec("c", Some(GIB)),
    ]);
    rig.reading(0, 3 * GIB);
    let now = rig.at(1);
    assert!(kinds(&rig.engine.load("a", now).unwrap()).contains(&"spawn:a".to_string()));
    let out = rig.finish_load("a", 10, 2 * GIB);
    assert!(
        kinds(&out).contains(&"finished:a:ready".to_string()),
        "{:?}",
        kinds(&out)
    );

    let now = rig.at(700);
    rig.reading(700, 2 * GIB);
    assert!(kinds(&rig.engine.load("b", now).unwrap()).contains(&"spawn:b".to_string()));
    rig.finish_load("b", 710, GIB);

    let now = rig.at(1400);
    rig.reading(1400, GIB);
    let out = rig.engine.load("c", now).unwrap();
    assert!(!kinds(&out).contains(&"spawn:c".to_string()));
    let c = rig.engine.view("c").unwrap();
    assert_eq!(c.state, "queued");
    assert!(c.reason.unwrap().contains("budget"));

    let now = rig.at(1500);
    let out = rig.engine.unload("a", now).unwrap();
    assert_eq!(kinds(&out), vec!["stop:a"]);
    let out = rig.engine.input(
        Input::Exited {
            name: "a".into(),
            pid: 100,
            code: Some(0),
            signal: None,
        },
        now,
    );
    assert!(kinds(&out).contains(&EventKind::Unloaded.to_string()));
    assert_eq!(rig.engine.view("a").unwrap().state, "stopped");
    let out = rig.reading(1600, 2 * GIB);
    assert!(
        kinds(&out).contains(&"spawn:c".to_string()),
        "{:?}",
        kinds(&out)
    );
    assert_eq!(rig.engine.view("c").unwrap().state, "loading");
    // Each decision counted once, by its reason, for the metrics.
    let d = rig.engine.decisions();
    assert_eq!(d.get("admit", "available") + d.get("admit", "ledger"), 3);
    assert_eq!(d.get("ready", "settled"), 2);
    assert_eq!(d.get("queue", "budget"), 1);
}

#[test]
fn kills_a_load_before_anything_else_when_it_eats_the_reserve() {
    let mut rig = Rig::new(vec![spec("liar", Some(GIB / 4))]);
    rig.reading(0, 2 * GIB);
    let now = rig.at(1);
    rig.engine.load("liar", now).unwrap();
    rig.engine.input(
        Input::Spawned {
            name: "liar".into(),
            pid: 7,
        },
        now,
    );
    let out = rig.reading(50, GIB / 8);
    assert_eq!(kinds(&out).first().map(String::as_str), Some("kill:liar"));
    assert!(kinds(&out).contains(&EventKind::LoadAborted.to_string()));
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::RecordPeak { name, .. } if name == "liar")));
    assert!(kinds(&out).contains(&"finished:liar:failed".to_string()));
    assert_eq!(rig.engine.view("liar").unwrap().state, "failed");
    // The abort already killed it: no graceful stop on top.
    assert!(!kinds(&out).iter().any(|k| k.starts_with("stop:")));
    assert_eq!(rig.engine.decisions().get("abort", "kill_floor"), 1);
}

#[test]
fn refuses_a_load_whose_weights_do_not_match_and_starts_nothing() {
    let mut s = spec("pinned", Some(GIB));
    s.verify_weights = true;
    let mut rig = Rig::new(vec![s]);
    rig.reading(0, 3 * GIB);
    let now = rig.at(1);
    let out = rig.engine.load("pinned", now).unwrap();
    assert_eq!(
        out,
        vec![Action::VerifyWeights {
            name: "pinned".into()
        }]
    );
    let out = rig.engine.input(
        Input::WeightsChecked {
            name: "pinned".into(),
            result: Err("sha256 mismatch".into()),
        },
        now,
    );
    assert!(!kinds(&out).iter().any(|k| k.starts_with("spawn")));
    assert!(kinds(&out).contains(&EventKind::LoadRefused.to_string()));
    assert_eq!(rig.engine.view("pinned").unwrap().state, "failed");
}

#[test]
fn an_unload_takes_a_queued_model_off_the_queue() {
    let mut rig = Rig::new(vec![spec("a", Some(2 * GIB)), spec("b", Some(GIB))]);
    rig.reading(0, 3 * GIB);
    let now = rig.at(1);
    rig.engine.load("a", now).unwrap();
    rig.engine.load("b", now).unwrap();
    assert_eq!(rig.engine.view("b").unwrap().state, "queued");
    let out = rig.engine.unload("b", now).unwrap();
    assert!(kinds(&out).contains(&"finished:b:stopped".to_string()));
    assert_eq!(rig.engine.view("b").unwrap().state, "stopped");
}

#[test]
fn a_model_that_dies_while_loading_fails_its_load() {
    let mut rig = Rig::new(vec![spec("a", Some(GIB))]);
    rig.reading(0, 3 * GIB);
    let now = rig.at(1);
    rig.engine.load("a", now).unwrap();
    rig.engine.input(
        Input::Spawned {
            name: "a".into(),
            pid: 9,
        },
        now,
    );
    let out = rig.engine.input(
        Input::Exited {
            name: "a".into(),
            pid: 9,
            code: Some(3),
            signal: None,
        },
        now,
    );
    assert!(kinds(&out).contains(&EventKind::LoadFailed.to_string()));
    assert!(kinds(&out).contains(&"finished:a:failed".to_string()));
    // The load failed; the supervisor then schedules a restart (through the gate again).
    assert!(kinds(&out).contains(&EventKind::RestartScheduled.to_string()));
    assert_eq!(rig.engine.view("a").unwrap().state, "backing_off");
    assert!(rig.engine.gate().in_flight().is_none());
}

#[test]
fn ignores_the_late_exit_of_an_earlier_process_and_waits_for_the_old_one_to_go() {
    let mut rig = Rig::new(vec![spec("a", Some(GIB / 4))]);
    rig.reading(0, 3 * GIB);
    let now = rig.at(1);
    rig.engine.load("a", now).unwrap();
    rig.engine.input(
        Input::Spawned {
            name: "a".into(),
            pid: 41,
        },
        now,
    );
    rig.reading(10, 100 << 20); // under the floor: aborted, kill sent
    assert!(matches!(
        rig.engine.load("a", now),
        Err(Refusal::StillStopping { pid: 41, .. })
    ));
    let stale = Input::Exited {
        name: "a".into(),
        pid: 40,
        code: None,
        signal: Some(9),
    };
    assert!(rig.engine.input(stale, now).is_empty());
    let gone = Input::Exited {
        name: "a".into(),
        pid: 41,
        code: None,
        signal: Some(9),
    };
    rig.engine.input(gone, now);
    rig.reading(20, 3 * GIB);
    // Once the old process is gone the request reaches the gate again, judged on the peak
    // it learned from the abort (2.9 GiB of 3 GiB: now it can never fit).
    let again = kinds(&rig.engine.load("a", rig.at(20)).unwrap());
    assert!(
        again.contains(&EventKind::LoadRequested.to_string()),
        "{again:?}"
    );
    assert!(
        again.contains(&EventKind::LoadDenied.to_string()),
        "{again:?}"
    );
}

#[test]
fn a_second_load_of_a_loading_model_is_refused_not_queued_twice() {
    let mut rig = Rig::new(vec![spec("a", Some(GIB))]);
    rig.reading(0, 3 * GIB);
    let now = rig.at(1);
    rig.engine.load("a", now).unwrap();
    assert!(matches!(
        rig.engine.load("a", now),
        Err(Refusal::Already { .. })
    ));
}

#[test]
fn start_runs_services_first_then_queues_models_in_configuration_order() {
    let auto = |name: &str, declared: Option<u64>| UnitSpec {
        autostart: true,
        ..spec(name, declared)
    };
    let mut rig = Rig::new(vec![
        auto("zeta", Some(GIB)),
        spec("manual", Some(GIB)),
        auto("alpha", Some(GIB)),
        auto("api", None),
    ]);
    rig.reading(0, 3 * GIB);
    let now = rig.at(1);
    let started = kinds(&rig.engine.start(now));
    let spawns: Vec<&String> = started.iter().filter(|k| k.starts_with("spawn:")).collect();
    // The service at once, then the first model in file order (the gate admits one at a time).
    assert_eq!(spawns, ["spawn:api", "spawn:zeta"], "{started:?}");
    assert_eq!(rig.engine.view("alpha").unwrap().state, "queued");
    assert_eq!(rig.engine.view("manual").unwrap().state, "stopped");
}

#[test]
fn a_load_that_times_out_is_its_own_event_and_its_stop_is_not_an_unload() {
    let mut rig = Rig::new(vec![spec("slow", Some(GIB))]);
    rig.reading(0, 2 * GIB);
    rig.engine.load("slow", rig.at(1)).unwrap();
    rig.spawned(2, "slow", 9);
    // The default load_timeout is 5 min; the tick just past it fails the load.
    let out = rig.input(300_002, Input::Tick);
    let timed_out = event(&out, EventKind::LoadTimedOut).expect("load_timed_out");
    assert_eq!(timed_out.figures["timeout_ms"], 300_000);
    assert_eq!(timed_out.figures["elapsed_ms"], 300_001);
    assert!(
        event(&out, EventKind::LoadFailed).is_none(),
        "{:?}",
        kinds(&out)
    );
    assert!(kinds(&out).contains(&"stop:slow".to_string()));
    assert!(kinds(&out).contains(&"finished:slow:failed".to_string()));

    let out = rig.input(
        300_100,
        Input::Exited {
            name: "slow".into(),
            pid: 9,
            code: None,
            signal: Some(15),
        },
    );
    assert!(
        event(&out, EventKind::Unloaded).is_none(),
        "{:?}",
        kinds(&out)
    );
    let exited = event(&out, EventKind::ServiceExited).expect("service_exited");
    assert_eq!(exited.figures["cause"], "load_timed_out");
    assert_eq!(exited.severity, crate::event::Severity::Info);
    assert!(exited
        .message
        .contains("not ready within the load timeout 5m"));
    let view = rig.engine.view("slow").unwrap();
    assert_eq!(view.state, "failed");
    assert_eq!(
        view.reason.as_deref(),
        Some("not ready within the load timeout 5m")
    );
    assert!(
        !kinds(&out).iter().any(|k| k.starts_with("spawn")),
        "a timed-out load is not restarted"
    );
}
