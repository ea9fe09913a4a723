//! Snapshot tests of `jetgate top`: the model rendered into a ratatui `TestBackend` at 80x24
//! and larger, with the agent up (a rich status document), down, and asking y/n; assertions
//! read the buffer's rows back as text.

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use serde_json::{json, Value};

use super::model::{Key, TopModel};
use super::render::{plan, render};

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;
const NOW_MS: u64 = 1_795_921_599_120 + 181_000; // 3 minutes after the events below

fn tegrastats_sample() -> Value {
    let line = "11-15-2024 08:38:09 RAM 6185/7620MB (lfb 8x2MB) SWAP 851/3810MB (cached 1MB) \
        CPU [15%@729,11%@729,14%@729,13%@729,11%@729,8%@729] EMC_FREQ 43%@2133 \
        GR3D_FREQ 63%@[621] NVDEC off APE 200 cpu@53.968C soc2@52.437C gpu@53.343C \
        tj@53.968C VDD_IN 12479mW/12479mW VDD_CPU_GPU_CV 4667mW/4667mW VDD_SOC 2817mW/2817mW";
    serde_json::to_value(tegrastats_parser::parse_line(line).unwrap()).unwrap()
}

/// A status document with everything, as the agent sends it: GPU-held memory, a load in
/// flight, a queue, units in every interesting state (GPU memory, a leak trend), tegrastats
/// figures.
fn rich_status() -> Value {
    json!({
        "device": {"id": "orin-07", "board": {"name": "Jetson Orin Nano 8GB", "id": "orin-nano-8gb", "l4t": "36.4.4"}},
        "memory": {"available_bytes": 3 * GIB, "total_bytes": 7620 * MIB, "available_from": "mem_available",
                   "gpu_held_bytes": 1200 * MIB, "pressure": {"some_avg10": 0.25}},
        "gate": {"reserve_bytes": 512 * MIB, "budget_bytes": 1536 * MIB, "outstanding_bytes": GIB,
                 "in_flight": {"model": "llm", "phase": "loading", "elapsed_ms": 12_300,
                               "need_bytes": 4 * GIB, "consumed_bytes": GIB},
                 "queue": [{"model": "det", "need_bytes": GIB, "waiting_ms": 3000,
                            "reason": "waiting: load of llm in flight"}]},
        "services": [
            {"name": "llm", "kind": "model", "state": "loading", "pid": 4242, "memory_bytes": GIB,
             "gpu_bytes": 800 * MIB, "trend": null, "restarts": 0, "restart_in_ms": null,
             "reason": null},
            {"name": "det", "kind": "model", "state": "queued", "pid": null, "memory_bytes": null,
             "gpu_bytes": null, "trend": null, "restarts": 0, "restart_in_ms": null,
             "reason": "waiting: load of llm in flight"},
            {"name": "asr", "kind": "model", "state": "ready", "pid": 4300, "memory_bytes": 900 * MIB,
             "gpu_bytes": null, "restarts": 1, "restart_in_ms": null, "reason": null,
             "trend": {"verdict": "leaking", "slope_bytes_per_hour": 75_497_472_000u64,
                       "quality": 0.98, "samples": 8, "window_s": 7.0, "configured_window_s": 8.0,
                       "projected_s": 12.5, "limit_bytes": GIB, "limit_from": "limit",
                       "reserved_bytes": 100 * MIB}},
            {"name": "camera-bridge", "kind": "service", "state": "gave_up", "pid": null,
             "memory_bytes": null, "gpu_bytes": null, "trend": null, "restarts": 5,
             "restart_in_ms": null, "reason": "crash loop: 5 exits in 60s"},
        ],
        "tegrastats": {"state": "running", "path": "/usr/bin/tegrastats", "age_ms": 420,
                       "sample": tegrastats_sample()},
        "agent": {"pid": 812, "version": "0.1.0", "uptime_ms": 185_000, "socket": "/run/jetgate/control.sock"},
    })
}

/// An `events` answer as `jetgate top` reads it.
fn events(v: Value) -> crate::status::EventsReply {
    serde_json::from_value(v).unwrap()
}

