//! The CLI when the agent is out of reach, against a real agent process: stopped by SIGSTOP
//! (connected or only queued by the kernel, no answer), gone with its socket left behind, or
//! holding as many connections as it serves. Each is a clear sentence and exit code 4, and
//! none hangs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use jetgate::control::server::MAX_CONNECTIONS;
use jetgate::event::EventKind;
use jetgate::store::{EventFilter, Store};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::harness::{sim_model, succeeded, wait_for, Agent, JETGATE};

/// Runs the CLI against `agent`'s socket; a run past `limit` is killed and fails the test (the
/// CLI must give up by itself).
fn cli_within(agent: &Agent, args: &[&str], limit: Duration) -> Output {
    let child = Command::new(JETGATE)
        .args(args)
        .env("JETGATE_SOCKET", &agent.socket)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = Pid::from_raw(child.id() as i32);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output().unwrap());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out,
        Err(_) => {
            let _ = kill(pid, Signal::SIGKILL);
            panic!("jetgate {args:?} still waiting after {limit:?}");
        }
    }
}

/// Sends SIGCONT when dropped, so a failing test never leaves a stopped agent behind.
struct Stopped(Pid);

impl Stopped {
    fn new(pid: i32) -> Stopped {
        let pid = Pid::from_raw(pid);
        kill(pid, Signal::SIGSTOP).unwrap();
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = kill(self.0, Signal::SIGCONT);
    }
}

/// Connections queued by the kernel for a listener that does not accept, until it queues no
/// more (its backlog is full); they are closed when the returned sockets are dropped.
fn fill_backlog(socket: &std::path::Path) -> Vec<std::os::fd::OwnedFd> {
    use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};
    use std::os::fd::AsRawFd;
    let addr = UnixAddr::new(socket).unwrap();
    let mut queued = Vec::new();
    for _ in 0..100_000 {
        let fd = socket::socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_NONBLOCK,
            None,
        )
        .unwrap();
        match socket::connect(fd.as_raw_fd(), &addr) {
            Ok(()) => queued.push(fd),
            Err(nix::errno::Errno::EAGAIN) => return queued,
            Err(e) => panic!("connect: {e}"),
        }
    }
    panic!("the kernel queued 100 000 connections");
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_stopped_agent_is_reported_not_responding_with_exit_4_and_serves_again_once_continued() {
    let agent = Agent::start("");
    let limit = Duration::from_secs(60);
    {
        let _stopped = Stopped::new(agent.pid());
        let out = cli_within(&agent, &["status"], limit);
        assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("agent not responding"),
            "{}",
            stderr(&out)
        );
        // With the kernel's queue full, connect itself would wait forever.
        let queued = fill_backlog(&agent.socket);
        let out = cli_within(&agent, &["services"], limit);
        assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("agent not responding"),
            "{}",
            stderr(&out)
        );
        drop(queued);
    }
    let out = cli_within(&agent, &["status", "--json"], limit);
    succeeded(out);
}

#[test]
fn a_socket_left_by_a_dead_agent_is_reported_with_exit_4() {
    let mut agent = Agent::start("");
    agent.kill();
    assert!(agent.socket.exists(), "SIGKILL leaves the socket behind");
    let out = cli_within(&agent, &["status"], Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("nothing listens on the socket") && text.contains("systemctl start"),
        "{text}"
    );
}

#[test]
fn too_many_connections_is_said_plainly_with_exit_4() {
    // One slow model per place, each `load --wait` held by the agent: none can be evicted.
    let models: String = (0..MAX_CONNECTIONS)
        .map(|i| {
            sim_model(
                &format!("m{i}"),
                "1MiB",
                &["--alloc", "1MiB", "--ramp", "600s"],
            )
        })
        .collect();
    let agent = Agent::start(&models);
    let waits: Vec<UnixStream> = (0..MAX_CONNECTIONS)
        .map(|i| {
            let mut s = UnixStream::connect(&agent.socket).unwrap();
            let line = format!("{{\"v\":1,\"cmd\":\"load\",\"name\":\"m{i}\",\"wait\":true}}\n");
            s.write_all(line.as_bytes()).unwrap();
            s
        })
        .collect();
    // Every place waits on the agent once each load is requested (read from the store).
    let store = Store::open(agent.db()).unwrap();
    let filter = EventFilter {
        kind: Some(EventKind::LoadRequested),
        ..EventFilter::default()
    };
    wait_for(Duration::from_secs(60), "every load requested", || {
        (store.query(&filter).unwrap().len() >= MAX_CONNECTIONS).then_some(())
    });
    let out = cli_within(&agent, &["status"], Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("too many connections"), "{text}");
    // The loads waited on were not cut off to make room.
    for mut s in waits {
        s.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let still_waiting = matches!(
            s.read(&mut byte),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
        );
        assert!(still_waiting, "a load --wait was closed or answered");
    }
}
