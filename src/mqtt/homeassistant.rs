//! Home Assistant MQTT discovery (`[mqtt] homeassistant = true`, off by default): retained
//! config messages under `homeassistant/` that make a device and four entities of the topics
//! the agent already publishes. Pure: names and payloads only; the link publishes them at
//! every connection.
//!
//! ```text
//! homeassistant/sensor/jetgate_<id>/available_memory/config  ← telemetry memory.available_bytes
//! homeassistant/sensor/jetgate_<id>/gpu_load/config          ← telemetry tegrastats.gpu.load_pct
//! homeassistant/sensor/jetgate_<id>/models_ready/config      ← state services (models ready)
//! homeassistant/binary_sensor/jetgate_<id>/online/config     ← status online
//! ```
//!
//! Every entity but `online` is unavailable while the agent is offline (its status topic's
//! `online`); `online` itself reads the status topic, so an agent that is gone shows `off`.

use serde_json::{json, Value};

use crate::mqtt::topics::Topics;

/// Home Assistant's default discovery prefix.
pub const DISCOVERY_PREFIX: &str = "homeassistant";

/// One entity: its component, its id within the device, and what it reads.
struct Entity {
    component: &'static str,
    object_id: &'static str,
    name: &'static str,
    /// The agent's topic it reads.
    source: Source,
    value_template: &'static str,
    /// Extra fields of the config (unit, device class...).
    extra: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Status,
    State,
    Telemetry,
}

impl Source {
    fn topic(self, topics: &Topics) -> String {
        match self {
            Source::Status => topics.status(),
            Source::State => topics.state(),
            Source::Telemetry => topics.telemetry(),
        }
    }
}

fn entities() -> [Entity; 4] {
    [
        Entity {
            component: "sensor",
            object_id: "available_memory",
            name: "Available memory",
            source: Source::Telemetry,
            value_template: "{{ value_json.memory.available_bytes }}",
            extra: json!({
                "device_class": "data_size",
                "unit_of_measurement": "B",
                "suggested_unit_of_measurement": "GiB",
                "state_class": "measurement",
                "icon": "mdi:memory",
            }),
        },
        Entity {
            component: "sensor",
            object_id: "gpu_load",
            name: "GPU load",
            source: Source::Telemetry,
            value_template: "{{ value_json.tegrastats.gpu.load_pct }}",
            extra: json!({
                "unit_of_measurement": "%",
                "state_class": "measurement",
                "icon": "mdi:expansion-card",
            }),
        },
        Entity {
            component: "sensor",
            object_id: "models_ready",
            name: "Models ready",
            source: Source::State,
            value_template: "{{ value_json.services | selectattr('kind', 'eq', 'model') \
                             | selectattr('state', 'eq', 'ready') | list | count }}",
            extra: json!({"state_class": "measurement", "icon": "mdi:brain"}),
        },
        Entity {
            component: "binary_sensor",
            object_id: "online",
            name: "Agent online",
            source: Source::Status,
            value_template: "{{ 'ON' if value_json.online else 'OFF' }}",
            extra: json!({"device_class": "connectivity"}),
        },
    ]
}

/// What the device block says about the board and the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo<'a> {
    pub device_id: &'a str,
    /// The board's name, where the agent knows it yet.
    pub board: Option<&'a str>,
    pub version: &'a str,
}

/// One retained discovery message.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    pub topic: String,
    pub config: Value,
    /// The agent's topic the entity reads.
    pub source: Source,
}

/// Home Assistant's node id of a device: `jetgate_<id>`, where a device id may hold any
/// character but a topic level's specials and a node id only `[A-Za-z0-9_-]`. Other
/// characters become `_`, and then a hash of the whole id keeps `orin.7` and `orin_7` apart.
pub fn node_id(device_id: &str) -> String {
    let clean: String = device_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean == device_id {
        return format!("jetgate_{clean}");
    }
    // FNV-1a: stable across builds and runs, unlike std's keyed hasher.
    let hash = device_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("jetgate_{clean}_{:08x}", hash as u32)
}

/// The discovery messages of one device.
pub fn discovery(topics: &Topics, info: &DeviceInfo) -> Vec<Discovery> {
    let node = node_id(info.device_id);
    let mut device = json!({
        "identifiers": [node],
        "name": format!("jetgate {}", info.device_id),
        "manufacturer": "NVIDIA",
        "sw_version": info.version,
    });
    if let Some(board) = info.board.filter(|b| !b.is_empty()) {
        device["model"] = json!(board);
    }
    entities()
        .into_iter()
        .map(|e| {
            let mut config = json!({
                "name": e.name,
                "unique_id": format!("{node}_{}", e.object_id),
                "object_id": format!("{node}_{}", e.object_id),
                "state_topic": e.source.topic(topics),
                "value_template": e.value_template,
                "device": device.clone(),
                "origin": {"name": "jetgate", "sw_version": info.version},
            });
            if e.source != Source::Status {
                config["availability_topic"] = json!(topics.status());
                config["availability_template"] =
                    json!("{{ 'online' if value_json.online else 'offline' }}");
            }
            if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), e.extra) {
                config.extend(extra);
            }
            Discovery {
                topic: format!(
                    "{DISCOVERY_PREFIX}/{}/{node}/{}/config",
                    e.component, e.object_id
                ),
                config,
                source: e.source,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
