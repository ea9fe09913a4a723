//! The sections of `jetgate top`, each a pure function drawing part of the status document
//! (or the model's history) into its `Rect`: memory bars, the available-memory sparkline, the
//! gate, recent events and the tegrastats figures (the services table is in `units.rs`).
//!
//! Sizes are IEC (`5.1GiB`); bars are ASCII (`[#####.....]`) scaled to the device's total
//! memory (or the scope's cgroup limit when that is smaller).
//!
//! ```text
//! -- Gate ------------------------------------ reserve 512.0MiB  budget 2.1GiB  outstanding 0B
//! loading llm   loading 12.3s   [######..........] 1.2GiB of need 4.0GiB
//! queued  1. det  need 1.0GiB  3.0s: waiting: load of llm in flight
//! ```

use crate::status::StatusDocument;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Sparkline, Widget};

use super::model::TopModel;
use super::render::tone_style;
use crate::cli::human::{ago_rfc3339, severity_tone, span_ms};
use crate::units::Bytes;

const LABEL: usize = 11;

pub(super) fn size(v: Option<u64>) -> String {
    v.map_or("-".to_string(), |b| Bytes(b).to_string())
}

/// `-- Name ------- extra`, the first row of a section.
pub(super) fn title(name: &str, extra: &str, area: Rect, buf: &mut Buffer) {
    let w = area.width as usize;
    let dim = Style::default().fg(Color::DarkGray);
    buf.set_stringn(area.x, area.y, "-".repeat(w), w, dim);
    let bold = Style::default()
        .fg(Color::Cyan)
        .add_modifier(Modifier::BOLD);
    buf.set_stringn(
        area.x + 2,
        area.y,
        format!(" {name} "),
        w.saturating_sub(2),
        bold,
    );
    if !extra.is_empty() {
        let len = extra.chars().count() + 2;
        let start = w.saturating_sub(len).max(name.len() + 6);
        if start < w {
            buf.set_stringn(
                area.x + start as u16,
                area.y,
                format!(" {extra} "),
                w - start,
                Style::default(),
            );
        }
    }
}

pub(super) fn line(text: &str, area: Rect, row: u16, style: Style, buf: &mut Buffer) {
    if row < area.height {
        let text = crate::text::escape(text);
        buf.set_stringn(area.x, area.y + row, text, area.width as usize, style);
    }
}

/// `[#####.....]` of `part` out of `whole`, `width` cells inside the brackets.
pub fn bar(part: u64, whole: u64, width: usize) -> String {
    let filled = if whole == 0 {
        0
    } else {
        ((part.min(whole) as f64 / whole as f64) * width as f64).round() as usize
    };
    format!("[{}{}]", "#".repeat(filled), ".".repeat(width - filled))
}

/// What the bars are scaled to: the total, or the cgroup limit when the scope has a smaller one.
fn scale(doc: Option<&StatusDocument>) -> Option<u64> {
    let m = doc?.memory.as_ref()?;
    let total = m.total_bytes;
    Some(match m.cgroup.as_ref().and_then(|c| c.limit_bytes) {
        Some(limit) if limit < total => limit,
        _ => total,
    })
}

/// Memory: used, GPU-held, available, reserve and budget as bars (and, when wide, the
/// sparkline beside them).
pub fn memory(model: &TopModel, area: Rect, wide: bool, buf: &mut Buffer) {
    let doc = model.status.as_ref();
    let memory = doc.and_then(|d| d.memory.as_ref());
    let gate = doc.and_then(|d| d.gate.as_ref());
    let pressure = memory
        .and_then(|m| m.pressure)
        .map_or("PSI n/a".to_string(), |p| {
            format!("PSI some {:.1}%", p.some_avg10)
        });
    let from = memory.map_or("-", |m| m.available_from.as_str());
    title("Memory", &format!("from {from}, {pressure}"), area, buf);
    let Some(whole) = scale(doc) else {
        line("no memory sample yet", area, 1, Style::default(), buf);
        return;
    };
    let (bars_w, spark) = if wide {
        let w = area.width * 3 / 5;
        (
            w,
            Some(Rect::new(
                area.x + w + 1,
                area.y + 1,
                area.width - w - 1,
                area.height - 1,
            )),
        )
    } else {
        (area.width, None)
    };
    let available = memory.map(|m| m.available_bytes);
    let rows: [(&str, Option<u64>, Color); 5] = [
        (
            "used",
            available.map(|a| whole.saturating_sub(a)),
            Color::Magenta,
        ),
        (
            "GPU-held",
            memory.and_then(|m| m.gpu_held_bytes),
            Color::Blue,
        ),
        ("available", available, Color::Green),
        (
            "reserve",
            gate.map(|g| g.reserve_bytes.get()),
            Color::Yellow,
        ),
        (
            "budget",
            gate.and_then(|g| g.budget_bytes).map(Bytes::get),
            Color::Cyan,
        ),
    ];
    let tail = 26usize;
    let inner = (bars_w as usize).saturating_sub(LABEL + tail + 2).max(4);
    for (i, (label, value, colour)) in rows.iter().enumerate() {
        let row = i as u16 + 1;
        if row >= area.height {
            break;
        }
        let y = area.y + row;
        buf.set_stringn(
            area.x,
            y,
            format!("{label:<LABEL$}"),
            LABEL,
            Style::default(),
        );
        let Some(v) = value else {
            let why = if *label == "GPU-held" {
                "n/a (no NvMapMemUsed here)"
            } else {
                "n/a"
            };
            buf.set_stringn(
                area.x + LABEL as u16,
                y,
                why,
                bars_w as usize - LABEL,
                Style::default(),
            );
            continue;
        };
        let b = bar(*v, whole, inner);
        buf.set_stringn(
            area.x + LABEL as u16,
            y,
            &b,
            inner + 2,
            Style::default().fg(*colour),
        );
        let pct = (*v as f64 / whole.max(1) as f64 * 100.0).round();
        let figures = format!(
            " {:>8} {pct:>3}% of {}",
            Bytes(*v).to_string(),
            Bytes(whole)
        );
        let x = area.x + (LABEL + inner + 2) as u16;
        let room = (area.x + bars_w).saturating_sub(x) as usize;
        buf.set_stringn(x, y, figures, room, Style::default());
    }
    if let Some(r) = spark {
        spark_into(model, r, true, buf);
    }
}

