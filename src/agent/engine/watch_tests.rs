//! The watcher through the engine: a tree over its limit is stopped and judged by the restart
//! policy (and gives up when it keeps passing it), a refresh of an earlier process judges
//! nothing, and a leaking unit's reservation goes back to the gate when its process exits.
use super::rig::*;
use super::*;
use crate::agent::watch::{TreeReading, Watch};
use crate::event::EventKind;

#[test]
fn a_unit_the_watcher_stops_again_and_again_backs_off_and_gives_up() {
    let mut rig = Rig::new(vec![service("fat", None)]);
    rig.engine.load("fat", rig.at(0)).unwrap();
    let mut now = 0;
    let mut pid = 10;
    for attempt in 0..3u64 {
        rig.spawned(now, "fat", pid);
        let out = rig
            .engine
            .intervene(
                "fat",
                EventKind::MemoryLimitExceeded.as_str(),
                "over 1GiB".into(),
                rig.at(now + 5),
            )
            .unwrap();
        assert!(out.iter().any(|a| matches!(a, Action::Stop { .. })));
        // A second intervention while it stops changes nothing.
        assert!(rig
            .engine
            .intervene(
                "fat",
                EventKind::MemoryLimitExceeded.as_str(),
                "again".into(),
                rig.at(now + 6)
            )
            .is_err());
        let out = rig.input(
            now + 10,
            Input::Exited {
                name: "fat".into(),
                pid,
                code: None,
                signal: Some(15),
            },
        );
        let exited = event(&out, EventKind::ServiceExited).expect("the stop is reported");
        assert_eq!(
            exited.figures["cause"],
            EventKind::MemoryLimitExceeded.as_str()
        );
        let e = event(&out, EventKind::RestartScheduled).expect("judged by the restart policy");
        assert_eq!(e.figures["attempt"], attempt);
        now += 10 + e.figures["backoff_ms"].as_u64().unwrap();
        assert_eq!(spawns(&rig.input(now, Input::Tick)), 1);
        pid += 1;
    }
    rig.spawned(now, "fat", pid);
    rig.engine
        .intervene(
            "fat",
            EventKind::MemoryLimitExceeded.as_str(),
            "over".into(),
            rig.at(now + 5),
        )
        .unwrap();
    let out = rig.exited(now + 10, "fat", pid, 0);
    assert!(
        event(&out, EventKind::GaveUp).is_some(),
        "no endless limit loop"
    );
    assert_eq!(rig.state("fat"), "gave_up");
    // Nothing to stop any more: a late watcher decision is refused.
    assert!(rig
        .engine
        .intervene(
            "fat",
            EventKind::MemoryLimitExceeded.as_str(),
            "late".into(),
            rig.at(now + 20)
        )
        .is_err());
}

#[test]
fn the_watchers_judgement_of_a_tree_is_part_of_the_engines_step() {
    let spec = watch_spec(Bytes(GIB), Duration::from_secs(10));
    let watch = Watch::new(BTreeMap::from([("fat".to_string(), spec)]));
    let mut rig = Rig::watching(vec![service("fat", None)], watch);
    rig.engine.load("fat", rig.at(0)).unwrap();
    rig.spawned(0, "fat", 10);
    let t1 = rig.at(1000);
    let tree = |pid, pss| TreeReading {
        pid,
        tree_pss: Bytes(pss),
        pss_file: None,
        gpu: None,
        fds: Some(8),
        threads: 4,
        taken_at: t1,
    };
    // Under its limit: the view shows the memory, nothing is decided.
    let out = rig.input(
        1000,
        Input::Tree {
            name: "fat".into(),
            reading: Some(tree(10, GIB / 2)),
        },
    );
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(rig.engine.views()[0].memory_bytes, Some(GIB / 2));
    // A reading of an earlier process judges nothing.
    let out = rig.input(
        2000,
        Input::Tree {
            name: "fat".into(),
            reading: Some(tree(9, 2 * GIB)),
        },
    );
    assert!(out.is_empty(), "{out:?}");
    // Over its limit: the event with its figures and the supervised stop, in one step.
    let out = rig.input(
        3000,
        Input::Tree {
            name: "fat".into(),
            reading: Some(tree(10, 2 * GIB)),
        },
    );
    let e = event(&out, EventKind::MemoryLimitExceeded).expect("the limit is reported");
    assert_eq!(e.figures["limit_bytes"], GIB);
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::Stop { name, .. } if name == "fat")));
    // Its exit is judged by the restart policy with the watcher's cause.
    let out = rig.exited(4000, "fat", 10, 0);
    let exited = event(&out, EventKind::ServiceExited).expect("the stop is reported");
    assert_eq!(
        exited.figures["cause"],
        EventKind::MemoryLimitExceeded.as_str()
    );
    assert!(event(&out, EventKind::RestartScheduled).is_some());
}

