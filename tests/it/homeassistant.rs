//! Home Assistant MQTT discovery against a real Mosquitto and a real agent (with a fake
//! tegrastats printing real Orin lines): with `homeassistant = true` the agent publishes
//! retained configs whose state topics it really publishes and whose templates read fields
//! its payloads really carry; without it, nothing under `homeassistant/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::Path;
use std::time::Duration;

use crate::broker::{Broker, Sub};
use crate::harness::{sim_model_autostarted, wait_for, Agent};

fn config(dev: &str, url: &str, homeassistant: bool) -> String {
    let tegrastats =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tegrastats/fake-tegrastats");
    format!(
        "[device]\nid = \"{dev}\"\ntegrastats = \"{}\"\n\n[mqtt]\nurl = \"{url}\"\n\
         state_interval = \"1s\"\ntelemetry_interval = \"1s\"\nhomeassistant = {homeassistant}\n\n{}",
        tegrastats.display(),
        sim_model_autostarted("llm", "64MiB", &["--alloc", "1MiB"])
    )
}

/// The `value_json.a.b` path a template reads first.
fn template_path(template: &str) -> Vec<String> {
    let rest = template.split("value_json.").nth(1).unwrap();
    rest.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .collect::<String>()
        .split('.')
        .map(str::to_string)
        .collect()
}

#[test]
fn discovery_names_topics_the_agent_publishes_and_fields_its_payloads_carry() {
    let broker = Broker::start("");
    let sub = Sub::connect(
        broker.port,
        "sub-ha",
        true,
        &["homeassistant/#", "jetgate/+/telemetry", "jetgate/+/state"],
    );
    let _ha = Agent::start(&config("dev-ha", &broker.url(), true));
    let _plain = Agent::start(&config("dev-plain", &broker.url(), false));
    let configs = wait_for(Duration::from_secs(60), "4 discovery configs", || {
        let all: Vec<_> = ["sensor", "binary_sensor"]
            .iter()
            .flat_map(|c| {
                ["available_memory", "gpu_load", "models_ready", "online"]
                    .map(|o| sub.json(&format!("homeassistant/{c}/jetgate_dev-ha/{o}/config")))
            })
            .flatten()
            .collect();
        (all.len() >= 4).then_some(all)
    });
    for c in &configs {
        assert_eq!(c["device"]["identifiers"][0], "jetgate_dev-ha", "{c}");
        assert!(c["device"]["model"].is_string(), "no board in {c}");
        let topic = c["state_topic"].as_str().unwrap();
        let template = c["value_template"].as_str().unwrap();
        if topic.ends_with("/status") {
            assert_eq!(topic, "jetgate/dev-ha/status");
            continue;
        }
        // The latest payload on the entity's topic has the field, as a number.
        let path = template_path(template);
        let value = wait_for(Duration::from_secs(60), template, || {
            let latest = sub.json(topic).pop()?;
            let mut at = &latest;
            for key in &path {
                at = at.get(key)?;
            }
            (!at.is_null()).then(|| at.clone())
        });
        if path == ["services"] {
            // `models_ready` counts ready models: the autostarted one becomes ready.
            wait_for(Duration::from_secs(60), "the model ready in state", || {
                let latest = sub.json(topic).pop()?;
                let ready = latest["services"]
                    .as_array()?
                    .iter()
                    .filter(|s| s["kind"] == "model" && s["state"] == "ready")
                    .count();
                (ready == 1).then_some(())
            });
        } else {
            assert!(value.is_number(), "{template}: {value}");
        }
    }
    // Retained: a subscriber arriving later gets them.
    let late = Sub::connect(broker.port, "sub-ha-late", true, &["homeassistant/#"]);
    let retained = wait_for(Duration::from_secs(10), "the retained configs", || {
        let msgs = late.messages("homeassistant/binary_sensor/jetgate_dev-ha/online/config");
        msgs.first().cloned()
    });
    assert!(retained.retain);
    // The agent without the flag published none, though its telemetry flows.
    sub.wait(
        "jetgate/dev-plain/telemetry",
        "dev-plain's telemetry",
        Duration::from_secs(60),
        |t| (!t.is_empty()).then_some(()),
    );
    let plain: Vec<String> = ["available_memory", "gpu_load", "models_ready"]
        .iter()
        .map(|o| format!("homeassistant/sensor/jetgate_dev-plain/{o}/config"))
        .chain(["homeassistant/binary_sensor/jetgate_dev-plain/online/config".to_string()])
        .filter(|t| !sub.messages(t).is_empty())
        .collect();
    assert!(plain.is_empty(), "{plain:?}");
}
