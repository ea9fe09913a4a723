//! `jetgate fleet --broker URL [--json] [--once] [--prefix P]`: every device on a broker, from
//! the retained `status` and `state` topics (and live `events`).
//!
//! ```text
//! DEVICE   ONLINE  SESSION  BOARD                  AVAILABLE  BUDGET   MODELS              LAST EVENT
//! orin-07  yes     12       Jetson Orin Nano 8GB   5.1GiB     3.9GiB   llm:ready det:queued  #912 load_ready
//! orin-09  no      3        Jetson AGX Orin 64GB   -          -        -                   -
//! ```
//!
//! `--json` prints an array of devices (one object each, the row above as figures); `--once`
//! collects the retained messages for [`SETTLE`] and exits. A device whose last will said
//! `online: false` stays listed as offline with its last state.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, Incoming, QoS};
use serde::{Deserialize, Serialize};

use crate::cli::table::Table;
use crate::cli::Globals;
use crate::config::{BrokerUrl, MqttConfig};
use crate::exit::{self, CliError, CliResult};
use crate::mqtt::{tls, topics};
use crate::status::{Presence, ServiceKind, ServiceState, StatusDocument};
use crate::units::{Bytes, HumanDuration};

/// How long `--once` collects retained messages after subscribing.
pub const SETTLE: Duration = Duration::from_millis(1500);
/// How long to wait for the broker before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Broker: mqtt://host[:port] or mqtts://host[:port].
    #[arg(long, value_name = "URL")]
    pub broker: BrokerUrl,
    /// First topic level(s) of the fleet.
    #[arg(long, default_value = "jetgate", value_name = "P")]
    pub prefix: String,
    /// One JSON array of devices.
    #[arg(long)]
    pub json: bool,
    /// Collect the retained messages, print once and exit.
    #[arg(long)]
    pub once: bool,
    /// CA bundle for mqtts (default: the system bundle).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM), with --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM), with --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    #[arg(long)]
    pub username: Option<String>,
    /// File holding the password.
    #[arg(long, value_name = "FILE", requires = "username")]
    pub password_file: Option<PathBuf>,
}

/// What is known of one device.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Device {
    pub status: Option<Presence>,
    pub state: Option<StatusDocument>,
    pub last_event: Option<LastEvent>,
}

/// One device as `--json` shows it: the table's row as figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetRow {
    pub id: String,
    pub online: bool,
    pub session: Option<u64>,
    pub version: Option<String>,
    /// The presence's `ts`: when the device came online (or went offline).
    pub since: Option<String>,
    pub board: Option<String>,
    pub available_bytes: Option<u64>,
    pub total_bytes: Option<u64>,
    pub budget_bytes: Option<Bytes>,
    pub reserve_bytes: Option<Bytes>,
    pub models: Vec<FleetUnit>,
    pub last_event: Option<LastEvent>,
}

/// A unit of a [`FleetRow`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetUnit {
    pub name: String,
    pub kind: ServiceKind,
    pub state: ServiceState,
}

/// The last event seen on a device's `events` topic, as much as the row shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastEvent {
    pub seq: u64,
    #[serde(default)]
    pub ts: Option<String>,
    pub kind: String,
    #[serde(default)]
    pub subject: Option<String>,
}

/// Files a message under its device; other topics are ignored.
pub fn absorb(fleet: &mut BTreeMap<String, Device>, prefix: &str, topic: &str, payload: &[u8]) {
    let Some((id, leaf)) = topics::split_device_topic(prefix, topic) else {
        return;
    };
    fn read<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Option<T> {
        serde_json::from_slice(payload).ok()
    }
    match leaf {
        "status" | "state" | "events" => {}
        _ => return,
    }
    // A payload that does not read as its contract is ignored, like one on another topic.
    match leaf {
        "status" => {
            if let Some(p) = read(payload) {
                fleet.entry(id.to_string()).or_default().status = Some(p);
            }
        }
        "state" => {
            if let Some(s) = read(payload) {
                fleet.entry(id.to_string()).or_default().state = Some(s);
            }
        }
        _ => {
            if let Some(e) = read(payload) {
                fleet.entry(id.to_string()).or_default().last_event = Some(e);
            }
        }
    }
}

/// One device as the `--json` output shows it.
pub fn row(id: &str, d: &Device) -> FleetRow {
    let status = d.status.as_ref();
    let state = d.state.as_ref();
    let memory = state.and_then(|s| s.memory.as_ref());
    let gate = state.and_then(|s| s.gate.as_ref());
    FleetRow {
        id: id.to_string(),
        online: status.is_some_and(|s| s.online),
        session: status.and_then(|s| s.session),
        version: status.and_then(|s| s.version.clone()),
        since: status.and_then(|s| s.ts.clone()),
        board: state.map(|s| s.device.board.name.clone()),
        available_bytes: memory.map(|m| m.available_bytes),
        total_bytes: memory.map(|m| m.total_bytes),
        budget_bytes: gate.and_then(|g| g.budget_bytes),
        reserve_bytes: gate.map(|g| g.reserve_bytes),
        models: state
            .and_then(|s| s.services.as_ref())
            .into_iter()
            .flatten()
            .map(|s| FleetUnit {
                name: s.name.clone(),
                kind: s.kind,
                state: s.state,
            })
            .collect(),
        last_event: d.last_event.clone(),
    }
}