fn up_model() -> TopModel {
    let mut m = TopModel::new("/run/jetgate/control.sock");
    for gib in [5, 4, 4, 3] {
        let mut doc = rich_status();
        doc["memory"]["available_bytes"] = json!(gib * GIB);
        m.apply_status(serde_json::from_value(doc).unwrap(), NOW_MS);
    }
    m.apply_events(&events(json!([
        {"seq": 41, "ts": "2026-11-29T03:06:39.120Z", "kind": "load_admitted", "severity": "info",
         "subject": "llm", "message": "admitted: budget 5.5GiB covers need 4.0GiB + 10%"},
        {"seq": 42, "ts": "2026-11-29T03:06:39.120Z", "kind": "gave_up", "severity": "error",
         "subject": "camera-bridge", "message": "5 exits in 60s: giving up"},
    ])));
    m
}

/// Renders and returns the screen's rows as text.
fn screen(model: &TopModel, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|f| render(model, f.area(), f.buffer_mut()))
        .unwrap();
    let buf = terminal.backend().buffer().clone();
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect()
        })
        .collect()
}

fn row_with<'a>(rows: &'a [String], needle: &str) -> &'a str {
    rows.iter()
        .find(|r| r.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle:?} in:\n{}", rows.join("\n")))
}

#[test]
fn fits_every_section_in_80_by_24_with_a_rich_status() {
    let rows = screen(&up_model(), 80, 24);
    let all = rows.join("\n");
    assert!(
        rows[0].starts_with(
            "jetgate top  orin-07  agent pid 812 up 3m05s  Jetson Orin Nano 8GB L4T 36.4.4"
        ),
        "{all}"
    );
    for section in [
        "-- Memory",
        "-- Gate",
        "-- Services",
        "-- Events",
        "-- tegrastats",
    ] {
        row_with(&rows, section);
    }
    let used = row_with(&rows, "used ");
    assert!(
        used.contains("[#") && used.contains("4.4GiB  60% of 7.4GiB"),
        "{all}"
    );
    assert!(row_with(&rows, "GPU-held").contains("1.2GiB"), "{all}");
    assert!(
        row_with(&rows, "available ").contains("3.0GiB  40%"),
        "{all}"
    );
    assert!(row_with(&rows, "reserve").contains("512.0MiB"), "{all}");
    assert!(row_with(&rows, "budget ").contains("1.5GiB"), "{all}");
    assert!(row_with(&rows, "last 120s").len() >= 80);
    let flight = row_with(&rows, "in flight:");
    assert!(
        flight.contains("llm loading 12.3s") && flight.contains("1.0GiB of need 4.0GiB"),
        "{all}"
    );
    assert!(
        row_with(&rows, "queued 1. det").contains("waiting: load of llm"),
        "{all}"
    );
    let head = row_with(&rows, "NAME");
    assert!(head.contains("STATE") && head.contains("PSS"), "{all}");
    assert!(
        row_with(&rows, "> llm").contains("loading"),
        "the first unit is selected:\n{all}"
    );
    assert!(
        row_with(&rows, "camera-bridge").contains("gave_up"),
        "{all}"
    );
    assert!(
        row_with(&rows, "3m ago").contains("gave_up"),
        "newest event first:\n{all}"
    );
    assert!(
        row_with(&rows, "CPU 12% x6").contains("GPU 63% @621MHz"),
        "{all}"
    );
    assert!(rows[23].starts_with("q quit"), "{all}");
    assert!(rows.iter().all(|r| r.chars().count() == 80));
}

#[test]
fn a_larger_terminal_shows_every_column_and_the_sparkline_beside_the_bars() {
    let rows = screen(&up_model(), 140, 40);
    let all = rows.join("\n");
    let head = row_with(&rows, "NAME");
    for col in [
        "KIND", "STATE", "PID", "PSS", "GPU", "RESTARTS", "LEAK", "REASON",
    ] {
        assert!(head.contains(col), "{col} missing:\n{all}");
    }
    let asr = row_with(&rows, "asr");
    assert!(asr.contains("leaking") && asr.contains("900.0MiB"), "{all}");
    assert!(row_with(&rows, "> llm").contains("800.0MiB"), "{all}");
    assert!(
        row_with(&rows, "camera-bridge").contains("crash loop"),
        "{all}"
    );
    assert!(
        row_with(&rows, "used ").contains("available, last 120s"),
        "{all}"
    );
    assert!(
        row_with(&rows, "temps cpu 54.0C").contains("rails VDD_CPU_GPU_CV 4.7W"),
        "{all}"
    );
    assert!(
        row_with(&rows, "load_admitted").contains("admitted: budget"),
        "{all}"
    );
}