/// The sparkline of available memory over the kept history, in its own rows.
pub fn sparkline(model: &TopModel, area: Rect, buf: &mut Buffer) {
    spark_into(model, area, false, buf);
}

fn spark_into(model: &TopModel, area: Rect, boxed: bool, buf: &mut Buffer) {
    if area.height == 0 || area.width < 8 {
        return;
    }
    let seconds = model.history_span_s();
    let graph = if boxed {
        let label = format!("available, last {seconds}s");
        buf.set_stringn(area.x, area.y, label, area.width as usize, Style::default());
        Rect::new(
            area.x,
            area.y + 1,
            area.width,
            area.height.saturating_sub(1),
        )
    } else {
        let label_w = LABEL as u16;
        buf.set_stringn(area.x, area.y, "available", LABEL, Style::default());
        let last = format!("last {seconds}s");
        buf.set_stringn(area.x, area.y + 1, last, LABEL, Style::default());
        Rect::new(area.x + label_w, area.y, area.width - label_w, area.height)
    };
    let whole = scale(model.status.as_ref()).unwrap_or(0);
    let take = graph.width as usize;
    let data: Vec<u64> = model
        .history
        .iter()
        .skip(model.history.len().saturating_sub(take))
        .map(|b| b / Bytes::MIB)
        .collect();
    Sparkline::default()
        .data(&data)
        .max((whole / Bytes::MIB).max(1))
        .style(Style::default().fg(Color::Green))
        .render(graph, buf);
}

/// The gate: the load in flight with its progress (memory consumed against its need), and the
/// queue with each model's reason.
pub fn gate(doc: &StatusDocument, area: Rect, buf: &mut Buffer) {
    let g = doc.gate.as_ref();
    let extra = format!(
        "budget {}  outstanding {}",
        size(g.and_then(|g| g.budget_bytes).map(Bytes::get)),
        size(g.map(|g| g.outstanding_bytes.get()))
    );
    title("Gate", &extra, area, buf);
    let flight = g.and_then(|g| g.in_flight.as_ref());
    let first = match flight {
        Some(f) => format!(
            "in flight: {} {} {}  {} {} of need {}",
            f.model,
            f.phase.as_str(),
            span_ms(f.elapsed_ms),
            bar(f.consumed_bytes.get(), f.need_bytes.get(), 16),
            f.consumed_bytes,
            f.need_bytes,
        ),
        None => "idle: no load in flight".to_string(),
    };
    let busy = Style::default().fg(Color::Yellow);
    line(
        &first,
        area,
        1,
        if flight.is_some() {
            busy
        } else {
            Style::default()
        },
        buf,
    );
    let queue = g.map_or(&[][..], |g| g.queue.as_slice());
    let rows = area.height.saturating_sub(2) as usize;
    for (i, q) in queue.iter().enumerate().take(rows) {
        let text = if i + 1 == rows && queue.len() > rows {
            format!("... and {} more queued", queue.len() - i)
        } else {
            format!(
                "queued {}. {}  need {}  {}: {}",
                i + 1,
                q.model,
                q.need_bytes,
                span_ms(q.waiting_ms),
                q.reason
            )
        };
        line(&text, area, i as u16 + 2, Style::default(), buf);
    }
}

/// Recent events, newest first, with how long ago.
pub fn events(model: &TopModel, area: Rect, buf: &mut Buffer) {
    let extra = model
        .last_seq
        .map_or(String::new(), |s| format!("last seq {s}"));
    title("Events", &extra, area, buf);
    if model.events.is_empty() {
        line("no events yet", area, 1, Style::default(), buf);
        return;
    }
    for (row, e) in model.events.iter().rev().enumerate() {
        let row = row as u16 + 1;
        if row >= area.height {
            break;
        }
        let text = format!(
            "{:<9} {:<8} {:<18} {:<12} {}",
            ago_rfc3339(&e.ts, model.now_ms),
            e.severity,
            e.kind,
            e.subject.as_deref().unwrap_or("-"),
            e.message
        );
        line(
            &text,
            area,
            row,
            tone_style(severity_tone(&e.severity)),
            buf,
        );
    }
}

/// The tegrastats figures: CPU, GPU and EMC load; temperatures and power rails.
pub fn tegrastats(doc: &StatusDocument, area: Rect, buf: &mut Buffer) {
    let t = doc.tegrastats.as_ref();
    let age = t
        .and_then(|t| t.age_ms)
        .map_or(String::new(), |a| format!("{} old", span_ms(a)));
    title("tegrastats", &age, area, buf);
    let (first, second) = crate::cli::figures::tegrastats_lines(t);
    if area.height >= 3 {
        line(&first, area, 1, Style::default(), buf);
        line(&second, area, 2, Style::default(), buf);
    } else {
        line(
            &format!("{first}  {second}"),
            area,
            1,
            Style::default(),
            buf,
        );
    }
}
