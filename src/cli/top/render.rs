//! Drawing `jetgate top`: pure functions of a [`TopModel`] into a ratatui `Buffer` area, so
//! tests render into a `TestBackend` and read the cells back.
//!
//! The screen, top to bottom: a header (device, board, agent), memory bars and the sparkline of
//! available memory, the gate, the services, recent events, the tegrastats figures, and a
//! footer with the keys. Every glyph is one column wide and only ASCII is needed, except the
//! sparkline's block characters. When the terminal is short, sections are dropped in reverse
//! order of importance (events, sparkline, tegrastats, gate) before the memory bars and the
//! services; below [`MIN_WIDTH`]×[`MIN_HEIGHT`] it says so instead of drawing.
//!
//! ```text
//! jetgate top  orin-07  agent pid 812 up 3m05s  Jetson Orin Nano 8GB L4T 36.4.4
//! -- Memory ---------------------------------------------- system, PSI some 0.0%
//! used       [##################..............]  4.7GiB  62% of 7.4GiB
//! ```

use crate::status::StatusDocument;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

use super::model::{Confirm, Link, TopModel};
use super::{panels, units};
use crate::cli::human::{span_ms, Tone};

/// Below this width or height the view asks for a larger terminal instead of drawing.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 10;
/// From this width the memory bars and the sparkline sit side by side.
pub const WIDE: u16 = 100;
/// How often the loop retries an unreachable agent (shown on the "not reachable" screen).
pub const RETRY_TEXT: &str = "every 1s";

/// The colour of a tone.
pub fn tone_style(tone: Tone) -> Style {
    match tone {
        Tone::Good => Style::default().fg(Color::Green),
        Tone::Busy => Style::default().fg(Color::Yellow),
        Tone::Bad => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        Tone::Plain => Style::default(),
    }
}

/// Draws the whole view into `area`.
pub fn render(model: &TopModel, area: Rect, buf: &mut Buffer) {
    Clear.render(area, buf);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = vec![
            ratatui::text::Line::raw("terminal too small:"),
            ratatui::text::Line::raw(format!(
                "need {MIN_WIDTH}x{MIN_HEIGHT}, have {}x{}",
                area.width, area.height
            )),
        ];
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .render(area, buf);
        return;
    }
    match &model.link {
        Link::Down { error, attempts } => render_down(model, error, *attempts, area, buf),
        Link::Connecting => {
            let text = format!("connecting to the agent at {} ...", model.socket);
            centered(&[text], area, buf);
        }
        Link::Up => render_dashboard(model, area, buf),
    }
    if let Some(confirm) = &model.confirm {
        render_confirm(confirm, area, buf);
    }
}

/// The screen while the agent does not answer.
pub fn render_down(model: &TopModel, error: &str, attempts: u32, area: Rect, buf: &mut Buffer) {
    let lines = [
        format!("agent not reachable at {}: {error}; retrying", model.socket),
        format!("(failed {attempts} time(s) in a row; retrying {RETRY_TEXT}; q quits)"),
        "start it with `jetgate agent`, or point --socket / JETGATE_SOCKET at it".to_string(),
    ];
    centered(&lines, area, buf);
}

/// Paragraphs in the middle of `area`, wrapped, one blank line apart.
fn centered(lines: &[String], area: Rect, buf: &mut Buffer) {
    let width = area.width.saturating_sub(4).max(1);
    let text: Vec<ratatui::text::Line> = lines
        .iter()
        .flat_map(|l| {
            [
                ratatui::text::Line::raw(l.clone()),
                ratatui::text::Line::raw(""),
            ]
        })
        .collect();
    let needed: u16 = lines
        .iter()
        .map(|l| (l.chars().count() as u16).div_ceil(width) + 1)
        .sum();
    let height = needed.min(area.height);
    let y = area.y + (area.height - height) / 2;
    let inner = Rect::new(area.x + 2, y, width, height);
    Paragraph::new(text)
        .wrap(Wrap { trim: true })
        .render(inner, buf);
}

/// How many rows each section gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Plan {
    pub memory: u16,
    pub spark: u16,
    pub gate: u16,
    pub services: u16,
    pub events: u16,
    pub tegrastats: u16,
}

/// Shares `height` rows among the sections, most important first; leftovers go to the
/// services (one row each), the gate's queue, tegrastats' second line, then the events.
pub fn plan(height: u16, wide: bool, units: usize, queue: usize) -> Plan {
    let mut left = height;
    let mut take = |want: u16| {
        if left >= want {
            left -= want;
            want
        } else {
            0
        }
    };
    let mut p = Plan {
        memory: take(6),
        services: take(3),
        gate: take(2),
        tegrastats: take(2),
        ..Plan::default()
    };
    if !wide {
        p.spark = take(2);
    }
    p.events = take(3);
    if p.services > 0 {
        let more = (units.saturating_sub(1) as u16).min(left);
        p.services += more;
        left -= more;
    }
    if p.gate > 0 {
        let more = (queue.min(3) as u16).min(left);
        p.gate += more;
        left -= more;
    }
    if p.tegrastats > 0 && left > 0 {
        p.tegrastats += 1;
        left -= 1;
    }
    if p.events > 0 {
        p.events += left;
    } else if p.services > 0 {
        p.services += left;
    }
    p
}

