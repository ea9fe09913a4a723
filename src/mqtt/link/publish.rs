//! The publishing half of the link: housekeeping that runs with or without a broker (the
//! cursor written back, the outbox held to `outbox_limit`), and, while connected, what goes
//! out next: command replies, the coalesced retained state, telemetry, then outbox events in
//! seq order within the window, at most `backlog_rate` a second and only once the broker has
//! acknowledged this connection's presence and first state (so a consumer sees the device
//! online and its state before the backlog); an event over `max_payload` is skipped and
//! reported; finally the clean goodbye. After each turn the link's figures are published
//! for the metrics ([`LinkStats`](crate::mqtt::stats::LinkStats)).
#![allow(clippy::disallowed_methods)] // an I/O task: reads the clock for intervals and stamps

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{
    Link, QueuedReply, Tag, CURSOR_PERSIST_INTERVAL, GOODBYE_WAIT, OUTBOX_CHECK_INTERVAL,
    REPLIES_IN_FLIGHT,
};
use crate::clock;
use crate::event::figures::{MqttPayloadDropped, OutboxDropped};
use crate::event::NewEvent;
use crate::mqtt::outbox::bytes_to_free;
use crate::mqtt::poller::Polled;
use crate::mqtt::wire::{Outbound, Qos, Wire};
use crate::mqtt::{homeassistant, presence};

impl Link {
    pub(super) fn publish(
        &mut self,
        topic: String,
        qos: Qos,
        retain: bool,
        payload: Vec<u8>,
        tag: Tag,
    ) -> bool {
        let out = Outbound {
            topic,
            qos,
            retain,
            payload,
            correlation: None,
        };
        self.send(out, tag)
    }

    /// Queues one publish; its tag waits for the packet id rumqttc gives it.
    pub(super) fn send(&mut self, out: Outbound, tag: Tag) -> bool {
        let Some(client) = &self.client else {
            return false;
        };
        match client.publish(out) {
            Ok(()) => {
                self.conn.requested.push_back(tag);
                true
            }
            Err(e) => {
                tracing::warn!("mqtt publish not queued ({tag:?}): {e}");
                false
            }
        }
    }

    /// Timers that run whether or not a broker is there: cursor writes and the drop policy.
    pub(super) async fn housekeeping(&mut self) {
        let now = Instant::now();
        let due = |t: Option<Instant>, every: Duration| t.is_none_or(|t| now >= t + every);
        if let Some(c) = self.outbox.cursor_to_persist() {
            if due(self.cursor_written, CURSOR_PERSIST_INTERVAL) {
                self.cursor_written = Some(now);
                if self.db(move |s| s.set_outbox_cursor(c)).await.is_some() {
                    self.outbox.persisted(c);
                }
            }
        }
        if !self.outbox.drained() && due(self.outbox_checked, OUTBOX_CHECK_INTERVAL) {
            self.outbox_checked = Some(now);
            self.enforce_limit().await;
        }
        self.refusals_due().await;
    }

    async fn enforce_limit(&mut self) {
        let limit = self.setup.mqtt.outbox_limit.get();
        let cursor = self.outbox.cursor();
        let Some(size) = self.db(move |s| s.outbox_size(cursor)).await else {
            return;
        };
        let Some(need) = bytes_to_free(size.bytes, limit) else {
            return;
        };
        let after = self.outbox.droppable_after();
        let Some(d) = self.db(move |s| s.outbox_drop(after, need)).await else {
            return;
        };
        self.stats.send_modify(|s| s.dropped_events += d.events);
        let figures = OutboxDropped {
            dropped_events: d.events,
            dropped_bytes: d.bytes,
            first_seq: d.first_seq,
            last_seq: d.last_seq,
            dropped_info: d.by_severity[0],
            dropped_warning: d.by_severity[1],
            dropped_error: d.by_severity[2],
            outbox_events: size.events - d.events,
            outbox_bytes: size.bytes - d.bytes,
            limit_bytes: limit,
            dropped_total: d.total,
        };
        let event = NewEvent::new(figures, None).message(format!(
            "outbox over its limit: dropped {} unsent events ({} info, {} warning, {} error)",
            d.events, d.by_severity[0], d.by_severity[1], d.by_severity[2]
        ));
        self.record(event).await;
    }

