//! The one task that owns the protocol's event loop ([`wire::EventLoop`]): it polls without
//! pause while connected and forwards every event to the link; after a failure it waits for
//! the link's next [`Attempt`] (new options with the new session's will, and the backoff
//! delay).
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

use tokio::sync::mpsc;

use super::command::MAX_COMMAND_BYTES;
use super::wire::{self, Failure, Wire};

/// One connection attempt, as the link decided it.
pub struct Attempt {
    pub options: wire::Options,
    pub delay: Duration,
}

/// What the poller saw.
pub enum Polled {
    Event(Wire),
    /// A publish too large to be a command: its payload was dropped here, its size kept.
    Oversized {
        topic: String,
        retain: bool,
        bytes: usize,
    },
    /// The connection failed or ended; the poller waits for the next [`Attempt`].
    Failed(Failure),
}

/// What the link is sent for one event: oversized publishes lose their payload.
fn forwarded(event: Wire) -> Polled {
    match event {
        Wire::Publish(p) if p.payload.len() > MAX_COMMAND_BYTES => Polled::Oversized {
            bytes: p.payload.len(),
            topic: p.topic,
            retain: p.retain,
        },
        event => Polled::Event(event),
    }
}

/// Runs until the link drops its [`Attempt`] sender or its event receiver.
pub async fn run(
    mut eventloop: wire::EventLoop,
    mut attempts: mpsc::Receiver<Attempt>,
    events: mpsc::Sender<Polled>,
) {
    while let Some(attempt) = attempts.recv().await {
        tokio::time::sleep(attempt.delay).await;
        eventloop.prepare(attempt.options);
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
