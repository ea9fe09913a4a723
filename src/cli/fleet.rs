//! `jetgate fleet --broker URL [--json] [--once] [--prefix P] [--forget ID]`: every device on
//! a broker, from the retained `status` and `state` topics (and live `events`).
//!
//! ```text
//! DEVICE   ONLINE  SESSION  BOARD                  AVAILABLE  BUDGET   MODELS              LAST EVENT
//! orin-07  yes     12       Jetson Orin Nano 8GB   5.1GiB     3.9GiB   llm:ready det:queued  #912 load_ready
//! orin-09  no      3        Jetson AGX Orin 64GB   -          -        -                   -
//! ```
//!
//! `--once` collects the retained burst until it goes quiet ([`collect::Settle`]), prints the
//! table (or, with `--json`, an array of devices: the row above as figures) and exits. Without
//! `--once` a live view redraws in place ([`live`]); `--forget ID` clears a decommissioned
//! device's retained messages ([`forget`]). A device whose last will said `online: false`
//! stays listed as offline with its last state.
// `--once` reads the monotonic clock for its settle rule; the rule itself is pure.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, Incoming, QoS};

use crate::cli::Globals;
use crate::config::{BrokerUrl, MqttConfig};
use crate::exit::{self, CliError, CliResult};
use crate::mqtt::tls;
use crate::units::{Bytes, HumanDuration};

pub mod collect;
pub mod forget;
pub mod live;
pub mod print;
pub mod render;
pub mod view;

#[cfg(test)]
mod tests;

pub use collect::{absorb, row, Device, FleetRow, FleetUnit, LastEvent};
pub use print::render;

/// How long to wait for the broker before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests rumqttc may queue from this client (subscriptions, acks, `--forget`'s clears).
const REQUESTS: usize = 64;

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
--once collects the retained messages until none has come for 500 ms after the subscription \
was acknowledged (at most 60 s), prints and exits.

Live view (a terminal is needed; scripts use --once): redraws in place. Keys: s cycles the sort \
(id, available memory, state); o shows only offline devices, g those with a unit that gave up, \
m those low on memory (available under the reserve, or a budget of zero), a all of them; \
arrows, j/k, PgUp/PgDn, Home/End scroll; q or Esc quits.

--forget ID publishes empty retained messages on the device's status, state, telemetry, \
cmd/request and cmd/response (and any other retained topic under it, and its Home Assistant \
discovery configs), so the broker drops them, then checks that none is left. Stop the device's agent first: a running agent \
publishes its presence and state again.")]
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
    /// Clear a decommissioned device's retained messages and exit.
    #[arg(long, value_name = "ID", conflicts_with_all = ["json", "once"])]
    pub forget: Option<String>,
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
        // The viewer only subscribes: MQTT 3.1.1 whatever the devices speak.
        protocol: crate::config::Protocol::V311,
        session_expiry: None,
        will_delay: None,
    }
}

pub fn run(args: Args, _globals: &Globals) -> CliResult {
    if let Some(id) = &args.forget {
        if !crate::mqtt::topics::valid_device_id(id) || !crate::text::is_clean(id) {
            return Err(CliError::usage(format!(
                "--forget {}: not a device id (empty, or with /, +, #, NUL or control characters)",
                crate::text::escape(id)
            )));
        }
    } else if !args.once {
        live::needs_terminal()?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(exit::FAILURE, e))?;
    runtime.block_on(async {
        match &args.forget {
            Some(id) => forget::forget(&args, id).await,
            None if args.once => once(&args).await,
            None => live::live(&args).await,
        }
    })
}

/// A broker failure as the command reports it.
pub(crate) fn broker_error(args: &Args, e: impl std::fmt::Display) -> CliError {
    CliError::new(
        exit::FAILURE,
        anyhow::anyhow!("broker {}: {e}", args.broker),
    )
}

