//! Polite reconnects against a real Mosquitto: after an outage the device's presence and
//! state reach a subscriber before its backlog, which arrives whole at `backlog_rate`; an
//! event over `max_payload` is skipped and reported while the events after it go on.
//! (Refused credentials backing off in minutes: `mqtt_auth.rs`.) The outage runs over MQTT
//! 3.1.1 and 5.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::time::Duration;

use jetgate::event::EventKind;
use serde_json::Value;

use crate::broker::{Broker, Sub};
use crate::harness::Agent;
use crate::mqtt::{dedupe, mqtt_section, notes, status_with};

#[test]
fn after_a_reconnect_presence_and_state_come_before_the_backlog_and_all_of_it_arrives() {
    for protocol in ["3.1.1", "5"] {
        backlog_after_outage(protocol);
    }
}

fn backlog_after_outage(protocol: &str) {
    let mut broker = Broker::start("");
    let dev = format!("dev-backlog-{}", protocol.replace('.', ""));
    let (status, state, events) = (
        &format!("jetgate/{dev}/status"),
        &format!("jetgate/{dev}/state"),
        &format!("jetgate/{dev}/events"),
    );
    let sub = Sub::connect(broker.port, "sub-backlog", false, &[status, state, events]);
    let agent = Agent::start(&mqtt_section(
        &dev,
        &broker.url(),
        &format!("backlog_rate = 100\nprotocol = \"{protocol}\"\n"),
    ));
    let online = sub.wait(status, "online", Duration::from_secs(30), |s| {
        status_with(s, true, None)
    });
    let session = online["session"].as_u64().unwrap();
    sub.wait(state, "the first state", Duration::from_secs(30), |s| {
        s.first().cloned()
    });
    broker.stop();
    let seqs = notes(&agent, 300, |_| {});
    broker.spawn();
    let wanted: BTreeSet<u64> = seqs.iter().copied().collect();
    let got = sub.wait(
        events,
        "all 300 notes after the outage",
        Duration::from_secs(120),
        |evs| {
            let got = dedupe(evs);
            let have: BTreeSet<u64> = got.iter().copied().collect();
            wanted.is_subset(&have).then_some(got)
        },
    );
    assert!(got.windows(2).all(|w| w[0] < w[1]), "out of order: {got:?}");

    // One arrival order over the three topics.
    let all = sub.all();
    let online_at = all
        .iter()
        .position(|m| {
            let j = m.json();
            m.topic == *status && j["online"] == true && j["session"].as_u64() > Some(session)
        })
        .expect("online with the next session");
    let state_at = all[online_at..]
        .iter()
        .position(|m| m.topic == *state)
        .map(|i| i + online_at)
        .expect("a state after the reconnect");
    let first_backlog = all
        .iter()
        .position(|m| {
            m.topic == *events
                && m.json()["seq"]
                    .as_u64()
                    .is_some_and(|s| wanted.contains(&s))
        })
        .unwrap();
    assert!(
        online_at < state_at && state_at < first_backlog,
        "{protocol}: status online at {online_at}, state at {state_at}, first backlog event at {first_backlog}"
    );
}

#[test]
fn an_event_over_max_payload_is_skipped_and_reported_and_the_rest_goes_on() {
    let broker = Broker::start("");
    let events = "jetgate/dev-big/events";
    let sub = Sub::connect(broker.port, "sub-big", true, &[events]);
    let agent = Agent::start(&mqtt_section(
        "dev-big",
        &broker.url(),
        "max_payload = \"1KiB\"\n",
    ));
    let seq = |v: Value| v["seq"].as_u64().unwrap();
    let big = seq(agent.json(&["note", "--json", &"x".repeat(2000)]));
    let after = seq(agent.json(&["note", "--json", "after the big one"]));
    let got = sub.wait(
        events,
        "the note after the big one",
        Duration::from_secs(30),
        |evs| dedupe(evs).contains(&after).then(|| evs.to_vec()),
    );
    assert!(!dedupe(&got).contains(&big), "the big note was published");
    let report = got
        .iter()
        .find(|e| e["kind"] == EventKind::MqttPayloadDropped.as_str())
        .unwrap_or_else(|| panic!("no mqtt_payload_dropped among {got:?}"));
    let f = &report["figures"];
    assert_eq!(f["seq"], big, "{report}");
    assert_eq!(f["event_kind"], "note", "{report}");
    assert!(f["payload_bytes"].as_u64().unwrap() > 2000, "{report}");
    assert_eq!(f["max_payload_bytes"], 1024, "{report}");
    assert_eq!(f["dropped_total"], 1, "{report}");
    assert!(
        agent.events().iter().any(|e| e["seq"] == big),
        "the local log keeps the skipped event"
    );
}
