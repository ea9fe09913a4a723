//! The control socket under floods, against a real agent process and the real CLI: many large
//! `events` queries at once (half of them read slowly) keep the agent's memory bounded and each
//! gets its whole answer;
//! idle and slow-dripping connections cannot lock `jetgate status` out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use jetgate::control::server::MAX_CONNECTIONS;
use jetgate::control::Response;
use jetgate::event::{Event, EventKind, NewEvent};
use jetgate::store::Store;

use crate::harness::{succeeded, Agent};

/// Concurrent `events` requests in the flood, and the rows each asks for.
const CLIENTS: usize = 100;
const ROWS: usize = 10_000;
/// How far above its idle VmRSS the agent may peak during the flood (docs/agent.md, "What is
/// bounded"): a few pages in flight and one page of text per connection, far under this.
const FLOOD_BOUND: u64 = 16 << 20;

/// A field of `/proc/PID/status` in bytes (`VmRSS`, `VmHWM`).
fn status_bytes(pid: i32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib << 10
}

/// A store holding `n` notes with a message and figures, like an agent's history; returns them
/// as stored.
fn store_with_events(db: &Path, n: usize) -> Vec<Event> {
    let mut store = Store::open(db).unwrap();
    let batch = (0..n)
        .map(|i| {
            NewEvent::untyped(EventKind::Note, Some("llm"))
                .message(format!(
                    "history entry {i}: swapped the fan on the bench unit"
                ))
                .figure("i", i as u64)
                .figure("budget_bytes", 3_221_225_472u64)
        })
        .collect();
    store.append_batch(batch).unwrap()
}

/// One `events` request for `ROWS` rows on its own connection; the answer line, whole. A
/// `slow` client lets a second pass before it starts reading, so the agent's writes to it stall.
fn events_line(socket: &Path, start: &Barrier, slow: bool) -> String {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    start.wait();
    let request = format!("{{\"v\":1,\"cmd\":\"events\",\"limit\":{ROWS}}}\n");
    s.write_all(request.as_bytes()).unwrap();
    if slow {
        std::thread::sleep(Duration::from_secs(1));
    }
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line
}

#[test]
fn a_hundred_concurrent_ten_thousand_row_event_queries_keep_the_agent_bounded_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let stored = store_with_events(&db, ROWS);
    let agent = Agent::start_with_store("", &db);
    let pid = agent.pid();
    // Idle: the agent has started and answered once.
    succeeded(agent.cli(&["status", "--json"]));
    let idle = status_bytes(pid, "VmRSS");
    let expected = Response::ok(&stored).to_line();

    let start = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let socket = agent.socket.clone();
            let start = Arc::clone(&start);
            std::thread::spawn(move || events_line(&socket, &start, i % 2 == 1))
        })
        .collect();
    let answers: Vec<String> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let peak = status_bytes(pid, "VmHWM");
    let growth = peak.saturating_sub(idle);
    println!(
        "{CLIENTS} concurrent events queries of {ROWS} rows: agent VmRSS idle {:.1} MiB, \
         VmHWM after {:.1} MiB, growth {:.1} MiB",
        idle as f64 / 1048576.0,
        peak as f64 / 1048576.0,
        growth as f64 / 1048576.0
    );
    for (i, line) in answers.iter().enumerate() {
        assert!(
            line == &expected,
            "answer {i} differs from the stored events ({} bytes against {}): {:?}",
            line.len(),
            expected.len(),
            &line[..line.len().min(200)]
        );
    }
    assert!(
        growth <= FLOOD_BOUND,
        "the agent grew {growth} bytes above its idle {idle} (bound {FLOOD_BOUND})"
    );
}

/// A connection that has sent `bytes` and then waits.
fn held(socket: &Path, bytes: &[u8]) -> UnixStream {
    let mut s = UnixStream::connect(socket).unwrap();
    s.write_all(bytes).unwrap();
    s
}

#[test]
fn idle_and_slow_dripping_connections_cannot_lock_status_out() {
    let agent = Agent::start("");
    // More than the table holds: silent ones, and ones that drip half a request.
    let mut silent: Vec<UnixStream> = (0..MAX_CONNECTIONS)
        .map(|_| held(&agent.socket, b""))
        .collect();
    let dripping: Vec<UnixStream> = (0..MAX_CONNECTIONS / 2)
        .map(|_| held(&agent.socket, b"{\"v\":1,\"cm"))
        .collect();
    let drip_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let dripper = {
        let mut streams: Vec<UnixStream> =
            dripping.iter().map(|s| s.try_clone().unwrap()).collect();
        let stop = Arc::clone(&drip_stop);
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for s in &mut streams {
                    let _ = s.write_all(b" ");
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    for _ in 0..3 {
        let out = agent.cli(&["status", "--json"]);
        let doc: serde_json::Value = serde_json::from_str(&succeeded(out)).unwrap();
        assert_eq!(doc["agent"]["pid"], agent.pid());
        silent.push(held(&agent.socket, b""));
    }
    drip_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    dripper.join().unwrap();
    // The oldest silent connections were the ones given up: the agent closed them.
    let mut first = silent.swap_remove(0);
    first
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut rest = Vec::new();
    assert_eq!(
        first.read_to_end(&mut rest).unwrap(),
        0,
        "an evicted connection gets no answer, just its end"
    );
}
