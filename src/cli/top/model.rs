//! `jetgate top`'s state, with no terminal and no socket: it is updated from the agent's
//! documents (`status`, `events`, read into the typed contracts of [`crate::status`]) and from
//! keys, and says what to send back as an [`Intent`].
//!
//! The contracts read tolerantly: a field the view does not know is ignored, one it expects but
//! does not find shows as `-`, so an older or newer agent never breaks the view. History is
//! bounded: [`HISTORY_LEN`] samples of available memory, [`EVENTS_KEPT`] events. Text from
//! the documents (messages, subjects, reasons, names) is kept escaped ([`crate::text::escape`]).
//!
//! ```text
//! status doc ─► apply_status ─┐
//! events     ─► apply_events ─┼─► TopModel ─► render (render.rs)
//! keys       ─► key ──────────┘        └─► Intent::Send(Cmd) ─► the loop asks the agent
//! ```

use std::collections::VecDeque;

use serde_json::Value;

use crate::control::Cmd;
use crate::event::Event;
use crate::status::{LoadOutcome, ServiceView, StatusDocument};

/// Samples of available memory kept for the sparkline: two minutes at the default poll (500 ms).
pub const HISTORY_LEN: usize = 240;
/// Events kept for the events panel (newest last).
pub const EVENTS_KEPT: usize = 100;

/// Whether the agent answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// No answer yet.
    Connecting,
    Up,
    /// The last request failed; `attempts` failures in a row.
    Down {
        error: String,
        attempts: u32,
    },
}

/// A key, as the model sees it (the loop maps terminal keys onto these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    Enter,
    Esc,
    Char(char),
}

/// What a unit action asks of the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Load,
    Unload,
    Restart,
}

impl Action {
    pub fn verb(self) -> &'static str {
        match self {
            Action::Load => "load",
            Action::Unload => "unload",
            Action::Restart => "restart",
        }
    }

    fn cmd(self, name: &str) -> Cmd {
        let name = name.to_string();
        match self {
            Action::Load => Cmd::Load { name, wait: false },
            Action::Unload => Cmd::Unload { name },
            Action::Restart => Cmd::Restart { name },
        }
    }
}

/// A y/n question before an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub action: Action,
    pub name: String,
}

/// What the loop should do after a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    Nothing,
    Quit,
    /// Send this command; `what` names it for the notice (`restart llm`).
    Send {
        cmd: Cmd,
        what: String,
    },
}

/// One model or service row, from a `services` entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UnitRow {
    pub name: String,
    pub kind: String,
    pub state: String,
    pub pid: Option<u64>,
    /// Tree PSS.
    pub memory_bytes: Option<u64>,
    /// GPU memory (nvmap) of the tree.
    pub gpu_bytes: Option<u64>,
    pub restarts: Option<u64>,
    /// The leak trend's verdict, when the unit has one.
    pub leak: Option<String>,
    pub reason: Option<String>,
}

/// One event line.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub seq: u64,
    pub ts: String,
    pub severity: String,
    pub kind: String,
    pub subject: Option<String>,
    pub message: String,
}

/// Everything `jetgate top` shows.
#[derive(Debug, Clone)]
pub struct TopModel {
    pub socket: String,
    pub link: Link,
    /// The latest status document (`None` before the first).
    pub status: Option<StatusDocument>,
    /// Available memory, oldest first, at most [`HISTORY_LEN`].
    pub history: VecDeque<u64>,
    /// Events, oldest first, at most [`EVENTS_KEPT`].
    pub events: VecDeque<EventRow>,
    pub last_seq: Option<u64>,
    pub selected: usize,
    pub confirm: Option<Confirm>,
    /// The outcome of the last action, or why a key did nothing.
    pub notice: Option<String>,
    /// Wall clock of the last update (ms since the epoch), for "3m ago".
    pub now_ms: u64,
    /// The status poll interval, which sets how much time the history spans.
    pub interval_ms: u64,
}

/// Untrusted text as it may be drawn: control, format and separator characters escaped.
fn shown(s: &str) -> String {
    crate::text::escape(s).into_owned()
}

impl UnitRow {
    /// The row of one service view.
    pub fn from_view(v: &ServiceView) -> UnitRow {
        UnitRow {
            name: shown(&v.name),
            kind: v.kind.to_string(),
            state: v.state.to_string(),
            pid: v.pid.map(u64::from),
            memory_bytes: v.memory_bytes,
            gpu_bytes: v.gpu_bytes,
            restarts: Some(u64::from(v.restarts)),
            leak: v.trend.as_ref().map(|t| t.verdict.to_string()),
            reason: v.reason.as_deref().filter(|r| !r.is_empty()).map(shown),
        }
    }
}

impl EventRow {
    fn from_event(e: &Event) -> EventRow {
        let message = if e.message.is_empty() {
            e.figures
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k}={s}"),
                    Value::Null => format!("{k}="),
                    other => format!("{k}={other}"),
                })
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            e.message.clone()
        };
        EventRow {
            seq: e.seq,
            ts: shown(&e.ts),
            severity: e.severity.as_str().to_string(),
            kind: shown(&e.kind.to_string()),
            subject: e.subject.as_deref().map(shown),
            message: shown(&message),
        }
    }
}

