//! `jetgate fleet` at scale against a real Mosquitto: a simulated fleet (the generator behind
//! `scripts/bench-fleet.sh`, `examples/common/fleet_sim.rs`) is listed whole by `--once --json`
//! with each device's figures; `--forget` clears one device's retained messages (and refuses
//! an invalid id, changing nothing); the generator's `--clear` removes them all; the live view
//! refuses to run without a terminal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::broker::{Broker, Sub};
use crate::harness::JETGATE;

#[path = "../../examples/common/fleet_sim.rs"]
mod fleet_sim;

/// Devices in the test fleet: enough for several bursts of the broker's queue, few enough for CI.
const N: usize = 500;

fn fleet(broker: &Broker, extra: &[&str]) -> Output {
    Command::new(JETGATE)
        .args(["fleet", "--broker", &broker.url()])
        .args(extra)
        .output()
        .unwrap()
}

fn listed(broker: &Broker) -> Vec<Value> {
    let out = fleet(broker, &["--once", "--json"]);
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
}

/// A broker configured as docs/mqtt.md asks for a fleet view (the rig raises
/// `max_queued_messages` well above a retained burst of 2 × N messages).
fn default_broker() -> Broker {
    Broker::start("")
}

#[test]
fn fleet_once_lists_every_simulated_device_with_its_figures() {
    let broker = default_broker();
    fleet_sim::publish("127.0.0.1", broker.port, "jetgate", N, false).unwrap();
    let devices = listed(&broker);
    assert_eq!(devices.len(), N, "every device is listed");
    for (i, d) in devices.iter().enumerate() {
        let sim = fleet_sim::device(i);
        assert_eq!(d["id"], sim.id.as_str());
        assert_eq!(d["online"], sim.online, "{d}");
        assert_eq!(d["session"], sim.session, "{d}");
        assert_eq!(d["available_bytes"], sim.available, "{d}");
        assert_eq!(d["budget_bytes"], sim.budget, "{d}");
        assert_eq!(d["reserve_bytes"], fleet_sim::RESERVE, "{d}");
        assert_eq!(d["board"], "Jetson Orin Nano 8GB", "{d}");
        let units: Vec<String> = d["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{}:{}",
                    m["name"].as_str().unwrap(),
                    m["state"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(units, fleet_sim::units(&sim), "{d}");
        assert_eq!(units.iter().any(|u| u == "cam:gave_up"), sim.gave_up);
    }
    let table = fleet(&broker, &["--once"]);
    assert!(table.status.success());
    let text = String::from_utf8(table.stdout).unwrap();
    assert_eq!(
        text.lines().filter(|l| !l.is_empty()).count(),
        N + 1,
        "a header and a row per device"
    );
}

#[test]
fn fleet_forget_clears_one_device_and_refuses_an_invalid_id() {
    let broker = default_broker();
    fleet_sim::publish("127.0.0.1", broker.port, "jetgate", 20, false).unwrap();
    let extra = Sub::connect(broker.port, "leftovers", true, &["unused/#"]);
    extra.publish(
        "jetgate/sim-00003/cmd/response",
        b"{\"id\":\"x\"}".to_vec(),
        true,
    );
    extra.publish("jetgate/sim-00003/custom", b"kept?".to_vec(), true);
    let discovery = "homeassistant/sensor/jetgate_sim-00003/available_memory/config";
    extra.publish(discovery, b"{\"name\":\"x\"}".to_vec(), true);
    extra.publish(
        "homeassistant/sensor/jetgate_sim-00004/available_memory/config",
        b"{}".to_vec(),
        true,
    );
    assert_eq!(listed(&broker).len(), 20);

    for bad in ["a/b", "sim+", "#", "", "evil\x1b[2J"] {
        let out = fleet(&broker, &["--forget", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a device id"));
    }
    assert_eq!(listed(&broker).len(), 20, "a refused id changes nothing");

    let out = fleet(&broker, &["--forget", "sim-00003"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8(out.stdout).unwrap();
    for topic in ["status", "state", "cmd/response", "custom"] {
        assert!(
            said.contains(&format!("jetgate/sim-00003/{topic}")),
            "{said}"
        );
    }
    let devices = listed(&broker);
    assert_eq!(devices.len(), 19);
    assert!(devices.iter().all(|d| d["id"] != "sim-00003"));
    let check = Sub::connect(
        broker.port,
        "check",
        true,
        &["jetgate/sim-00003/#", "homeassistant/#"],
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        check.messages(discovery).is_empty(),
        "the discovery config is gone"
    );
    assert_eq!(
        check
            .messages("homeassistant/sensor/jetgate_sim-00004/available_memory/config")
            .len(),
        1
    );
    assert!(
        ["status", "state", "cmd/response", "custom"]
            .iter()
            .all(|t| check.messages(&format!("jetgate/sim-00003/{t}")).is_empty()),
        "nothing retained is left"
    );
    // Forgetting a device the broker never had is not an error.
    let again = fleet(&broker, &["--forget", "sim-00003"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("held no retained message"));

    fleet_sim::publish("127.0.0.1", broker.port, "jetgate", 20, true).unwrap();
    assert!(
        listed(&broker).is_empty(),
        "the generator's --clear removes them all"
    );
}

#[test]
fn the_live_view_refuses_to_run_without_a_terminal() {
    let broker = default_broker();
    let out = fleet(&broker, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--once"),
        "{out:?}"
    );
}

#[test]
fn fleet_forget_fails_and_names_what_is_left_when_the_broker_refuses_the_clears() {
    let mut broker = default_broker();
    fleet_sim::publish("127.0.0.1", broker.port, "jetgate", 2, false).unwrap();
    // The same retained messages (persisted), now behind an ACL that only lets us read.
    let acl = broker.path("read-only.acl");
    std::fs::write(&acl, "topic read jetgate/#\n").unwrap();
    let conf = broker.path("mosquitto.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, format!("{text}acl_file {}\n", acl.display())).unwrap();
    broker.stop();
    broker.spawn();
    assert_eq!(listed(&broker).len(), 2);

    let out = fleet(&broker, &["--forget", "sim-00001"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    for topic in ["status", "state"] {
        assert!(
            said.contains(&format!("jetgate/sim-00001/{topic}")),
            "{said}"
        );
    }
    assert!(said.contains("ACL"), "{said}");
    assert_eq!(
        listed(&broker).len(),
        2,
        "the device is still there, and it was said"
    );
}
