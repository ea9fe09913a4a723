//! `jetgate top` in a real terminal: a real agent (with a fake tegrastats printing real Orin
//! Nano lines), `jetgate top` inside a detached 80x24 tmux session, and `tmux capture-pane` to
//! read the screen. Keys go in with `tmux send-keys`. Killing the agent must turn the view into
//! the "not reachable" screen, not end it.
//!
//! Waits are bounded polls on the pane's text; nothing asserts on wall time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::harness::{sim_model, wait_for, Agent, JETGATE};

/// A tmux server of its own (`-L`), so the test never touches anyone's sessions.
struct Tmux {
    server: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.server)
            .args(args)
            .env("TERM", "xterm-256color")
            .env_remove("TMUX")
            .output()
            .unwrap()
    }

    /// `jetgate --socket SOCKET top` in a detached 80x24 session; `None` without tmux.
    fn start(tag: &str, socket: &Path) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            return crate::prerequisite::missing(
                "tmux is not installed",
                "scripts/test.sh installs it; by hand: apt install tmux",
            );
        }
        let tmux = Tmux {
            server: format!("jgtest-{tag}-{}", std::process::id()),
        };
        let socket = socket.to_str().unwrap();
        let out = tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            "80",
            "-y",
            "24",
            JETGATE,
            "--socket",
            socket,
            "top",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(tmux)
    }

    fn capture(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", "top"]);
        assert!(
            out.status.success(),
            "capture-pane failed (did jetgate top exit?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        assert!(self.run(&["send-keys", "-t", "top", keys]).status.success());
    }

    /// Waits until the pane shows every one of `needles`.
    fn wait_for_text(&self, needles: &[&str]) -> String {
        let mut last = String::new();
        let what = format!("the pane to show {needles:?}");
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(Duration::from_secs(30), &what, || {
                last = self.capture();
                needles
                    .iter()
                    .all(|n| last.contains(n))
                    .then(|| last.clone())
            })
        }));
        found.unwrap_or_else(|_| panic!("timed out waiting for {needles:?}; the pane:\n{last}"))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn fake_tegrastats() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tegrastats/fake-tegrastats")
        .display()
        .to_string()
}

#[test]
fn top_shows_the_agent_acts_on_a_confirmed_key_and_survives_the_agent_dying() {
    let body = format!(
        "[device]\ntegrastats = \"{}\"\n\n{}",
        fake_tegrastats(),
        sim_model("llm", "64MiB", &["--alloc", "1MiB"])
    );
    let mut agent = Agent::start(&body);
    // The agent's status document carries the tegrastats figures from the fake binary.
    let status = wait_for(Duration::from_secs(30), "tegrastats figures", || {
        let doc = agent.json(&["status", "--json"]);
        (doc["tegrastats"]["state"] == "running").then_some(doc)
    });
    assert_eq!(
        status["tegrastats"]["sample"]["ram"]["total_bytes"],
        7620u64 << 20
    );

    let Some(tmux) = Tmux::start("top", &agent.socket) else {
        return;
    };
    let pane = tmux.wait_for_text(&["-- Memory", "-- Services", "available", "> llm", "CPU "]);
    assert!(pane.contains("-- Gate"), "{pane}");
    assert!(pane.contains("q quit"), "{pane}");
    assert!(pane.contains("stopped"), "llm starts stopped:\n{pane}");

    // l asks first; y sends the load to the agent.
    tmux.keys("l");
    tmux.wait_for_text(&["load llm?", "y: yes   n: no"]);
    tmux.keys("y");
    agent.wait_state("llm", "ready", Duration::from_secs(60));
    tmux.wait_for_text(&["ready", "load_ready"]);

    agent.kill();
    let pane = tmux.wait_for_text(&["agent not reachable at", "retrying"]);
    assert!(!pane.contains("-- Memory"), "{pane}");
    // Still running and still retrying: the next capture works and says the same.
    let pane = tmux.wait_for_text(&["agent not reachable at"]);
    assert!(pane.contains("q quits"), "{pane}");
    tmux.keys("q");
    wait_for(Duration::from_secs(10), "jetgate top to quit on q", || {
        let out = tmux.run(&["capture-pane", "-p", "-t", "top"]);
        (!out.status.success()).then_some(())
    });
    // The SIGKILLed agent left its model running: an agent started on its store stops that
    // orphan, and stops cleanly when the test drops it, so no model outlives the test.
    agent.spawn();
    let events = agent.events();
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "orphan_stopped" && e["subject"] == "llm"),
        "{events:#?}"
    );
}
