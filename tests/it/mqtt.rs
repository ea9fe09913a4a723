//! The fleet link against a real Mosquitto: a broker outage loses no event, SIGKILL leaves
//! the last will, hostile commands change nothing, TLS with client certificates, and
//! `jetgate fleet` over several agents.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use jetgate::event::EventKind;
use serde_json::{json, Value};

use crate::broker::{make_pki, rss, Broker, Sub};
use crate::harness::{wait_for, Agent, JETGATE};

/// An agent's `[device]` and `[mqtt]`; tests connect at once (`connect_spread = "0s"`; the
/// default start-up slot is up to 10 s).
pub fn mqtt_section(id: &str, url: &str, extra: &str) -> String {
    format!(
        "[device]\nid = \"{id}\"\n\n[mqtt]\nurl = \"{url}\"\nstate_interval = \"1s\"\n\
         telemetry_interval = \"1s\"\nconnect_spread = \"0s\"\n{extra}\n"
    )
}

/// The seqs of events in arrival order, each kept once (its first arrival).
pub fn dedupe(events: &[Value]) -> Vec<u64> {
    let mut seen = BTreeSet::new();
    events
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .filter(|s| seen.insert(*s))
        .collect()
}

pub fn status_with(statuses: &[Value], online: bool, session: Option<u64>) -> Option<Value> {
    statuses
        .iter()
        .rev()
        .find(|s| s["online"] == online && session.is_none_or(|n| s["session"] == n))
        .cloned()
}

/// Sends `n` notes over one control connection; returns their seqs.
pub fn notes(agent: &Agent, n: usize, mut each: impl FnMut(usize)) -> Vec<u64> {
    let stream = UnixStream::connect(&agent.socket).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut seqs = Vec::new();
    for i in 0..n {
        writeln!(
            writer,
            "{}",
            json!({"v": 1, "cmd": "note", "text": format!("outage note {i}")})
        )
        .unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let reply: Value = serde_json::from_str(&line).unwrap();
        seqs.push(reply["data"]["seq"].as_u64().unwrap());
        each(i);
    }
    seqs
}

#[test]
fn a_ten_second_broker_outage_loses_no_event_and_keeps_memory_bounded() {
    let mut broker = Broker::start("");
    let sub = Sub::connect(
        broker.port,
        "sub-outage",
        false,
        &["jetgate/dev-outage/events"],
    );
    let agent = Agent::start(&mqtt_section("dev-outage", &broker.url(), ""));
    let topic = "jetgate/dev-outage/events";
    sub.wait(
        topic,
        "agent_started on the broker",
        Duration::from_secs(30),
        |evs| {
            evs.iter()
                .find(|e| e["kind"] == EventKind::AgentStarted.as_str())
                .cloned()
        },
    );
    broker.stop();
    let stopped = Instant::now();
    let baseline = rss(agent.pid());
    let mut peak = baseline;
    let seqs = notes(&agent, 1000, |i| {
        if i % 50 == 0 {
            peak = peak.max(rss(agent.pid()));
        }
    });
    while stopped.elapsed() < Duration::from_secs(10) {
        peak = peak.max(rss(agent.pid()));
        std::thread::sleep(Duration::from_millis(250));
    }
    broker.spawn();
    let wanted: BTreeSet<u64> = seqs.iter().copied().collect();
    let got = sub.wait(
        topic,
        "all 1000 notes after the outage",
        Duration::from_secs(120),
        |evs| {
            let got = dedupe(evs);
            let have: BTreeSet<u64> = got.iter().copied().collect();
            wanted.is_subset(&have).then_some(got)
        },
    );
    peak = peak.max(rss(agent.pid()));
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "events out of order: {got:?}"
    );
    let notes_seen = got.iter().filter(|s| wanted.contains(s)).count();
    assert_eq!(notes_seen, 1000);
    eprintln!(
        "agent VmRSS: baseline {} KiB, peak {} KiB while 1000 events waited offline",
        baseline / 1024,
        peak / 1024
    );
    assert!(
        peak <= baseline + (16 << 20),
        "RSS grew from {baseline} to {peak} bytes while offline"
    );
    // The link's own reports come after the backlog (seq order, at `backlog_rate`).
    sub.wait(
        topic,
        "mqtt_disconnected and the reconnect",
        Duration::from_secs(30),
        |evs| {
            let lost = evs
                .iter()
                .any(|e| e["kind"] == EventKind::MqttDisconnected.as_str());
            let back = evs.iter().any(|e| {
                e["kind"] == EventKind::MqttConnected.as_str()
                    && e["figures"]["failed_attempts"].as_u64() > Some(0)
            });
            (lost && back).then_some(())
        },
    );
}

#[test]
fn sigkill_leaves_the_will_and_a_restart_takes_the_next_session_and_seq() {
    // MQTT 5 with no will delay: the will goes out at once, as with 3.1.1.
    for (protocol, extra) in [("3.1.1", ""), ("5", "will_delay = \"0s\"\n")] {
        will_and_next_session(protocol, extra);
    }
}

