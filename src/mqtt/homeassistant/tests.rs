//! Tests of the discovery messages: topics, ids, and templates that read the agent's payloads.

use std::collections::BTreeSet;

use super::*;

fn info(board: Option<&'static str>) -> DeviceInfo<'static> {
    DeviceInfo {
        device_id: "orin-07",
        board,
        version: "0.1.0",
    }
}

#[test]
fn one_device_with_four_entities_on_the_agents_own_topics() {
    let topics = Topics::new("jetgate", "orin-07");
    let all = discovery(&topics, &info(Some("Jetson Orin Nano 8GB")));
    let names: Vec<&str> = all.iter().map(|d| d.topic.as_str()).collect();
    assert_eq!(
        names,
        [
            "homeassistant/sensor/jetgate_orin-07/available_memory/config",
            "homeassistant/sensor/jetgate_orin-07/gpu_load/config",
            "homeassistant/sensor/jetgate_orin-07/models_ready/config",
            "homeassistant/binary_sensor/jetgate_orin-07/online/config",
        ]
    );
    for d in &all {
        let c = &d.config;
        assert_eq!(c["device"]["identifiers"][0], "jetgate_orin-07");
        assert_eq!(c["device"]["model"], "Jetson Orin Nano 8GB");
        assert_eq!(c["state_topic"], d.source.topic(&topics));
        assert!(c["unique_id"]
            .as_str()
            .unwrap()
            .starts_with("jetgate_orin-07_"));
    }
    let mem = &all[0].config;
    assert_eq!(mem["state_topic"], "jetgate/orin-07/telemetry");
    assert_eq!(mem["device_class"], "data_size");
    assert_eq!(mem["unit_of_measurement"], "B");
    assert_eq!(mem["availability_topic"], "jetgate/orin-07/status");
    let online = &all[3].config;
    assert_eq!(online["state_topic"], "jetgate/orin-07/status");
    assert_eq!(online["device_class"], "connectivity");
    assert!(
        online.get("availability_topic").is_none(),
        "an offline agent must read off, not unavailable"
    );
    // Unique ids differ between entities.
    let ids: BTreeSet<&str> = all
        .iter()
        .map(|d| d.config["unique_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4);
}

#[test]
fn an_unknown_board_leaves_the_model_out() {
    let topics = Topics::new("jetgate", "orin-07");
    for board in [None, Some("")] {
        let all = discovery(&topics, &info(board));
        assert!(all[0].config["device"].get("model").is_none());
    }
}

#[test]
fn node_ids_hold_only_what_home_assistant_accepts_and_stay_distinct() {
    assert_eq!(node_id("orin-07_a"), "jetgate_orin-07_a");
    let ids = ["orin.7", "orin_7", "orin 7", "ørin-7", "orin\u{202e}7"];
    let nodes: BTreeSet<String> = ids.iter().map(|id| node_id(id)).collect();
    assert_eq!(nodes.len(), ids.len(), "{nodes:?}");
    for n in &nodes {
        assert!(
            n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "{n}"
        );
    }
    assert_eq!(node_id("orin.7"), node_id("orin.7"), "stable");
}

#[test]
fn value_templates_name_fields_the_published_payloads_carry() {
    // The golden payloads are the published contract: each template's `value_json` path
    // must exist there.
    let golden = |name: &str| -> Value {
        let path = format!("{}/tests/golden/{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let payloads = [
        (Source::Status, golden("mqtt_presence")),
        (Source::State, golden("mqtt_state")),
        (Source::Telemetry, golden("mqtt_telemetry")),
    ];
    let topics = Topics::new("jetgate", "orin-07");
    for d in discovery(&topics, &info(None)) {
        let template = d.config["value_template"].as_str().unwrap();
        let path = template_path(template);
        let (_, payload) = payloads.iter().find(|(s, _)| *s == d.source).unwrap();
        let mut at = payload;
        for key in path.split('.') {
            at = at
                .get(key)
                .unwrap_or_else(|| panic!("{template}: no `{key}` in {:?}", d.source));
        }
        assert!(
            !at.is_null(),
            "{template}: null in the golden {:?}",
            d.source
        );
    }
}

/// The first `value_json.a.b` path a template reads.
fn template_path(template: &str) -> String {
    let rest = template.split("value_json.").nth(1).unwrap();
    rest.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .collect()
}
