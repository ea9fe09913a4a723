//! `events` answers relayed a page at a time: the server asks the core loop for
//! [`PAGE_ROWS`] rows, writes them to the client, and only then asks for the next page (after
//! the last `seq` written). The client gets the same one line as a whole answer, byte for byte
//! (`{"v":1,"ok":true,"data":[…]}`), but the agent holds one page per connection instead of
//! the whole answer: 100 concurrent queries of 10 000 rows no longer build 100 answers of
//! 10 000 rows in memory at once, and at most [`PAGES_IN_FLIGHT`] pages are decoded at a time.
//!
//! An error before the first row is written is the answer (an error line, as before); one
//! after it cannot be said on a line already begun, so the connection is closed and the client
//! sees an incomplete line. Rows stored or pruned while a long answer is written may be in it
//! or not, as with any read of a log that moves; every row in it matches the filter and
//! `seq` ascends.
//!
//! ```text
//! client → {"v":1,"cmd":"events","limit":600}   (seqs 1, 2, 3, … here)
//! server → core: events limit 128 · after_seq none  ─► writes {"v":1,"ok":true,"data":[e1,…,e128
//! server → core: events limit 128 · after_seq 128   ─► writes ,e129,…,e256
//! …
//! server → core: events limit 88  · after_seq 512   ─► writes ,e513,…,e600]}\n
//! ```

use serde_json::Value;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::mpsc;

use super::{forward, send, ControlRequest, Place};
use crate::control::protocol::{Cmd, Response, MAX_EVENTS_PER_REQUEST};
use crate::event::EventKind;

/// Rows asked of the core loop at a time; a connection holds at most one page's text.
pub const PAGE_ROWS: u32 = 128;
/// Pages being fetched and turned into text at once, across all connections: the rows as
/// decoded JSON values (several times their text) exist only inside this window.
pub const PAGES_IN_FLIGHT: usize = 4;

/// An `events` request's filter and how many rows it wants in all.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsAsk {
    since_ms: Option<u64>,
    after_seq: Option<u64>,
    kind: Option<EventKind>,
    subject: Option<String>,
    rows: u32,
}

impl EventsAsk {
    /// The request if `cmd` is `events`, or `cmd` back.
    pub fn from_cmd(cmd: Cmd) -> Result<EventsAsk, Cmd> {
        match cmd {
            Cmd::Events {
                since_ms,
                after_seq,
                kind,
                subject,
                limit,
            } => Ok(EventsAsk {
                since_ms,
                after_seq,
                kind,
                subject,
                rows: limit
                    .unwrap_or(MAX_EVENTS_PER_REQUEST)
                    .min(MAX_EVENTS_PER_REQUEST),
            }),
            other => Err(other),
        }
    }

    /// The request for the next page: at most [`PAGE_ROWS`] of the rows still wanted, after
    /// `cursor` (the last `seq` written), or after the client's own `after_seq` at first.
    fn page(&self, cursor: Option<u64>, wanted: u32) -> Cmd {
        Cmd::Events {
            since_ms: self.since_ms,
            after_seq: cursor.or(self.after_seq),
            kind: self.kind.clone(),
            subject: self.subject.clone(),
            limit: Some(wanted.min(PAGE_ROWS)),
        }
    }
}

/// How a relayed answer ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Relayed {
    /// The whole line was written; the connection may take another request.
    Whole,
    /// The line was cut (the client went away, was too slow, or a later page failed): close.
    Cut,
}

/// The success line's text before and after its rows, from [`Response::to_line`] itself so
/// the two can never differ: `{"v":1,"ok":true,"data":[` and `]}\n`.
fn frame() -> (String, String) {
    let empty = Response::ok(Vec::<Value>::new()).to_line();
    match empty.split_once("[]") {
        Some((head, tail)) => (format!("{head}["), format!("]{tail}")),
        None => (empty, String::new()),
    }
}

/// A page's rows as text, each after a comma unless it is the answer's first; the last
/// row's `seq`.
fn rows_text(rows: &[Value], first: bool) -> (Vec<u8>, Option<u64>) {
    let mut text = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if i > 0 || !first {
            text.push(b',');
        }
        // Writing a `Value` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut text, row);
    }
    let last = rows
        .last()
        .and_then(|r| r.get("seq"))
        .and_then(Value::as_u64);
    (text, last)
}

/// Answers `ask` on `out`, a page at a time, each page asked of `core`. `place` says
/// whether the connection waits on the agent (a page is being fetched) or on its client (a
/// page is being written).
pub async fn relay(
    ask: EventsAsk,
    core: &mpsc::Sender<ControlRequest>,
    place: &Place,
    out: &mut OwnedWriteHalf,
) -> Relayed {
    let (head, tail) = frame();
    let mut cursor = None;
    let mut left = ask.rows;
    let mut begun = false;
    loop {
        let wanted = left.min(PAGE_ROWS);
        if !place.on_agent() {
            return Relayed::Cut;
        }
        let Some(permit) = place.fetching().await else {
            return Relayed::Cut;
        };
        let response = forward(core, ask.page(cursor, wanted)).await;
        place.on_client();
        let rows = match (response.ok, &response.data) {
            (true, Some(Value::Array(rows))) => rows,
            _ if !begun => {
                return match send(out, response.to_line().as_bytes(), place).await {
                    Ok(()) => Relayed::Whole,
                    Err(()) => Relayed::Cut,
                };
            }
            _ => {
                tracing::warn!(
                    "an events answer was cut after {} rows: {}",
                    ask.rows - left,
                    response.error.map_or_else(String::new, |e| e.message)
                );
                return Relayed::Cut;
            }
        };
        let got = u32::try_from(rows.len()).unwrap_or(u32::MAX);
        let (text, last) = rows_text(rows, !begun);
        let mut piece = if begun {
            Vec::new()
        } else {
            head.clone().into_bytes()
        };
        piece.extend_from_slice(&text);
        drop(response);
        drop(permit);
        begun = true;
        left = left.saturating_sub(got);
        let done = got < wanted || left == 0;
        if done {
            piece.extend_from_slice(tail.as_bytes());
        }
        if send(out, &piece, place).await.is_err() {
            return Relayed::Cut;
        }
        if done {
            return Relayed::Whole;
        }
        match last {
            Some(seq) => cursor = Some(seq),
            None => return Relayed::Cut,
        }
    }
}

#[cfg(test)]
mod tests;