#[test]
fn the_agent_down_screen_names_the_socket_and_the_error() {
    let mut m = up_model();
    m.agent_down("Connection refused (os error 111)".into(), NOW_MS);
    m.agent_down("Connection refused (os error 111)".into(), NOW_MS);
    for (w, h) in [(80, 24), (40, 10), (140, 40)] {
        let rows = screen(&m, w, h);
        let all = rows.join("\n");
        assert!(all.contains("agent not reachable at"), "{w}x{h}:\n{all}");
        assert!(all.contains("retrying"), "{w}x{h}:\n{all}");
        assert!(!all.contains("-- Memory"), "{w}x{h}:\n{all}");
    }
    let all = screen(&m, 80, 24).join("\n");
    assert!(
        all.contains("at /run/jetgate/control.sock: Connection refused"),
        "{all}"
    );
    assert!(all.contains("failed 2 time(s) in a row"), "{all}");
}

#[test]
fn the_confirmation_dialog_names_the_action_and_the_unit() {
    let mut m = up_model();
    m.key(Key::Down);
    m.key(Key::Down);
    m.key(Key::Char('r'));
    let rows = screen(&m, 80, 24);
    let all = rows.join("\n");
    let q = row_with(&rows, "restart asr?");
    assert!(
        q.contains("| restart asr?") && q.matches('|').count() == 2,
        "{all}"
    );
    assert!(row_with(&rows, "y: yes   n: no").contains('|'), "{all}");
    m.key(Key::Char('n'));
    let all = screen(&m, 80, 24).join("\n");
    assert!(!all.contains("restart asr?"), "{all}");
    assert!(row_with(&screen(&m, 80, 24), "restart cancelled").starts_with("restart cancelled"));
}

#[test]
fn degrades_on_small_terminals_without_panicking() {
    let m = up_model();
    for w in [0u16, 1, 20, 39, 40, 59, 60, 79, 80, 81, 99, 100, 200] {
        for h in [0u16, 1, 5, 9, 10, 12, 16, 24, 25, 60] {
            let _ = screen(&m, w, h);
        }
    }
    let all = screen(&m, 30, 8).join("\n");
    assert!(all.contains("need 40x10"), "{all}");
    // 40x12 keeps the memory bars and the services, in that order.
    let rows = screen(&m, 40, 12);
    let all = rows.join("\n");
    assert!(
        all.contains("-- Memory") && all.contains("-- Services"),
        "{all}"
    );
}

#[test]
fn the_layout_drops_the_least_important_sections_first() {
    let p = plan(22, false, 4, 1);
    assert_eq!((p.memory, p.spark, p.gate, p.tegrastats), (6, 2, 3, 2));
    assert_eq!(p.services, 3 + 3, "one row per unit");
    assert_eq!(
        p.events, 3,
        "80x24 with 4 units and a queue leaves two event rows"
    );
    let p = plan(22, false, 1, 0);
    assert_eq!(
        p.tegrastats, 3,
        "tegrastats gets its second line before the events grow"
    );
    assert_eq!(p.events, 3 + 3, "the events take what is left");
    let p = plan(10, false, 4, 1);
    assert_eq!((p.memory, p.services, p.events, p.spark), (6, 4, 0, 0));
    let p = plan(38, true, 4, 1);
    assert_eq!(p.spark, 0, "wide: the sparkline sits beside the bars");
    assert!(p.events >= 10);
}

#[test]
fn a_status_without_optional_sections_still_renders() {
    let mut m = TopModel::new("/s");
    m.apply_status(serde_json::from_value(json!({"services": []})).unwrap(), 0);
    let all = screen(&m, 80, 24).join("\n");
    assert!(all.contains("no memory sample yet"), "{all}");
    assert!(all.contains("idle: no load in flight"), "{all}");
    assert!(all.contains("no models or services configured"), "{all}");
    assert!(all.contains("not reported by this agent"), "{all}");
    let all = screen(&TopModel::new("/s"), 80, 24).join("\n");
    assert!(all.contains("connecting to the agent at /s"), "{all}");
}
