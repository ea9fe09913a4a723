use super::*;
use crate::event::{EventKind, NewEvent};
use crate::store::Store;

fn sound() -> Observed {
    Observed {
        links: 1,
        ours: (8, 1200),
        at_path: Some((8, 1200)),
        size: 98_304,
        head: MAGIC.to_vec(),
    }
}

#[test]
fn each_fault_is_told_from_what_the_descriptor_and_the_path_say() {
    assert_eq!(judge(98_304, &sound()), None);
    assert_eq!(judge(4096, &sound()), None, "growing is no fault");
    let deleted = Observed {
        links: 0,
        at_path: None,
        ..sound()
    };
    assert_eq!(judge(98_304, &deleted), Some(Fault::Deleted));
    let replaced = Observed {
        at_path: Some((8, 1234)),
        ..sound()
    };
    assert_eq!(judge(98_304, &replaced), Some(Fault::Replaced));
    let gone_from_path = Observed {
        at_path: None,
        ..sound()
    };
    assert_eq!(judge(98_304, &gone_from_path), Some(Fault::Replaced));
    let truncated = Observed {
        size: 4096,
        ..sound()
    };
    assert_eq!(
        judge(98_304, &truncated),
        Some(Fault::Truncated {
            from: 98_304,
            to: 4096
        })
    );
    let garbage = Observed {
        head: b"garbage garbage!".to_vec(),
        ..sound()
    };
    assert_eq!(judge(98_304, &garbage), Some(Fault::Overwritten));
    let empty = Observed {
        size: 0,
        head: Vec::new(),
        ..sound()
    };
    assert_eq!(judge(0, &empty), None, "a database not written yet");
    assert!(Fault::Deleted.salvageable() && Fault::Replaced.salvageable());
    assert!(!Fault::Overwritten.salvageable());
}

#[test]
fn a_real_file_deleted_truncated_and_overwritten_under_an_open_store_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut store = Store::open(&path).unwrap();
    store
        .append(NewEvent::untyped(EventKind::Note, None))
        .unwrap();
    let mut file = StoreFile::open(&path).unwrap();
    assert_eq!(file.check(), None);

    std::fs::write(&path, b"not a database at all").unwrap(); // same inode, rewritten
    assert!(matches!(file.check(), Some(Fault::Truncated { .. })));
    let mut again = StoreFile::open(&path).unwrap();
    assert_eq!(again.check(), Some(Fault::Overwritten));

    std::fs::remove_file(&path).unwrap();
    assert_eq!(again.check(), Some(Fault::Deleted));
}

#[test]
fn sqlite_saying_not_a_database_is_a_corrupt_fault_and_other_errors_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(corrupt_error(&err).is_some(), "{err}");
    assert_eq!(corrupt_error(&StoreError::Closed), None);
}
