//! Tests of the outbox's store side: the session counter, the cursor, batches after it, sizes and drops.
use super::*;
use crate::event::Severity;
use crate::event::{EventKind, NewEvent};
use serde_json::Value;

fn store_with(kinds: &[(Severity, &str)]) -> Store {
    let mut store = Store::open_in_memory().unwrap();
    for (severity, text) in kinds {
        store
            .append_at(
                NewEvent::untyped(EventKind::Note, None)
                    .severity(*severity)
                    .message(*text),
                1_000,
            )
            .unwrap();
    }
    store
}

#[test]
fn the_session_number_rises_on_every_call_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.next_session().unwrap(), 1);
    assert_eq!(store.next_session().unwrap(), 2);
    drop(store);
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.next_session().unwrap(), 3);
}

#[test]
fn the_outbox_is_every_event_after_the_cursor_in_seq_order() {
    let mut store = store_with(&[
        (Severity::Info, "a"),
        (Severity::Info, "b"),
        (Severity::Info, "c"),
    ]);
    assert_eq!(store.outbox_cursor().unwrap(), 0);
    let batch = store.outbox_batch(0, 2).unwrap();
    assert_eq!(batch.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    let v: Value = serde_json::from_str(&batch[0].payload).unwrap();
    assert_eq!(
        (v["seq"].as_u64(), v["message"].as_str()),
        (Some(1), Some("a"))
    );
    store.set_outbox_cursor(2).unwrap();
    store.set_outbox_cursor(1).unwrap(); // never backwards
    assert_eq!(store.outbox_cursor().unwrap(), 2);
    assert_eq!(store.outbox_size(2).unwrap().events, 1);
}

#[test]
fn drops_take_the_oldest_info_events_before_any_warning_or_error() {
    let mut store = store_with(&[
        (Severity::Error, "e1"),
        (Severity::Info, "i1"),
        (Severity::Warning, "w1"),
        (Severity::Info, "i2"),
        (Severity::Info, "i3"),
    ]);
    let before = store.outbox_size(0).unwrap();
    let one = before.bytes / 5;
    let dropped = store.outbox_drop(0, one + 1).unwrap();
    assert_eq!(dropped.events, 2);
    assert_eq!((dropped.first_seq, dropped.last_seq), (2, 4));
    assert_eq!(dropped.by_severity, [2, 0, 0]);
    assert_eq!(dropped.total, 2);
    let left: Vec<u64> = store
        .outbox_batch(0, 10)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(left, vec![1, 3, 5]);
    let dropped = store.outbox_drop(0, 3 * one).unwrap();
    assert_eq!(dropped.by_severity, [1, 1, 1]);
    assert_eq!(dropped.total, 5);
    assert_eq!(store.outbox_size(0).unwrap(), OutboxSize::default());
}

#[test]
fn drops_spare_events_already_sent() {
    let mut store = store_with(&[(Severity::Info, "a"), (Severity::Info, "b")]);
    let dropped = store.outbox_drop(1, u64::MAX).unwrap();
    assert_eq!((dropped.events, dropped.first_seq), (1, 2));
    store.set_outbox_cursor(2).unwrap();
    let marks: i64 = store
        .conn
        .query_row("SELECT count(*) FROM mqtt_outbox_dropped", [], |r| r.get(0))
        .unwrap();
    assert_eq!(marks, 0, "marks at or below the cursor are forgotten");
}
