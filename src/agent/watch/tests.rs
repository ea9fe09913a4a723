//! Tests of the watcher's decisions on synthetic series: limits, excursions, leak episodes.
#![allow(clippy::disallowed_methods)] // one base `Instant::now()` per test; all else is base + d

use super::*;

const MIB: u64 = Bytes::MIB;

fn spec() -> WatchSpec {
    WatchSpec {
        limit: None,
        max_fds: None,
        max_threads: None,
        on_limit: OnLimit::Warn,
        leak_window: Duration::from_secs(60),
        leak_warmup: Duration::from_secs(10),
        leak_restart: false,
    }
}

fn watch(spec: WatchSpec) -> Watch {
    Watch::new([("api".to_string(), spec)].into_iter().collect())
}

fn obs(pid: u32, mib: u64) -> Observation {
    Observation {
        pid,
        tree_pss: Bytes::from_mib(mib),
        gpu: None,
        fds: Some(10),
        threads: 4,
        serving: true,
        room: None,
    }
}

fn kinds(actions: &[WatchAction]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            WatchAction::Event(e) => e.kind.to_string(),
            WatchAction::Restart { name, .. } => format!("restart {name}"),
            WatchAction::Reserve { key, .. } => format!("reserve {key}"),
            WatchAction::Release { key } => format!("release {key}"),
        })
        .collect()
}

fn events(actions: &[WatchAction], kind: EventKind) -> Vec<&NewEvent> {
    actions
        .iter()
        .filter_map(|a| match a {
            WatchAction::Event(e) if e.kind == kind => Some(e),
            _ => None,
        })
        .collect()
}

/// Feeds `series(second)` once a second for `secs` seconds; returns every action.
fn run(
    w: &mut Watch,
    base: Instant,
    secs: u64,
    series: impl Fn(u64) -> Observation,
) -> Vec<WatchAction> {
    (0..secs)
        .flat_map(|s| w.observe("api", &series(s), base + Duration::from_secs(s)))
        .collect()
}

#[test]
fn passing_the_limit_raises_one_event_with_its_figures_and_one_restart() {
    let mut w = watch(WatchSpec {
        limit: Some(Bytes::from_mib(500)),
        ..spec()
    });
    let base = Instant::now();
    let under = w.observe("api", &obs(7, 499), base);
    assert!(under.is_empty(), "{under:?}");
    let mut over = obs(7, 400);
    over.gpu = Some(Bytes::from_mib(200));
    let actions = run(&mut w, base, 5, |_| over);
    assert_eq!(
        kinds(&actions),
        [EventKind::MemoryLimitExceeded.as_str(), "restart api"],
        "once per process, however long it stays over"
    );
    let e = events(&actions, EventKind::MemoryLimitExceeded)[0];
    assert_eq!(e.figures["tree_pss_bytes"], 400 * MIB);
    assert_eq!(e.figures["gpu_bytes"], 200 * MIB);
    assert_eq!(e.figures["limit_bytes"], 500 * MIB);
    assert_eq!(e.figures["pid"], 7);
    // The restarted process (a new pid) is judged afresh.
    let again = w.observe("api", &obs(8, 600), base + Duration::from_secs(9));
    assert_eq!(
        kinds(&again),
        [EventKind::MemoryLimitExceeded.as_str(), "restart api"]
    );
}

#[test]
fn fds_and_threads_past_their_limits_warn_once_per_excursion() {
    let mut w = watch(WatchSpec {
        max_fds: Some(100),
        max_threads: Some(8),
        ..spec()
    });
    let base = Instant::now();
    let counts = [
        (50, 4),
        (150, 4),
        (160, 9),
        (170, 9),
        (90, 9),
        (120, 4),
        (80, 2),
    ];
    let actions = run(&mut w, base, counts.len() as u64, |s| Observation {
        fds: Some(counts[s as usize].0),
        threads: counts[s as usize].1,
        ..obs(7, 100)
    });
    assert_eq!(
        kinds(&actions),
        [
            EventKind::FdLimitExceeded.as_str(),
            EventKind::ThreadLimitExceeded.as_str(),
            EventKind::FdLimitExceeded.as_str()
        ],
        "one event when each excursion starts, none while it lasts, no restart on warn"
    );
    let e = events(&actions, EventKind::FdLimitExceeded)[1];
    assert_eq!(e.figures["fds"], 120);
    assert_eq!(e.figures["max_fds"], 100);
    assert_eq!(e.figures["on_limit"], "warn");
    assert_eq!(e.severity, crate::event::Severity::Warning);
}