fn will_and_next_session(protocol: &str, extra: &str) {
    let broker = Broker::start("");
    let dev = format!("dev-kill-{}", protocol.replace('.', ""));
    let status = &format!("jetgate/{dev}/status");
    let events = &format!("jetgate/{dev}/events");
    let sub = Sub::connect(broker.port, "sub-kill", true, &[status, events]);
    let extra = format!("protocol = \"{protocol}\"\n{extra}");
    let mut agent = Agent::start(&mqtt_section(&dev, &broker.url(), &extra));
    let online = sub.wait(status, "online", Duration::from_secs(30), |s| {
        status_with(s, true, None)
    });
    let session = online["session"].as_u64().unwrap();
    let note = agent.json(&["note", "--json", "before the crash"]);
    let before = note["seq"].as_u64().unwrap();
    sub.wait(events, "the note", Duration::from_secs(30), |e| {
        dedupe(e).contains(&before).then_some(())
    });
    agent.kill();
    let will = sub.wait(status, "the will", Duration::from_secs(30), |s| {
        status_with(s, false, Some(session))
    });
    assert_eq!(will["pid"], online["pid"]);
    agent.spawn();
    let again = sub.wait(status, "online again", Duration::from_secs(30), |s| {
        status_with(s, true, Some(session + 1))
    });
    assert_ne!(again["pid"], online["pid"]);
    let after = agent.json(&["note", "--json", "after the crash"])["seq"]
        .as_u64()
        .unwrap();
    assert!(after > before);
    let seen = sub.wait(events, "the second note", Duration::from_secs(30), |e| {
        let d = dedupe(e);
        d.contains(&after).then_some(d)
    });
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    let restarted = sub
        .json(events)
        .into_iter()
        .filter(|e| e["kind"] == EventKind::AgentStarted.as_str())
        .count();
    assert!(restarted >= 2);
}

#[test]
fn tls_with_a_client_certificate_connects_and_a_wrong_ca_backs_off_without_crashing() {
    let mut broker = Broker::start("");
    let dir = broker.dir.path().to_path_buf();
    make_pki(
        &dir,
        "good",
        &[
            ("server", "DNS:localhost,IP:127.0.0.1"),
            ("dev-tls", "DNS:dev-tls"),
        ],
    );
    make_pki(&dir, "other", &[]);
    let tls_port = crate::broker::free_port();
    let conf = std::fs::read_to_string(dir.join("mosquitto.conf")).unwrap();
    let conf = format!(
        "{conf}listener {tls_port} 127.0.0.1\ncafile {0}/good-ca.pem\ncertfile {0}/good-server.pem\n\
         keyfile {0}/good-server.key\nrequire_certificate true\n",
        dir.display()
    );
    std::fs::write(dir.join("mosquitto.conf"), conf).unwrap();
    broker.stop();
    broker.spawn();
    wait_for(Duration::from_secs(10), "the TLS listener", || {
        std::net::TcpStream::connect(("127.0.0.1", tls_port)).ok()
    });
    let sub = Sub::connect(broker.port, "sub-tls", true, &["jetgate/+/status"]);
    let url = format!("mqtts://localhost:{tls_port}");
    let files = |ca: &str| {
        format!(
            "ca = \"{0}/{ca}-ca.pem\"\ncert = \"{0}/good-dev-tls.pem\"\nkey = \"{0}/good-dev-tls.key\"\n",
            dir.display()
        )
    };
    let good = Agent::start(&mqtt_section("dev-tls", &url, &files("good")));
    sub.wait(
        "jetgate/dev-tls/status",
        "the TLS agent online",
        Duration::from_secs(30),
        |s| status_with(s, true, None),
    );
    let bad = Agent::start(&mqtt_section("dev-badca", &url, &files("other")));
    let failed = wait_for(Duration::from_secs(30), "the TLS failure event", || {
        bad.events()
            .into_iter()
            .find(|e| e["kind"] == EventKind::MqttConnectFailed.as_str())
    });
    assert_eq!(failed["severity"], "error", "{failed}");
    let error = failed["figures"]["error"].as_str().unwrap();
    assert!(
        error.contains("TLS") || error.contains("certificate"),
        "{error}"
    );
    assert!(failed["figures"]["retry_in_ms"].as_u64().is_some());
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        std::path::Path::new(&format!("/proc/{}", bad.pid())).exists(),
        "the agent died"
    );
    let repeats = bad
        .events()
        .iter()
        .filter(|e| e["kind"] == EventKind::MqttConnectFailed.as_str())
        .count();
    assert_eq!(
        repeats, 1,
        "a repeated failure is traced, not an event each time"
    );
    assert!(sub.json("jetgate/dev-badca/status").is_empty());
    drop(good);
}

#[test]
fn fleet_lists_every_agent_with_its_figures_and_keeps_offline_ones() {
    let broker = Broker::start("");
    let sub = Sub::connect(broker.port, "sub-fleet", true, &["jetgate/+/state"]);
    let mut agents: Vec<Agent> = ["dev-a", "dev-b", "dev-c"]
        .iter()
        .map(|id| Agent::start(&mqtt_section(id, &broker.url(), "")))
        .collect();
    for id in ["dev-a", "dev-b", "dev-c"] {
        sub.wait(
            &format!("jetgate/{id}/state"),
            "state with memory",
            Duration::from_secs(30),
            |s| {
                s.iter()
                    .find(|d| d["memory"]["available_bytes"].is_u64())
                    .cloned()
            },
        );
    }
    let fleet = |broker: &Broker| -> Vec<Value> {
        let out = std::process::Command::new(JETGATE)
            .args(["fleet", "--broker", &broker.url(), "--json", "--once"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    let devices = fleet(&broker);
    let ids: Vec<&str> = devices.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["dev-a", "dev-b", "dev-c"]);
    for d in &devices {
        assert_eq!(d["online"], true, "{d}");
        assert!(d["available_bytes"].as_u64().unwrap() > 0, "{d}");
        assert!(d["budget_bytes"].is_u64(), "{d}");
        assert!(d["board"].is_string(), "{d}");
        assert!(d["session"].as_u64().unwrap() >= 1, "{d}");
    }
    assert_eq!(agents[1].terminate(), Some(0));
    let devices = fleet(&broker);
    assert_eq!(devices.len(), 3);
    assert_eq!(devices[1]["online"], false, "{}", devices[1]);
    assert_eq!(devices[0]["online"], true);
    agents.clear();
}
