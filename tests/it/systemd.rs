//! `Type=notify` end to end: a real agent under a fake service manager (a datagram socket bound
//! by the test, `WATCHDOG_USEC` = 400 ms) says READY=1 once serving, pets the watchdog again and
//! again, says STOPPING=1 on SIGTERM, and its model never sees the notify variables.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::net::UnixDatagram;
use std::sync::mpsc;
use std::time::Duration;

use crate::harness::{sim_model_autostarted, Agent};

/// Reads every datagram on its own thread, as a service manager does (the kernel queues only a
/// few datagrams per socket: an unread socket would drop the agent's later messages).
fn listen(socket: UnixDatagram) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = socket.recv(&mut buf) {
            if tx
                .send(String::from_utf8_lossy(&buf[..n]).to_string())
                .is_err()
            {
                return;
            }
        }
    });
    rx
}

/// Takes messages until one satisfies `want`; returns every message seen, in order.
fn until(
    messages: &mpsc::Receiver<String>,
    what: &str,
    mut want: impl FnMut(&str) -> bool,
) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let text = match messages.recv_timeout(Duration::from_secs(30)) {
            Ok(t) => t,
            Err(e) => panic!("no {what} from the agent (got {seen:?}): {e}"),
        };
        let done = want(&text);
        seen.push(text);
        if done {
            return seen;
        }
    }
}

/// The environment of a live process, as `KEY=value` strings.
fn environ(pid: u64) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap()
        .split(|b| *b == 0)
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v).to_string())
        .collect()
}

#[test]
fn says_ready_pets_the_watchdog_says_stopping_and_its_model_never_sees_the_socket() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("notify.sock");
    let manager = UnixDatagram::bind(&path).unwrap();
    let manager = listen(manager);
    let body = sim_model_autostarted("m", "16MiB", &["--alloc", "16MiB"]);
    let notify = path.to_str().unwrap();
    let mut agent = Agent::start_with_env(
        &body,
        &[
            ("NOTIFY_SOCKET", notify),
            ("WATCHDOG_USEC", "400000"),
            ("LISTEN_FDS", "3"),
        ],
    );

    let before_ready = until(&manager, "READY=1", |m| m.contains("READY=1"));
    let ready = before_ready.last().unwrap();
    assert!(ready.contains("STATUS=serving on "), "{ready:?}");
    let pets = std::cell::Cell::new(0);
    until(&manager, "three WATCHDOG=1", |m| {
        if m.lines().any(|l| l == "WATCHDOG=1") {
            pets.set(pets.get() + 1);
        }
        pets.get() >= 3
    });

    let model = agent.wait_state("m", "ready", Duration::from_secs(60));
    let pid = model["pid"].as_u64().unwrap();
    let env = environ(pid);
    assert!(
        env.iter().any(|v| v == "RUST_LOG=info"),
        "the model inherits the agent's ordinary environment: {env:?}"
    );
    for var in [
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
        "WATCHDOG_PID",
        "LISTEN_FDS",
    ] {
        assert!(
            !env.iter().any(|v| v.starts_with(&format!("{var}="))),
            "the model sees {var}: {env:?}"
        );
    }

    assert_eq!(agent.terminate(), Some(0));
    let stopping = until(&manager, "STOPPING=1", |m| m.contains("STOPPING=1"));
    assert!(
        stopping
            .last()
            .unwrap()
            .contains("STATUS=SIGTERM: stopping 1 children"),
        "{stopping:?}"
    );
}
