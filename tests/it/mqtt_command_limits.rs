//! Remote commands at their limits, against a real Mosquitto and real agent processes: a
//! command too large for the client is refused once and the device comes back; a command id
//! is run once however often it is delivered, across restarts; a retained command never runs;
//! a flood is answered in full without flooding the event log or the agent's memory.
//! A command that waited offline past its `expires` is refused, never run (MQTT 3.1.1 and 5).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::time::Duration;

use jetgate::event::EventKind;
use serde_json::{json, Value};

use crate::broker::{rss, Broker, Sub};
use crate::harness::{sim_model, Agent};
use crate::mqtt::mqtt_section;

pub(crate) fn topic(id: &str, leaf: &str) -> String {
    format!("jetgate/{id}/{leaf}")
}

pub(crate) fn replies_for(replies: &[Value], id: &str) -> Vec<Value> {
    replies.iter().filter(|r| r["id"] == id).cloned().collect()
}

/// Waits for a reply with `status` to command `id`.
pub(crate) fn wait_reply(sub: &Sub, dev: &str, id: &str, status: &str) -> Value {
    sub.wait(
        &topic(dev, "cmd/response"),
        &format!("{id} {status}"),
        Duration::from_secs(60),
        |r| {
            r.iter()
                .find(|r| r["id"] == id && r["status"] == status)
                .cloned()
        },
    )
}

/// Waits for the agent's `online: true` in a session after `after` (its link is up and
/// subscribed: a command published before that may find no session to queue it in).
pub(crate) fn wait_online(sub: &Sub, dev: &str, after: u64) -> u64 {
    let status = sub.wait(
        &topic(dev, "status"),
        "online",
        Duration::from_secs(60),
        |s| {
            s.iter()
                .rev()
                .find(|s| s["online"] == true && s["session"].as_u64() > Some(after))
                .cloned()
        },
    );
    status["session"].as_u64().unwrap()
}

pub(crate) fn kinds(events: &[Value], kind: EventKind) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["kind"] == kind.as_str())
        .cloned()
        .collect()
}