/// The aligned table of every device.
pub fn render(rows: &[FleetRow]) -> String {
    let mut t = Table::new(&[
        "DEVICE",
        "ONLINE",
        "SESSION",
        "BOARD",
        "AVAILABLE",
        "BUDGET",
        "MODELS",
        "LAST EVENT",
    ]);
    let size = |b: Option<u64>| b.map_or("-".to_string(), |b| Bytes(b).to_string());
    for r in rows {
        let models: Vec<String> = r
            .models
            .iter()
            .map(|s| format!("{}:{}", s.name, s.state))
            .collect();
        t.row(vec![
            r.id.clone(),
            if r.online { "yes" } else { "no" }.to_string(),
            r.session.map_or("-".into(), |s| s.to_string()),
            r.board
                .clone()
                .filter(|b| !b.is_empty())
                .unwrap_or_else(|| "-".into()),
            size(r.available_bytes),
            size(r.budget_bytes.map(Bytes::get)),
            if models.is_empty() {
                "-".into()
            } else {
                models.join(" ")
            },
            match &r.last_event {
                None => "-".into(),
                Some(e) => format!("#{} {}", e.seq, e.kind),
            },
        ]);
    }
    t.render()
}

fn broker_config(args: &Args) -> MqttConfig {
    MqttConfig {
        url: args.broker.clone(),
        prefix: args.prefix.clone(),
        ca: args.ca.clone(),
        cert: args.cert.clone(),
        key: args.key.clone(),
        username: args.username.clone(),
        password_file: args.password_file.clone(),
        state_interval: HumanDuration(Duration::from_secs(10)),
        telemetry_interval: HumanDuration(Duration::from_secs(5)),
        outbox_limit: Bytes::from_mib(1),
        client_id: None,
        homeassistant: false,
        connect_spread: HumanDuration(Duration::ZERO),
        backlog_rate: 200,
        max_payload: Bytes::from_kib(256),
    }
}

pub fn run(args: Args, _globals: &Globals) -> CliResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(exit::FAILURE, e))?;
    runtime.block_on(watch(args))
}

async fn watch(args: Args) -> CliResult {
    let cfg = broker_config(&args);
    let client_id = format!("jetgate-fleet-{}", std::process::id());
    let mut options =
        tls::options(&cfg, &client_id, None).map_err(|e| CliError::new(exit::FAILURE, e))?;
    options.set_clean_session(true);
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    let mut fleet: BTreeMap<String, Device> = BTreeMap::new();
    let fail = |e: String| {
        CliError::new(
            exit::FAILURE,
            anyhow::anyhow!("broker {}: {e}", args.broker),
        )
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, eventloop.poll()).await {
        Ok(Ok(Event::Incoming(Incoming::ConnAck(_)))) => {}
        Ok(Ok(other)) => return Err(fail(format!("unexpected first packet {other:?}"))),
        Ok(Err(e)) => return Err(fail(e.to_string())),
        Err(_) => return Err(fail(format!("no answer within {CONNECT_TIMEOUT:?}"))),
    }
    for leaf in ["status", "state", "events"] {
        client
            .subscribe(format!("{}/+/{leaf}", args.prefix), QoS::AtLeastOnce)
            .await
            .map_err(|e| fail(e.to_string()))?;
    }
    let rows = |fleet: &BTreeMap<String, Device>| -> Vec<FleetRow> {
        fleet
            .iter()
            .filter(|(_, d)| d.status.is_some() || d.state.is_some())
            .map(|(id, d)| row(id, d))
            .collect()
    };
    let print = |rows: &[FleetRow]| {
        if args.json {
            // Keys sorted, as every document is published.
            let rows = serde_json::to_value(rows).unwrap_or_default();
            println!("{rows}");
        } else {
            println!("{}", render(rows));
        }
    };
    let settle = tokio::time::sleep(SETTLE);
    tokio::pin!(settle);
    let mut printed: Option<Vec<FleetRow>> = None;
    loop {
        tokio::select! {
            _ = &mut settle, if args.once => break,
            polled = eventloop.poll() => match polled {
                Ok(Event::Incoming(Incoming::Publish(p))) => absorb(&mut fleet, &args.prefix, &p.topic, &p.payload),
                Ok(_) => {}
                Err(e) => return Err(fail(e.to_string())),
            },
        }
        if !args.once {
            let now = rows(&fleet);
            if printed.as_ref() != Some(&now) {
                print(&now);
                printed = Some(now);
            }
        }
    }
    print(&rows(&fleet));
    let _ = client.try_disconnect();
    Ok(exit::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_carry_presence_state_and_the_last_event() {
        let mut fleet = BTreeMap::new();
        absorb(
            &mut fleet,
            "jetgate",
            "jetgate/a/status",
            br#"{"online":false,"session":3}"#,
        );
        let state = json!({"device":{"board":{"name":"Orin Nano"}},"memory":{"available_bytes":5},
                           "gate":{"budget_bytes":4},"services":[{"name":"llm","kind":"model","state":"ready"}]});
        absorb(
            &mut fleet,
            "jetgate",
            "jetgate/a/state",
            state.to_string().as_bytes(),
        );
        absorb(
            &mut fleet,
            "jetgate",
            "jetgate/a/events",
            br#"{"seq":9,"kind":"note"}"#,
        );
        absorb(&mut fleet, "jetgate", "other/b/state", b"{}");
        absorb(&mut fleet, "jetgate", "jetgate/c/state", b"not json");
        assert_eq!(fleet.len(), 1);
        let fleet_row = row("a", &fleet["a"]);
        let r = serde_json::to_value(&fleet_row).unwrap();
        assert_eq!(r["online"], false);
        assert_eq!(r["session"], 3);
        assert_eq!(r["board"], "Orin Nano");
        assert_eq!(r["budget_bytes"], 4);
        assert_eq!(r["models"][0]["state"], "ready");
        assert_eq!(r["last_event"]["seq"], 9);
        let table = render(&[fleet_row]);
        assert!(
            table.contains("llm:ready") && table.contains("#9 note"),
            "{table}"
        );
    }
}
