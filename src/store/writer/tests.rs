use super::*;
use crate::event::EventKind;

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
        .append(NewEvent::new(EventKind::Note, None).message("one"))
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
        writer.record(NewEvent::new(EventKind::Note, None).message(format!("{i}")));
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