    /// Publishes the link's figures when one changed (readers are never woken for nothing).
    pub(super) fn publish_stats(&mut self) {
        let connected = self.conn.connected_at.is_some();
        let (session, outbox_events) = (self.session, self.outbox.pending());
        let in_flight = self.outbox.in_flight() as u64;
        self.stats.send_if_modified(|s| {
            let before = *s;
            s.connected = connected;
            s.session = session;
            s.outbox_events = outbox_events;
            s.in_flight = in_flight;
            *s != before
        });
    }

    /// Publishes what is due: replies, state, telemetry, then outbox events.
    pub(super) async fn pump(&mut self) {
        while self.conn.replies_in_flight < REPLIES_IN_FLIGHT {
            let Some(QueuedReply { payload, to }) = self.replies.pop_front() else {
                break;
            };
            self.publish_reply(payload, to);
        }
        self.publish_discovery();
        self.publish_state();
        self.publish_telemetry();
        if let Some((after, limit)) = self.outbox.want_read() {
            let newest = *self.seq_rx.borrow();
            if let Some(batch) = self.db(move |s| s.outbox_batch(after, limit)).await {
                self.outbox.fill(batch, limit, newest.max(after));
            }
        }
        if !self.greeted() {
            return;
        }
        let now = Instant::now();
        while self.outbox.ready() && self.pace.take(now) {
            let Some(entry) = self.outbox.next_to_send() else {
                break;
            };
            let bytes = entry.payload.len() as u64;
            if bytes > self.setup.mqtt.max_payload.get() {
                self.outbox.acked(entry.seq);
                self.payload_too_large(entry.seq, &entry.payload).await;
                continue;
            }
            let payload = entry.payload.into_bytes();
            if !self.publish(
                self.topics.events(),
                Qos::AtLeastOnce,
                false,
                payload,
                Tag::Event(entry.seq),
            ) {
                self.outbox.reset();
                break;
            }
        }
    }

    /// One reply on the documented `cmd/response`, and, for an MQTT 5 request that named
    /// another response topic (under `cmd/response/`), there too with its correlation data.
    fn publish_reply(&mut self, payload: Vec<u8>, to: Option<crate::mqtt::command::ResponseTo>) {
        let documented = self.topics.cmd_response();
        let mut outs = Vec::with_capacity(2);
        match to {
            Some(to) if to.topic == documented => outs.push((documented, to.correlation)),
            Some(to) => {
                outs.push((documented, None));
                outs.push((to.topic, to.correlation));
            }
            None => outs.push((documented, None)),
        }
        for (topic, correlation) in outs {
            let out = Outbound {
                topic,
                qos: Qos::AtLeastOnce,
                retain: false,
                payload: payload.clone(),
                correlation,
            };
            if self.send(out, Tag::Reply) {
                self.conn.replies_in_flight += 1;
            }
        }
    }

    /// Home Assistant's discovery configs, retained, once per connection as soon as the
    /// first status document names the board (a broker that lost its retained messages gets
    /// them back; Home Assistant ignores an unchanged config).
    fn publish_discovery(&mut self) {
        if !self.setup.mqtt.homeassistant || self.conn.discovery_sent {
            return;
        }
        let board = match self.status_rx.borrow().as_ref() {
            Some(doc) => doc.device.board.name.clone(),
            None => return,
        };
        self.conn.discovery_sent = true;
        let info = homeassistant::DeviceInfo {
            device_id: &self.setup.device_id,
            board: Some(&board),
            version: env!("CARGO_PKG_VERSION"),
        };
        for d in homeassistant::discovery(&self.topics, &info) {
            let payload = serde_json::to_vec(&d.config).unwrap_or_default();
            self.publish(d.topic, Qos::AtLeastOnce, true, payload, Tag::Discovery);
        }
    }

