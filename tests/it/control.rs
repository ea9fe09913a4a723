//! The control socket and the agent's lifecycle, against a real agent process: hostile input
//! changes nothing, unknown names are clear errors, SIGTERM stops every child.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use jetgate::event::EventKind;
use serde_json::Value;

use crate::harness::{sim_model, wait_for, Agent, JETGATE};

fn exchange(agent: &Agent, bytes: &[u8]) -> Value {
    let mut s = UnixStream::connect(&agent.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // A huge request may be answered (and the socket closed) before it is all written.
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

#[test]
fn garbage_oversized_and_half_written_requests_get_errors_and_change_nothing() {
    let models = sim_model("llm", "64MiB", &["--alloc", "1MiB"]);
    let agent = Agent::start(&models);
    let before = agent.json(&["services", "--json"]);
    let events_before = agent.events().len();
    let hostile: Vec<Vec<u8>> = vec![
        b"hello\n".to_vec(),
        b"{\"v\":1,\"cmd\":\"load\",\"name\":\"llm\",\"argv\":[\"sh\"]}\n".to_vec(),
        b"{\"v\":1,\"cmd\":\"load\",\"name\":[\"llm\"]}\n".to_vec(),
        b"{\"v\":1,\"cmd\":\"shell\",\"line\":\"rm -rf /\"}\n".to_vec(),
        b"{\"v\":99,\"cmd\":\"load\",\"name\":\"llm\"}\n".to_vec(),
        b"{\"v\":1,\"cmd\":\"load\",\"name\":\"llm\"".to_vec(), // half-written, then EOF
        [
            b"{\"v\":1,\"cmd\":\"note\",\"text\":\"".as_slice(),
            &vec![b'a'; 1 << 20],
            b"\"}\n",
        ]
        .concat(),
        vec![0xff, 0xfe, 0x00, b'\n'],
        b"\n".to_vec(),
        b"{\"v\":1,\"cmd\":\"events\",\"kind\":\"load_abortd\"}\n".to_vec(),
    ];
    for bytes in &hostile {
        let reply = exchange(&agent, bytes);
        assert_eq!(
            reply["ok"],
            false,
            "accepted: {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
        );
        assert!(reply["error"]["message"].as_str().unwrap().len() > 5);
    }
    assert_eq!(agent.json(&["services", "--json"]), before);
    assert_eq!(
        agent.events().len(),
        events_before,
        "a hostile request left an event"
    );
    assert_eq!(agent.state("llm"), "stopped");
}

#[test]
fn loading_an_unknown_name_is_a_clear_error() {
    let agent = Agent::start("");
    let out = agent.cli(&["load", "gpt-17"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no model or service named \"gpt-17\""),
        "{err}"
    );
}

#[test]
fn the_cli_says_when_no_agent_is_listening() {
    let out = std::process::Command::new(JETGATE)
        .args(["services"])
        .env("JETGATE_SOCKET", "/nonexistent/jetgate.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--local"));
}

/// A kind that is not one: a usage error (exit 2) naming the kinds, before any agent is asked,
/// rather than an empty answer; the control socket refuses it the same way.
#[test]
fn events_of_an_unknown_kind_are_a_usage_error_that_lists_the_kinds() {
    let out = std::process::Command::new(JETGATE)
        .args(["events", "--kind", "load_abortd"])
        .env("JETGATE_SOCKET", "/nonexistent/jetgate.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown event kind \"load_abortd\"")
            && stderr.contains("load_aborted")
            && stderr.contains("gave_up"),
        "{stderr}"
    );
}

#[test]
fn notes_are_stored_and_numbered_in_order() {
    let agent = Agent::start("");
    let first = agent.json(&["note", "--json", "swapped", "the", "fan"]);
    let second = agent.json(&["note", "--json", "reflashed"]);
    assert_eq!(first["message"], "swapped the fan");
    assert_eq!(second["seq"].as_u64(), first["seq"].as_u64().map(|s| s + 1));
    let notes: Vec<_> = agent
        .events()
        .into_iter()
        .filter(|e| e["kind"] == EventKind::Note.as_str())
        .collect();
    assert_eq!(notes.len(), 2);
}

