//! The link task: connection attempts with backoff, presence on every ConnAck, and what to
//! publish next (outbox window, coalesced state, telemetry, command replies). It selects only
//! on channels and timers, so every branch is cancel-safe; the broker is the poller's.
//!
//! ```text
//! start-up slot ─► attempt(session N, will online:false N) ─► ConnAck ─► status online:true N,
//!   subscribe if no session, state ─► (both acked) backlog at backlog_rate … ─► failure ─►
//!   outbox.reset, backoff by cause under 15 attempts a minute ─► attempt(N+1)
//! ```
#![allow(clippy::disallowed_methods)] // an I/O task: reads the clock for intervals and stamps

use std::collections::{HashMap, VecDeque};

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::outbox::Outbox;
use super::pace::Pace;
use super::poller::{self, Attempt, Polled};
use super::reconnect::{self, Reconnect};
use super::refusals::Refusals;
use super::stats::LinkStats;
use super::topics::Topics;
use super::wire::{self, Client, Qos, Will, Wire};
use super::{presence, tls, LinkSetup, FLUSH_DEADLINE};
use crate::clock;
use crate::control::ControlRequest;
use crate::event::figures::MqttConnected;
use crate::event::NewEvent;
use crate::status::StatusDocument;
use crate::store::writer::StoreWriter;
use crate::store::Store;
use crate::tasks::Tasks;

mod connect;
mod publish;
mod remote;

/// How often the link looks for work when nothing arrives (state due, cursor to persist).
const PUMP_INTERVAL: Duration = Duration::from_millis(50);
/// The acknowledged cursor is written at most this often (a crash resends at most this much).
const CURSOR_PERSIST_INTERVAL: Duration = Duration::from_millis(250);
/// How often the outbox is measured against `outbox_limit` while it holds a backlog.
const OUTBOX_CHECK_INTERVAL: Duration = Duration::from_secs(5);
/// rumqttc's request channel: above everything the link keeps in flight.
const REQUEST_CAPACITY: usize = 256;
/// Command replies published and not yet acknowledged at once.
const REPLIES_IN_FLIGHT: usize = 16;
/// Replies waiting for the window (each at most about 1 KiB: a 128-character id and a
/// 256-character reason); beyond this the oldest is dropped and counted (a reply is not
/// durable). A flood is answered in full up to this many replies ahead of the broker.
const REPLIES_QUEUED: usize = 4096;
/// After `online: false` on a clean stop, how long to wait for its PubAck.
const GOODBYE_WAIT: Duration = Duration::from_secs(1);

/// A reply waiting for the window: the payload, and where an MQTT 5 request asked for it.
struct QueuedReply {
    payload: Vec<u8>,
    to: Option<super::command::ResponseTo>,
}

/// What a QoS 1 publish was, by packet id, to act on its PubAck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Event(u64),
    State,
    Presence,
    Reply,
    Telemetry,
    /// The empty retained publish that clears a retained command.
    Clear,
    /// A Home Assistant discovery config.
    Discovery,
}

/// One connection's bookkeeping; replaced at every attempt.
#[derive(Default)]
struct Conn {
    connected_at: Option<Instant>,
    /// Tags of publishes requested, in order, until rumqttc assigns their packet ids.
    requested: VecDeque<Tag>,
    by_pkid: HashMap<u16, Tag>,
    state_in_flight: bool,
    /// The broker acknowledged this connection's `online: true`.
    presence_acked: bool,
    /// The broker acknowledged this connection's first retained state.
    state_acked: bool,
    state_sent: Option<(Instant, String)>,
    replies_in_flight: usize,
    telemetry_at: Option<Instant>,
    goodbye_acked: bool,
    /// Home Assistant's discovery configs went out on this connection.
    discovery_sent: bool,
}

pub(super) struct Link {
    setup: LinkSetup,
    topics: Topics,
    client_id: String,
    /// The store's one writer: the outbox is read, and the link's own events written, there.
    store: StoreWriter,
    control: mpsc::Sender<ControlRequest>,
    status_rx: watch::Receiver<Option<StatusDocument>>,
    seq_rx: watch::Receiver<u64>,
    outcomes_tx: mpsc::Sender<remote::Outcome>,
    outcomes_rx: mpsc::Receiver<remote::Outcome>,
    outbox: Outbox,
    /// Start-up slot, backoff by cause, and the cap on attempts a minute.
    reconnect: Reconnect,
    /// This device's start-up slot (`connect_spread`).
    start_delay: Duration,
    /// Outbox events a second (`backlog_rate`).
    pace: Pace,
    /// Events skipped for `max_payload` since the agent started.
    payload_dropped: u64,
    session: u64,
    conn: Conn,
    client: Option<Client>,
    replies: VecDeque<QueuedReply>,
    /// Where the command being answered asked for its replies (MQTT 5 response topic).
    respond_to: Option<super::command::ResponseTo>,
    /// Replies dropped from a full queue since the last aggregate event.
    replies_dropped: u64,
    commands_running: usize,
    /// Refusals stored one by one, or counted into the minute's aggregate.
    refusals: Refusals,
    /// The size of the packet over the client's limit that ended the last connection: the
    /// next attempt drops the broker's session, which holds it for redelivery.
    drop_session: Option<usize>,
    force_state: bool,
    cursor_written: Option<Instant>,
    outbox_checked: Option<Instant>,
    /// The failure already reported for the current outage (repeats are only traced).
    reported: Option<String>,
    failed_attempts: u32,
    down_since: Instant,
    /// The agent's tasks: the poller, store jobs and remote commands are spawned through it.
    tasks: Tasks,
    /// Where the link's figures are published (`stats.rs`), after each turn of its loop.
    stats: watch::Sender<LinkStats>,
}