#[test]
fn a_leaking_units_reservation_goes_back_to_the_gate_when_its_process_exits() {
    let spec = watch_spec(Bytes(4 * GIB), Duration::from_secs(2));
    let watch = Watch::new(BTreeMap::from([("leaky".to_string(), spec)]));
    let mut rig = Rig::watching(vec![service("leaky", None)], watch);
    rig.engine.load("leaky", rig.at(0)).unwrap();
    rig.spawned(0, "leaky", 10);
    let mut suspected = false;
    for s in 1..=30u64 {
        let reading = TreeReading {
            pid: 10,
            tree_pss: Bytes((100 << 20) + s * (20 << 20)),
            pss_file: None,
            gpu: None,
            fds: Some(8),
            threads: 4,
            taken_at: rig.at(s * 1000),
        };
        let out = rig.input(
            s * 1000,
            Input::Tree {
                name: "leaky".into(),
                reading: Some(reading),
            },
        );
        suspected |= event(&out, EventKind::LeakSuspected).is_some();
    }
    assert!(suspected, "a 20 MiB/s leak is suspected");
    let held = rig.engine.gate().outstanding();
    assert!(held > Bytes::ZERO, "the gate holds its projected growth");
    // Nothing else runs, so no refresh will come: the exit itself releases it.
    rig.exited(31_000, "leaky", 10, 1);
    assert_eq!(rig.engine.gate().outstanding(), Bytes::ZERO);
}

/// Pid 100's tree: `pss` and `gpu`, 8 fds, 4 threads, read at `at`.
fn tree_of(pss: Bytes, gpu: Option<Bytes>, at: Instant) -> TreeReading {
    TreeReading {
        pid: 100,
        tree_pss: pss,
        pss_file: None,
        gpu,
        fds: Some(8),
        threads: 4,
        taken_at: at,
    }
}

#[test]
fn a_loaded_models_tree_keeps_its_commitment_in_the_gates_ledger_current() {
    let mut rig = Rig::new(vec![spec("llm", Some(GIB)), spec("next", Some(GIB))]);
    rig.reading(0, 3 * GIB);
    rig.engine.load("llm", rig.at(0)).unwrap();
    rig.finish_load("llm", 10, 3 * GIB - 100 * (1 << 20));
    assert_eq!(rig.state("llm"), "ready");
    let committed = |rig: &Rig| rig.engine.gate().ledger().total();
    let before = committed(&rig);
    // The refresh reads 2 GiB of PSS, mostly mapped weights: the ledger follows the live figure.
    let grown = TreeReading {
        pss_file: Some(Bytes(GIB)),
        ..tree_of(Bytes(2 * GIB), None, rig.at(2000))
    };
    rig.input(
        2000,
        Input::Tree {
            name: "llm".into(),
            reading: Some(grown),
        },
    );
    assert!(before < Bytes(2 * GIB), "{before}");
    assert_eq!(committed(&rig), Bytes(2 * GIB));
    // A tree of a replaced process (another pid) changes nothing.
    rig.input(
        3000,
        Input::Tree {
            name: "llm".into(),
            reading: Some(TreeReading {
                pid: 99,
                tree_pss: Bytes(3 * GIB),
                ..grown
            }),
        },
    );
    assert_eq!(committed(&rig), Bytes(2 * GIB));
}

