//! Human forms shared by `status`, `services`, `events` and `top`: relative times ("3m ago"),
//! the colour of a service state or an event severity, and whether to colour at all.
//!
//! Colour is used only when stdout is a terminal and `NO_COLOR` is unset (or empty), so pipes,
//! files and `--json` never see an escape sequence. Times are the store's RFC 3339 UTC stamps
//! (`2026-11-24T03:06:39.120Z`); "now" is an argument.
//!
//! ```text
//! 2026-11-24T03:06:39.120Z at now 2026-11-24T03:09:40Z → "3m ago"
//! ```

use std::io::IsTerminal;

/// A colour for human output: a service state or an event severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Healthy: ready, running.
    Good,
    /// In progress or waiting: queued, loading, backing off; warnings.
    Busy,
    /// Needs someone: gave up, failed; errors.
    Bad,
    /// Nothing to say: stopped, info.
    Plain,
}

impl Tone {
    /// The ANSI SGR code of this tone, if it has one.
    fn sgr(self) -> Option<&'static str> {
        match self {
            Tone::Good => Some("32"),
            Tone::Busy => Some("33"),
            Tone::Bad => Some("31;1"),
            Tone::Plain => None,
        }
    }
}

/// The tone of a service state (the states of docs/agent.md, "States"; unknown ones are plain).
pub fn state_tone(state: &str) -> Tone {
    match state {
        "ready" | "running" => Tone::Good,
        "queued" | "loading" | "backing_off" => Tone::Busy,
        "gave_up" | "failed" => Tone::Bad,
        _ => Tone::Plain,
    }
}

/// The tone of an event severity (`info`, `warning`, `error`).
pub fn severity_tone(severity: &str) -> Tone {
    match severity {
        "warning" => Tone::Busy,
        "error" => Tone::Bad,
        _ => Tone::Plain,
    }
}

/// Whether human output to stdout may be coloured: a terminal, and `NO_COLOR` unset or empty.
pub fn colour_stdout() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
}

/// `text` wrapped in the tone's escape sequence when `colour`; unchanged otherwise.
pub fn paint(text: &str, tone: Tone, colour: bool) -> String {
    match tone.sgr() {
        Some(sgr) if colour => format!("\x1b[{sgr}m{text}\x1b[0m"),
        _ => text.to_string(),
    }
}

/// How long ago `then_ms` was at `now_ms`: `just now`, `42s ago`, `3m ago`, `5h ago`, `2d ago`.
/// A stamp in the future (clock skew) reads `just now`.
pub fn ago(then_ms: u64, now_ms: u64) -> String {
    let secs = now_ms.saturating_sub(then_ms) / 1_000;
    match secs {
        0..=1 => "just now".to_string(),
        2..=59 => format!("{secs}s ago"),
        60..=3_599 => format!("{}m ago", secs / 60),
        3_600..=86_399 => format!("{}h ago", secs / 3_600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

/// [`ago`] of an RFC 3339 stamp, or the stamp itself when it does not parse.
pub fn ago_rfc3339(ts: &str, now_ms: u64) -> String {
    crate::clock::parse_rfc3339_ms(ts).map_or_else(|| ts.to_string(), |t| ago(t, now_ms))
}

/// A duration in milliseconds, short: `850ms`, `12.3s`, `4m05s`, `3h12m`, `2d4h`.
pub fn span_ms(ms: u64) -> String {
    let s = ms / 1_000;
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{:.1}s", ms as f64 / 1_000.0),
        60_000..=3_599_999 => format!("{}m{:02}s", s / 60, s % 60),
        3_600_000..=86_399_999 => format!("{}h{:02}m", s / 3_600, (s / 60) % 60),
        _ => format!("{}d{}h", s / 86_400, (s / 3_600) % 24),
    }
}

#[cfg(test)]
mod tests;
