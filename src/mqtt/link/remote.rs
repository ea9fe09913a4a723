//! Remote commands inside the link: decode (pure, [`crate::mqtt::command`]), answer
//! `rejected` or `accepted`, hand accepted ones to the core loop as a [`ControlRequest`] (the
//! control socket's path), and answer `succeeded` or `failed` when the core replies.
//! Every decision is an event: `command_rejected`, `command_duplicate`, `command_accepted`,
//! `command_failed`; refusals and duplicates through the limiter of [`crate::mqtt::refusals`].
//!
//! ```text
//! publish ─► retained? ─► rejected (never runs, whatever the delivery)
//!         ─► MQTT 5 response topic not under cmd/response ─► rejected (answered on cmd/response)
//!         ─► decode ─► rejected (reason)
//!         ─► `expires` passed (or MQTT 5 message expiry run out) ─► rejected "expired: …"
//!         ─► id seen in the last DEDUPE_WINDOW (store) ─► its first outcome again, not run
//!         ─► MAX_RUNNING running ─► rejected "busy"
//!         ─► stored as accepted ─► "accepted" ─► core loop ─► "succeeded" | "failed"
//! ```
#![allow(clippy::disallowed_methods)] // an I/O task: stamps command ids with the clock

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{Link, QueuedReply};
use crate::clock;
use crate::control::{ControlRequest, Response};
use crate::event::figures::{CommandAccepted, CommandDuplicate, CommandFailed, CommandRejected};
use crate::event::NewEvent;
use crate::mqtt::command::{self, response_topic, Action, Reply, ReplyStatus, ResponseTo};
use crate::mqtt::refusals::{Admit, Class, Suppressed};
use crate::mqtt::tls::MAX_INCOMING_PACKET;
use crate::mqtt::wire::Inbound;

/// Accepted commands waiting for the core loop at once; more are rejected as busy.
pub const MAX_RUNNING: usize = 16;
/// How long a command id is remembered: a redelivery or replay within it is answered with the
/// first outcome and not run again.
pub const DEDUPE_WINDOW: Duration = Duration::from_secs(10 * 60);
/// The most command ids remembered (the oldest go first beyond it).
pub const DEDUPE_MAX_IDS: u64 = 10_000;
/// The longest reason sent back or stored; longer ones are cut (a decoder error may quote
/// a field name from the payload).
pub const MAX_REASON_CHARS: usize = 256;
/// The outcome of a command accepted by an agent that stopped before it finished.
const INTERRUPTED: &str = "the agent stopped before the command finished";

/// The core loop's answer to an accepted command.
pub struct Outcome {
    id: String,
    action: Action,
    response: Response,
    to: Option<ResponseTo>,
}

fn cut(reason: String) -> String {
    if reason.chars().count() <= MAX_REASON_CHARS {
        return reason;
    }
    let mut r: String = reason.chars().take(MAX_REASON_CHARS).collect();
    r.push('…');
    r
}

impl Link {
    fn reply(&mut self, reply: Reply) {
        if self.replies.len() >= super::REPLIES_QUEUED {
            self.replies.pop_front();
            self.replies_dropped += 1;
            tracing::warn!("mqtt: command reply queue full; the oldest reply was dropped");
        }
        self.replies.push_back(QueuedReply {
            payload: reply.to_payload(),
            to: self.respond_to.clone(),
        });
    }

    /// Stores a refusal or duplicate as its own event, or counts it into the minute's
    /// aggregate (see [`crate::mqtt::refusals`]).
    async fn limited(&mut self, event: NewEvent, class: Class, reason: &str, bytes: usize) {
        match self.refusals.admit(Instant::now(), class, reason, bytes) {
            Admit::Store => self.record(event).await,
            Admit::Count => tracing::debug!("remote command refusal counted: {reason}"),
        }
    }

    /// The aggregate of the refusals a window counted, when it ends.
    pub(super) async fn refusals_due(&mut self) {
        let Some(s) = self.refusals.due(Instant::now()) else {
            return;
        };
        let Suppressed {
            count,
            busy,
            duplicates,
            max_payload_bytes,
            last_reason,
            window,
        } = s;
        let figures = CommandRejected {
            id: None,
            suppressed: Some(count),
            busy: Some(busy),
            duplicates: Some(duplicates),
            max_payload_bytes: Some(max_payload_bytes),
            last_reason: Some(last_reason),
            replies_dropped: Some(std::mem::take(&mut self.replies_dropped)),
            window_s: Some(window.as_secs()),
            ..CommandRejected::default()
        };
        let event = NewEvent::new(figures, None).message(format!(
            "{count} more remote commands refused in {}s ({busy} busy, {duplicates} \
             duplicates), each answered; stored as one event",
            window.as_secs()
        ));
        self.record(event).await;
    }

