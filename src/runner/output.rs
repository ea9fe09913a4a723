//! A child's stdout and stderr: read line by line, forwarded on a channel, kept in a ring.
//!
//! Each line becomes a [`ChildOutput`] sent with `try_send` to the output channel (for log-regex
//! readiness probes) and is pushed into the child's [`OutputRing`], which keeps the last
//! [`OUTPUT_RING_LINES`] lines for diagnostics ("what did it print before it died"). A full
//! channel never blocks the reader, because a blocked reader would stall the model on its next
//! `write(2)`; the line is counted in [`OutputRing::dropped`] instead and still kept in the ring.
//! Lines longer than [`MAX_LINE_BYTES`] are cut (the rest up to the newline is discarded), and
//! invalid UTF-8 is replaced, so a child cannot make the agent allocate without bound.
//!
//! ```text
//! ChildOutput { name: "llama", stream: Stdout, line: "listening on 0.0.0.0:8080" }
//! ```

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::sync::mpsc;

/// Lines kept per child for diagnostics.
pub const OUTPUT_RING_LINES: usize = 200;
/// Longest line kept; the rest of a longer line is dropped.
pub const MAX_LINE_BYTES: usize = 8 * 1024;

/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line of a child's output (without its newline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildOutput {
    pub name: String,
    pub stream: Stream,
    pub line: String,
}

/// The last lines of one child, both streams interleaved in arrival order.
#[derive(Debug, Default)]
pub struct OutputRing {
    lines: VecDeque<(Stream, String)>,
    dropped: u64,
}

impl OutputRing {
    pub fn push(&mut self, stream: Stream, line: String) {
        if self.lines.len() == OUTPUT_RING_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back((stream, line));
    }

    /// The kept lines, oldest first.
    pub fn lines(&self) -> Vec<(Stream, String)> {
        self.lines.iter().cloned().collect()
    }

    /// Lines that could not be forwarded because the output channel was full or closed.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Shared between the reader tasks and the child handle.
pub type SharedRing = Arc<Mutex<OutputRing>>;

/// Reads one line of at most `max` bytes into `buf` (newline stripped). Returns `false` at end
/// of input with nothing read.
pub async fn read_line_capped<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<bool> {
    buf.clear();
    let mut any = false;
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(any);
        }
        any = true;
        let (take, found) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..take.min(room)]);
        reader.consume(if found { take + 1 } else { take });
        if found {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(true);
        }
    }
}

/// Forwards every line of `pipe` until it closes.
pub async fn pump<R: AsyncBufRead + Unpin>(
    mut pipe: R,
    name: String,
    stream: Stream,
    tx: mpsc::Sender<ChildOutput>,
    ring: SharedRing,
) {
    let mut buf = Vec::new();
    // A read error on a pipe means the child side is gone; stop like at end of input.
    while let Ok(true) = read_line_capped(&mut pipe, &mut buf, MAX_LINE_BYTES).await {
        let line = String::from_utf8_lossy(&buf).into_owned();
        let sent = tx
            .try_send(ChildOutput {
                name: name.clone(),
                stream,
                line: line.clone(),
            })
            .is_ok();
        let mut ring = ring.lock().unwrap_or_else(|p| p.into_inner());
        if !sent {
            ring.dropped += 1;
        }
        ring.push(stream, line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn long_lines_are_cut_and_the_next_line_still_reads() {
        let text = format!("{}\nshort\r\nlast", "x".repeat(50));
        let mut r = tokio::io::BufReader::with_capacity(8, text.as_bytes());
        let mut buf = Vec::new();
        assert!(read_line_capped(&mut r, &mut buf, 10).await.unwrap());
        assert_eq!(buf, b"xxxxxxxxxx");
        assert!(read_line_capped(&mut r, &mut buf, 10).await.unwrap());
        assert_eq!(buf, b"short");
        assert!(read_line_capped(&mut r, &mut buf, 10).await.unwrap());
        assert_eq!(buf, b"last");
        assert!(!read_line_capped(&mut r, &mut buf, 10).await.unwrap());
    }

    #[test]
    fn the_ring_keeps_only_the_newest_lines() {
        let mut ring = OutputRing::default();
        for i in 0..OUTPUT_RING_LINES + 5 {
            ring.push(Stream::Stdout, i.to_string());
        }
        let lines = ring.lines();
        assert_eq!(lines.len(), OUTPUT_RING_LINES);
        assert_eq!(lines[0].1, "5");
        assert_eq!(lines.last().unwrap().1, (OUTPUT_RING_LINES + 4).to_string());
    }

    #[tokio::test]
    async fn a_full_channel_counts_dropped_lines_but_the_ring_keeps_them() {
        let (tx, mut rx) = mpsc::channel(1);
        let ring = SharedRing::default();
        pump(
            &b"a\nb\nc\n"[..],
            "m".into(),
            Stream::Stderr,
            tx,
            ring.clone(),
        )
        .await;
        assert_eq!(rx.recv().await.unwrap().line, "a");
        let ring = ring.lock().unwrap();
        assert_eq!(ring.dropped(), 2);
        assert_eq!(ring.lines().len(), 3);
    }
}
