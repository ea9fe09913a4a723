//! The one task that owns rumqttc's `EventLoop`: it polls without pause while connected and
//! forwards every event to the link; after a failure it waits for the link's next
//! [`Attempt`] (new options with the new session's will, and the backoff delay).
//!
//! `poll()` is never raced against anything here: rumqttc writes with `write_all`, which
//! must not be cancelled half-way.

use std::time::Duration;

use rumqttc::{Event, EventLoop, MqttOptions};
use tokio::sync::mpsc;

/// One connection attempt, as the link decided it.
pub struct Attempt {
    pub options: MqttOptions,
    pub delay: Duration,
}

/// What the poller saw.
pub enum Polled {
    Event(Event),
    /// The connection failed or ended; the poller waits for the next [`Attempt`].
    Failed(rumqttc::ConnectionError),
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
                    if events.send(Polled::Event(event)).await.is_err() {
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