#[test]
fn sigterm_stops_every_child_even_one_that_ignores_sigterm_and_exits_cleanly() {
    let models = sim_model("stubborn", "16MiB", &["--alloc", "1MiB", "--ignore-term"]).replace(
        "stop_grace = \"2s\"\nautostart = false",
        "stop_grace = \"300ms\"\nautostart = true",
    );
    let mut agent = Agent::start(&models);
    let running = agent.wait_state("stubborn", "ready", Duration::from_secs(60));
    let pid = running["pid"].as_i64().unwrap() as i32;
    assert_eq!(agent.terminate(), Some(0));
    wait_for(Duration::from_secs(10), "the child to be gone", || {
        let alive = std::path::Path::new(&format!("/proc/{pid}/stat")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ");
        (!alive).then_some(())
    });
    assert!(!agent.socket.exists(), "the socket was left behind");
}

#[test]
fn the_embedded_default_config_runs_a_monitor_only_agent() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("c.sock");
    let mut child = std::process::Command::new(JETGATE)
        .args(["agent", "--socket"])
        .arg(&socket)
        .env("JETGATE_STATE_DIR", dir.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ok = wait_for(Duration::from_secs(20), "the socket", || {
        UnixStream::connect(&socket).ok()
    });
    drop(ok);
    let out = std::process::Command::new(JETGATE)
        .args(["services", "--json", "--socket"])
        .arg(&socket)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    assert!(child.wait().unwrap().success());
}

/// Runs `jetgate agent` on `config`, expecting it to refuse: its exit code and stderr.
fn agent_refusing(config: &std::path::Path) -> (Option<i32>, String) {
    let out = std::process::Command::new(JETGATE)
        .args(["agent", "--config"])
        .arg(config)
        .env_remove("JETGATE_SOCKET")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_second_agent_on_the_same_store_refuses_to_start_and_names_the_first() {
    let agent = Agent::start(&sim_model("llm", "16MiB", &["--alloc", "8MiB"]));
    // Its own socket (the first one's could have been removed), the same store.
    let config = agent.dir.path().join("second.toml");
    let text = std::fs::read_to_string(&agent.config)
        .unwrap()
        .replace("control.sock", "second.sock");
    std::fs::write(&config, text).unwrap();
    let (code, stderr) = agent_refusing(&config);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("in use by another agent (pid {}", agent.pid())),
        "{stderr}"
    );
    assert!(!agent.dir.path().join("second.sock").exists());
    // The first one serves on.
    assert_eq!(agent.state("llm"), "stopped");
}

/// The modes docs/configuration.md promises, on a real agent: socket 0600 and store files 0600;
/// with `control.group`, the socket 0660 and that group's, the store still owner-only.
#[test]
fn the_socket_and_the_store_are_owner_only_and_control_group_opens_only_the_socket() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut agent = Agent::start("");
    agent.json(&["note", "--json", "so the log has a write"]);
    let db = agent.db();
    let wal = db.with_extension("db-wal");
    assert_eq!(mode(&agent.socket), 0o600);
    assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));

    agent.terminate();
    let group = nix::unistd::Group::from_gid(nix::unistd::getegid())
        .unwrap()
        .unwrap();
    let mut config = std::fs::read_to_string(&agent.config).unwrap();
    config.push_str(&format!("group = \"{}\"\n", group.name));
    std::fs::write(&agent.config, config).unwrap();
    agent.spawn();
    agent.json(&["note", "--json", "and another"]);
    assert_eq!(mode(&agent.socket), 0o660);
    assert_eq!(
        std::fs::metadata(&agent.socket).unwrap().gid(),
        group.gid.as_raw()
    );
    assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
}
