//! Store faults under a real agent: its database deleted, truncated or overwritten while it
//! runs is rebuilt at once (`store_replaced`), and a `note` acknowledged afterwards is in the
//! file at the store's path, read back by a connection of our own; an agent started on a file
//! that is not a database moves it aside (`store_moved_aside`) and supervises.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::io::{Seek, Write};
use std::path::Path;
use std::time::Duration;

use jetgate::event::EventKind;
use jetgate::store::{EventFilter, Store};
use serde_json::Value;

use crate::harness::{wait_for, Agent};

const LIMIT: Duration = Duration::from_secs(20);

fn note(agent: &Agent, text: &str) -> Value {
    agent.json(&["note", "--json", text])
}

/// The events of `kind`, once there is at least one.
fn wait_kind(agent: &Agent, kind: EventKind) -> Vec<Value> {
    wait_for(LIMIT, kind.as_str(), || {
        let found: Vec<Value> = agent
            .events()
            .into_iter()
            .filter(|e| e["kind"] == kind.as_str())
            .collect();
        (!found.is_empty()).then_some(found)
    })
}

/// `(seq, kind, message)` of every event in the file at `path`, read by our own connection.
fn on_disk(path: &Path) -> Vec<(u64, String, String)> {
    Store::open(path)
        .unwrap()
        .query(&EventFilter::default())
        .unwrap()
        .into_iter()
        .map(|e| (e.seq, e.kind.as_str().to_string(), e.message))
        .collect()
}

/// Files beside the store kept for the operator.
fn kept_aside(db: &Path) -> Vec<String> {
    let name = db.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::read_dir(db.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with(&format!("{name}.corrupt-"))
                && !n.ends_with("-wal")
                && !n.ends_with("-shm")
        })
        .collect()
}

/// Breaks the store with `fault`, then checks the agent noticed, kept going, and that a note
/// acknowledged afterwards is on disk at the path. Returns the `store_replaced` event.
fn survives(fault: impl FnOnce(&Path)) -> (Agent, Value) {
    let mut agent = Agent::start("");
    let before = note(&agent, "before");
    let db = agent.db();
    fault(&db);
    let replaced = wait_kind(&agent, EventKind::StoreReplaced).remove(0);
    assert_eq!(replaced["severity"], "error", "{replaced}");
    let after = note(&agent, "after");
    assert!(
        after["seq"].as_u64() > before["seq"].as_u64(),
        "seqs never go back: {before} {after}"
    );
    let found = on_disk(&db);
    let after_seq = after["seq"].as_u64().unwrap();
    assert!(
        found.contains(&(after_seq, "note".into(), "after".into())),
        "the acknowledged note is in the file at the path: {found:?}"
    );
    assert!(found.iter().any(|e| e.1 == "store_replaced"), "{found:?}");
    assert_eq!(agent.json(&["status", "--json"])["store"]["state"], "ok");
    assert_eq!(agent.terminate(), Some(0), "{}", agent.log());
    (agent, replaced)
}

#[test]
fn a_store_deleted_under_the_agent_is_copied_back_whole() {
    let (agent, replaced) = survives(|db| std::fs::remove_file(db).unwrap());
    let f = &replaced["figures"];
    assert_eq!(f["fault"], "deleted", "{replaced}");
    assert_eq!(f["salvaged"], true, "{replaced}");
    assert_eq!(f["events_lost"], 0, "{replaced}");
    let found = on_disk(&agent.db());
    assert!(
        found.iter().any(|e| e.2 == "before"),
        "nothing lost: {found:?}"
    );
    assert!(found.iter().any(|e| e.1 == "agent_started"), "{found:?}");
}

#[test]
fn a_store_truncated_under_the_agent_is_moved_aside_and_replaced() {
    let (agent, replaced) = survives(|db| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(db)
            .unwrap()
            .set_len(0)
            .unwrap()
    });
    let f = &replaced["figures"];
    assert_eq!(f["fault"], "truncated", "{replaced}");
    assert_eq!(f["salvaged"], false, "{replaced}");
    assert_eq!(kept_aside(&agent.db()).len(), 1);
}

#[test]
fn a_store_overwritten_with_garbage_under_the_agent_is_moved_aside_and_replaced() {
    let (agent, replaced) = survives(|db| {
        let mut f = std::fs::OpenOptions::new().write(true).open(db).unwrap();
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.write_all(&[0x5a; 100]).unwrap();
    });
    let f = &replaced["figures"];
    assert_eq!(f["fault"], "overwritten", "{replaced}");
    assert_eq!(kept_aside(&agent.db()).len(), 1);
}

#[test]
fn an_agent_started_on_a_garbage_store_moves_it_aside_and_supervises() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("jetgate.db");
    std::fs::write(&db, vec![0x5a; 16_384]).unwrap();
    let agent = Agent::start_with_store(
        &crate::harness::sim_service("svc", &["--alloc", "1MiB"], ""),
        &db,
    );
    agent.wait_state("svc", "running", LIMIT);
    let moved = wait_kind(&agent, EventKind::StoreMovedAside).remove(0);
    assert_eq!(moved["severity"], "error");
    let aside = kept_aside(&db);
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        std::fs::read(dir.path().join(&aside[0])).unwrap(),
        vec![0x5a; 16_384],
        "kept as it was"
    );
    assert_eq!(
        moved["figures"]["moved_to"],
        dir.path().join(&aside[0]).display().to_string()
    );
    let n = note(&agent, "after the reboot");
    let found = on_disk(&db);
    assert!(found
        .iter()
        .any(|e| e.0 == n["seq"].as_u64().unwrap() && e.2 == "after the reboot"));
}