#[test]
fn on_limit_restart_restarts_once_and_unknown_fds_are_not_judged() {
    let mut w = watch(WatchSpec {
        max_fds: Some(10),
        max_threads: Some(2),
        on_limit: OnLimit::Restart,
        ..spec()
    });
    let base = Instant::now();
    let unknown = Observation {
        fds: None,
        threads: 2,
        ..obs(7, 100)
    };
    assert!(w.observe("api", &unknown, base).is_empty());
    let actions = run(&mut w, base, 3, |_| Observation {
        fds: Some(11),
        threads: 3,
        ..obs(7, 100)
    });
    assert_eq!(
        kinds(&actions),
        [
            EventKind::FdLimitExceeded.as_str(),
            EventKind::ThreadLimitExceeded.as_str(),
            "restart api"
        ]
    );
    assert_eq!(
        events(&actions, EventKind::FdLimitExceeded)[0].figures["on_limit"],
        "restart"
    );
}

#[test]
fn a_leak_is_suspected_once_per_episode_with_its_slope_and_reserved_in_the_gate() {
    let mut w = watch(WatchSpec {
        limit: Some(Bytes::from_gib(8)),
        ..spec()
    });
    let base = Instant::now();
    // 2 MiB/s on top of 1 GiB: 7200 MiB/h.
    let actions = run(&mut w, base, 90, |s| obs(7, 1024 + 2 * s));
    let suspected = events(&actions, EventKind::LeakSuspected);
    assert_eq!(suspected.len(), 1, "{:?}", kinds(&actions));
    let f = &suspected[0].figures;
    let want = 7200.0 * MIB as f64;
    let slope = f["slope_bytes_per_hour"].as_f64().unwrap();
    assert!((slope - want).abs() < 0.01 * want, "{slope}");
    assert_eq!(f["limit_bytes"], 8 * 1024 * MIB);
    assert_eq!(f["limit_from"], "limit");
    assert!(f["projected_s"].as_f64().is_some_and(|s| s > 3000.0));
    assert!(f["samples"].as_u64().is_some_and(|n| n >= 10));
    // Not before the warm-up and the span after it: 10 s + 10 s.
    let first = actions
        .iter()
        .position(|a| matches!(a, WatchAction::Event(e) if e.kind == EventKind::LeakSuspected));
    let before: Vec<_> = actions[..first.unwrap()].iter().collect();
    assert!(before.is_empty(), "{before:?}");
    // The gate holds slope × window (60 s × 2 MiB/s = 120 MiB), updated as the fit moves.
    let reserved = actions.iter().rev().find_map(|a| match a {
        WatchAction::Reserve { key, bytes } if key == "leak:api" => Some(*bytes),
        _ => None,
    });
    let reserved = reserved.unwrap().get() as f64;
    assert!((reserved - 120.0 * MIB as f64).abs() < 0.02 * 120.0 * MIB as f64);
    let view = w.view("api").unwrap();
    assert_eq!(view.verdict, "leaking");
    assert_eq!(view.limit_from.map(LimitFrom::as_str), Some("limit"));
    assert_eq!(view.reserved_bytes, reserved as u64);
}

#[test]
fn a_stable_noisy_series_raises_no_alarm_and_reserves_nothing() {
    let mut w = watch(spec());
    let base = Instant::now();
    // ±8 MiB of deterministic noise around 1 GiB.
    let actions = run(&mut w, base, 200, |s| obs(7, 1024 + (s * 7919) % 17 - 8));
    assert!(actions.is_empty(), "{:?}", kinds(&actions));
    assert_eq!(w.view("api").unwrap().verdict, "stable");
}

#[test]
fn outliers_do_not_flip_a_stable_verdict() {
    let mut w = watch(spec());
    let base = Instant::now();
    // Flat 1 GiB with a 3 GiB spike every 5th second (20 % wild samples).
    let actions = run(&mut w, base, 120, |s| {
        obs(7, if s % 5 == 0 { 3 * 1024 } else { 1024 })
    });
    assert!(
        events(&actions, EventKind::LeakSuspected).is_empty(),
        "{:?}",
        kinds(&actions)
    );
    assert_ne!(w.view("api").unwrap().verdict, "leaking");
}

