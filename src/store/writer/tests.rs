use super::*;
use crate::event::EventKind;
use crate::store::{EventFilter, StoreState};

fn writer(tasks: &Tasks) -> (tempfile::TempDir, StoreWriter) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("jetgate.db")).unwrap();
    (dir, StoreWriter::spawn(store, tasks).unwrap())
}

#[tokio::test]
async fn an_acknowledged_event_is_numbered_on_disk_and_its_seq_published() {
    let tasks = Tasks::new();
    let (dir, writer) = writer(&tasks);
    let mut newest = writer.newest_seq();
    assert_eq!(*newest.borrow_and_update(), 0);
    let stored = writer
        .append(NewEvent::untyped(EventKind::Note, None).message("one"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.seq, 1);
    assert_eq!(*newest.borrow_and_update(), 1);
    // Another connection sees it: it was committed before the answer.
    let other = Store::open(dir.path().join("jetgate.db")).unwrap();
    assert_eq!(other.last_seq().unwrap(), 1);
    writer.close();
    assert_eq!(tasks.shutdown(std::time::Duration::from_secs(5)).await, 0);
}

#[tokio::test]
async fn jobs_run_in_the_order_sent_whoever_sends_them() {
    let tasks = Tasks::new();
    let (_dir, writer) = writer(&tasks);
    for i in 0..50 {
        writer.record(NewEvent::untyped(EventKind::Note, None).message(format!("{i}")));
    }
    let last = writer.call(|s| s.last_seq()).await.unwrap();
    assert_eq!(
        last, 50,
        "the query ran after the 50 appends sent before it"
    );
    writer.close();
    tasks.shutdown(std::time::Duration::from_secs(5)).await;
}

#[tokio::test]
async fn after_close_a_call_says_the_writer_has_stopped() {
    let tasks = Tasks::new();
    let (_dir, writer) = writer(&tasks);
    writer.close();
    assert_eq!(tasks.shutdown(std::time::Duration::from_secs(5)).await, 0);
    assert!(matches!(
        writer.call(|s| s.last_seq()).await,
        Err(StoreError::Closed)
    ));
}

fn note(text: &str) -> NewEvent {
    NewEvent::untyped(EventKind::Note, None).message(text)
}

/// A store on a real disk that fills up: the first failed write is one `store_write_failed`
/// (logged; the full disk cannot keep it), every failed write is counted in the health with
/// its error and what was lost, and the first write once there is room again stores
/// `store_recovered` with the outage's figures.
#[tokio::test]
async fn a_full_disk_is_counted_in_the_health_and_its_recovery_is_on_record() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = crate::prerequisite::SmallDisk::mount(dir.path(), "2m") else {
        return;
    };
    let tasks = Tasks::new();
    let store = Store::open(disk.path().join("jetgate.db")).unwrap();
    let writer = StoreWriter::spawn(store, &tasks).unwrap();
    writer.append(note("before")).await.unwrap().unwrap();
    assert_eq!(writer.health(), StoreHealthView::default());

    let filler = disk.fill();
    let mut failed = 0;
    for i in 0..4 {
        if writer.append(note(&format!("{i}"))).await.unwrap().is_err() {
            failed += 1;
        }
    }
    assert_eq!(failed, 4, "a full disk took an event");
    let health = writer.health();
    assert_eq!(health.state, StoreState::Failing);
    // The four notes and the store_write_failed that could not be stored either.
    assert_eq!(health.writes_failed, 5, "{health:?}");
    assert!(health.failing_since_ms.is_some());
    assert!(
        health.last_error.as_deref().unwrap().contains("full"),
        "{health:?}"
    );
    assert_eq!(health.last_lost.as_deref(), Some("event note"));

    std::fs::remove_file(&filler).unwrap();
    writer.append(note("after")).await.unwrap().unwrap();
    let health = writer.health();
    assert_eq!(health.state, StoreState::Ok);
    assert_eq!(health.writes_failed, 5, "the total stays");

    let events = writer
        .call(|s| s.query(&EventFilter::default()))
        .await
        .unwrap();
    let kinds: Vec<String> = events.iter().map(|e| e.kind.to_string()).collect();
    assert_eq!(kinds, ["note", "note", "store_recovered"], "{events:#?}");
    let recovered = &events[2];
    assert_eq!(recovered.figures["writes_failed"], 5);
    assert!(recovered.figures["first_error"]
        .as_str()
        .unwrap()
        .contains("full"));
    writer.close();
    tasks.shutdown(std::time::Duration::from_secs(5)).await;
}

fn messages(path: &std::path::Path) -> Vec<(u64, String, String)> {
    Store::open(path)
        .unwrap()
        .query(&EventFilter::default())
        .unwrap()
        .into_iter()
        .map(|e| (e.seq, e.kind.as_str().to_string(), e.message))
        .collect()
}

