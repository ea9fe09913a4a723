//! The store's disk fills under a running agent: a real tmpfs of a few MiB holds the store,
//! a file fills it, and the agent must say so where it still can (the journal, `status`) and
//! put the outage on record once there is room again.
#![allow(clippy::disallowed_methods)] // mount(8) and umount(8) for the test's own tmpfs
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use jetgate::event::EventKind;

use crate::harness::{wait_for, Agent};

/// A tmpfs mounted for one test, unmounted (lazily) on drop.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        let how = "run as root where mount(8) may mount a tmpfs";
        match out {
            Ok(o) if o.status.success() => Some(SmallDisk(dir)),
            Ok(o) => crate::prerequisite::missing(
                &format!(
                    "cannot mount a tmpfs: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                how,
            ),
            Err(e) => crate::prerequisite::missing(&format!("cannot run mount: {e}"), how),
        }
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// Writes zeros to a new file under `dir` until the filesystem is full; returns the file.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while let Ok(()) = f.write_all(&chunk) {}
    path
}

#[test]
fn a_full_disk_under_the_store_shows_in_status_and_its_recovery_is_on_record() {
    let Some(disk) = SmallDisk::mount("4m") else {
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

    let filler = fill(disk.path());
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
