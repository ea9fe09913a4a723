//! The store's disk fills under a running agent: a real tmpfs of a few MiB holds the store,
//! a file fills it, and the agent must say so where it still can (the journal, `status`) and
//! put the outage on record once there is room again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use jetgate::event::EventKind;

use crate::harness::{wait_for, Agent};
use crate::prerequisite::SmallDisk;

#[test]
fn a_full_disk_under_the_store_shows_in_status_and_its_recovery_is_on_record() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(dir.path(), "4m") else {
        return;
    };
    let mut agent = Agent::start_with_store("", &disk.path().join("jetgate.db"));
    wait_for(Duration::from_secs(20), "agent_started stored", || {
        agent
            .events()
            .iter()
            .any(|e| e["kind"] == EventKind::AgentStarted.as_str())
            .then_some(())
    });
    let store = agent.json(&["status", "--json"])["store"].clone();
    assert_eq!(store["state"], "ok", "{store}");
    assert_eq!(store["writes_failed"], 0, "{store}");

    let filler = disk.fill();
    let out = agent.cli(&["note", "written to a full disk"]);
    assert!(
        !out.status.success(),
        "a note on a full disk was acknowledged"
    );
    let store = agent.json(&["status", "--json"])["store"].clone();
    assert_eq!(store["state"], "failing", "{store}");
    assert!(store["writes_failed"].as_u64().unwrap() >= 1, "{store}");
    assert!(store["failing_since_ms"].is_u64(), "{store}");
    assert!(
        store["last_error"].as_str().unwrap().contains("full"),
        "{store}"
    );
    let text = String::from_utf8(agent.cli(&["status"]).stdout).unwrap();
    assert!(text.contains("store     FAILING since "), "{text}");
    // The event that could not be stored is in the journal.
    assert!(
        agent.log().contains("store_write_failed"),
        "{}",
        agent.log()
    );

    std::fs::remove_file(filler).unwrap();
    let out = agent.cli(&["note", "room again"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = agent.json(&["status", "--json"])["store"].clone();
    assert_eq!(store["state"], "ok", "{store}");
    let events = agent.events();
    let recovered = events
        .iter()
        .find(|e| e["kind"] == EventKind::StoreRecovered.as_str())
        .unwrap_or_else(|| panic!("no store_recovered: {events:#?}"));
    assert!(recovered["figures"]["writes_failed"].as_u64().unwrap() >= 1);
    assert!(!events
        .iter()
        .any(|e| e["message"] == "written to a full disk"));
    agent.terminate();
}