/// A clean-session client, connected (its ConnAck read) within [`CONNECT_TIMEOUT`].
pub(crate) async fn connect(args: &Args, role: &str) -> Result<(AsyncClient, EventLoop), CliError> {
    let cfg = broker_config(args);
    let client_id = format!("jetgate-{role}-{}", std::process::id());
    let mut options =
        tls::options(&cfg, &client_id, None).map_err(|e| CliError::new(exit::FAILURE, e))?;
    options.set_clean_session(true);
    let (client, mut eventloop) = AsyncClient::new(options, REQUESTS);
    match tokio::time::timeout(CONNECT_TIMEOUT, eventloop.poll()).await {
        Ok(Ok(Event::Incoming(Incoming::ConnAck(_)))) => Ok((client, eventloop)),
        Ok(Ok(other)) => Err(broker_error(
            args,
            format!("unexpected first packet {other:?}"),
        )),
        Ok(Err(e)) => Err(broker_error(args, e)),
        Err(_) => Err(broker_error(
            args,
            format!("no answer within {CONNECT_TIMEOUT:?}"),
        )),
    }
}

/// The fleet's subscriptions: presence and state (retained) at QoS 0, events (live) at QoS 1.
///
/// QoS 0 for the retained burst: a broker bounds what a subscriber may have unacknowledged
/// (Mosquitto: `max_queued_messages`, 1000 by default, plus 20 in flight) and silently drops
/// the rest of a QoS 1 burst, which listed 1,020 of 10,000 devices; at QoS 0 the burst is
/// written as fast as the viewer reads it. A clean-session viewer gains nothing from QoS 1
/// on a snapshot it reads again on every start.
pub(crate) fn filters(prefix: &str) -> [(String, QoS); 3] {
    [
        (format!("{prefix}/+/status"), QoS::AtMostOnce),
        (format!("{prefix}/+/state"), QoS::AtMostOnce),
        (format!("{prefix}/+/events"), QoS::AtLeastOnce),
    ]
}

/// One SUBSCRIBE for all of [`filters`]: one SUBACK to wait for. Returns the SUBACKs due.
async fn subscribe(args: &Args, client: &AsyncClient) -> Result<usize, CliError> {
    let filters = filters(&args.prefix).map(|(f, qos)| rumqttc::SubscribeFilter::new(f, qos));
    client
        .subscribe_many(filters)
        .await
        .map_err(|e| broker_error(args, e))?;
    Ok(1)
}

async fn once(args: &Args) -> CliResult {
    let (client, mut eventloop) = connect(args, "fleet").await?;
    let subscriptions = subscribe(args, &client).await?;
    let mut settle = collect::Settle::new(std::time::Instant::now(), subscriptions);
    let mut fleet = collect::Fleet::new();
    loop {
        let deadline = tokio::time::Instant::from_std(settle.deadline());
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                if settle.done(std::time::Instant::now()) { break; }
            }
            polled = eventloop.poll() => {
                let now = std::time::Instant::now();
                match polled {
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        settle.publish(p.retain, now);
                        collect::absorb(&mut fleet, &args.prefix, &p.topic, &p.payload);
                    }
                    Ok(Event::Incoming(Incoming::SubAck(_))) => settle.suback(now),
                    Ok(_) => {}
                    Err(e) => return Err(broker_error(args, e)),
                }
            }
        }
    }
    if settle.capped(std::time::Instant::now()) {
        eprintln!(
            "warning: the retained messages did not go quiet within {:?} ({} of {subscriptions} \
             subscription acknowledged); printing what came",
            collect::ONCE_CAP,
            subscriptions - settle.subacks_due(),
        );
    }
    let incomplete = collect::incomplete(&fleet);
    if incomplete > 0 {
        eprintln!(
            "warning: {incomplete} devices have a presence but no state, or the reverse: the \
             broker may have dropped part of the retained messages (Mosquitto: raise \
             max_queued_messages, see docs/mqtt.md)"
        );
    }
    print::print(&collect::rows(&fleet), args.json).map_err(|e| CliError::new(exit::FAILURE, e))?;
    let _ = client.try_disconnect();
    Ok(exit::SUCCESS)
}
