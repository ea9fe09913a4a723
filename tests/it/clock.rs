//! Wall-clock steps under a real agent: libfaketime (`LD_PRELOAD`, its offset re-read from a
//! file at every call) steps the wall clock of the agent and its children alone, as NTP does on
//! an RTC-less board at boot; the monotonic clock is left alone (`DONT_FAKE_MONOTONIC=1`), as
//! the kernel leaves it. A step must be reported, must not prune fresh history and must not
//! blind a heartbeat.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jetgate::event::EventKind;
use serde_json::Value;

use crate::harness::{wait_for, Agent};

/// Bounds a hung test only; nothing asserts on it.
const LIMIT: Duration = Duration::from_secs(60);

/// Debian's libfaketime, wherever the multiarch directory puts it.
fn libfaketime() -> Option<PathBuf> {
    let found = ["x86_64-linux-gnu", "aarch64-linux-gnu"]
        .iter()
        .map(|arch| PathBuf::from(format!("/usr/lib/{arch}/faketime/libfaketime.so.1")))
        .find(|p| p.exists());
    found.or_else(|| {
        crate::prerequisite::missing(
            "libfaketime is not installed",
            "scripts/test.sh installs it; by hand: apt install libfaketime",
        )
    })
}

/// Starts an agent on `body` whose wall clock is offset by what `offset` holds (`+0`, `+40d`).
fn faked_agent(body: &str, lib: &Path, offset: &Path) -> Agent {
    std::fs::write(offset, "+0\n").unwrap();
    Agent::start_with_env(
        body,
        &[
            ("LD_PRELOAD", lib.to_str().unwrap()),
            ("FAKETIME_TIMESTAMP_FILE", offset.to_str().unwrap()),
            ("FAKETIME_NO_CACHE", "1"),
            ("DONT_FAKE_MONOTONIC", "1"),
        ],
    )
}

fn of_kind(agent: &Agent, kind: EventKind) -> Vec<Value> {
    agent
        .events()
        .into_iter()
        .filter(|e| e["kind"] == kind.as_str())
        .collect()
}

/// `n` notes over one connection (a request a line, an answer a line).
fn notes(agent: &Agent, n: usize, text: &str) {
    let mut s = UnixStream::connect(&agent.socket).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    for i in 0..n {
        writeln!(s, r#"{{"v":1,"cmd":"note","text":"{text} {i}"}}"#).unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.contains(r#""ok":true"#), "{line}");
    }
}

#[test]
fn a_clock_stepped_forward_40_days_is_reported_and_prunes_no_fresh_history() {
    let Some(lib) = libfaketime() else { return };
    let dir = tempfile::tempdir().unwrap();
    let offset = dir.path().join("offset");
    let agent = faked_agent("", &lib, &offset);
    notes(&agent, 5, "before the step");

    // NTP steps the clock: every event so far now looks 40 days old, past the default
    // `max_age` of 30 days.
    std::fs::write(&offset, "+40d\n").unwrap();
    let stepped = wait_for(LIMIT, "clock_stepped", || {
        of_kind(&agent, EventKind::ClockStepped).pop()
    });
    let step = stepped["figures"]["step_ms"].as_i64().unwrap();
    assert!(
        (step - 40 * 86_400_000).abs() < 60_000,
        "step of {step} ms against 40 days: {stepped}"
    );
    // 1 000 appends make retention due at its next check (every 10 s); then give it two.
    notes(&agent, 1_000, "after the step");
    std::thread::sleep(Duration::from_secs(21));
    let pruned_by_age: u64 = of_kind(&agent, EventKind::EventsPruned)
        .iter()
        .map(|e| e["figures"]["by_age"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(pruned_by_age, 0, "fresh history pruned by age");
    let before = agent
        .events()
        .into_iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("before the step")
        })
        .count();
    assert_eq!(before, 5, "the notes from before the step are all kept");
}

#[test]
fn a_clock_stepped_back_40_days_does_not_blind_a_heartbeat() {
    let Some(lib) = libfaketime() else { return };
    let dir = tempfile::tempdir().unwrap();
    let offset = dir.path().join("offset");
    // One beat, written now by this test (its clock is not faked), then silence.
    let hb = dir.path().join("beat");
    std::fs::write(&hb, "").unwrap();
    let body = format!(
        "[[service]]\nname = \"beat\"\ncommand = [\"sleep\", \"600\"]\nautostart = true\n\
         stop_grace = \"1s\"\n\
         health = {{ heartbeat = \"{}\", stale_after = \"1s\", interval = \"250ms\", timeout = \"250ms\", failures = 2 }}\n",
        hb.display()
    );
    let agent = faked_agent(&body, &lib, &offset);
    // The clock steps back: the last beat's mtime is now 40 days in the agent's future.
    std::fs::write(&offset, "-40d\n").unwrap();
    wait_for(LIMIT, "clock_stepped", || {
        of_kind(&agent, EventKind::ClockStepped).pop()
    });
    let failed = wait_for(LIMIT, "health_failed of the silent heartbeat", || {
        of_kind(&agent, EventKind::HealthFailed).pop()
    });
    assert_eq!(failed["subject"], "beat");
    assert_eq!(failed["figures"]["probe"], "heartbeat", "{failed}");
}
