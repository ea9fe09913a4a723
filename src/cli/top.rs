//! `jetgate top`: a live terminal view of the agent, fed over the control socket.
//!
//! This file is the terminal and input loop only: it asks the agent for `status` every
//! `--interval` (default 500 ms) and for the `events` after the last seq it has seen, feeds
//! the answers to the pure [`model::TopModel`], draws it with [`render::render`], and turns
//! keys into requests. While the agent does not answer it shows "agent not reachable at
//! SOCKET: ERROR; retrying" and tries again every [`RETRY`]; it never exits on its own.
//!
//! ```text
//! keys: q quit | arrows or j/k select | l load, u unload, r restart the selected unit (y/n)
//! ```
// The loop reads the monotonic clock to pace its polls; decisions live in the model.
#![allow(clippy::disallowed_methods)]

use std::io::{self, IsTerminal};
use std::path::Path;
use std::time::{Duration, Instant};

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::Terminal;
use serde_json::Value;

use crate::cli::Globals;
use crate::clock;
use crate::control::client::{self, ClientError};
use crate::control::Cmd;
use crate::exit::{self, CliError, CliResult};
use crate::status::EventsReply;
use crate::units::HumanDuration;

pub mod model;
pub mod panels;
pub mod render;
pub mod units;

#[cfg(test)]
mod tests;

use model::{Intent, Key, Link, TopModel};

/// How often an unreachable agent is tried again.
pub const RETRY: Duration = Duration::from_secs(1);
/// How long one request may take before the agent counts as not answering.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Events fetched per request.
const EVENTS_PAGE: u32 = 200;
/// Pages fetched per poll at most (catching up spreads over several polls).
const EVENTS_PAGES_PER_POLL: usize = 5;
/// On start, events from this far back are shown.
const EVENTS_WINDOW_MS: u64 = 60 * 60 * 1000;

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Panels: Memory (used, GPU-held, available, reserve and budget as bars, with a sparkline of \
available memory), Gate (the load in flight with memory consumed against its need; the queue \
with each reason), Services (state, pid, tree PSS, GPU memory, restarts, leak verdict), \
Events (newest first), tegrastats (CPU, GPU, EMC load, temperatures, power).

Keys: q quits; arrows or j/k select a model or service; l loads, u unloads, r restarts the \
selected one, each after a y/n confirmation. Works in 80x24 over SSH; no mouse.")]
pub struct Args {
    /// How often the status is refreshed (e.g. 500ms, 2s).
    #[arg(long, value_name = "DUR", default_value = "500ms")]
    pub interval: HumanDuration,
}

/// Restores the terminal when dropped, also when the loop fails or panics.
pub(crate) struct Screen;

impl Screen {
    pub(crate) fn enter() -> io::Result<Screen> {
        terminal::enable_raw_mode()?;
        let screen = Screen;
        execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
        Ok(screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
        let _ = terminal::disable_raw_mode();
    }
}

fn failure(e: impl Into<anyhow::Error>) -> CliError {
    CliError::new(exit::FAILURE, e)
}

pub fn run(args: Args, globals: &Globals) -> CliResult {
    if !io::stdout().is_terminal() {
        return Err(CliError::new(
            exit::USAGE,
            anyhow::anyhow!("jetgate top needs a terminal; scripts use `jetgate status --json`"),
        ));
    }
    let interval = args.interval.0.max(Duration::from_millis(100));
    let mut model = TopModel::new(globals.socket.display().to_string());
    model.interval_ms = interval.as_millis() as u64;
    let screen = Screen::enter().map_err(failure)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout())).map_err(failure)?;
    let mut next_poll = Instant::now();
    loop {
        if Instant::now() >= next_poll {
            refresh(&mut model, &globals.socket);
            let pause = if model.link == Link::Up {
                interval
            } else {
                RETRY
            };
            next_poll = Instant::now() + pause;
        }
        terminal
            .draw(|f| render::render(&model, f.area(), f.buffer_mut()))
            .map_err(failure)?;
        let wait = next_poll.saturating_duration_since(Instant::now());
        if !event::poll(wait).map_err(failure)? {
            continue;
        }
        let Event::Key(k) = event::read().map_err(failure)? else {
            continue; // a resize: the next draw fits the new size
        };
        if k.kind == KeyEventKind::Release {
            continue;
        }
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            break;
        }
        let Some(key) = map_key(k) else {
            continue;
        };
        match model.key(key) {
            Intent::Quit => break,
            Intent::Nothing => {}
            Intent::Send { cmd, what } => {
                let outcome = ask(&globals.socket, cmd).map_err(|e| e.text());
                model.action_done(&what, outcome);
                next_poll = Instant::now();
            }
        }
    }
    drop(terminal);
    drop(screen);
    Ok(exit::SUCCESS)
}

fn map_key(k: KeyEvent) -> Option<Key> {
    Some(match k.code {
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Char(c) => Key::Char(c),
        _ => return None,
    })
}

/// Why a request got no useful answer.
enum AskError {
    /// No agent, or it did not answer in time.
    Down(String),
    /// The agent answered `ok: false`.
    Refused(String),
}

impl AskError {
    fn text(self) -> String {
        match self {
            AskError::Down(e) | AskError::Refused(e) => e,
        }
    }
}

/// One request, its answer read as the request's reply type (`crate::status`).
fn ask<T: serde::de::DeserializeOwned>(socket: &Path, cmd: Cmd) -> Result<T, AskError> {
    let response = client::call(socket, cmd, Some(REQUEST_TIMEOUT)).map_err(|e| {
        AskError::Down(match e {
            ClientError::NoAgent { error, .. } | ClientError::Io { source: error, .. } => {
                error.to_string()
            }
            other => other.to_string(),
        })
    })?;
    if response.ok {
        return serde_json::from_value(response.data.unwrap_or(Value::Null))
            .map_err(|e| AskError::Down(format!("unreadable answer: {e}")));
    }
    Err(AskError::Refused(response.error.map_or_else(
        || "refused without a reason".to_string(),
        |e| e.message,
    )))
}

/// One poll: the status, then any new events.
fn refresh(model: &mut TopModel, socket: &Path) {
    let now_ms = clock::now_unix_ms();
    match ask(socket, Cmd::Status {}) {
        Ok(doc) => model.apply_status(doc, now_ms),
        Err(e) => {
            model.agent_down(e.text(), now_ms);
            return;
        }
    }
    for _ in 0..EVENTS_PAGES_PER_POLL {
        let (since_ms, after_seq) = match model.last_seq {
            Some(seq) => (None, Some(seq)),
            None => (Some(now_ms.saturating_sub(EVENTS_WINDOW_MS)), None),
        };
        let cmd = Cmd::Events {
            since_ms,
            after_seq,
            kind: None,
            subject: None,
            limit: Some(EVENTS_PAGE),
        };
        let Ok(page) = ask::<EventsReply>(socket, cmd) else {
            return; // the next status poll tells whether the agent is gone
        };
        let full = page.len() >= EVENTS_PAGE as usize;
        model.apply_events(&page);
        if !full {
            return;
        }
    }
}
