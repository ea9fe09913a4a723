//! MQTT 5 against a real Mosquitto 2 and real agents: a command whose message expiry ran out
//! while the device was off never runs; a session past its expiry comes back without the
//! commands queued in it; a crash and restart within the will delay never shows the device
//! offline, and one without a restart does, once the delay is over; a request with a response
//! topic and correlation data gets its replies there with the same data, and a response topic
//! outside the device's `cmd/response` is refused; a publish the broker refuses is reported
//! with its reason code. Commands are published with
//! `mosquitto_pub -V mqttv5` and `mosquitto_rr` (package mosquitto-clients).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::process::Command;
use std::time::Duration;

use jetgate::event::EventKind;
use serde_json::{json, Value};

use crate::broker::{Broker, Sub};
use crate::harness::{sim_model, wait_for, Agent};
use crate::mqtt::{mqtt_section, status_with};
use crate::mqtt_command_limits::{kinds, replies_for, topic, wait_online, wait_reply};

/// `[mqtt]` for an MQTT 5 agent, with `extra` keys.
fn v5(dev: &str, broker: &Broker, extra: &str) -> String {
    mqtt_section(dev, &broker.url(), &format!("protocol = \"5\"\n{extra}"))
}

/// Publishes `payload` at QoS 1 over MQTT 5 with `props` (`-D publish <property> <value>`).
fn publish5(broker: &Broker, topic: &str, payload: &Value, props: &[(&str, &str)]) {
    let mut c = Command::new("mosquitto_pub");
    c.args(["-V", "mqttv5", "-h", "127.0.0.1", "-q", "1"])
        .args(["-p", &broker.port.to_string(), "-t", topic])
        .args(["-m", &payload.to_string()]);
    for (name, value) in props {
        c.args(["-D", "publish", name, value]);
    }
    let out = c
        .output()
        .expect("mosquitto_pub (package mosquitto-clients) must be installed");
    assert!(
        out.status.success(),
        "mosquitto_pub: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// No reply, and no event, ever named command `id`.
fn never_seen(sub: &Sub, agent: &Agent, dev: &str, id: &str) {
    let replies = sub.json(&topic(dev, "cmd/response"));
    assert!(replies_for(&replies, id).is_empty(), "{replies:#?}");
    let named: Vec<Value> = agent
        .events()
        .into_iter()
        .filter(|e| e["figures"]["id"] == id)
        .collect();
    assert!(named.is_empty(), "{named:#?}");
}

#[test]
fn a_command_whose_message_expiry_ran_out_while_the_device_was_off_never_runs() {
    let dev = "dev-mexp";
    let broker = Broker::start("");
    let sub = Sub::connect(
        broker.port,
        "sub-mexp",
        true,
        &[&topic(dev, "cmd/response"), &topic(dev, "status")],
    );
    let models = sim_model("llm", "64MiB", &["--alloc", "1MiB"]);
    let mut agent = Agent::start(&format!("{}\n{models}", v5(dev, &broker, "")));
    let session = wait_online(&sub, dev, 0);
    agent.terminate();
    // Queued in the kept session while the device is off: one with a 2 s message expiry.
    let request = topic(dev, "cmd/request");
    let expiring = json!({"id": "expiring", "action": "load", "target": "llm"});
    publish5(
        &broker,
        &request,
        &expiring,
        &[("message-expiry-interval", "2")],
    );
    let kept = json!({"id": "kept", "action": "note", "text": "no expiry"});
    publish5(&broker, &request, &kept, &[]);
    std::thread::sleep(Duration::from_secs(3));
    agent.spawn();
    wait_online(&sub, dev, session);
    wait_reply(&sub, dev, "kept", "succeeded");
    never_seen(&sub, &agent, dev, "expiring");
    assert_eq!(agent.state("llm"), "stopped", "the expired load ran");
}

#[test]
fn a_session_past_its_expiry_comes_back_without_the_commands_queued_in_it() {
    let dev = "dev-sexp";
    let broker = Broker::start("");
    let sub = Sub::connect(
        broker.port,
        "sub-sexp",
        true,
        &[&topic(dev, "cmd/response"), &topic(dev, "status")],
    );
    let mut agent = Agent::start(&v5(dev, &broker, "session_expiry = \"2s\"\n"));
    let session = wait_online(&sub, dev, 0);
    agent.terminate();
    let request = topic(dev, "cmd/request");
    let late = json!({"id": "late", "action": "note", "text": "queued too long"});
    publish5(&broker, &request, &late, &[]);
    std::thread::sleep(Duration::from_secs(4));
    agent.spawn();
    wait_online(&sub, dev, session);
    let connected = kinds(&agent.events(), EventKind::MqttConnected);
    let last = connected.last().unwrap();
    assert_eq!(last["figures"]["session_present"], false, "{last}");
    // Subscribed again: a new command arrives and runs.
    let after = json!({"id": "after", "action": "note", "text": "fresh"});
    publish5(&broker, &request, &after, &[]);
    wait_reply(&sub, dev, "after", "succeeded");
    never_seen(&sub, &agent, dev, "late");
}

#[test]
fn a_restart_within_the_will_delay_never_shows_offline_and_a_longer_drop_does() {
    let dev = "dev-wdel";
    let broker = Broker::start("");
    let status = topic(dev, "status");
    let sub = Sub::connect(broker.port, "sub-wdel", true, &[&status]);
    let mut agent = Agent::start(&v5(dev, &broker, "will_delay = \"5s\"\n"));
    let first = wait_online(&sub, dev, 0);
    agent.kill();
    agent.spawn();
    let second = wait_online(&sub, dev, first);
    // Past the first session's will delay: its will was cancelled by the resumed session.
    std::thread::sleep(Duration::from_secs(6));
    let statuses = sub.json(&status);
    assert_eq!(
        status_with(&statuses, false, None),
        None,
        "a short drop showed offline: {statuses:#?}"
    );
    agent.kill();
    let will = sub.wait(&status, "the delayed will", Duration::from_secs(30), |s| {
        status_with(s, false, Some(second))
    });
    assert_eq!(will["online"], false);
}

#[test]
fn a_request_gets_its_replies_on_its_response_topic_with_its_correlation_data() {
    let dev = "dev-rr";
    let broker = Broker::start("");
    let responses = topic(dev, "cmd/response");
    let sub = Sub::connect(
        broker.port,
        "sub-rr",
        true,
        &[&responses, &topic(dev, "status"), "elsewhere/#"],
    );
    let agent = Agent::start(&v5(dev, &broker, ""));
    wait_online(&sub, dev, 0);
    let asked = format!("{responses}/console-7");
    let out = Command::new("mosquitto_rr")
        .args(["-V", "mqttv5", "-h", "127.0.0.1", "-q", "1"])
        .args(["-p", &broker.port.to_string()])
        .args(["-t", &topic(dev, "cmd/request"), "-e", &asked])
        .args(["-D", "publish", "correlation-data", "corr-42"])
        .args(["-F", "%D %p", "-W", "30"])
        .args([
            "-m",
            &json!({"id": "rr1", "action": "note", "text": "ping"}).to_string(),
        ])
        .output()
        .expect("mosquitto_rr (package mosquitto-clients) must be installed");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "mosquitto_rr: {printed} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (correlation, reply) = printed.trim().split_once(' ').unwrap();
    assert_eq!(correlation, "corr-42", "{printed}");
    let reply: Value = serde_json::from_str(reply).unwrap();
    assert_eq!(reply["id"], "rr1", "{reply}");
    // The documented topic still carries every reply (without the correlation data).
    wait_reply(&sub, dev, "rr1", "succeeded");
    // A response topic outside the device's cmd/response: refused, answered on cmd/response
    // only, and nothing published where it asked.
    let elsewhere = json!({"id": "rr2", "action": "note", "text": "redirect"});
    publish5(
        &broker,
        &topic(dev, "cmd/request"),
        &elsewhere,
        &[("response-topic", "elsewhere/x")],
    );
    let refused = wait_reply(&sub, dev, "rr2", "rejected");
    let reason = refused["reason"].as_str().unwrap();
    assert!(reason.contains("response topic"), "{reason}");
    let rejected = kinds(&agent.events(), EventKind::CommandRejected);
    assert!(
        rejected.iter().any(|e| e["figures"]["id"] == "rr2"),
        "{rejected:#?}"
    );
    assert!(sub.messages("elsewhere/x").is_empty());
}

#[test]
fn a_publish_the_broker_refuses_is_reported_with_its_reason_code() {
    // Anonymous clients may read under jetgate/ but write nothing: Mosquitto acknowledges the
    // device's presence with PUBACK 0x87 (MQTT 5; 3.1.1 has no way to say it), which ends the
    // connection in rumqttc; the disconnect event names the packet and the code, and the next
    // attempt waits minutes.
    let mut broker = Broker::start("");
    let acl = broker.path("acl");
    std::fs::write(&acl, "topic read jetgate/#\n").unwrap();
    let conf = std::fs::read_to_string(broker.path("mosquitto.conf")).unwrap();
    std::fs::write(
        broker.path("mosquitto.conf"),
        format!("{conf}acl_file {}\n", acl.display()),
    )
    .unwrap();
    broker.stop();
    broker.spawn();
    let agent = Agent::start(&v5("dev-acl5", &broker, ""));
    let dropped = wait_for(Duration::from_secs(30), "the refused publish", || {
        kinds(&agent.events(), EventKind::MqttDisconnected)
            .into_iter()
            .find(|e| e["figures"]["reason_code"].is_u64())
    });
    let f = &dropped["figures"];
    assert_eq!(f["reason_code"], 0x87, "{dropped}");
    let reason = f["reason"].as_str().unwrap();
    assert!(reason.starts_with("puback not_authorized"), "{dropped}");
    // Refused again at every reconnect: it backs off in minutes, as a refused CONNECT does.
    assert!(f["retry_in_ms"].as_u64() >= Some(60_000), "{dropped}");
    assert!(
        dropped["message"].as_str().unwrap().contains(reason),
        "{dropped}"
    );
}
