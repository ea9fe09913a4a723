//! Drawing the live `jetgate fleet` view: a pure function of a [`FleetView`] into a ratatui
//! `Buffer` area, so tests render into a `TestBackend` and read the cells back.
//!
//! ```text
//! jetgate fleet  mqtt://broker:1883  10000 devices: 9000 online, 1000 offline, 143 gave up, 2000 memory low
//! DEVICE     ONLINE  SESSION  BOARD                 AVAILABLE  BUDGET  MODELS                LAST EVENT
//! dev-00001  yes     4        Jetson Orin Nano 8GB  3.2GiB     1.0GiB  llm:ready api:running  -
//! ...
//! rows 1-20 of 10000 | sort s: id | filter o/g/m/a: all | arrows PgUp PgDn Home End | q quit
//! ```
//!
//! Rows are coloured by their worst trait: offline dim, a unit that gave up or failed red,
//! memory low yellow. Untrusted text (ids, boards, unit names, event kinds) is escaped.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::collect::FleetRow;
use super::print::{cells, TITLES};
use super::view::{rank, FleetView, Link};

/// Below this the view asks for a larger terminal instead of drawing.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 6;
/// Lines that are not rows: header, column titles, footer.
pub const CHROME: u16 = 3;

/// How many rows fit in an area of this height.
pub fn page_rows(height: u16) -> usize {
    usize::from(height.saturating_sub(CHROME)).max(1)
}

/// Draws the whole view into `area`; `rows` are the view's [`FleetView::rows`] (passed in so
/// the loop sorts once per frame).
pub fn render(view: &FleetView, rows: &[FleetRow], area: Rect, buf: &mut Buffer) {
    Clear.render(area, buf);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        Paragraph::new(vec![
            Line::raw("terminal too small:"),
            Line::raw(format!(
                "need {MIN_WIDTH}x{MIN_HEIGHT}, have {}x{}",
                area.width, area.height
            )),
        ])
        .render(area, buf);
        return;
    }
    let page = page_rows(area.height);
    let first = view.first_shown(rows.len(), page);
    let shown = &rows[first..rows.len().min(first + page)];
    let table: Vec<Vec<String>> = shown
        .iter()
        .map(|r| {
            cells(r)
                .into_iter()
                .map(|c| crate::text::escape(&c).into_owned())
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = TITLES.iter().map(|t| t.len()).collect();
    for cells in &table {
        for (w, c) in widths.iter_mut().zip(cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s
    };
    let mut lines = vec![
        Line::styled(header(view), Style::default().add_modifier(Modifier::BOLD)),
        Line::styled(
            line(&TITLES.map(String::from)),
            Style::default().add_modifier(Modifier::REVERSED),
        ),
    ];
    for (r, cells) in shown.iter().zip(&table) {
        lines.push(Line::styled(line(cells), row_style(r)));
    }
    let body = Rect {
        height: area.height - 1,
        ..area
    };
    Paragraph::new(lines).render(body, buf);
    let footer = Rect {
        y: area.y + area.height - 1,
        height: 1,
        ..area
    };
    let range = if shown.is_empty() {
        "no rows".to_string()
    } else {
        format!(
            "rows {}-{} of {}",
            first + 1,
            first + shown.len(),
            rows.len()
        )
    };
    Paragraph::new(Line::styled(
        format!(
            "{range} | sort s: {} | filter o/g/m/a: {} | arrows PgUp PgDn Home End | q quit",
            view.sort.name(),
            view.filter.name()
        ),
        Style::default().add_modifier(Modifier::REVERSED),
    ))
    .render(footer, buf);
}

fn header(view: &FleetView) -> String {
    let c = view.counts();
    let link = match &view.link {
        Link::Up => String::new(),
        Link::Down(e) => format!("  broker down: {}; retrying", crate::text::escape(e)),
    };
    format!(
        "jetgate fleet  {}  {} devices: {} online, {} offline, {} gave up, {} memory low{link}",
        view.broker, c.devices, c.online, c.offline, c.gave_up, c.memory_low
    )
}

fn row_style(r: &FleetRow) -> Style {
    match rank(r) {
        0 => Style::default().fg(Color::DarkGray),
        1 => Style::default().fg(Color::Red),
        2 => Style::default().fg(Color::Yellow),
        _ => Style::default(),
    }
}
