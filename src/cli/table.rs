//! Aligned plain-text tables for human output (`services`, `events`, `status`).
//!
//! ```text
//! NAME  KIND   STATE    PID    MEMORY
//! llm   model  ready    4242   3.9GiB
//! det   model  queued   -      -
//! ```
//!
//! Cells may be coloured ([`Table::render_toned`]); widths are measured on the plain text.
//! Every cell is untrusted text: control, format and separator characters are shown escaped
//! ([`crate::text::escape`]), so a cell can neither move the cursor nor start a row.

use crate::cli::human::{paint, Tone};

/// A table with a header row; columns are padded to their widest cell.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        let cells = cells
            .into_iter()
            .map(|c| match crate::text::escape(&c) {
                std::borrow::Cow::Borrowed(_) => c,
                std::borrow::Cow::Owned(shown) => shown,
            })
            .collect();
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.len() <= 1
    }

    /// Renders with two spaces between columns; the last column is not padded.
    pub fn render(&self) -> String {
        self.render_toned(&|_, _| Tone::Plain, false)
    }

    /// Like [`Table::render`], with each body cell coloured by `tone(column, text)` when
    /// `colour` (escapes go around the padded cell, so columns stay aligned).
    pub fn render_toned(&self, tone: &dyn Fn(usize, &str) -> Tone, colour: bool) -> String {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0usize; cols];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for (r, row) in self.rows.iter().enumerate() {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let text = if r == 0 {
                    cell.clone()
                } else {
                    paint(cell, tone(i, cell), colour)
                };
                line.push_str(&text);
                if i + 1 < row.len() {
                    let pad = widths[i] - cell.chars().count() + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_cannot_clear_the_screen_or_start_a_row() {
        let mut t = Table::new(&["SEQ", "WHAT"]);
        t.row(vec!["1".into(), "hi\x1b[2J\n2  FAKE ROW".into()]);
        assert_eq!(t.render(), "SEQ  WHAT\n1    hi\\e[2J\\n2  FAKE ROW\n");
    }

    #[test]
    fn pads_columns_to_the_widest_cell() {
        let mut t = Table::new(&["NAME", "STATE"]);
        t.row(vec!["llm-large".into(), "ready".into()]);
        t.row(vec!["det".into(), "queued".into()]);
        assert_eq!(
            t.render(),
            "NAME       STATE\nllm-large  ready\ndet        queued\n"
        );
        assert!(!t.is_empty());
        assert!(Table::new(&["A"]).is_empty());
    }

    #[test]
    fn colour_wraps_cells_without_moving_the_columns() {
        let mut t = Table::new(&["NAME", "STATE", "PID"]);
        t.row(vec!["llm".into(), "ready".into(), "42".into()]);
        let tone = |col: usize, _: &str| if col == 1 { Tone::Good } else { Tone::Plain };
        assert_eq!(
            t.render_toned(&tone, true),
            "NAME  STATE  PID\nllm   \x1b[32mready\x1b[0m  42\n"
        );
        assert_eq!(t.render_toned(&tone, false), t.render());
    }
}