    async fn reject(&mut self, id: Option<String>, reason: String, bytes: usize, class: Class) {
        let reason = cut(reason);
        self.reply(Reply::new(
            id.clone(),
            ReplyStatus::Rejected,
            Some(reason.clone()),
        ));
        let figures = CommandRejected {
            id,
            reason: Some(reason.clone()),
            payload_bytes: Some(bytes),
            ..CommandRejected::default()
        };
        let event =
            NewEvent::new(figures, None).message(format!("remote command rejected: {reason}"));
        self.limited(event, class, &reason, bytes).await;
    }

    /// A publish the poller reduced to its size (over [`command::MAX_COMMAND_BYTES`]).
    pub(super) async fn oversized(&mut self, topic: &str, retain: bool, bytes: usize) {
        if topic != self.topics.cmd_request() {
            tracing::warn!("mqtt: {bytes}-byte publish on unexpected topic {topic:?} dropped");
            return;
        }
        let reason = format!(
            "payload of {bytes} bytes is over the {}-byte limit{}",
            command::MAX_COMMAND_BYTES,
            if retain { " (and retained)" } else { "" }
        );
        self.reject(None, reason, bytes, Class::Other).await;
    }

    /// The previous connection ended on a packet over the client's limit; this one began
    /// without the broker's session (which held that packet, unacknowledged, to redeliver at
    /// every reconnect) and cleared any retained command before subscribing again.
    pub(super) async fn session_dropped(&mut self, bytes: usize) {
        let reason = format!(
            "a {bytes}-byte packet is over the {MAX_INCOMING_PACKET} bytes the agent reads: \
             the broker session holding it was dropped, with any retained command"
        );
        self.reject(None, reason, bytes, Class::Other).await;
    }

    /// One publish on `cmd/request`; its replies go where it asked (MQTT 5) as well.
    pub(super) async fn command(&mut self, p: Inbound) {
        let to = p.response_topic.clone().map(|topic| ResponseTo {
            topic,
            correlation: p.correlation.clone(),
        });
        let bad_to = to
            .as_ref()
            .and_then(|to| response_topic(&to.topic, &self.topics.cmd_response()).err());
        if let Some(reason) = bad_to {
            // Answered on the documented topic only: the given one is refused.
            let id = command::decode(&p.payload, &self.setup.targets)
                .map_or_else(|r| r.id, |cmd| Some(cmd.id));
            return self.reject(id, reason, p.payload.len(), Class::Other).await;
        }
        self.respond_to = to;
        self.command_to(&p.payload, p.retain, p.expiry).await;
        self.respond_to = None;
    }

    async fn command_to(&mut self, payload: &[u8], retained: bool, expiry: Option<u32>) {
        let bytes = payload.len();
        if retained {
            let reason = "retained commands are refused: they would run again at every subscribe";
            let id = match command::decode(payload, &self.setup.targets) {
                Ok(cmd) => Some(cmd.id),
                Err(r) => r.id,
            };
            return self
                .reject(id, reason.to_string(), bytes, Class::Other)
                .await;
        }
        let cmd = match command::decode(payload, &self.setup.targets) {
            Ok(cmd) => cmd,
            Err(r) => return self.reject(r.id, r.reason, bytes, Class::Other).await,
        };
        let now_ms = clock::now_unix_ms();
        if let Some(reason) = cmd.expired(now_ms) {
            return self.reject(Some(cmd.id), reason, bytes, Class::Other).await;
        }
        if expiry == Some(0) {
            // The broker delivers nothing expired; a zero left means it ran out on the way.
            let reason = "expired: its MQTT 5 message expiry ran out before it arrived";
            return self
                .reject(Some(cmd.id), reason.to_string(), bytes, Class::Other)
                .await;
        }
        let since = now_ms.saturating_sub(DEDUPE_WINDOW.as_millis() as u64);
        let id = cmd.id.clone();
        let seen = match self.store.call(move |s| s.command_seen(&id, since)).await {
            Ok(seen) => seen,
            Err(e) => {
                tracing::error!("mqtt link store: {e}");
                let reason = format!("cannot check the command id against those seen: {e}");
                return self.reject(Some(cmd.id), reason, bytes, Class::Other).await;
            }
        };
        if let Some(seen) = seen {
            return self.duplicate(cmd.id, cmd.action, seen, bytes).await;
        }
        if self.commands_running >= MAX_RUNNING {
            let reason = format!("busy: {MAX_RUNNING} commands are still running");
            return self.reject(Some(cmd.id), reason, bytes, Class::Busy).await;
        }
        // Remembered before `accepted` goes out: a crash after it cannot run the id again.
        let id = cmd.id.clone();
        let keep_since = since;
        let recorded = self
            .db(move |s| s.command_record(&id, now_ms, "accepted", keep_since, DEDUPE_MAX_IDS))
            .await;
        if recorded.is_none() {
            let reason = "cannot record the command id in the store".to_string();
            return self.reject(Some(cmd.id), reason, bytes, Class::Other).await;
        }
        self.reply(Reply::new(
            Some(cmd.id.clone()),
            ReplyStatus::Accepted,
            None,
        ));
        let figures = CommandAccepted {
            id: cmd.id.clone(),
            action: cmd.action.name().to_string(),
        };
        let event = NewEvent::new(figures, cmd.action.target())
            .message(format!("remote command {} accepted", cmd.action.name()));
        self.record(event).await;
        self.commands_running += 1;
        let control = self.control.clone();
        let outcomes = self.outcomes_tx.clone();
        let to = self.respond_to.clone();
        self.tasks.spawn(async move {
            let (reply, answer) = oneshot::channel();
            let request = ControlRequest {
                cmd: cmd.action.to_cmd(),
                reply,
            };
            let response = if control.send(request).await.is_err() {
                Response::error(
                    crate::control::ErrorCode::ShuttingDown,
                    "the agent is stopping",
                )
            } else {
                answer.await.unwrap_or_else(|_| {
                    Response::error(
                        crate::control::ErrorCode::ShuttingDown,
                        "the agent is stopping",
                    )
                })
            };
            let _ = outcomes
                .send(Outcome {
                    id: cmd.id,
                    action: cmd.action,
                    response,
                    to,
                })
                .await;
        });
    }