#[test]
fn thrashing_confirmed_by_pressure_names_the_models_losing_mapped_pages() {
    use crate::agent::pressure::PressureReading;
    let mut rig = Rig::new(vec![spec("llm", Some(GIB))]);
    rig.engine =
        std::mem::replace(&mut rig.engine, Rig::new(vec![]).engine).with_pressure_high(10.0);
    rig.reading(0, 3 * GIB);
    rig.engine.load("llm", rig.at(0)).unwrap();
    rig.finish_load("llm", 10, 3 * GIB - 100 * (1 << 20));
    let t0 = rig.at(0);
    let tree = |ms, file| TreeReading {
        pid: 100,
        tree_pss: Bytes(file + 100 * (1 << 20)),
        pss_file: Some(Bytes(file)),
        gpu: None,
        fds: Some(8),
        threads: 4,
        taken_at: t0 + ms * MS,
    };
    let pressure = |rig: &Rig, ms, some: f64, refaults_mib: u64| PressureReading {
        taken_at: rig.at(ms),
        some_avg10: Some(some),
        full_avg10: None,
        refaults: Some(Bytes(refaults_mib << 20)),
    };
    rig.input(
        1000,
        Input::Tree {
            name: "llm".into(),
            reading: Some(tree(1000, GIB)),
        },
    );
    let calm = pressure(&rig, 1000, 1.0, 0);
    assert!(rig.input(1000, Input::Pressure(calm)).is_empty());
    // A quarter of its weights evicted; 200 MiB/s read back; 20 % stalled.
    rig.input(
        2000,
        Input::Tree {
            name: "llm".into(),
            reading: Some(tree(2000, 3 * GIB / 4)),
        },
    );
    let bad = pressure(&rig, 2000, 20.0, 200);
    let out = rig.input(2000, Input::Pressure(bad));
    let e = event(&out, EventKind::MemoryThrashing).expect("thrashing reported");
    assert!(
        e.message.contains("llm (256.0MiB of its mapped pages)"),
        "{}",
        e.message
    );
    assert_eq!(e.figures["evicted_bytes"], GIB / 4);
    assert_eq!(e.figures["refault_bytes_per_second"], 200u64 << 20);
    assert!(
        event(&out, EventKind::PressureHigh).is_some(),
        "20 % ≥ 10 %"
    );
    // Nothing is stopped or killed for it: pressure only reports.
    assert!(out.iter().all(|a| matches!(a, Action::Event(_))), "{out:?}");
    assert_eq!(rig.state("llm"), "ready");
}

#[test]
fn gpu_memory_counts_in_the_ledger_only_where_the_gpu_draws_on_the_devices_dram() {
    let committed_with = |shares: bool| {
        let mut rig = Rig::new(vec![spec("llm", Some(GIB))]);
        rig.engine = std::mem::replace(&mut rig.engine, Rig::new(vec![]).engine)
            .with_gpu_shares_dram(shares);
        rig.reading(0, 3 * GIB);
        rig.engine.load("llm", rig.at(0)).unwrap();
        rig.finish_load("llm", 10, 3 * GIB - 100 * (1 << 20));
        let tree = TreeReading {
            pss_file: Some(Bytes::ZERO),
            ..tree_of(Bytes(GIB), Some(Bytes(2 * GIB)), rig.at(2000))
        };
        rig.input(
            2000,
            Input::Tree {
                name: "llm".into(),
                reading: Some(tree),
            },
        );
        let view = rig.engine.view("llm").unwrap();
        assert_eq!(view.gpu_bytes, Some(2 * GIB), "shown either way");
        rig.engine.gate().ledger().total()
    };
    // A Jetson: CPU and GPU share one DRAM, so the tree holds PSS + GPU of it.
    assert_eq!(committed_with(true), Bytes(3 * GIB));
    // A discrete GPU's memory is its own: the ledger of DRAM keeps the PSS (here the load's
    // measured peak, which is larger).
    assert!(committed_with(false) < Bytes(3 * GIB));
}
