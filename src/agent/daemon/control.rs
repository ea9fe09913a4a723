//! The agent's answers to control requests: status and services documents, load/unload/restart
//! through the engine, events from the store, operator notes. Refusals name their reason.
#![allow(clippy::disallowed_methods)] // reads the monotonic clock for `now`

use std::time::Instant;

use super::{Agent, MAX_EVENTS_PER_REQUEST, MAX_NOTE_CHARS};
use crate::agent::engine::{Command, Refusal};
use crate::control::server::ControlRequest;
use crate::control::{Cmd, ErrorCode, Response};
use crate::event::figures::Note;
use crate::event::NewEvent;
use crate::status::{AgentView, DeviceView, FragmentationView, MemoryView, StatusDocument};
use crate::store::{EventFilter, StoreError};
use tokio::sync::oneshot;

impl Agent {
    pub(super) fn control(&mut self, req: ControlRequest) {
        let ControlRequest { cmd, reply } = req;
        let response = match cmd {
            Cmd::Status {} => Response::ok(self.status_document()),
            Cmd::Services {} => Response::ok(self.engine.views()),
            Cmd::Load { name, wait } => {
                let command = Command::Load(name);
                if wait {
                    return self.command_waiting(&command, reply);
                }
                self.command(&command)
            }
            Cmd::Unload { name } => self.command(&Command::Unload(name)),
            Cmd::Restart { name } => self.command(&Command::Restart(name)),
            Cmd::Events {
                since_ms,
                after_seq,
                kind,
                subject,
                limit,
            } => {
                let filter = EventFilter {
                    since_ms,
                    after_seq,
                    kind,
                    subject,
                    min_severity: None,
                    limit: Some(u64::from(
                        limit
                            .unwrap_or(MAX_EVENTS_PER_REQUEST)
                            .min(MAX_EVENTS_PER_REQUEST),
                    )),
                };
                let events = self.executor.store().run(move |s| s.query(&filter));
                return self.answer_from_store(events, reply);
            }
            Cmd::Note { text } => match note(text) {
                Ok(event) => {
                    event.log();
                    let stored = self.executor.store().append(event);
                    return self.answer_from_store(stored, reply);
                }
                Err(refusal) => refusal,
            },
            Cmd::Trend { name } => self.trend(name),
        };
        let _ = reply.send(response);
    }

    /// Runs an operator's command through the engine; the reply is the unit's view after it.
    fn command(&mut self, command: &Command) -> Response {
        match self.engine.command(command, Instant::now()) {
            Err(refusal) => refused(refusal),
            Ok(actions) => {
                self.drive(actions);
                self.view_response(command.name())
            }
        }
    }

    /// `load --wait`: the reply comes when the load ends, not now.
    fn command_waiting(&mut self, command: &Command, reply: oneshot::Sender<Response>) {
        match self.engine.command(command, Instant::now()) {
            Err(refusal) => {
                let _ = reply.send(refused(refusal));
            }
            Ok(actions) => {
                self.executor.wait_for(command.name(), reply);
                self.drive(actions);
            }
        }
    }

    /// Answers `reply` once the store's writer has answered (for a write: after its commit),
    /// on a task of its own: the core loop goes on meanwhile.
    fn answer_from_store<T: serde::Serialize + Send + 'static>(
        &self,
        answer: oneshot::Receiver<Result<T, StoreError>>,
        reply: oneshot::Sender<Response>,
    ) {
        self.tasks.spawn(async move {
            let response = match answer.await.unwrap_or(Err(StoreError::Closed)) {
                Ok(data) => Response::ok(data),
                Err(e) => Response::error(ErrorCode::Internal, e.to_string()),
            };
            let _ = reply.send(response);
        });
    }

    /// Every unit's view (with its `trend`), or one unit's as a one-entry list.
    fn trend(&self, name: Option<String>) -> Response {
        let views = self.engine.views();
        match name {
            None => Response::ok(views),
            Some(name) => match views.into_iter().find(|v| v.name == name) {
                Some(view) => Response::ok([view]),
                None => Response::error(
                    ErrorCode::UnknownName,
                    format!("no model or service named {name:?} in the configuration"),
                ),
            },
        }
    }

    fn view_response(&self, name: &str) -> Response {
        match self.engine.view(name) {
            Some(view) => Response::ok(view),
            None => Response::error(ErrorCode::UnknownName, format!("no unit named {name:?}")),
        }
    }

    pub(super) fn status_document(&self) -> StatusDocument {
        let now = Instant::now();
        StatusDocument {
            device: DeviceView {
                id: Some(self.device_id.clone()),
                board: (&self.board).into(),
            },
            memory: self.latest.as_ref().map(|(s, at)| {
                MemoryView::from_sample(s, Some(now.duration_since(*at)))
                    .with_fragmentation(FragmentationView::read(&self.pressure_figures.0))
            }),
            gate: Some(self.engine.gate().snapshot(now)),
            services: Some(self.engine.views()),
            tegrastats: Some(self.tegrastats.borrow().section(now)),
            agent: Some(AgentView {
                pid: std::process::id(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                uptime_ms: now.duration_since(self.started).as_millis() as u64,
                socket: self.socket.display().to_string(),
                zombies_reaped: self.executor.zombies_reaped(),
                // The agent's own heap (jemalloc): `null` when statistics are unavailable.
                allocator: crate::allocator::read(),
            }),
            store: Some(self.executor.store().health()),
            ..StatusDocument::default()
        }
    }
}

/// An operator note as an event, or why it is refused.
fn note(text: String) -> Result<NewEvent, Response> {
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(Response::error(
            ErrorCode::BadRequest,
            "a note needs some text",
        ));
    }
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(Response::error(
            ErrorCode::BadRequest,
            format!("a note is at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(NewEvent::new(Note {}, None).message(text))
}

fn refused(refusal: Refusal) -> Response {
    let code = match refusal {
        Refusal::UnknownName(_) => ErrorCode::UnknownName,
        _ => ErrorCode::Refused,
    };
    Response::error(code, refusal.to_string())
}