    /// An id seen within [`DEDUPE_WINDOW`]: its first outcome again, nothing run.
    async fn duplicate(
        &mut self,
        id: String,
        action: Action,
        seen: crate::store::SeenCommand,
        bytes: usize,
    ) {
        let status = match seen.status.as_str() {
            "accepted" => ReplyStatus::Accepted,
            "succeeded" => ReplyStatus::Succeeded,
            _ => ReplyStatus::Failed,
        };
        self.reply(Reply::new(Some(id.clone()), status, seen.reason.clone()));
        let message = format!(
            "remote command {id:?} seen before ({}): answered, not run again",
            seen.status
        );
        let figures = CommandDuplicate {
            id,
            action: action.name().to_string(),
            status: seen.status,
            first_seen_ms: seen.seen_ms,
        };
        let event = NewEvent::new(figures, action.target()).message(message);
        self.limited(event, Class::Duplicate, "duplicate id", bytes)
            .await;
    }

    /// At start: commands an earlier run accepted and never finished become `failed`.
    pub(super) async fn close_interrupted(&mut self) {
        if let Some(n) = self.db(|s| s.commands_interrupted(INTERRUPTED)).await {
            if n > 0 {
                tracing::warn!("{n} remote commands were interrupted by the previous stop");
            }
        }
    }

    pub(super) async fn on_outcome(&mut self, mut outcome: Outcome) {
        self.respond_to = outcome.to.take();
        self.outcome(outcome).await;
        self.respond_to = None;
    }

    async fn outcome(&mut self, outcome: Outcome) {
        self.commands_running = self.commands_running.saturating_sub(1);
        let Outcome {
            id,
            action,
            response,
            to: _,
        } = outcome;
        if response.ok {
            if action == Action::Status {
                // `status` republishes the retained state at once.
                self.force_state = true;
            }
            let key = id.clone();
            self.db(move |s| s.command_outcome(&key, "succeeded", None))
                .await;
            self.reply(Reply::new(Some(id), ReplyStatus::Succeeded, None));
            return;
        }
        let reason = cut(response
            .error
            .map(|e| e.message)
            .unwrap_or_else(|| "failed without a reason".to_string()));
        tracing::info!("remote command {id} ({}) failed: {reason}", action.name());
        let (key, why) = (id.clone(), reason.clone());
        self.db(move |s| s.command_outcome(&key, "failed", Some(&why)))
            .await;
        self.reply(Reply::new(
            Some(id.clone()),
            ReplyStatus::Failed,
            Some(reason.clone()),
        ));
        let message = format!("remote command {} failed: {reason}", action.name());
        let figures = CommandFailed {
            id,
            action: action.name().to_string(),
            reason,
        };
        let event = NewEvent::new(figures, action.target()).message(message);
        self.record(event).await;
    }
}
