//! Tests of the tegrastats source: line ingestion (pure) and the task on a fake tegrastats.
#![allow(clippy::disallowed_methods)] // tests stamp lines with the monotonic clock

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::*;

const ORIN_NANO: &str = "11-15-2024 08:38:09 RAM 6185/7620MB (lfb 8x2MB) SWAP 851/3810MB \
    (cached 1MB) CPU [15%@729,11%@729,14%@729,13%@729,11%@729,8%@729] EMC_FREQ 43%@2133 \
    GR3D_FREQ 63%@[621] NVDEC off NVJPG off NVJPG1 off VIC off OFA off APE 200 cpu@53.968C \
    soc2@52.437C soc0@50.75C gpu@53.343C tj@53.968C soc1@51.656C VDD_IN 12479mW/12479mW \
    VDD_CPU_GPU_CV 4667mW/4667mW VDD_SOC 2817mW/2817mW";

fn no_events() -> EventSink {
    Box::new(|_| {})
}

fn fake() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tegrastats/fake-tegrastats")
}

#[test]
fn a_good_line_becomes_the_latest_figures_in_the_json_contract_shape() {
    let mut v = TegrastatsView::new(PathBuf::from("/usr/bin/tegrastats"));
    let t0 = Instant::now();
    v.ingest(&format!("{ORIN_NANO}\n"), t0);
    let doc = json_of(v.section(t0 + Duration::from_millis(420)));
    assert_eq!(doc["state"], "running");
    assert_eq!(doc["age_ms"], 420);
    assert_eq!(doc["lines"], 1);
    assert_eq!(doc["sample"]["gpu"]["load_pct"], 63);
    assert_eq!(doc["sample"]["cpus"].as_array().map(Vec::len), Some(6));
    assert_eq!(doc["sample"]["rails"][0]["name"], "VDD_IN");
    assert_eq!(doc["sample"]["rails"][0]["milliwatts"], 12479);
    assert_eq!(doc["sample"]["ram"]["used_bytes"], 6185u64 << 20);
}

#[test]
fn a_bad_line_is_counted_and_the_previous_figures_stay() {
    let mut v = TegrastatsView::new(PathBuf::from("/usr/bin/tegrastats"));
    let t0 = Instant::now();
    v.ingest(ORIN_NANO, t0);
    v.ingest("tegrastats: permission denied", t0);
    v.ingest("   ", t0);
    v.ingest(&"x".repeat(MAX_LINE_BYTES + 1), t0);
    let doc = json_of(v.section(t0));
    assert_eq!(doc["bad_lines"], 2);
    assert_eq!(doc["lines"], 1);
    assert!(doc["last_error"]
        .as_str()
        .is_some_and(|e| e.contains("too long")));
    assert_eq!(doc["sample"]["gpu"]["load_pct"], 63);
}

#[tokio::test]
async fn a_missing_binary_is_unavailable_with_its_path_as_the_reason() {
    let tasks = Tasks::new();
    let mut rx = spawn(
        PathBuf::from("/nonexistent/tegrastats"),
        &tasks,
        no_events(),
    );
    let view = tokio::time::timeout(
        Duration::from_secs(10),
        rx.wait_for(|v| v.state == State::Unavailable),
    )
    .await
    .expect("the view turns unavailable")
    .expect("the task is alive")
    .clone();
    assert_eq!(
        tasks.shutdown(Duration::from_secs(5)).await,
        0,
        "the source ends on shutdown"
    );
    assert_eq!(
        view.reason.as_deref(),
        Some("/nonexistent/tegrastats not found")
    );
    assert!(view.sample.is_none());
    assert_eq!(
        json_of(view.section(Instant::now()))["state"],
        "unavailable"
    );
}

#[tokio::test]
async fn a_running_tegrastats_fills_the_figures_line_by_line() {
    let tasks = Tasks::new();
    let mut rx = spawn(fake(), &tasks, no_events());
    let view = tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|v| v.lines >= 2))
        .await
        .expect("two lines arrive")
        .expect("the task is alive")
        .clone();
    assert_eq!(
        tasks.shutdown(Duration::from_secs(5)).await,
        0,
        "the source ends on shutdown"
    );
    assert_eq!(view.state, State::Running);
    assert_eq!(view.bad_lines, 0, "{:?}", view.last_error);
    let sample = view.sample.expect("figures");
    assert_eq!(sample["ram"]["total_bytes"], 7620u64 << 20);
}

#[tokio::test]
async fn a_tegrastats_that_exits_is_reported_with_its_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("tegrastats");
    std::fs::write(&script, format!("#!/bin/sh\necho '{ORIN_NANO}'\nexit 3\n")).expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let tasks = Tasks::new();
    let mut rx = spawn(script, &tasks, no_events());
    let view = tokio::time::timeout(
        Duration::from_secs(10),
        rx.wait_for(|v| v.state == State::Unavailable),
    )
    .await
    .expect("the view turns unavailable")
    .expect("the task is alive")
    .clone();
    assert_eq!(
        tasks.shutdown(Duration::from_secs(5)).await,
        0,
        "the source ends on shutdown"
    );
    let reason = view.reason.expect("a reason");
    assert!(reason.contains("exit status: 3"), "{reason}");
    assert_eq!(view.lines, 1, "the line before the exit was kept");
}

/// A real tegrastats stand-in that prints one good line and exits, tried again every 50 ms:
/// each end after figures is one `source_unavailable`, each first line after it one
/// `source_recovered`; a board that never had tegrastats says nothing.
#[tokio::test]
async fn a_tegrastats_that_ends_after_figures_is_an_event_and_its_return_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("tegrastats");
    std::fs::write(&script, format!("#!/bin/sh\necho '{ORIN_NANO}'\nexit 3\n")).expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink: EventSink = Box::new(move |e| {
        let _ = tx.send(e);
    });
    let tasks = Tasks::new();
    let _view = spawn_retrying(script, &tasks, sink, Duration::from_millis(50));
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let event = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("an event within patience")
            .expect("the sink is alive");
        assert_eq!(event.figures["source"], "tegrastats");
        seen.push(event);
    }
    tasks.shutdown(Duration::from_secs(5)).await;
    let kinds: Vec<String> = seen.iter().map(|e| e.kind.to_string()).collect();
    assert_eq!(
        kinds,
        [
            "source_unavailable",
            "source_recovered",
            "source_unavailable"
        ]
    );
    assert!(
        seen[0].figures["error"]
            .as_str()
            .unwrap()
            .contains("exit status: 3"),
        "{:?}",
        seen[0]
    );

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink: EventSink = Box::new(move |e| {
        let _ = tx.send(e);
    });
    let tasks = Tasks::new();
    let mut view = spawn_retrying(
        PathBuf::from("/nonexistent/tegrastats"),
        &tasks,
        sink,
        Duration::from_millis(10),
    );
    for _ in 0..3 {
        view.changed().await.expect("the task is alive");
    }
    tasks.shutdown(Duration::from_secs(5)).await;
    assert!(rx.try_recv().is_err(), "a missing tegrastats is no event");
}

/// The section as published, for indexing by key.
fn json_of(section: crate::status::TegrastatsSection) -> serde_json::Value {
    serde_json::to_value(section).unwrap()
}
