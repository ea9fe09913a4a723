//! `jetgate fleet --forget ID`: clears a decommissioned device's retained messages.
//!
//! 1. Subscribes to `<prefix>/<id>/#` and to the device's Home Assistant discovery configs
//!    (`homeassistant/+/jetgate_<id>/+/config`) and collects the retained messages until
//!    quiet (the `--once` rule), to know what the broker holds.
//! 2. Publishes an empty retained message (QoS 1, acknowledged) on each of [`leaves`] and on
//!    every other topic found in 1 that held one: the broker drops them.
//! 3. Subscribes again (the broker resends what is still retained) and fails, naming the
//!    topics, if any is left: an identity without the right to publish there (an ACL) is
//!    silently ignored by an MQTT 3.1.1 broker, so only this check tells.
//!
//! A device's agent that is still running publishes its presence and state again; stop it
//! first. Nothing is asked interactively.
// The settle rule reads the monotonic clock; the rule itself is pure.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::time::Instant;

use rumqttc::{AsyncClient, Event, EventLoop, Incoming, QoS};

use super::collect::Settle;
use super::{broker_error, connect, Args};
use crate::exit::{self, CliError, CliResult};
use crate::mqtt::homeassistant::{node_id, DISCOVERY_PREFIX};
use crate::mqtt::topics::Topics;

/// The device's topics cleared whether or not they held anything.
pub fn leaves(prefix: &str, id: &str) -> Vec<String> {
    let t = Topics::new(prefix, id);
    vec![
        t.status(),
        t.state(),
        t.telemetry(),
        t.cmd_request(),
        t.cmd_response(),
    ]
}

/// The topics under the device with a non-empty retained message, until quiet.
async fn retained(
    args: &Args,
    client: &AsyncClient,
    eventloop: &mut EventLoop,
    filters: &[String],
) -> Result<BTreeSet<String>, CliError> {
    let subscribe = filters
        .iter()
        .map(|f| rumqttc::SubscribeFilter::new(f.clone(), QoS::AtLeastOnce));
    client
        .subscribe_many(subscribe)
        .await
        .map_err(|e| broker_error(args, e))?;
    let mut settle = Settle::new(Instant::now(), 1);
    let mut held = BTreeSet::new();
    loop {
        let deadline = tokio::time::Instant::from_std(settle.deadline());
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                if settle.done(Instant::now()) { break; }
            }
            polled = eventloop.poll() => match polled {
                Ok(Event::Incoming(Incoming::Publish(p))) => {
                    settle.publish(p.retain, Instant::now());
                    if p.retain && !p.payload.is_empty() {
                        held.insert(p.topic);
                    }
                }
                Ok(Event::Incoming(Incoming::SubAck(_))) => settle.suback(Instant::now()),
                Ok(_) => {}
                Err(e) => return Err(broker_error(args, e)),
            }
        }
    }
    for f in filters {
        client
            .unsubscribe(f.clone())
            .await
            .map_err(|e| broker_error(args, e))?;
    }
    Ok(held)
}

pub async fn forget(args: &Args, id: &str) -> CliResult {
    let (client, mut eventloop) = connect(args, "fleet-forget").await?;
    let filters = [
        format!("{}/{id}/#", args.prefix),
        format!("{DISCOVERY_PREFIX}/+/{}/+/config", node_id(id)),
    ];
    let held = retained(args, &client, &mut eventloop, &filters).await?;
    let mut clear: BTreeSet<String> = leaves(&args.prefix, id).into_iter().collect();
    clear.extend(held.iter().cloned());
    // One at a time, each acknowledged before the next: the request queue never fills.
    for topic in &clear {
        client
            .publish(topic.clone(), QoS::AtLeastOnce, true, Vec::new())
            .await
            .map_err(|e| broker_error(args, e))?;
        loop {
            match tokio::time::timeout(super::CONNECT_TIMEOUT, eventloop.poll()).await {
                Ok(Ok(Event::Incoming(Incoming::PubAck(_)))) => break,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(broker_error(args, e)),
                Err(_) => {
                    return Err(broker_error(
                        args,
                        format!("the clear of {topic} was not acknowledged"),
                    ))
                }
            }
        }
    }
    let left = retained(args, &client, &mut eventloop, &filters).await?;
    let _ = client.try_disconnect();
    if !left.is_empty() {
        return Err(CliError::new(
            exit::FAILURE,
            anyhow::anyhow!(
                "the broker still holds retained messages on {} (may this identity publish \
                 there? see the broker's ACL)",
                listed(&left)
            ),
        ));
    }
    let id = crate::text::escape(id);
    if held.is_empty() {
        println!(
            "{id}: the broker held no retained message; cleared {} topics anyway",
            clear.len()
        );
    } else {
        println!("{id}: cleared the retained messages on {}", listed(&held));
    }
    Ok(exit::SUCCESS)
}

/// Topics as one escaped, comma-separated list.
fn listed(topics: &BTreeSet<String>) -> String {
    let escaped: Vec<String> = topics
        .iter()
        .map(|t| crate::text::escape(t).into_owned())
        .collect();
    escaped.join(", ")
}
