//! An agent SIGKILLed mid-storm of `jetgate note` writes, then started again: the store is
//! intact, every acknowledged note is there, numbering continues above the old maximum, and the
//! model the first instance started is stopped, so exactly one copy of it runs afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)] // spawns the CLI

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use jetgate::event::EventKind;
use jetgate::store::Store;
use serde_json::Value;

use crate::harness::{sim_model_autostarted, wait_for, Agent, TestCgroup, JETGATE};

const WRITERS: usize = 4;

/// Live (non-zombie) processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(marker) && alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// True while `pid` exists and is not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let state = s.rsplit_once(')')?.1.split_whitespace().next()?.to_string();
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

/// Several concurrent `jetgate note --json` writers until `stop`; every acknowledged seq.
fn storm(socket: &Path, stop: &AtomicBool, acked: &Mutex<BTreeSet<u64>>, count: &AtomicUsize) {
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            s.spawn(move || {
                for i in 0u64.. {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let out = Command::new(JETGATE)
                        .args(["note", "--json", &format!("storm writer {w} note {i}")])
                        .env("JETGATE_SOCKET", socket)
                        .output()
                        .unwrap();
                    if !out.status.success() {
                        continue; // the agent is gone: not acknowledged
                    }
                    let event: Value = serde_json::from_slice(&out.stdout).unwrap();
                    acked.lock().unwrap().insert(event["seq"].as_u64().unwrap());
                    count.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
}

/// Waits for `name` to be ready; on a timeout, fails with the events and the agent's log.
fn ready(agent: &Agent, name: &str) -> Value {
    for _ in 0..600 {
        let s = agent.service(name);
        if s["state"] == "ready" {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{name} never ready: {:#?}\n{}", agent.events(), agent.log());
}

fn orphan_events(agent: &Agent) -> Vec<Value> {
    agent
        .events()
        .into_iter()
        .filter(|e| e["kind"] == EventKind::OrphanStopped.as_str())
        .collect()
}

#[test]
fn a_crash_mid_note_storm_loses_no_acknowledged_note_and_leaves_one_copy_of_the_model() {
    let mark = tempfile::tempdir().unwrap();
    let heartbeat = mark.path().join("crash-model.hb");
    let marker = heartbeat.to_str().unwrap().to_string();
    let body = sim_model_autostarted("m", "16MiB", &["--alloc", "16MiB", "--heartbeat", &marker]);
    let mut agent = Agent::start(&body);
    let first = agent.wait_state("m", "ready", Duration::from_secs(60));
    let old_pid = first["pid"].as_u64().unwrap() as i32;
    assert_eq!(processes_with(&marker), vec![old_pid]);

    let stop = AtomicBool::new(false);
    let acked = Mutex::new(BTreeSet::new());
    let count = AtomicUsize::new(0);
    let socket = agent.socket.clone();
    std::thread::scope(|s| {
        s.spawn(|| storm(&socket, &stop, &acked, &count));
        wait_for(Duration::from_secs(120), "60 acknowledged notes", || {
            (count.load(Ordering::SeqCst) >= 60).then_some(())
        });
        agent.kill(); // SIGKILL while the writers are still going
        stop.store(true, Ordering::SeqCst);
    });
    let acked = acked.into_inner().unwrap();
    assert!(acked.len() >= 60);
    assert!(alive(old_pid), "the model outlived the crashed agent");

    agent.spawn();
    let second = agent.wait_state("m", "ready", Duration::from_secs(60));
    let new_pid = second["pid"].as_u64().unwrap() as i32;
    assert_ne!(new_pid, old_pid);
    assert!(!alive(old_pid), "the first instance's model was stopped");
    assert_eq!(processes_with(&marker), vec![new_pid], "exactly one copy");

    let orphans = orphan_events(&agent);
    assert_eq!(orphans.len(), 1, "{orphans:?}");
    let figures = &orphans[0]["figures"];
    assert_eq!(orphans[0]["subject"], "m");
    assert_eq!(figures["pid"], old_pid);
    assert_eq!(figures["found"], "pid_record");
    // terminated, or killed after the grace: an orphan that lost its stderr pipe may fail on
    // its next write (EPIPE) before it can act on SIGTERM. Stopped either way.
    assert!(
        figures["ended"] == "terminated" || figures["ended"] == "killed",
        "{figures}"
    );
    assert!(figures["uptime_ms"].as_u64().is_some());
    let events = agent.events();
    let stopped_at = events
        .iter()
        .position(|e| e["kind"] == EventKind::OrphanStopped.as_str());
    let admitted_again = events
        .iter()
        .rposition(|e| e["kind"] == EventKind::LoadAdmitted.as_str() && e["subject"] == "m");
    assert!(stopped_at < admitted_again, "stopped before the autostart");

    let store = Store::open(agent.db()).unwrap();
    crate::store::assert_intact_with(&store, &acked);
    let next: Value = agent.json(&["note", "--json", "after the crash"]);
    let next = next["seq"].as_u64().unwrap();
    assert!(next > *acked.iter().max().unwrap());
    assert_eq!(agent.terminate(), Some(0));
    assert!(processes_with(&marker).is_empty(), "shutdown stopped it");
}

#[test]
fn a_lost_pid_record_still_finds_the_orphan_by_its_cgroup() {
    let Some(cgroup) = TestCgroup::new("orphan", 1 << 30) else {
        return;
    };
    let mark = tempfile::tempdir().unwrap();
    let heartbeat = mark.path().join("cgroup-model.hb");
    let marker = heartbeat.to_str().unwrap().to_string();
    let body = format!(
        "[memory]\nscope = \"cgroup:{}\"\nreserve = \"64MiB\"\n\n{}",
        cgroup.name,
        sim_model_autostarted("m", "16MiB", &["--alloc", "16MiB", "--heartbeat", &marker])
    );
    let mut agent = Agent::start(&body);
    let first = ready(&agent, "m");
    let old_pid = first["pid"].as_u64().unwrap() as i32;
    agent.kill();
    let record = agent.dir.path().join("pids/m.pid");
    assert!(record.exists(), "the runner wrote a pid record");
    std::fs::remove_file(&record).unwrap();
    assert!(alive(old_pid));

    agent.spawn();
    let second = ready(&agent, "m");
    assert!(!alive(old_pid), "found and stopped by its cgroup");
    let procs = cgroup.read("m/cgroup.procs");
    assert_eq!(
        procs.split_whitespace().collect::<Vec<_>>(),
        vec![second["pid"].to_string()],
        "exactly the new model in the unit's cgroup"
    );
    let orphans = orphan_events(&agent);
    assert_eq!(orphans.len(), 1, "{orphans:?}");
    assert_eq!(orphans[0]["figures"]["found"], "cgroup");
    assert_eq!(orphans[0]["figures"]["pid"], old_pid);
    assert_eq!(processes_with(&marker).len(), 1);
}
