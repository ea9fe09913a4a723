use super::*;
use crate::event::figures::Note;
use crate::event::EventKind;
use crate::store::EventFilter;

fn note(text: &str) -> NewEvent {
    NewEvent::new(Note {}, None).message(text)
}

fn all(store: &Store) -> Vec<crate::event::Event> {
    store.query(&EventFilter::default()).unwrap()
}

#[test]
fn a_garbage_store_is_moved_aside_with_its_wal_and_a_fresh_one_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    std::fs::write(dir.path().join("j.db-wal"), b"wal").unwrap();
    let (store, event) = open_or_move_aside(&path, 1_796_000_000_123).unwrap();
    let event = event.expect("an event for the moved file");
    assert_eq!(event.kind, EventKind::StoreMovedAside);
    let moved = aside_path(&path, 1_796_000_000_123);
    assert!(
        moved
            .to_string_lossy()
            .ends_with(".corrupt-20261130T005320.123Z"),
        "{}",
        moved.display()
    );
    assert_eq!(event.figures["moved_to"], moved.display().to_string());
    assert_eq!(event.figures["size_bytes"], 8192);
    assert_eq!(
        std::fs::read(&moved).unwrap(),
        vec![0x5a; 8192],
        "kept as it was"
    );
    let mut wal = moved.as_os_str().to_owned();
    wal.push("-wal");
    assert_eq!(std::fs::read(wal).unwrap(), b"wal");
    assert_eq!(
        store.last_seq().unwrap(),
        1_796_000_000_123,
        "nothing readable: seqs continue after the clock's milliseconds"
    );
    assert_eq!(event.figures["last_seq"], 1_796_000_000_123u64);
    assert!(store.quick_check().unwrap().is_empty());
}

/// A store whose pages SQLite can still partly read keeps its numbering: readers of the MQTT
/// events never see a seq twice, even across a start that moved the store aside.
#[test]
fn a_corrupt_store_moved_aside_at_start_hands_its_last_seq_and_link_to_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut old = Store::open(&path).unwrap();
    for i in 0..3 {
        old.append(note(&format!("before {i}"))).unwrap();
    }
    old.conn
        .execute(
            "INSERT INTO mqtt_link (key, value) VALUES ('acked_seq', 2)",
            [],
        )
        .unwrap();
    // A table of its own filling the file's last pages, whose last page is then broken on
    // purpose: `quick_check` fails, the events and the link still read.
    old.conn
        .execute_batch(
            "CREATE TABLE filler (x);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
             INSERT INTO filler SELECT randomblob(100) FROM n;",
        )
        .unwrap();
    drop(old);
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    let last = bytes.len() - page;
    bytes[last..last + 8].copy_from_slice(&[0xff; 8]);
    std::fs::write(&path, bytes).unwrap();
    let (mut store, event) = open_or_move_aside(&path, 1_796_000_000_123).unwrap();
    let event = event.expect("the store was moved aside");
    assert_eq!(event.figures["last_seq"], 3);
    assert_eq!(store.last_seq().unwrap(), 3);
    assert_eq!(store.append(note("after")).unwrap().seq, 4);
    assert!(store
        .link_values()
        .unwrap()
        .contains(&("acked_seq".into(), 2)));
}

#[test]
fn a_sound_store_is_opened_as_it_is_and_a_newer_schema_is_still_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    Store::open(&path).unwrap().append(note("kept")).unwrap();
    let (store, event) = open_or_move_aside(&path, 0).unwrap();
    assert!(event.is_none());
    assert_eq!(store.last_seq().unwrap(), 1);
    store
        .conn
        .execute(
            "UPDATE meta SET value = 999 WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    drop(store);
    let err = open_or_move_aside(&path, 0).unwrap_err();
    assert!(matches!(err, StoreError::NewerSchema { .. }), "{err}");
    assert!(path.exists(), "a newer schema is not moved aside");
}

#[test]
fn a_deleted_store_is_copied_back_whole_from_the_open_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut old = Store::open(&path).unwrap();
    for i in 0..3 {
        old.append(note(&format!("n{i}"))).unwrap();
    }
    let mut file = StoreFile::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let fault = file.check().unwrap();
    assert_eq!(fault, Fault::Deleted);
    let done = replace(old, &file, &fault, 3, 0).unwrap();
    assert!(done.salvaged);
    assert_eq!(done.event.figures["events_lost"], 0);
    let texts: Vec<String> = all(&done.store).into_iter().map(|e| e.message).collect();
    assert_eq!(texts, ["n0", "n1", "n2"]);
    let mut store = done.store;
    assert_eq!(store.append(note("after")).unwrap().seq, 4);
    assert!(done.file.is_some());
    assert_eq!(
        Store::open(&path).unwrap().last_seq().unwrap(),
        4,
        "at the path"
    );
}

#[test]
fn an_overwritten_store_is_moved_aside_and_the_new_one_continues_its_seqs_and_link() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut old = Store::open(&path).unwrap();
    for i in 0..5 {
        old.append(note(&format!("n{i}"))).unwrap();
    }
    assert_eq!(old.next_session().unwrap(), 1);
    old.set_outbox_cursor(4).unwrap();
    let file = StoreFile::open(&path).unwrap();
    let fault = Fault::Overwritten;
    let done = replace(old, &file, &fault, 5, 0).unwrap();
    assert!(!done.salvaged);
    assert_eq!(done.event.kind, EventKind::StoreReplaced);
    assert_eq!(done.event.figures["fault"], "overwritten");
    assert_eq!(done.event.figures["events_lost"], 5);
    assert!(aside_path(&path, 0).exists(), "the old file is kept");
    let mut store = done.store;
    assert_eq!(store.append(note("after")).unwrap().seq, 6, "seqs continue");
    assert_eq!(store.outbox_cursor().unwrap(), 4);
    assert_eq!(store.next_session().unwrap(), 2);
}
