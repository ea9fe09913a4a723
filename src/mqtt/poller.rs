//! The one task that owns rumqttc's `EventLoop`: it polls without pause while connected and
//! forwards every event to the link; after a failure it waits for the link's next
//! [`Attempt`] (new options with the new session's will, and the backoff delay).
//!
//! `poll()` is never raced against anything here: rumqttc writes with `write_all`, which
//! must not be cancelled half-way.
//!
//! Memory: the channel to the link holds at most its capacity of events, and a publish whose
//! payload is over [`MAX_COMMAND_BYTES`] (which the decoder would refuse unread) is forwarded
//! as [`Polled::Oversized`], its size only, so the queue never holds more than capacity ×
//! 16 KiB of payloads however large the packets a flood brings (each at most the client's
//! incoming packet limit, read and dropped one at a time).

use std::time::Duration;

use rumqttc::{ConnectionError, Event, EventLoop, Incoming, MqttOptions, StateError};
use tokio::sync::mpsc;

use super::command::MAX_COMMAND_BYTES;

/// One connection attempt, as the link decided it.
pub struct Attempt {
    pub options: MqttOptions,
    pub delay: Duration,
}

/// What the poller saw.
pub enum Polled {
    Event(Event),
    /// A publish too large to be a command: its payload was dropped here, its size kept.
    Oversized {
        topic: String,
        retain: bool,
        bytes: usize,
    },
    /// The connection failed or ended; the poller waits for the next [`Attempt`].
    Failed(rumqttc::ConnectionError),
}

/// The size of an incoming packet over the client's limit, when that is why `e` ended the
/// connection (rumqttc refuses it from its fixed header and drops the connection unacked).
pub fn packet_too_large(e: &ConnectionError) -> Option<usize> {
    match e {
        ConnectionError::MqttState(StateError::Deserialization(
            rumqttc::mqttbytes::Error::PayloadSizeLimitExceeded(n),
        )) => Some(*n),
        _ => None,
    }
}

/// What the link is sent for one event: oversized publishes lose their payload.
fn forwarded(event: Event) -> Polled {
    match event {
        Event::Incoming(Incoming::Publish(p)) if p.payload.len() > MAX_COMMAND_BYTES => {
            Polled::Oversized {
                topic: p.topic,
                retain: p.retain,
                bytes: p.payload.len(),
            }
        }
        event => Polled::Event(event),
    }
}

/// Runs until the link drops its [`Attempt`] sender or its event receiver.
pub async fn run(
    mut eventloop: EventLoop,
    mut attempts: mpsc::Receiver<Attempt>,
    events: mpsc::Sender<Polled>,
) {
    while let Some(attempt) = attempts.recv().await {
        tokio::time::sleep(attempt.delay).await;
        // Requests queued for the old connection (and rumqttc's own replay list) are dropped:
        // the link replays the outbox from its cursor itself.
        eventloop.clean();
        eventloop.pending.clear();
        eventloop.mqtt_options = attempt.options;
        loop {
            match eventloop.poll().await {
                Ok(event) => {
                    if events.send(forwarded(event)).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    if events.send(Polled::Failed(e)).await.is_err() {
                        return;
                    }
                    break;
                }
            }
        }
    }
}