impl TopModel {
    pub fn new(socket: impl Into<String>) -> TopModel {
        TopModel {
            socket: socket.into(),
            link: Link::Connecting,
            status: None,
            history: VecDeque::with_capacity(HISTORY_LEN),
            events: VecDeque::with_capacity(EVENTS_KEPT),
            last_seq: None,
            selected: 0,
            confirm: None,
            notice: None,
            now_ms: 0,
            interval_ms: 500,
        }
    }

    /// How many seconds the kept history spans at the poll interval.
    pub fn history_span_s(&self) -> u64 {
        HISTORY_LEN as u64 * self.interval_ms / 1000
    }

    /// A fresh status document at wall-clock `now_ms`.
    pub fn apply_status(&mut self, doc: StatusDocument, now_ms: u64) {
        self.now_ms = now_ms;
        self.link = Link::Up;
        if let Some(available) = doc.memory.as_ref().map(|m| m.available_bytes) {
            if self.history.len() == HISTORY_LEN {
                self.history.pop_front();
            }
            self.history.push_back(available);
        }
        self.status = Some(doc);
        let n = self.units().len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    /// An `events` answer (an array, oldest first): appends the ones newer than the last seen,
    /// in order, keeping at most [`EVENTS_KEPT`]. Returns how many were new.
    pub fn apply_events(&mut self, events: &[Event]) -> usize {
        let mut added = 0;
        for row in events.iter().map(EventRow::from_event) {
            if self.last_seq.is_some_and(|last| row.seq <= last) {
                continue;
            }
            self.last_seq = Some(row.seq);
            if self.events.len() == EVENTS_KEPT {
                self.events.pop_front();
            }
            self.events.push_back(row);
            added += 1;
        }
        added
    }

    /// The agent did not answer: `error` says why. The last figures are kept for when it
    /// comes back; the view shows the "not reachable" screen meanwhile.
    pub fn agent_down(&mut self, error: String, now_ms: u64) {
        self.now_ms = now_ms;
        let attempts = match &self.link {
            Link::Down { attempts, .. } => attempts.saturating_add(1),
            _ => 1,
        };
        self.link = Link::Down { error, attempts };
        self.confirm = None;
    }

    /// The agent's answer to an action: its unit view, or its refusal.
    pub fn action_done(&mut self, what: &str, outcome: Result<LoadOutcome, String>) {
        self.notice = Some(match outcome {
            Ok(view) => {
                let state = view.state;
                match view.reason.as_deref() {
                    Some(r) if !r.is_empty() => format!("{what}: {state} ({r})"),
                    _ => format!("{what}: {state}"),
                }
            }
            Err(e) => format!("{what} refused: {e}"),
        });
    }

    /// The models and services of the latest status, in the agent's order.
    pub fn units(&self) -> Vec<UnitRow> {
        self.status
            .as_ref()
            .and_then(|d| d.services.as_ref())
            .map(|all| all.iter().map(UnitRow::from_view).collect())
            .unwrap_or_default()
    }

    pub fn selected_unit(&self) -> Option<UnitRow> {
        self.units().into_iter().nth(self.selected)
    }

    /// Handles one key: selection, the y/n dialog, quitting.
    pub fn key(&mut self, key: Key) -> Intent {
        if let Some(confirm) = self.confirm.take() {
            return match key {
                Key::Char('y') | Key::Char('Y') | Key::Enter => {
                    let what = format!("{} {}", confirm.action.verb(), confirm.name);
                    self.notice = Some(format!("{what}: sent"));
                    Intent::Send {
                        cmd: confirm.action.cmd(&confirm.name),
                        what,
                    }
                }
                Key::Char('n') | Key::Char('N') | Key::Esc | Key::Char('q') => {
                    self.notice = Some(format!("{} cancelled", confirm.action.verb()));
                    Intent::Nothing
                }
                _ => {
                    self.confirm = Some(confirm); // only y or n answers the question
                    Intent::Nothing
                }
            };
        }
        let count = self.units().len();
        match key {
            Key::Char('q') | Key::Esc => Intent::Quit,
            Key::Up | Key::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                Intent::Nothing
            }
            Key::Down | Key::Char('j') => {
                self.selected = (self.selected + 1).min(count.saturating_sub(1));
                Intent::Nothing
            }
            Key::Char('l') => self.ask(Action::Load),
            Key::Char('u') => self.ask(Action::Unload),
            Key::Char('r') => self.ask(Action::Restart),
            _ => Intent::Nothing,
        }
    }

    fn ask(&mut self, action: Action) -> Intent {
        if self.link != Link::Up {
            self.notice = Some(format!(
                "cannot {}: the agent is not reachable",
                action.verb()
            ));
            return Intent::Nothing;
        }
        match self.selected_unit() {
            Some(unit) => {
                self.confirm = Some(Confirm {
                    action,
                    name: unit.name,
                })
            }
            None => self.notice = Some("no model or service to act on".to_string()),
        }
        Intent::Nothing
    }
}

#[cfg(test)]
mod tests;
