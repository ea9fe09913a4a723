//! Deserializing one table without stopping at its first error.
//!
//! serde gives up on a struct at the first bad field. To report every bad key of a section,
//! [`deserialize_all`] retries: after an error it finds the top-level key whose text holds the
//! error's span, removes that key (its field falls back to its default) and tries again, until
//! the table deserializes or an error cannot be pinned on a key. The value it then returns is
//! *partial* (defaults stand in for the removed keys): good for running further checks, never
//! for use. Spans are byte ranges into the original document.
//!
//! ```toml
//! [memory]
//! reserv = "1GiB"        # unknown field: removed, retried
//! scope = "host"         # bad value: removed, retried -> both reported
//! ```

use std::ops::Range;

use serde::de::{DeserializeOwned, IntoDeserializer};
use toml_edit::{DocumentMut, Item, Table, Value};

/// What deserializing one table found.
pub(crate) struct Outcome<T> {
    /// The value, partial when `skipped` is not empty; `None` when no retry could succeed.
    pub value: Option<T>,
    /// Each error with its span and message, in the order found.
    pub errors: Vec<(Option<Range<usize>>, String)>,
    /// Top-level keys removed because an error sat in them.
    pub skipped: Vec<String>,
}

/// Deserializes `item`, collecting an error for each bad top-level key (see the module doc).
pub(crate) fn deserialize_all<T: DeserializeOwned>(item: Item) -> Outcome<T> {
    let mut table = match item {
        Item::Table(table) => table,
        Item::Value(Value::InlineTable(table)) => table.into_table(),
        Item::Value(value) => return single(T::deserialize(value.into_deserializer())),
        Item::ArrayOfTables(array) => {
            return single(T::deserialize(
                Value::Array(array.into_array()).into_deserializer(),
            ))
        }
        Item::None => Table::new(),
    };
    let mut errors = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    for _ in 0..=table.len() {
        let error = match toml_edit::de::from_document::<T>(DocumentMut::from(table.clone())) {
            Ok(value) => {
                return Outcome {
                    value: Some(value),
                    errors,
                    skipped,
                }
            }
            Err(e) => e,
        };
        let message = error.message().to_string();
        // A required key we removed ourselves: its own error is already recorded.
        if skipped
            .iter()
            .any(|k| message == format!("missing field `{k}`"))
        {
            break;
        }
        let culprit = error
            .span()
            .and_then(|span| key_containing(&table, span.start));
        errors.push((error.span(), message));
        match culprit {
            Some(key) if !skipped.contains(&key) => {
                table.remove(&key);
                skipped.push(key);
            }
            _ => break,
        }
    }
    Outcome {
        value: None,
        errors,
        skipped,
    }
}

fn single<T>(result: Result<T, toml_edit::de::Error>) -> Outcome<T> {
    match result {
        Ok(value) => Outcome {
            value: Some(value),
            errors: Vec::new(),
            skipped: Vec::new(),
        },
        Err(e) => Outcome {
            value: None,
            errors: vec![(e.span(), e.message().to_string())],
            skipped: Vec::new(),
        },
    }
}

/// The top-level key of `table` whose key or value text contains byte `offset`.
fn key_containing(table: &Table, offset: usize) -> Option<String> {
    table.iter().find_map(|(key, item)| {
        let key_span = table.key(key).and_then(|k| k.span());
        let extent = union(key_span, extent(item));
        extent
            .filter(|r| r.start <= offset && offset < r.end.max(r.start + 1))
            .map(|_| key.to_string())
    })
}

/// The byte range an item covers: its own span, or (for implicit and dotted tables, which
/// have none) the union of its children's.
fn extent(item: &Item) -> Option<Range<usize>> {
    if let Some(span) = item.span() {
        return Some(span);
    }
    match item {
        Item::Table(table) => table.iter().fold(None, |acc, (key, child)| {
            let key_span = table.key(key).and_then(|k| k.span());
            union(acc, union(key_span, extent(child)))
        }),
        Item::ArrayOfTables(array) => array
            .iter()
            .fold(None, |acc, t| union(acc, extent(&Item::Table(t.clone())))),
        _ => None,
    }
}

fn union(a: Option<Range<usize>>, b: Option<Range<usize>>) -> Option<Range<usize>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.start.min(b.start)..a.end.max(b.end)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use toml_edit::ImDocument;

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct S {
        a: u32,
        b: String,
        nested: N,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct N {
        x: u32,
    }

    fn outcome(text: &str) -> Outcome<S> {
        let doc = ImDocument::parse(text).unwrap();
        deserialize_all::<S>(doc.as_item().clone())
    }

    #[test]
    fn every_bad_key_is_reported_not_just_the_first() {
        let o = outcome("a = \"no\"\nzz = 1\nnested.x = \"no\"\nb = \"ok\"\n");
        let messages: Vec<&str> = o.errors.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(o.errors.len(), 3, "{messages:#?}");
        assert_eq!(o.skipped, ["a", "zz", "nested"]);
        // The partial value keeps the good keys.
        assert_eq!(o.value.unwrap().b, "ok");
    }

    #[test]
    fn a_clean_table_is_read_whole() {
        let o = outcome("a = 3\n[nested]\nx = 4\n");
        assert!(o.errors.is_empty() && o.skipped.is_empty());
        let s = o.value.unwrap();
        assert_eq!((s.a, s.nested.x), (3, 4));
    }
}
