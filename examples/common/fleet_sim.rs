//! A simulated fleet on a broker: retained `status` and `state` for N devices, from one
//! connection, for `jetgate fleet`'s benchmark (`scripts/bench-fleet.sh`, through
//! `examples/fleet_gen.rs`) and its integration test (`tests/it/fleet.rs`), which share this
//! file so the devices published and the figures checked are the same.
//!
//! Device `i` is `sim-NNNNN`: offline when `i % 10 == 9`; session `1 + i % 4`; low on memory
//! when `i % 5 == 1` (256 MiB available, under the 512 MiB reserve, budget 0), else
//! `3 GiB + i × 4 KiB` available and a 1 GiB budget; its service `cam` gave up when
//! `i % 7 == 3`. The state is the agent's published document (`tests/golden/mqtt_state.json`,
//! about 9 KB) with those figures put in.
#![allow(dead_code)] // the example and the test each use part of it

use std::time::Duration;

use anyhow::Context;
use rumqttc::{Client, Event, Incoming, MqttOptions, QoS};
use serde_json::{json, Value};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
/// The reserve every simulated device's gate keeps (as in the golden document).
pub const RESERVE: u64 = 512 * MIB;
/// The agent's published state document, the shape every simulated state takes.
const STATE: &str = include_str!("../../tests/golden/mqtt_state.json");

/// One simulated device's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct SimDevice {
    pub id: String,
    pub online: bool,
    pub session: u64,
    pub available: u64,
    pub budget: u64,
    pub gave_up: bool,
    pub low: bool,
}

/// Device `i` of the simulated fleet (see the module doc).
pub fn device(i: usize) -> SimDevice {
    let low = i % 5 == 1;
    SimDevice {
        id: format!("sim-{i:05}"),
        online: i % 10 != 9,
        session: 1 + (i % 4) as u64,
        available: if low {
            256 * MIB
        } else {
            3 * GIB + i as u64 * 4096
        },
        budget: if low { 0 } else { GIB },
        gave_up: i % 7 == 3,
        low,
    }
}

/// The retained presence of a device.
pub fn status_payload(d: &SimDevice) -> Vec<u8> {
    json!({"online": d.online, "pid": 1000, "session": d.session,
           "ts": "2026-11-24T03:06:39.120Z", "version": "0.1.0"})
    .to_string()
    .into_bytes()
}

/// The retained state of a device: the template with its figures.
pub fn state_payload(template: &Value, d: &SimDevice) -> Vec<u8> {
    let mut doc = template.clone();
    doc["device"]["id"] = json!(d.id);
    doc["memory"]["available_bytes"] = json!(d.available);
    doc["memory"]["mem_available_bytes"] = json!(d.available);
    doc["gate"]["reserve_bytes"] = json!(RESERVE);
    doc["gate"]["budget_bytes"] = json!(d.budget);
    doc["gate"]["available_budget_bytes"] = json!(d.budget);
    if let Some(services) = doc["services"].as_array_mut() {
        for s in services {
            let state = match (s["name"].as_str(), s["kind"].as_str()) {
                (Some("cam"), _) if d.gave_up => "gave_up",
                (_, Some("model")) => "ready",
                _ => "running",
            };
            s["state"] = json!(state);
        }
    }
    doc.to_string().into_bytes()
}

/// The units of every simulated device as `name:state`, in the document's order.
pub fn units(d: &SimDevice) -> Vec<String> {
    let template: Value = serde_json::from_str(STATE).unwrap_or(Value::Null);
    let doc: Value = serde_json::from_slice(&state_payload(&template, d)).unwrap_or(Value::Null);
    doc["services"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            format!(
                "{}:{}",
                s["name"].as_str().unwrap_or("?"),
                s["state"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// Publishes (or, with `clear`, removes with empty retained messages) devices `0..n` under
/// `prefix` on the broker at `host:port`, QoS 1, and returns once the broker acknowledged all.
pub fn publish(host: &str, port: u16, prefix: &str, n: usize, clear: bool) -> anyhow::Result<()> {
    let template: Value = serde_json::from_str(STATE).context("the state template")?;
    let mut o = MqttOptions::new(format!("fleet-sim-{}", std::process::id()), host, port);
    o.set_clean_session(true)
        .set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(1 << 20, 1 << 20)
        .set_inflight(1000);
    let (client, mut connection) = Client::new(o, 1024);
    let total = 2 * n;
    let acks = std::thread::spawn(move || -> anyhow::Result<()> {
        let mut acked = 0;
        for event in connection.iter() {
            match event.context("the broker connection")? {
                Event::Incoming(Incoming::PubAck(_)) => acked += 1,
                Event::Incoming(Incoming::ConnAck(_)) if total == 0 => return Ok(()),
                _ => {}
            }
            if acked == total {
                return Ok(());
            }
        }
        anyhow::bail!("the connection ended after {acked} of {total} acknowledgements")
    });
    for i in 0..n {
        let d = device(i);
        let (status, state) = if clear {
            (Vec::new(), Vec::new())
        } else {
            (status_payload(&d), state_payload(&template, &d))
        };
        client.publish(
            format!("{prefix}/{}/status", d.id),
            QoS::AtLeastOnce,
            true,
            status,
        )?;
        client.publish(
            format!("{prefix}/{}/state", d.id),
            QoS::AtLeastOnce,
            true,
            state,
        )?;
    }
    acks.join()
        .map_err(|_| anyhow::anyhow!("the acknowledgement thread panicked"))??;
    let _ = client.disconnect();
    Ok(())
}