#[test]
fn a_command_too_large_for_the_client_is_refused_once_and_the_device_comes_back() {
    let dev = "dev-big";
    let broker = Broker::start("");
    let sub = Sub::connect(
        broker.port,
        "sub-big",
        true,
        &[&topic(dev, "cmd/response"), &topic(dev, "status")],
    );
    let mut agent = Agent::start(&mqtt_section(dev, &broker.url(), ""));
    let first = wait_online(&sub, dev, 0);
    // 3 MiB at QoS 1: over the 2 MiB the client reads, so rumqttc drops the connection and
    // the broker holds the message for the session, to redeliver at every reconnect.
    let mut big = br#"{"id":"big","action":"note","text":""#.to_vec();
    big.extend(std::iter::repeat_n(b'a', 3 << 20));
    big.extend(br#""}"#);
    sub.publish(&topic(dev, "cmd/request"), big, false);
    let refused = sub.wait(
        &topic(dev, "cmd/response"),
        "the big command refused",
        Duration::from_secs(60),
        |r| r.iter().find(|r| r["status"] == "rejected").cloned(),
    );
    assert_eq!(refused["id"], Value::Null, "{refused}");
    assert!(
        refused["reason"].as_str().unwrap().contains("bytes"),
        "{refused}"
    );
    // Back online, in a later session, and commands run again.
    let again = wait_online(&sub, dev, first);
    sub.publish(
        &topic(dev, "cmd/request"),
        json!({"id": "after-big", "action": "status"})
            .to_string()
            .into_bytes(),
        false,
    );
    wait_reply(&sub, dev, "after-big", "succeeded");
    // A restart does not bring it back: the next command is answered and the big one is not
    // (the broker would deliver a queued message before it). The session that discarded it
    // was a clean one: nothing is queued for the agent until it is online again.
    agent.terminate();
    agent.spawn();
    wait_online(&sub, dev, again);
    sub.publish(
        &topic(dev, "cmd/request"),
        json!({"id": "after-restart", "action": "status"})
            .to_string()
            .into_bytes(),
        false,
    );
    wait_reply(&sub, dev, "after-restart", "succeeded");
    let replies = sub.json(&topic(dev, "cmd/response"));
    let rejected: Vec<&Value> = replies
        .iter()
        .filter(|r| r["status"] == "rejected")
        .collect();
    assert_eq!(rejected.len(), 1, "{replies:#?}");
    let events = agent.events();
    let refusals = kinds(&events, EventKind::CommandRejected);
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    assert!(refusals[0]["figures"]["payload_bytes"].as_u64().unwrap() > 3 << 20);
    assert!(
        kinds(&events, EventKind::Note).is_empty(),
        "the big note never ran"
    );
}

#[test]
fn a_command_id_runs_once_however_often_it_is_delivered_even_across_a_restart() {
    let dev = "dev-dupe";
    let broker = Broker::start("");
    let responses = topic(dev, "cmd/response");
    let sub = Sub::connect(broker.port, "sub-dupe", true, &[&responses]);
    // Retained before the agent subscribes: refused, never run, even after a restart.
    let retained = json!({"id": "kept", "action": "load", "target": "llm"}).to_string();
    sub.publish(&topic(dev, "cmd/request"), retained.into_bytes(), true);
    let models = sim_model("llm", "64MiB", &["--alloc", "1MiB"]);
    let mut agent = Agent::start(&format!(
        "{}\n{models}",
        mqtt_section(dev, &broker.url(), "")
    ));
    wait_reply(&sub, dev, "kept", "rejected");
    let note = json!({"id": "n-1", "action": "note", "text": "fan swapped"}).to_string();
    sub.publish(&topic(dev, "cmd/request"), note.clone().into_bytes(), false);
    wait_reply(&sub, dev, "n-1", "succeeded");
    // Replayed: answered with its outcome, not run.
    sub.publish(&topic(dev, "cmd/request"), note.clone().into_bytes(), false);
    sub.wait(
        &responses,
        "the replay answered",
        Duration::from_secs(30),
        |r| (replies_for(r, "n-1").len() >= 3).then_some(()),
    );
    agent.terminate();
    agent.spawn();
    sub.publish(&topic(dev, "cmd/request"), note.into_bytes(), false);
    sub.wait(
        &responses,
        "the replay after a restart",
        Duration::from_secs(30),
        |r| (replies_for(r, "n-1").len() >= 4).then_some(()),
    );
    let replies = sub.json(&responses);
    let statuses: Vec<Value> = replies_for(&replies, "n-1")
        .iter()
        .map(|r| r["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [
            json!("accepted"),
            json!("succeeded"),
            json!("succeeded"),
            json!("succeeded")
        ]
    );
    let events = agent.events();
    let notes = kinds(&events, EventKind::Note);
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert_eq!(kinds(&events, EventKind::CommandDuplicate).len(), 2);
    assert_eq!(kinds(&events, EventKind::CommandAccepted).len(), 1);
    assert_eq!(agent.state("llm"), "stopped", "the retained load never ran");
    assert!(replies_for(&replies, "kept")
        .iter()
        .all(|r| r["status"] == "rejected"));
}

#[test]
fn a_flood_is_answered_in_full_and_junk_does_not_flood_the_log_or_the_memory() {
    let dev = "dev-flood";
    let broker = Broker::start("");
    let responses = topic(dev, "cmd/response");
    let status = topic(dev, "status");
    let sub = Sub::connect(broker.port, "sub-flood", true, &[&responses, &status]);
    let agent = Agent::start(&mqtt_section(dev, &broker.url(), ""));
    wait_online(&sub, dev, 0);
    sub.publish(
        &topic(dev, "cmd/request"),
        json!({"id": "warm", "action": "status"})
            .to_string()
            .into_bytes(),
        false,
    );
    wait_reply(&sub, dev, "warm", "succeeded");
    let before_rss = rss(agent.pid());
    let before = agent.events().len();
    // 1000 commands: half junk (an unknown action), half valid `status` commands that may
    // find 16 already running.
    const N: usize = 1000;
    for i in 0..N {
        let cmd = if i % 2 == 0 {
            json!({"id": format!("f-{i}"), "action": "reboot"})
        } else {
            json!({"id": format!("f-{i}"), "action": "status"})
        };
        sub.publish(
            &topic(dev, "cmd/request"),
            cmd.to_string().into_bytes(),
            false,
        );
    }
    let replies = sub.wait(
        &responses,
        "an answer to each",
        Duration::from_secs(120),
        |r| {
            let answered = (0..N)
                .filter(|i| {
                    let id = format!("f-{i}");
                    r.iter().any(|r| {
                        r["id"] == id.as_str()
                            && (r["status"] == "accepted" || r["status"] == "rejected")
                    })
                })
                .count();
            (answered == N).then(|| r.to_vec())
        },
    );
    let rejected = (0..N)
        .filter(|i| {
            let id = format!("f-{i}");
            replies
                .iter()
                .any(|r| r["id"] == id.as_str() && r["status"] == "rejected")
        })
        .count();
    assert!(rejected >= N / 2, "{rejected}");
    for r in replies.iter().filter(|r| r["status"] == "rejected") {
        let reason = r["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("unknown action") || reason.starts_with("busy"),
            "{r}"
        );
    }
    // Beyond 20 a minute, refusals are counted and stored as one aggregate at the end of
    // the minute: every refusal is in the log, one by one or in a count.
    let (one_by_one, aggregates) = crate::harness::wait_for(
        Duration::from_secs(150),
        "every refusal stored or counted",
        || {
            let events = agent.events();
            let refusals = kinds(&events[before..], EventKind::CommandRejected);
            let one = refusals
                .iter()
                .filter(|e| e["figures"]["suppressed"].is_null())
                .count();
            let counted: u64 = refusals
                .iter()
                .filter_map(|e| e["figures"]["suppressed"].as_u64())
                .sum();
            let aggregates = refusals.len() - one;
            (one as u64 + counted == rejected as u64 && aggregates > 0).then_some((one, aggregates))
        },
    );
    assert!(
        one_by_one <= 20 * (aggregates + 1),
        "{one_by_one} in {aggregates}+1 minutes"
    );
    let events = agent.events();
    let accepted = kinds(&events[before..], EventKind::CommandAccepted).len();
    assert_eq!(accepted, N - rejected);
    // Bounded memory: the whole burst costs the agent little.
    let grew = rss(agent.pid()).saturating_sub(before_rss);
    eprintln!(
        "flood of {N}: {rejected} rejected ({one_by_one} events one by one, {aggregates} \
         aggregate), {accepted} accepted; agent RSS {before_rss} -> +{grew} bytes"
    );
    assert!(grew < 32 << 20, "the agent grew {grew} bytes");
}

#[test]
fn a_command_that_waited_offline_past_its_expires_never_runs() {
    for protocol in ["3.1.1", "5"] {
        expired_offline(protocol);
    }
}

fn expired_offline(protocol: &str) {
    let dev = &format!("dev-expiry-{}", protocol.replace('.', ""));
    let broker = Broker::start("");
    let responses = topic(dev, "cmd/response");
    let sub = Sub::connect(
        broker.port,
        "sub-expiry",
        true,
        &[&responses, &topic(dev, "status")],
    );
    let models = sim_model("llm", "64MiB", &["--alloc", "1MiB"]);
    let mut agent = Agent::start(&format!(
        "{}\n{models}",
        mqtt_section(dev, &broker.url(), &format!("protocol = \"{protocol}\""))
    ));
    let session = wait_online(&sub, dev, 0);
    agent.terminate();
    // Published while the device is off: the broker queues both in its session.
    let in_secs = |secs: u64| {
        jetgate::clock::format_rfc3339(std::time::SystemTime::now() + Duration::from_secs(secs))
    };
    let stale = json!({"id": "stale", "action": "load", "target": "llm", "expires": in_secs(2)});
    let fresh =
        json!({"id": "fresh", "action": "note", "text": "still wanted", "expires": in_secs(3600)});
    for cmd in [stale, fresh] {
        sub.publish(
            &topic(dev, "cmd/request"),
            cmd.to_string().into_bytes(),
            false,
        );
    }
    // The device comes back after the first command's time is up.
    std::thread::sleep(Duration::from_secs(3));
    agent.spawn();
    wait_online(&sub, dev, session);
    let refused = wait_reply(&sub, dev, "stale", "rejected");
    let reason = refused["reason"].as_str().unwrap();
    assert!(reason.starts_with("expired: valid until "), "{reason}");
    wait_reply(&sub, dev, "fresh", "succeeded");
    let replies = sub.json(&responses);
    assert_eq!(replies_for(&replies, "stale").len(), 1, "{replies:#?}");
    assert_eq!(agent.state("llm"), "stopped", "the expired load ran");
    let events = agent.events();
    let rejected = kinds(&events, EventKind::CommandRejected);
    assert!(
        rejected.iter().any(|e| e["figures"]["id"] == "stale"),
        "{rejected:#?}"
    );
    let accepted = kinds(&events, EventKind::CommandAccepted);
    assert!(
        accepted.iter().all(|e| e["figures"]["id"] != "stale"),
        "{accepted:#?}"
    );
}
