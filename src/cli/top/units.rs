//! The services panel of `jetgate top`: one row per model or service with its state
//! (coloured), pid, tree PSS, GPU memory, restarts, leak verdict and reason. Columns are
//! dropped by priority when the terminal is narrow (name, state and PSS always stay); the
//! selected row is marked `>` and kept in view.
//!
//! ```text
//!   NAME            STATE       PSS      RESTARTS GPU      LEAK       PID
//! > llm             loading     1.0GiB   0        800.0MiB -          4242
//! ```

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::model::{TopModel, UnitRow};
use super::panels::{line, size, title};
use super::render::tone_style;
use crate::cli::human::state_tone;

/// A services column: header, width, and the cell of a row.
struct Column {
    head: &'static str,
    width: usize,
    cell: fn(&UnitRow) -> String,
}

const COLUMNS: [Column; 9] = [
    Column {
        head: "NAME",
        width: 16,
        cell: |u| u.name.clone(),
    },
    Column {
        head: "STATE",
        width: 12,
        cell: |u| u.state.clone(),
    },
    Column {
        head: "PSS",
        width: 9,
        cell: |u| size(u.memory_bytes),
    },
    Column {
        head: "RESTARTS",
        width: 9,
        cell: |u| u.restarts.map_or("-".into(), |r| r.to_string()),
    },
    Column {
        head: "GPU",
        width: 9,
        cell: |u| size(u.gpu_bytes),
    },
    Column {
        head: "LEAK",
        width: 11,
        cell: |u| u.leak.clone().unwrap_or_else(|| "-".into()),
    },
    Column {
        head: "PID",
        width: 8,
        cell: |u| u.pid.map_or("-".into(), |p| p.to_string()),
    },
    Column {
        head: "KIND",
        width: 8,
        cell: |u| u.kind.clone(),
    },
    Column {
        head: "REASON",
        width: 0,
        cell: |u| u.reason.clone().unwrap_or_default(),
    },
];

/// The columns that fit `width`, in display order: name, state and PSS always, then restarts,
/// GPU, leak, pid, kind as room allows; the reason takes what is left.
fn columns_for(width: usize) -> Vec<&'static Column> {
    let mut used = 2;
    let mut keep = Vec::new();
    for c in COLUMNS.iter() {
        if c.width == 0 {
            if width > used + 10 {
                keep.push(c);
            }
            continue;
        }
        if keep.len() < 3 || used + c.width <= width {
            used += c.width;
            keep.push(c);
        }
    }
    let order = [
        "NAME", "KIND", "STATE", "PID", "PSS", "GPU", "RESTARTS", "LEAK", "REASON",
    ];
    keep.sort_by_key(|c| order.iter().position(|h| *h == c.head));
    keep
}

/// The services table; the selected row is highlighted and kept in view.
pub fn services(model: &TopModel, area: Rect, buf: &mut Buffer) {
    let units = model.units();
    title(
        "Services",
        &format!("{} configured", units.len()),
        area,
        buf,
    );
    if area.height < 2 {
        return;
    }
    if units.is_empty() {
        line(
            "no models or services configured",
            area,
            1,
            Style::default(),
            buf,
        );
        return;
    }
    let cols = columns_for(area.width as usize);
    let render_row = |cells: Vec<String>| -> String {
        let mut s = String::new();
        for (c, cell) in cols.iter().zip(cells) {
            if c.width == 0 {
                s.push_str(&cell);
            } else {
                let cell: String = cell.chars().take(c.width - 1).collect();
                s.push_str(&format!("{cell:<w$}", w = c.width));
            }
        }
        s
    };
    let head = render_row(cols.iter().map(|c| c.head.to_string()).collect());
    let bold = Style::default().add_modifier(Modifier::BOLD);
    buf.set_stringn(area.x + 2, area.y + 1, head, area.width as usize - 2, bold);
    let visible = area.height.saturating_sub(2) as usize;
    let offset = (model.selected + 1).saturating_sub(visible);
    for (i, u) in units.iter().enumerate().skip(offset).take(visible) {
        let y = area.y + 2 + (i - offset) as u16;
        let selected = i == model.selected;
        let mut style = tone_style(state_tone(&u.state));
        if selected {
            style = style.add_modifier(Modifier::REVERSED);
        }
        let marker = if selected { "> " } else { "  " };
        let text = render_row(cols.iter().map(|c| (c.cell)(u)).collect());
        buf.set_stringn(area.x, y, marker, 2, Style::default());
        buf.set_stringn(area.x + 2, y, text, area.width as usize - 2, style);
    }
}