fn render_dashboard(model: &TopModel, area: Rect, buf: &mut Buffer) {
    let none = StatusDocument::default();
    let doc = model.status.as_ref().unwrap_or(&none);
    header(doc, Rect::new(area.x, area.y, area.width, 1), buf);
    footer(
        model,
        Rect::new(area.x, area.bottom() - 1, area.width, 1),
        buf,
    );
    let body = Rect::new(area.x, area.y + 1, area.width, area.height - 2);
    let wide = area.width >= WIDE;
    let queue = doc.gate.as_ref().map_or(0, |g| g.queue.len());
    let p = plan(body.height, wide, model.units().len(), queue);
    let mut y = body.y;
    let mut next = |rows: u16| {
        let r = Rect::new(body.x, y, body.width, rows);
        y += rows;
        r
    };
    let memory = next(p.memory);
    if p.memory > 0 {
        panels::memory(model, memory, wide, buf);
    }
    let spark = next(p.spark);
    if p.spark > 0 {
        panels::sparkline(model, spark, buf);
    }
    let gate = next(p.gate);
    if p.gate > 0 {
        panels::gate(doc, gate, buf);
    }
    let services = next(p.services);
    if p.services > 0 {
        units::services(model, services, buf);
    }
    let events = next(p.events);
    if p.events > 0 {
        panels::events(model, events, buf);
    }
    let tegra = next(p.tegrastats);
    if p.tegrastats > 0 {
        panels::tegrastats(doc, tegra, buf);
    }
}

fn header(doc: &StatusDocument, area: Rect, buf: &mut Buffer) {
    let or_dash = |s: Option<&str>| s.filter(|s| !s.is_empty()).unwrap_or("-").to_string();
    let mut text = format!("jetgate top  {}", or_dash(doc.device.id.as_deref()));
    if let Some(agent) = &doc.agent {
        let up = span_ms(agent.uptime_ms);
        text.push_str(&format!("  agent pid {} up {up}", agent.pid));
    }
    // The board name is the longest part: last, so a narrow terminal cuts only it.
    let board = &doc.device.board;
    text.push_str(&format!(
        "  {} L4T {}",
        or_dash(Some(&board.name)),
        or_dash(board.l4t.map(|r| r.to_string()).as_deref())
    ));
    let style = Style::default().add_modifier(Modifier::BOLD);
    let text = crate::text::escape(&text);
    buf.set_stringn(area.x, area.y, text, area.width as usize, style);
}

fn footer(model: &TopModel, area: Rect, buf: &mut Buffer) {
    let keys = "q quit  arrows/j/k select  l load  u unload  r restart";
    let text = match &model.notice {
        Some(n) => format!("{n}  |  {keys}"),
        None => keys.to_string(),
    };
    let style = Style::default().add_modifier(Modifier::REVERSED);
    let blank = " ".repeat(area.width as usize);
    buf.set_stringn(area.x, area.y, blank, area.width as usize, style);
    buf.set_stringn(area.x, area.y, text, area.width as usize, style);
}

/// The y/n question, boxed in ASCII in the middle of the screen.
pub fn render_confirm(confirm: &Confirm, area: Rect, buf: &mut Buffer) {
    let question = format!("{} {}?", confirm.action.verb(), confirm.name);
    let width = (question.chars().count() as u16 + 8)
        .max(30)
        .min(area.width);
    let height = 5.min(area.height);
    let x = area.x + (area.width - width) / 2;
    let y = area.y + (area.height - height) / 2;
    let rect = Rect::new(x, y, width, height);
    Clear.render(rect, buf);
    let inner = width.saturating_sub(2) as usize;
    let edge = format!("+{}+", "-".repeat(inner));
    let style = Style::default().add_modifier(Modifier::BOLD);
    buf.set_stringn(x, y, &edge, width as usize, style);
    buf.set_stringn(x, y + height - 1, &edge, width as usize, style);
    for row in 1..height - 1 {
        buf.set_stringn(
            x,
            y + row,
            format!("|{}|", " ".repeat(inner)),
            width as usize,
            style,
        );
    }
    let body = inner.saturating_sub(2);
    buf.set_stringn(x + 2, y + 1, question, body, style);
    buf.set_stringn(x + 2, y + 3, "y: yes   n: no", body, Style::default());
}
