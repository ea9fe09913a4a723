//! Test helper: the real Jetson captures in `tests/fixtures/captures/`, as the device printed
//! them. Each file starts with `# source:` and `# copied:` lines naming where it was published
//! and what was copied; [`capture`] drops those comment lines, so parsers see only what the
//! kernel or the model wrote.
#![allow(clippy::expect_used)] // a test helper: a missing capture is the failure

use std::path::PathBuf;

/// The device-printed lines of `tests/fixtures/captures/NAME` (comment lines dropped).
pub(crate) fn capture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/captures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        text.starts_with("# source:"),
        "{}: a capture names its source on its first line",
        path.display()
    );
    text.lines()
        .filter(|l| !l.starts_with("# "))
        .map(|l| format!("{l}\n"))
        .collect()
}
