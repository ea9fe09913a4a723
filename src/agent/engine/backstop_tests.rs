//! The kernel's OOM kill through the engine: one `oom_killed` event naming the victim with the
//! kernel's figures and the agent's last measurement, then the exit judged by the restart
//! policy; an earlier process's kill carries no measurement of the current one.
use super::rig::*;
use super::*;
use crate::agent::watch::{TreeReading, Watch};
use crate::event::EventKind;
use crate::runner::OomKill;

const MIB: u64 = 1 << 20;

fn oom_input(pid: u32, code: Option<i32>, signal: Option<i32>) -> Input {
    Input::OomKilled {
        name: "api".into(),
        pid,
        code,
        signal,
        oom: OomKill {
            kills: 1,
            limit: Some(Bytes(128 * MIB)),
            peak: Some(Bytes(128 * MIB)),
            usage: Some(Bytes(0)),
            limit_hits: Some(7),
        },
    }
}

fn rig() -> Rig {
    let spec = watch_spec(Bytes(64 * MIB), Duration::from_secs(10));
    let watch = Watch::new(BTreeMap::from([("api".to_string(), spec)]));
    let mut rig = Rig::watching(vec![service("api", None)], watch);
    rig.engine.load("api", rig.at(0)).unwrap();
    rig.spawned(0, "api", 10);
    let reading = TreeReading {
        pid: 10,
        tree_pss: Bytes(40 * MIB),
        pss_file: None,
        gpu: Some(Bytes(8 * MIB)),
        fds: Some(8),
        threads: 4,
        taken_at: rig.at(1000),
    };
    let out = rig.input(
        1000,
        Input::Tree {
            name: "api".into(),
            reading: Some(reading),
        },
    );
    assert!(out.is_empty(), "under its limit: {out:?}");
    rig
}

#[test]
fn a_kernel_oom_kill_is_one_event_with_both_figures_then_a_crash_for_the_restart_policy() {
    let mut rig = rig();
    let out = rig.input(1200, oom_input(10, None, Some(9)));
    assert_eq!(out.len(), 1, "one event, nothing decided yet: {out:?}");
    let e = event(&out, EventKind::OomKilled).expect("the kill is reported");
    assert_eq!(e.severity, crate::event::Severity::Error);
    assert_eq!(e.subject.as_deref(), Some("api"));
    let f = &e.figures;
    assert_eq!(f["pid"], 10);
    assert_eq!(f["signal"], 9);
    assert_eq!(f["oom_kills"], 1);
    assert_eq!(f["kernel_limit_bytes"], 128 * MIB);
    assert_eq!(f["limit_bytes"], 64 * MIB);
    assert_eq!(f["margin_bytes"], 64 * MIB);
    assert_eq!(f["peak_bytes"], 128 * MIB);
    assert_eq!(f["usage_bytes"], 0);
    assert_eq!(f["limit_hits"], 7);
    assert_eq!(f["tree_pss_bytes"], 40 * MIB);
    assert_eq!(f["gpu_bytes"], 8 * MIB);
    assert_eq!(f["memory_bytes"], 48 * MIB);
    assert!(e.message.contains("killed pid 10"), "{}", e.message);

    let out = rig.input(
        1200,
        Input::Exited {
            name: "api".into(),
            pid: 10,
            code: None,
            signal: Some(9),
        },
    );
    let exited = event(&out, EventKind::ServiceExited).expect("an unasked exit");
    assert_eq!(exited.figures["cause"], "exit");
    assert!(
        event(&out, EventKind::RestartScheduled).is_some(),
        "{out:?}"
    );
}

#[test]
fn a_kill_of_another_member_or_of_an_earlier_process_says_so_and_measures_nothing_current() {
    let mut rig = rig();
    // The leader survived the kill of a worker and exited with 1 itself.
    let out = rig.input(1200, oom_input(10, Some(1), None));
    let e = event(&out, EventKind::OomKilled).unwrap();
    assert_eq!(e.figures["exit_code"], 1);
    assert!(
        e.message.contains("process(es) of the tree of pid 10"),
        "{}",
        e.message
    );
    // An earlier incarnation's kill: reported, with no figure of the current process.
    let out = rig.input(1300, oom_input(9, None, Some(9)));
    let e = event(&out, EventKind::OomKilled).unwrap();
    assert_eq!(e.figures["pid"], 9);
    assert!(e.figures["tree_pss_bytes"].is_null(), "{e:?}");
    assert!(e.figures["memory_bytes"].is_null(), "{e:?}");
    assert_eq!(
        rig.state("api"),
        "running",
        "the current process is untouched"
    );
}
