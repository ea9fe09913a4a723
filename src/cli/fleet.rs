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
use serde_json::{json, Value};

use crate::cli::table::Table;
use crate::cli::Globals;
use crate::config::{BrokerUrl, MqttConfig};
use crate::exit::{self, CliError, CliResult};
use crate::mqtt::{tls, topics};
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
    pub status: Option<Value>,
    pub state: Option<Value>,
    pub last_event: Option<Value>,
}

/// Files a message under its device; other topics are ignored.
pub fn absorb(fleet: &mut BTreeMap<String, Device>, prefix: &str, topic: &str, payload: &[u8]) {
    let Some((id, leaf)) = topics::split_device_topic(prefix, topic) else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<Value>(payload) else {
        return;
    };
    let device = fleet.entry(id.to_string()).or_default();
    match leaf {
        "status" => device.status = Some(value),
        "state" => device.state = Some(value),
        "events" => device.last_event = Some(value),
        _ => {}
    }
}

/// One device as the `--json` output shows it.
pub fn row(id: &str, d: &Device) -> Value {
    let status = d.status.as_ref().unwrap_or(&Value::Null);
    let state = d.state.as_ref().unwrap_or(&Value::Null);
    let models: Vec<Value> = state["services"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|s| json!({"name": s["name"], "kind": s["kind"], "state": s["state"]}))
                .collect()
        })
        .unwrap_or_default();
    let last_event = d.last_event.as_ref().map(
        |e| json!({"seq": e["seq"], "ts": e["ts"], "kind": e["kind"], "subject": e["subject"]}),
    );
    json!({
        "id": id,
        "online": status["online"].as_bool().unwrap_or(false),
        "session": status["session"],
        "version": status["version"],
        "since": status["ts"],
        "board": state["device"]["board"]["name"],
        "available_bytes": state["memory"]["available_bytes"],
        "total_bytes": state["memory"]["total_bytes"],
        "budget_bytes": state["gate"]["budget_bytes"],
        "reserve_bytes": state["gate"]["reserve_bytes"],
        "models": models,
        "last_event": last_event,
    })
}

fn bytes(v: &Value) -> String {
    v.as_u64().map_or("-".to_string(), |b| Bytes(b).to_string())
}

/// The aligned table of every device.
pub fn render(rows: &[Value]) -> String {
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
    for r in rows {
        let models: Vec<String> = r["models"]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|s| {
                        format!(
                            "{}:{}",
                            s["name"].as_str().unwrap_or("?"),
                            s["state"].as_str().unwrap_or("?")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let last = &r["last_event"];
        t.row(vec![
            r["id"].as_str().unwrap_or("?").to_string(),
            if r["online"] == true { "yes" } else { "no" }.to_string(),
            r["session"].as_u64().map_or("-".into(), |s| s.to_string()),
            r["board"].as_str().unwrap_or("-").to_string(),
            bytes(&r["available_bytes"]),
            bytes(&r["budget_bytes"]),
            if models.is_empty() {
                "-".into()
            } else {
                models.join(" ")
            },
            if last.is_null() {
                "-".into()
            } else {
                format!("#{} {}", last["seq"], last["kind"].as_str().unwrap_or("?"))
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
    let rows = |fleet: &BTreeMap<String, Device>| -> Vec<Value> {
        fleet
            .iter()
            .filter(|(_, d)| d.status.is_some() || d.state.is_some())
            .map(|(id, d)| row(id, d))
            .collect()
    };
    let print = |rows: &[Value]| {
        if args.json {
            println!("{}", Value::Array(rows.to_vec()));
        } else {
            println!("{}", render(rows));
        }
    };
    let settle = tokio::time::sleep(SETTLE);
    tokio::pin!(settle);
    let mut printed: Option<Vec<Value>> = None;
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
        let r = row("a", &fleet["a"]);
        assert_eq!(r["online"], false);
        assert_eq!(r["session"], 3);
        assert_eq!(r["board"], "Orin Nano");
        assert_eq!(r["budget_bytes"], 4);
        assert_eq!(r["models"][0]["state"], "ready");
        assert_eq!(r["last_event"]["seq"], 9);
        let table = render(&[r]);
        assert!(
            table.contains("llm:ready") && table.contains("#9 note"),
            "{table}"
        );
    }
}