#[test]
fn growth_during_warmup_or_before_serving_is_never_fitted() {
    let mut w = watch(spec());
    let base = Instant::now();
    // Loading (not serving) for 30 s at 30 MiB/s, then 10 s of warm-up growth, then flat.
    let actions = run(&mut w, base, 120, |s| Observation {
        serving: s >= 30,
        ..obs(7, 900 + 30 * s.min(40))
    });
    assert!(actions.is_empty(), "{:?}", kinds(&actions));
    assert_eq!(w.view("api").unwrap().verdict, "stable");
}

#[test]
fn with_leak_restart_a_leak_is_restarted_before_its_limit() {
    let mut w = watch(WatchSpec {
        limit: Some(Bytes::from_mib(700)),
        leak_restart: true,
        ..spec()
    });
    let base = Instant::now();
    // 5 MiB/s from 100 MiB: the limit is 120 s away; the restart comes 30 s before it.
    let actions = run(&mut w, base, 200, |s| obs(7, 100 + 5 * s));
    let k = kinds(&actions);
    assert_eq!(
        k.iter()
            .filter(|k| !k.starts_with("reserve"))
            .collect::<Vec<_>>(),
        [
            EventKind::LeakSuspected.as_str(),
            EventKind::LeakRestart.as_str(),
            "restart api"
        ]
    );
    let e = events(&actions, EventKind::LeakRestart)[0];
    let memory = e.figures["memory_bytes"].as_u64().unwrap();
    assert!(memory < 700 * MIB, "restarted at {memory}");
    let projected = e.figures["projected_s"].as_f64().unwrap();
    assert!(projected <= LEAK_RESTART_LEAD.as_secs_f64(), "{projected}");
    assert!(events(&actions, EventKind::MemoryLimitExceeded).is_empty());
}

#[test]
fn without_a_limit_the_projection_is_against_the_room_above_the_reserve() {
    let mut w = watch(spec());
    let base = Instant::now();
    let actions = run(&mut w, base, 40, |s| Observation {
        room: Some(Bytes::from_mib(3600)),
        ..obs(7, 100 + 2 * s)
    });
    let e = events(&actions, EventKind::LeakSuspected)[0];
    assert_eq!(e.figures["limit_from"], "reserve");
    let projected = e.figures["projected_s"].as_f64().unwrap();
    assert!((projected - 1800.0).abs() < 20.0, "{projected}");
}

#[test]
fn a_new_process_starts_a_fresh_trend_and_releases_the_old_reservation() {
    let mut w = watch(spec());
    let base = Instant::now();
    let actions = run(&mut w, base, 40, |s| obs(7, 100 + 2 * s));
    assert_eq!(events(&actions, EventKind::LeakSuspected).len(), 1);
    let after = w.observe("api", &obs(8, 100), base + Duration::from_secs(41));
    assert_eq!(kinds(&after), ["release leak:api"]);
    assert_eq!(w.view("api").unwrap().verdict, "warming_up");
    assert_eq!(w.view("api").unwrap().samples, 0);
    assert_eq!(w.gone("api"), Vec::new(), "nothing held by the new process");
    assert_eq!(w.view("api"), None);
}

#[test]
fn a_leak_that_stops_clears_its_episode_and_reservation() {
    let mut w = watch(WatchSpec {
        leak_window: Duration::from_secs(20),
        ..spec()
    });
    let base = Instant::now();
    let actions = run(&mut w, base, 100, |s| obs(7, 100 + 2 * s.min(40)));
    assert_eq!(
        kinds(&actions)
            .into_iter()
            .filter(|k| !k.starts_with("reserve"))
            .collect::<Vec<_>>(),
        [
            EventKind::LeakSuspected.as_str(),
            EventKind::LeakCleared.as_str(),
            "release leak:api"
        ]
    );
}

#[test]
fn units_not_configured_are_ignored() {
    let mut w = watch(spec());
    assert!(w.observe("other", &obs(1, 1), Instant::now()).is_empty());
    assert_eq!(w.view("other"), None);
}