#[tokio::test]
async fn a_note_acknowledged_after_the_file_was_deleted_is_in_the_store_at_its_path() {
    let tasks = Tasks::new();
    let (dir, writer) = writer(&tasks);
    let path = dir.path().join("jetgate.db");
    let note = |m: &str| NewEvent::untyped(EventKind::Note, None).message(m);
    writer.append(note("before")).await.unwrap().unwrap();
    std::fs::remove_file(&path).unwrap();
    let after = writer.append(note("after")).await.unwrap().unwrap();
    let found = messages(&path);
    assert!(
        found.contains(&(1, "note".into(), "before".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&(after.seq, "note".into(), "after".into())),
        "{found:?}"
    );
    let replaced: Vec<_> = found.iter().filter(|e| e.1 == "store_replaced").collect();
    assert_eq!(replaced.len(), 1, "{found:?}");
    assert!(replaced[0].2.contains("deleted"), "{found:?}");
    writer.close();
    assert_eq!(tasks.shutdown(std::time::Duration::from_secs(5)).await, 0);
}

#[tokio::test]
async fn a_truncated_store_is_moved_aside_and_later_notes_continue_its_seqs() {
    let tasks = Tasks::new();
    let (dir, writer) = writer(&tasks);
    let path = dir.path().join("jetgate.db");
    let note = |m: &str| NewEvent::untyped(EventKind::Note, None).message(m);
    for i in 0..3 {
        writer
            .append(note(&format!("n{i}")))
            .await
            .unwrap()
            .unwrap();
    }
    // Checkpoint, so the database file itself holds pages to truncate.
    writer
        .call(|s| {
            s.conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                .map_err(StoreError::sql("checkpoint"))
        })
        .await
        .unwrap();
    let _ = writer.call(|s| s.last_seq()).await.unwrap(); // the look after sets the size
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let after = writer.append(note("after")).await.unwrap().unwrap();
    assert!(after.seq > 3, "seqs continue: {}", after.seq);
    let found = messages(&path);
    assert!(
        found.contains(&(after.seq, "note".into(), "after".into())),
        "{found:?}"
    );
    assert!(found.iter().all(|e| e.0 > 3), "{found:?}");
    let replaced = found.iter().find(|e| e.1 == "store_replaced").unwrap();
    assert!(replaced.2.contains("truncated"), "{replaced:?}");
    let aside = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("jetgate.db.corrupt-")
        })
        .count();
    assert!(aside >= 1, "the truncated file is kept");
    assert_eq!(writer.health().state, StoreState::Ok);
    writer.close();
    assert_eq!(tasks.shutdown(std::time::Duration::from_secs(5)).await, 0);
}

#[tokio::test]
async fn a_store_deleted_while_nothing_is_written_is_rebuilt_by_the_periodic_look() {
    let tasks = Tasks::new();
    let (dir, writer) = writer(&tasks);
    let path = dir.path().join("jetgate.db");
    writer
        .append(NewEvent::untyped(EventKind::Note, None))
        .await
        .unwrap()
        .unwrap();
    writer.watch_file(&tasks);
    let mut newest = writer.newest_seq();
    newest.borrow_and_update();
    std::fs::remove_file(&path).unwrap();
    // No job is sent: only the periodic look can store the event that says so.
    tokio::time::timeout(std::time::Duration::from_secs(20), newest.changed())
        .await
        .expect("the rebuild's event within patience")
        .unwrap();
    assert!(path.exists(), "rebuilt at its path");
    let kinds: Vec<String> = messages(&path).into_iter().map(|e| e.1).collect();
    assert_eq!(kinds, ["note", "store_replaced"]);
    writer.close();
    assert_eq!(tasks.shutdown(std::time::Duration::from_secs(5)).await, 0);
}

#[tokio::test]
async fn every_event_taken_is_counted_by_kind_for_the_metrics() {
    let tasks = Tasks::new();
    let (_dir, writer) = writer(&tasks);
    assert_eq!(writer.event_counts().get(&EventKind::Note), 0);
    writer.record(note("one"));
    writer
        .append(NewEvent::untyped(EventKind::LoadDenied, Some("m")))
        .await
        .unwrap()
        .unwrap();
    // Jobs run in order: the answer to the second means the first was counted too.
    let counts = writer.event_counts();
    assert_eq!(counts.get(&EventKind::Note), 1);
    assert_eq!(counts.get(&EventKind::LoadDenied), 1);
    assert_eq!(counts.get(&EventKind::GaveUp), 0);
    writer.close();
    assert_eq!(tasks.shutdown(std::time::Duration::from_secs(5)).await, 0);
}
