//! `jetgate sim-model` as a real process: resident memory, the three ready signals, exit codes,
//! SIGTERM handling, health flips, heartbeats and process trees. Each allocation ≤ 512 MiB.
//! Waits poll with generous deadlines; nothing asserts how long anything took.
#![allow(clippy::disallowed_methods)] // runs the built binary and polls with deadlines
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on failure by design

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const MIB: u64 = 1 << 20;
const PATIENCE: Duration = Duration::from_secs(30);

/// A running sim-model with its stderr lines on a channel; SIGKILLed if dropped while alive.
struct Sim {
    child: Child,
    stderr: Receiver<String>,
}

impl Sim {
    fn start(args: &[&str]) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_jetgate"))
            .arg("sim-model")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn jetgate sim-model");
        let (tx, rx) = channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Sim { child, stderr: rx }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Reads stdout until a `READY` line.
    fn wait_stdout_ready(&mut self) {
        let out = self.child.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        let first = lines.next().expect("stdout closed before READY").unwrap();
        assert_eq!(first, "READY");
    }

    /// Waits for a stderr line containing `needle` and returns it.
    fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(e) => panic!("no stderr line containing {needle:?}: {e}"),
            }
        }
    }

    fn signal(&self, sig: Signal) {
        kill(self.pid(), sig).unwrap();
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "sim-model did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// VmRSS of a process, in bytes.
fn vm_rss(pid: Pid) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Pids whose parent is `parent` (read from /proc/*/stat; the name may hold spaces and `)`).
fn children_of(parent: Pid) -> Vec<Pid> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let ppid: i32 = after_name
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        if ppid == parent.as_raw() {
            out.push(Pid::from_raw(pid));
        }
    }
    out
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    reply
}

fn status_line(reply: &str) -> &str {
    reply.lines().next().unwrap_or("")
}

/// The `host:port` from the `ready (http://HOST:PORT/health)` log line.
fn ready_addr(line: &str) -> String {
    let start = line.find("http://").unwrap() + "http://".len();
    let end = line[start..].find('/').unwrap() + start;
    line[start..end].to_string()
}

#[test]
fn sim_model_is_resident_with_its_allocation_when_it_prints_ready() {
    let mut sim = Sim::start(&["--alloc", "256MiB", "--ramp", "200ms"]);
    sim.wait_stdout_ready();
    assert!(vm_rss(sim.pid()) >= 256 * MIB, "rss {}", vm_rss(sim.pid()));
    sim.wait_log("allocated 256.0MiB");
    sim.signal(Signal::SIGTERM);
    assert_eq!(sim.wait_exit().code(), Some(0));
}

#[test]
fn sim_model_overshooting_during_the_ramp_holds_both_before_ready() {
    let mut sim = Sim::start(&[
        "--alloc",
        "64MiB",
        "--overshoot",
        "64MiB",
        "--rate",
        "1GiB/s",
        "--overshoot-during-ramp",
    ]);
    sim.wait_stdout_ready();
    assert!(vm_rss(sim.pid()) >= 128 * MIB);
    sim.wait_log("allocated 128.0MiB");
}

#[test]
fn sim_model_overshoots_after_ready_by_default() {
    let sim = Sim::start(&[
        "--alloc",
        "32MiB",
        "--overshoot",
        "64MiB",
        "--rate",
        "512MiB/s",
    ]);
    sim.wait_log("allocated 32.0MiB");
    sim.wait_log("ready");
    sim.wait_log("holding 96.0MiB after overshoot");
    assert!(vm_rss(sim.pid()) >= 96 * MIB);
}

#[test]
fn sim_model_leaks_after_ready_until_stopped() {
    let sim = Sim::start(&["--alloc", "16MiB", "--leak", "64MiB/s"]);
    sim.wait_log("leaking 64.0MiB/s");
    let deadline = Instant::now() + PATIENCE;
    while vm_rss(sim.pid()) < 48 * MIB {
        assert!(Instant::now() < deadline, "rss never grew past 48 MiB");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sim_model_writes_its_ready_file_atomically_with_its_pid() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ready");
    let sim = Sim::start(&["--alloc", "8MiB", "--ready-file", file.to_str().unwrap()]);
    sim.wait_log("ready");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.trim(), sim.child.id().to_string());
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert_eq!(names.len(), 1, "no temporary file is left beside it");
}

#[test]
fn sim_model_serves_health_200_and_404_for_other_paths_once_ready() {
    let sim = Sim::start(&["--alloc", "8MiB", "--ready-http", "127.0.0.1:0"]);
    let addr = ready_addr(&sim.wait_log("ready (http://"));
    assert!(status_line(&http_get(&addr, "/health")).contains(" 200 "));
    assert!(status_line(&http_get(&addr, "/metrics")).contains(" 404 "));
}

#[test]
fn sim_model_health_flips_to_503_after_unhealthy_after() {
    let sim = Sim::start(&[
        "--alloc",
        "8MiB",
        "--ready-http",
        "127.0.0.1:0",
        "--unhealthy-after",
        "300ms",
    ]);
    let addr = ready_addr(&sim.wait_log("ready (http://"));
    sim.wait_log("unhealthy: /health now answers 503");
    assert!(status_line(&http_get(&addr, "/health")).contains(" 503 "));
}

#[test]
fn sim_model_exits_with_the_given_code_after_exit_after() {
    let mut sim = Sim::start(&[
        "--alloc",
        "8MiB",
        "--exit-after",
        "200ms",
        "--exit-code",
        "7",
    ]);
    assert_eq!(sim.wait_exit().code(), Some(7));
}

#[test]
fn sim_model_ignores_sigterm_when_told_so_only_sigkill_stops_it() {
    let mut sim = Sim::start(&["--alloc", "8MiB", "--ignore-term"]);
    sim.wait_stdout_ready();
    sim.signal(Signal::SIGTERM);
    sim.wait_log("SIGTERM received, ignoring it");
    assert!(sim.child.try_wait().unwrap().is_none(), "still running");
    sim.signal(Signal::SIGKILL);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(sim.wait_exit().signal(), Some(9));
}

#[test]
fn sim_model_touches_its_heartbeat_then_stops_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let hb = dir.path().join("hb");
    let sim = Sim::start(&[
        "--alloc",
        "8MiB",
        "--heartbeat",
        hb.to_str().unwrap(),
        "--heartbeat-interval",
        "20ms",
        "--heartbeat-stop-after",
        "300ms",
    ]);
    sim.wait_log("heartbeat stopped");
    let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let last = mtime(&hb);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(mtime(&hb), last, "no touch after the heartbeat stopped");
}

#[test]
fn sim_model_children_hold_their_memory_and_go_when_the_parent_is_terminated() {
    let mut sim = Sim::start(&["--alloc", "16MiB", "--child", "2", "--child-alloc", "64MiB"]);
    sim.wait_stdout_ready();
    let kids = children_of(sim.pid());
    assert_eq!(kids.len(), 2);
    for kid in &kids {
        assert!(vm_rss(*kid) >= 64 * MIB);
    }
    sim.signal(Signal::SIGTERM);
    assert_eq!(sim.wait_exit().code(), Some(0));
    for kid in kids {
        assert!(kill(kid, None).is_err(), "child {kid} outlived its parent");
    }
}
