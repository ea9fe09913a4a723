//! Golden files of the published JSON documents (`tests/golden/*.json`): a test serializes a
//! fixed instance and compares it with the file; `JETGATE_BLESS=1` rewrites the files. Shared by
//! every module that publishes a document (status, control replies, MQTT payloads).
#![allow(clippy::expect_used)] // a test helper: a missing or unreadable file is the failure

use std::path::PathBuf;

use serde_json::Value;

/// Compares `actual` with the golden file `name`, or rewrites it under `JETGATE_BLESS=1`.
pub(crate) fn golden(name: &str, actual: &Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"));
    let pretty = serde_json::to_string_pretty(actual).expect("serializable") + "\n";
    if std::env::var_os("JETGATE_BLESS").is_some() {
        std::fs::write(&path, pretty).expect("golden file written");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (bless with JETGATE_BLESS=1)", path.display()));
    let expected: Value = serde_json::from_str(&expected).expect("golden file is JSON");
    // Compared as published text reads back: an `f32` figure is an `f64` once parsed.
    let actual: Value = serde_json::from_str(&pretty).expect("JSON reads back");
    if expected != actual {
        // Beside the golden files' build output, for a diff.
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/golden-actual");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.json")), &pretty);
    }
    assert_eq!(
        expected, actual,
        "{name}: the published document changed; got\n{pretty}"
    );
}