impl Link {
    /// The outbox starts empty; [`Link::run`] reads its cursor and the newest seq first.
    pub(super) fn new(
        setup: LinkSetup,
        store: StoreWriter,
        control: mpsc::Sender<ControlRequest>,
        status_rx: watch::Receiver<Option<StatusDocument>>,
        tasks: Tasks,
        stats: watch::Sender<LinkStats>,
    ) -> Link {
        let seq_rx = store.newest_seq();
        let topics = Topics::new(&setup.mqtt.prefix, &setup.device_id);
        let client_id = setup.client_id();
        let (outcomes_tx, outcomes_rx) = mpsc::channel(64);
        let start_delay = reconnect::startup_delay(&setup.device_id, setup.mqtt.connect_spread.0);
        let pace = Pace::new(setup.mqtt.backlog_rate);
        Link {
            setup,
            topics,
            client_id,
            store,
            control,
            status_rx,
            seq_rx,
            outcomes_tx,
            outcomes_rx,
            outbox: Outbox::new(0, 0),
            reconnect: Reconnect::default(),
            start_delay,
            pace,
            payload_dropped: 0,
            session: 0,
            conn: Conn::default(),
            client: None,
            replies: VecDeque::new(),
            respond_to: None,
            replies_dropped: 0,
            commands_running: 0,
            refusals: Refusals::default(),
            drop_session: None,
            force_state: true,
            cursor_written: None,
            outbox_checked: None,
            reported: None,
            failed_attempts: 0,
            down_since: Instant::now(),
            tasks,
            stats,
        }
    }

