//! The live `jetgate fleet` loop: broker messages and keys into the pure [`FleetView`],
//! drawn with [`render::render`] in the alternate screen (restored on exit and on panic).
//!
//! Keys are read on a thread of their own (crossterm's reader blocks) and sent to the loop;
//! the view is redrawn at most every [`FRAME`] while messages arrive (a retained burst of
//! 10,000 devices is a few frames, not 20,000), at once after a key or a resize. A lost
//! broker shows in the header and is retried every [`RETRY`]; on reconnecting the retained
//! messages come again and the view starts from them. Without a terminal the live view is
//! refused: scripts use `--once` (and `--json`).
// The loop paces frames and retries by the monotonic clock; decisions live in the view.
#![allow(clippy::disallowed_methods)]

use std::io::{self, IsTerminal};
use std::time::Duration;

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::Terminal;
use rumqttc::{Event, Incoming};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::render;
use super::view::{FleetView, Intent, Key, Link};
use super::{connect, subscribe, Args};
use crate::cli::top::Screen;
use crate::exit::{self, CliError, CliResult};

/// The shortest time between two frames while messages arrive.
pub const FRAME: Duration = Duration::from_millis(200);
/// How long a lost broker waits before the next attempt.
pub const RETRY: Duration = Duration::from_secs(1);

/// The live view needs a terminal.
pub fn needs_terminal() -> Result<(), CliError> {
    if io::stdout().is_terminal() {
        return Ok(());
    }
    Err(CliError::usage(
        "the live jetgate fleet view needs a terminal; scripts use `jetgate fleet --once` \
         (with --json for figures)",
    ))
}

fn failure(e: impl Into<anyhow::Error>) -> CliError {
    CliError::new(exit::FAILURE, e)
}

/// What the key thread sends: a key, or "redraw" (a resize).
enum Input {
    Key(Key),
    Resize,
    Interrupt,
}

fn map_key(code: KeyCode) -> Option<Key> {
    Some(match code {
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Esc => Key::Esc,
        KeyCode::Char(c) => Key::Char(c),
        _ => return None,
    })
}

/// Reads the terminal until the loop is gone.
fn read_keys(tx: mpsc::UnboundedSender<Input>) {
    while !tx.is_closed() {
        match event::poll(Duration::from_millis(100)) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(_) => return,
        }
        let input = match event::read() {
            Ok(TermEvent::Key(k)) if k.kind != KeyEventKind::Release => {
                if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
                    Input::Interrupt
                } else if let Some(key) = map_key(k.code) {
                    Input::Key(key)
                } else {
                    continue;
                }
            }
            Ok(TermEvent::Resize(..)) => Input::Resize,
            Ok(_) => continue,
            Err(_) => return,
        };
        if tx.send(input).is_err() {
            return;
        }
    }
}

pub async fn live(args: &Args) -> CliResult {
    let (client, mut eventloop) = connect(args, "fleet").await?;
    subscribe(args, &client).await?;
    let mut view = FleetView::new(args.broker.to_string(), args.prefix.clone());
    let screen = Screen::enter().map_err(failure)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout())).map_err(failure)?;
    let (tx, mut keys) = mpsc::unbounded_channel();
    std::thread::spawn(move || read_keys(tx));
    let mut dirty = true;
    let mut next_frame = Instant::now();
    let mut page = 1;
    let mut total = 0;
    loop {
        if dirty && Instant::now() >= next_frame {
            let rows = view.rows();
            total = rows.len();
            terminal
                .draw(|f| {
                    page = render::page_rows(f.area().height);
                    render::render(&view, &rows, f.area(), f.buffer_mut());
                })
                .map_err(failure)?;
            dirty = false;
            next_frame = Instant::now() + FRAME;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(next_frame), if dirty => {}
            input = keys.recv() => match input {
                Some(Input::Key(k)) => match view.key(k, page, total) {
                    Intent::Quit => break,
                    Intent::Redraw => { dirty = true; next_frame = Instant::now(); }
                    Intent::Nothing => {}
                },
                Some(Input::Resize) => { dirty = true; next_frame = Instant::now(); }
                Some(Input::Interrupt) | None => break,
            },
            polled = eventloop.poll() => match polled {
                Ok(Event::Incoming(Incoming::Publish(p))) => {
                    if view.message(&p.topic, &p.payload) != super::collect::Change::Ignored {
                        dirty = true;
                    }
                }
                Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                    view.reconnected();
                    subscribe(args, &client).await?;
                    dirty = true;
                }
                Ok(_) => {}
                Err(e) => {
                    view.link = Link::Down(e.to_string());
                    dirty = true;
                    next_frame = Instant::now();
                    let rows = view.rows();
                    terminal
                        .draw(|f| render::render(&view, &rows, f.area(), f.buffer_mut()))
                        .map_err(failure)?;
                    tokio::time::sleep(RETRY).await;
                }
            },
        }
    }
    drop(keys);
    drop(terminal);
    drop(screen);
    let _ = client.try_disconnect();
    Ok(exit::SUCCESS)
}
