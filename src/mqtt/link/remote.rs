//! Remote commands inside the link: decode (pure, [`crate::mqtt::command`]), answer
//! `rejected` or `accepted`, hand accepted ones to the core loop as a [`ControlRequest`] (the
//! control socket's path), and answer `succeeded` or `failed` when the core replies.
//! Every decision is an event: `command_rejected`, `command_accepted`, `command_failed`.

use tokio::sync::oneshot;

use super::Link;
use crate::control::{ControlRequest, Response};
use crate::event::NewEvent;
use crate::mqtt::command::{self, Action, Reply, ReplyStatus};

/// Accepted commands waiting for the core loop at once; more are rejected as busy.
pub const MAX_RUNNING: usize = 16;

/// The core loop's answer to an accepted command.
pub struct Outcome {
    id: String,
    action: Action,
    response: Response,
}

impl Link {
    fn reply(&mut self, reply: Reply) {
        if self.replies.len() >= super::REPLIES_QUEUED {
            self.replies.pop_front();
            tracing::warn!("mqtt: command reply queue full; the oldest reply was dropped");
        }
        self.replies.push_back(reply.to_payload());
    }

    async fn reject(&mut self, id: Option<String>, reason: String, bytes: usize) {
        self.reply(Reply::new(
            id.clone(),
            ReplyStatus::Rejected,
            Some(reason.clone()),
        ));
        let event = NewEvent::warning("command_rejected", None)
            .message(format!("remote command rejected: {reason}"))
            .figure("id", id)
            .figure("reason", reason)
            .figure("payload_bytes", bytes);
        self.record(event).await;
    }

    pub(super) async fn command(&mut self, payload: &[u8], retained: bool) {
        let bytes = payload.len();
        if retained {
            let reason = "retained commands are refused: they would run again at every subscribe";
            let id = match command::decode(payload, &self.setup.targets) {
                Ok(cmd) => Some(cmd.id),
                Err(r) => r.id,
            };
            return self.reject(id, reason.to_string(), bytes).await;
        }
        let cmd = match command::decode(payload, &self.setup.targets) {
            Ok(cmd) => cmd,
            Err(r) => return self.reject(r.id, r.reason, bytes).await,
        };
        if self.commands_running >= MAX_RUNNING {
            let reason = format!("busy: {MAX_RUNNING} commands are still running");
            return self.reject(Some(cmd.id), reason, bytes).await;
        }
        self.reply(Reply::new(
            Some(cmd.id.clone()),
            ReplyStatus::Accepted,
            None,
        ));
        let event = NewEvent::info("command_accepted", cmd.action.target())
            .message(format!("remote command {} accepted", cmd.action.name()))
            .figure("id", cmd.id.clone())
            .figure("action", cmd.action.name());
        self.record(event).await;
        self.commands_running += 1;
        let control = self.control.clone();
        let outcomes = self.outcomes_tx.clone();
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
                })
                .await;
        });
    }

    pub(super) async fn on_outcome(&mut self, outcome: Outcome) {
        self.commands_running = self.commands_running.saturating_sub(1);
        let Outcome {
            id,
            action,
            response,
        } = outcome;
        if response.ok {
            if action == Action::Status {
                // `status` republishes the retained state at once.
                self.force_state = true;
            }
            self.reply(Reply::new(Some(id), ReplyStatus::Succeeded, None));
            return;
        }
        let reason = response
            .error
            .map(|e| e.message)
            .unwrap_or_else(|| "failed without a reason".to_string());
        tracing::info!("remote command {id} ({}) failed: {reason}", action.name());
        self.reply(Reply::new(
            Some(id.clone()),
            ReplyStatus::Failed,
            Some(reason.clone()),
        ));
        let event = NewEvent::warning("command_failed", action.target())
            .message(format!("remote command {} failed: {reason}", action.name()))
            .figure("id", id)
            .figure("action", action.name())
            .figure("reason", reason);
        self.record(event).await;
    }
}
