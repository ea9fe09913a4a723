//! Where a configuration problem sits: key paths, semantic issues and their positions.
//!
//! Semantic checks (ranges, formats, duplicates) run on typed sections and know only *which
//! key* is wrong, as a [`KeyPath`] such as `model[1].ready.log`. The loader turns that path
//! into a line and column of the source text through the parsed document, so checks stay
//! pure functions of the typed config. Lines and columns are 1-based; columns count
//! characters, not bytes.
//!
//! ```text
//! model[1].sha256: must be 64 hexadecimal digits, got 12 characters
//! ```

use std::fmt;

/// One problem in a configuration file, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// One step of a [`KeyPath`]: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// The path of a key inside the document, e.g. `model[1].ready.log` (indices are 0-based, as
/// the entries appear in the file).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPath(pub Vec<Segment>);

impl KeyPath {
    pub fn root() -> KeyPath {
        KeyPath(Vec::new())
    }

    /// This path extended by a table key.
    pub fn key(&self, key: &str) -> KeyPath {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_string()));
        KeyPath(segments)
    }

    /// This path extended by an array index.
    pub fn index(&self, index: usize) -> KeyPath {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        KeyPath(segments)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A semantic problem found on the typed configuration, before it has a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub path: KeyPath,
    pub message: String,
}

/// Collects semantic issues; each section's `check` pushes into one of these.
#[derive(Debug, Default)]
pub struct Issues(pub Vec<Issue>);

impl Issues {
    /// Records that the key at `path` is wrong, and why.
    pub fn report(&mut self, path: KeyPath, message: impl Into<String>) {
        self.0.push(Issue {
            path,
            message: message.into(),
        });
    }

    /// Reports `what` at `path` unless `ok` holds: the usual shape of a range check.
    pub fn require(&mut self, ok: bool, path: KeyPath, what: impl FnOnce() -> String) {
        if !ok {
            self.report(path, what());
        }
    }
}

/// The 1-based line and character column of byte `offset` in `text` (clamped to the text).
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_print_like_the_toml_they_name() {
        let p = KeyPath::root()
            .key("model")
            .index(1)
            .key("ready")
            .key("log");
        assert_eq!(p.to_string(), "model[1].ready.log");
        assert_eq!(KeyPath::root().key("memory").to_string(), "memory");
    }

    #[test]
    fn offsets_map_to_one_based_lines_and_character_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // 'é' is two bytes: the '=' after "bé " is the 4th character.
        assert_eq!(line_column(text, 10), (2, 4));
        assert_eq!(line_column(text, 9999), (3, 1));
        // An offset inside a multi-byte character does not panic.
        assert_eq!(line_column(text, 8), (2, 2));
    }
}