    /// Runs a store operation on the store's writer; a failure is logged and read as `None`.
    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> Option<T> {
        match self.store.call(f).await {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!("mqtt link store: {e}");
                None
            }
        }
    }

    /// Stores an event (it enters the outbox like any other).
    async fn record(&mut self, event: NewEvent) {
        event.log();
        match self.store.append(event).await {
            Ok(Ok(stored)) => self.outbox.stored(stored.seq),
            Ok(Err(e)) => tracing::error!("mqtt link store: {e}"),
            Err(_) => tracing::error!("mqtt link store: the writer has stopped"),
        }
    }

    fn will_and_options(&self) -> Result<wire::Options, tls::OptionsError> {
        let payload = presence::status_payload(
            false,
            self.session,
            std::process::id(),
            env!("CARGO_PKG_VERSION"),
            &clock::now_rfc3339(),
        );
        let will = Will {
            topic: self.topics.status(),
            payload,
            delay: self.setup.mqtt.will_delay(),
        };
        let clean = self.drop_session.is_some();
        wire::options(&self.setup.mqtt, &self.client_id, Some(will), clean)
    }

    pub(super) async fn run(mut self, cancel: CancellationToken) {
        let Some((cursor, newest)) = self.db(|s| Ok((s.outbox_cursor()?, s.last_seq()?))).await
        else {
            tracing::error!("mqtt link: cannot read the outbox cursor; not connecting");
            return;
        };
        self.outbox = Outbox::new(cursor, newest);
        let Some(session) = self.db(|s| s.next_session()).await else {
            tracing::error!("mqtt link: no session number from the store; not connecting");
            return;
        };
        self.session = session;
        self.close_interrupted().await;
        let (client, eventloop) =
            wire::client(self.setup.mqtt.protocol, &self.client_id, REQUEST_CAPACITY);
        self.client = Some(client);
        let (attempt_tx, attempt_rx) = mpsc::channel::<Attempt>(1);
        let (polled_tx, mut polled_rx) = mpsc::channel::<Polled>(256);
        let poller = self
            .tasks
            .spawn(poller::run(eventloop, attempt_rx, polled_tx));
        let mut delay = self.first_delay();
        let mut tick = tokio::time::interval(PUMP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stopping: Option<Instant> = None;
        'attempts: loop {
            match self.will_and_options() {
                Ok(options) => {
                    if attempt_tx.send(Attempt { options, delay }).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    self.failed(e.to_string(), None, None, &mut delay).await;
                    tokio::select! {
                        // The wait is this attempt's: the poller must not wait it again.
                        _ = tokio::time::sleep(delay) => {
                            delay = Duration::ZERO;
                            continue 'attempts;
                        }
                        _ = cancel.cancelled() => break 'attempts,
                    }
                }
            }
            self.conn = Conn::default();
            loop {
                tokio::select! {
                    _ = cancel.cancelled(), if stopping.is_none() => {
                        if self.conn.connected_at.is_none() {
                            break 'attempts;
                        }
                        stopping = Some(Instant::now() + FLUSH_DEADLINE);
                        // The agent's last events (agent_stopping, unloaded …) go out first.
                        let seq = *self.seq_rx.borrow_and_update();
                        self.outbox.stored(seq);
                    }
                    polled = polled_rx.recv() => match polled {
                        Some(Polled::Event(event)) => self.on_event(event).await,
                        Some(Polled::Oversized { topic, retain, bytes }) => {
                            self.oversized(&topic, retain, bytes).await
                        }
                        Some(Polled::Failed(e)) => {
                            if let Some(bytes) = e.too_large {
                                self.drop_session = Some(bytes);
                            }
                            self.disconnected(e.message, e.refusal, e.reason, &mut delay).await;
                            if stopping.is_some() {
                                break 'attempts;
                            }
                            continue 'attempts;
                        }
                        None => break 'attempts,
                    },
                    Ok(()) = self.seq_rx.changed() => {
                        let seq = *self.seq_rx.borrow_and_update();
                        self.outbox.stored(seq);
                    }
                    Some(outcome) = self.outcomes_rx.recv() => self.on_outcome(outcome).await,
                    _ = tick.tick() => {}
                }
                self.housekeeping().await;
                if self.conn.connected_at.is_some() {
                    self.pump().await;
                }
                self.publish_stats();
                if let Some(deadline) = stopping {
                    let flushed = self.outbox.drained() && self.conn.replies_in_flight == 0;
                    if flushed || Instant::now() >= deadline {
                        self.goodbye(&mut polled_rx).await;
                        break 'attempts;
                    }
                }
            }
        }
        if let Some(c) = self.outbox.cursor_to_persist() {
            self.db(move |s| s.set_outbox_cursor(c)).await;
        }
        poller.abort();
    }

    async fn on_event(&mut self, event: Wire) {
        match event {
            Wire::ConnAck {
                session_present,
                reason_string,
            } => {
                if let Some(r) = reason_string {
                    tracing::info!("mqtt: the broker's CONNACK says {r:?}");
                }
                self.connected(session_present).await
            }
            Wire::PubAck { pkid } => match self.conn.by_pkid.remove(&pkid) {
                Some(Tag::Event(seq)) => self.outbox.acked(seq),
                Some(Tag::State) => {
                    self.conn.state_in_flight = false;
                    self.conn.state_acked = true;
                }
                Some(Tag::Reply) => {
                    self.conn.replies_in_flight = self.conn.replies_in_flight.saturating_sub(1)
                }
                Some(Tag::Presence) => {
                    self.conn.goodbye_acked = true;
                    self.conn.presence_acked = true;
                }
                Some(Tag::Telemetry | Tag::Clear | Tag::Discovery) | None => {}
            },
            Wire::Publish(p) if p.topic == self.topics.cmd_request() => self.command(p).await,
            Wire::SubAck { refused } if !refused.is_empty() => {
                self.subscription_refused(refused).await
            }
            Wire::PublishSent { pkid } => {
                if let Some(tag) = self.conn.requested.pop_front() {
                    if pkid != 0 {
                        self.conn.by_pkid.insert(pkid, tag);
                    }
                }
            }
            _ => {}
        }
    }

    async fn connected(&mut self, session_present: bool) {
        let now = Instant::now();
        self.conn.connected_at = Some(now);
        self.force_state = true;
        let online = presence::status_payload(
            true,
            self.session,
            std::process::id(),
            env!("CARGO_PKG_VERSION"),
            &clock::now_rfc3339(),
        );
        self.publish(
            self.topics.status(),
            Qos::AtLeastOnce,
            true,
            online,
            Tag::Presence,
        );
        let dropped = self.drop_session.take();
        if dropped.is_some() {
            // Before subscribing: a retained command over the limit would otherwise come back
            // at every subscribe. Retained commands never run, so nothing is lost.
            self.publish(
                self.topics.cmd_request(),
                Qos::AtLeastOnce,
                true,
                Vec::new(),
                Tag::Clear,
            );
        }
        if !session_present {
            if let Some(client) = &self.client {
                if let Err(e) = client.subscribe(&self.topics.cmd_request()) {
                    tracing::error!("mqtt: cannot subscribe to commands: {e}");
                }
            }
        }
        let outage_ms = now.duration_since(self.down_since).as_millis() as u64;
        let figures = MqttConnected {
            broker: self.setup.mqtt.url.to_string(),
            session: self.session,
            session_present,
            failed_attempts: self.failed_attempts,
            outage_ms,
            outbox_cursor: self.outbox.cursor(),
            start_delay_ms: self.start_delay.as_millis() as u64,
        };
        let event = NewEvent::new(figures, None).message(format!(
            "connected to {} as {} (session {})",
            self.setup.mqtt.url, self.client_id, self.session
        ));
        self.reported = None;
        self.failed_attempts = 0;
        self.stats.send_modify(|s| s.connections += 1);
        self.record(event).await;
        if let Some(bytes) = dropped {
            self.session_dropped(bytes).await;
        }
    }
}

#[cfg(test)]
mod tests;
