//! The store under a SIGKILL: a child process (this test binary, re-run on its one ignored
//! helper test) appends events as fast as it can and prints each `seq` once `append` has
//! returned; it is SIGKILLed mid-storm. The database must pass `PRAGMA integrity_check` and hold
//! every event whose `seq` was printed.
#![allow(clippy::disallowed_methods)] // re-runs this test binary as the storm child
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on failure by design

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use jetgate::event::{EventKind, NewEvent};
use jetgate::store::{EventFilter, Store};

const DB_ENV: &str = "JETGATE_STORE_STORM_DB";
const HELPER: &str = "store::storm_helper_appends_until_killed";

#[test]
#[ignore = "the child half of a_store_killed_mid_storm_..., run by that test with --ignored"]
fn storm_helper_appends_until_killed() {
    let Ok(path) = std::env::var(DB_ENV) else {
        return;
    };
    let mut store = Store::open(path).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        let ev = NewEvent::untyped(EventKind::Note, Some("storm"))
            .message("x".repeat(200))
            .figure("i", i);
        let seqs: Vec<u64> = if i % 2 == 0 {
            vec![store.append(ev).unwrap().seq]
        } else {
            let batch = vec![ev.clone(), ev.clone(), ev];
            store
                .append_batch(batch)
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect()
        };
        for seq in seqs {
            writeln!(out, "{seq}").unwrap();
        }
        out.flush().unwrap();
    }
}

#[test]
fn a_store_killed_mid_storm_is_intact_and_holds_every_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("storm/jetgate.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            HELPER,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DB_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acknowledged = BTreeSet::new();
    // Let the storm get going (libtest prints a header line first), then kill it mid-write.
    for line in lines.by_ref() {
        if let Ok(seq) = line.unwrap().trim().parse::<u64>() {
            acknowledged.insert(seq);
            if acknowledged.len() >= 300 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
                           // Whatever was printed before the kill was acknowledged too.
    for line in lines {
        if let Ok(seq) = line.unwrap().trim().parse::<u64>() {
            acknowledged.insert(seq);
        }
    }
    child.wait().unwrap();
    assert!(acknowledged.len() >= 300);

    let mut store = Store::open(&db).unwrap();
    let stored = assert_intact_with(&store, &acknowledged);
    // And numbering carries on past everything ever handed out.
    let next = store
        .append(NewEvent::untyped(EventKind::Note, None))
        .unwrap()
        .seq;
    assert!(next > *stored.iter().max().unwrap());
}

/// The store passes `PRAGMA integrity_check` and holds every acknowledged seq (a write
/// answered before a crash must survive it). Returns the stored seqs.
pub fn assert_intact_with(store: &Store, acknowledged: &BTreeSet<u64>) -> BTreeSet<u64> {
    assert_eq!(store.integrity_check().unwrap(), vec!["ok".to_string()]);
    let stored: BTreeSet<u64> = store
        .query(&EventFilter::default())
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    stored
}