    /// Presence and the first state are acknowledged (or there is no state yet to send).
    fn greeted(&self) -> bool {
        let no_state = self.status_rx.borrow().is_none();
        self.conn.presence_acked && (self.conn.state_acked || no_state)
    }

    /// An outbox event over `max_payload`: not sent, its place passed, counted and reported.
    async fn payload_too_large(&mut self, seq: u64, payload: &str) {
        self.payload_dropped += 1;
        let kind = serde_json::from_str::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| {
                v["kind"]
                    .as_str()
                    .map(|k| k.chars().take(64).collect::<String>())
            });
        let max = self.setup.mqtt.max_payload;
        let message = format!(
            "event {seq} ({}) not published: {} bytes over max_payload {max}",
            kind.as_deref().unwrap_or("unknown kind"),
            payload.len()
        );
        let figures = MqttPayloadDropped {
            seq,
            event_kind: kind,
            payload_bytes: payload.len() as u64,
            max_payload_bytes: max.get(),
            dropped_total: self.payload_dropped,
        };
        let event = NewEvent::new(figures, None).message(message);
        self.record(event).await;
    }

    fn publish_state(&mut self) {
        if self.conn.state_in_flight {
            return;
        }
        let doc = self.status_rx.borrow_and_update().clone();
        let Some(doc) = doc else {
            return;
        };
        let key = presence::state_key(&doc);
        let interval = self.setup.mqtt.state_interval.0;
        let due = match &self.conn.state_sent {
            None => true,
            Some((at, sent_key)) => *sent_key != key || at.elapsed() >= interval,
        };
        if !(due || self.force_state) {
            return;
        }
        let payload = presence::state_payload(&doc);
        if self.publish(
            self.topics.state(),
            Qos::AtLeastOnce,
            true,
            payload,
            Tag::State,
        ) {
            self.conn.state_in_flight = true;
            self.conn.state_sent = Some((Instant::now(), key));
            self.force_state = false;
        }
    }

    fn publish_telemetry(&mut self) {
        let interval = self.setup.mqtt.telemetry_interval.0;
        if self
            .conn
            .telemetry_at
            .is_some_and(|t| t.elapsed() < interval)
        {
            return;
        }
        let payload = {
            let doc = self.status_rx.borrow();
            doc.as_ref()
                .and_then(|d| presence::telemetry_payload(d, self.session, &clock::now_rfc3339()))
        };
        if let Some(payload) = payload {
            self.conn.telemetry_at = Some(Instant::now());
            // QoS 0 and never queued: a sample the channel cannot take now is simply skipped.
            self.publish(
                self.topics.telemetry(),
                Qos::AtMostOnce,
                false,
                payload,
                Tag::Telemetry,
            );
        }
    }

    /// A clean stop: `online: false` for this session, its PubAck (briefly), DISCONNECT.
    pub(super) async fn goodbye(&mut self, polled: &mut mpsc::Receiver<Polled>) {
        let offline = presence::status_payload(
            false,
            self.session,
            std::process::id(),
            env!("CARGO_PKG_VERSION"),
            &clock::now_rfc3339(),
        );
        self.conn.goodbye_acked = false;
        self.publish(
            self.topics.status(),
            Qos::AtLeastOnce,
            true,
            offline,
            Tag::Presence,
        );
        let wait = async {
            while !self.conn.goodbye_acked {
                match polled.recv().await {
                    Some(Polled::Event(e)) => self.on_event(e).await,
                    Some(Polled::Oversized {
                        topic,
                        retain,
                        bytes,
                    }) => self.oversized(&topic, retain, bytes).await,
                    Some(Polled::Failed(_)) | None => return,
                }
            }
        };
        let _ = tokio::time::timeout(GOODBYE_WAIT, wait).await;
        if let Some(client) = &self.client {
            client.disconnect();
        }
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                match polled.recv().await {
                    Some(Polled::Event(Wire::DisconnectSent)) => break,
                    Some(Polled::Event(_) | Polled::Oversized { .. }) => {}
                    Some(Polled::Failed(_)) | None => break,
                }
            }
        })
        .await;
    }
}
