//! From TOML text to typed sections, collecting *every* problem with its position.
//!
//! serde stops at the first error, so the text is read in three passes:
//!
//! 1. parse the document with `toml_edit` (a syntax error ends here: nothing after it can be
//!    trusted; it is the only problem reported);
//! 2. deserialize each section and each `[[model]]` / `[[service]]` entry on its own, so an
//!    error in one does not hide the others; every item keeps its byte span from step 1, so
//!    errors come back with the position of the offending key or value;
//! 3. run the semantic checks of each section that did deserialize, which name a
//!    [`KeyPath`]; `Reader::locate` turns the path into a position through the document.
//!
//! ```text
//! memory: unknown field `reserv`, expected one of `reserve`, `headroom`, ...     (step 2)
//! model "llm": `sha256` must be 64 hexadecimal digits, got 12 characters         (step 3)
//! ```

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml_edit::{ImDocument, Item, Table, Value};

use crate::config::entries::{check_entries, split_off, ModelParts, ServiceParts};
use crate::config::lenient;
use crate::config::problem::{line_column, Issues, KeyPath, Problem, Segment};
use crate::config::program::{MODEL_ONLY_KEYS, SPLIT_KEYS};
use crate::config::{
    Config, ControlConfig, DeviceConfig, GateConfig, MemoryConfig, MetricsConfig, MqttConfig,
    StoreConfig,
};

/// The top-level keys a configuration may have.
pub const SECTIONS: [&str; 9] = [
    "device", "memory", "gate", "model", "service", "store", "mqtt", "control", "metrics",
];

/// Reads `text` into a [`Config`], or every problem found, sorted by position.
pub(crate) fn read(text: &str) -> Result<Config, Vec<Problem>> {
    let doc = match ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let (line, column) = line_column(text, e.span().map_or(0, |s| s.start));
            let message = e
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(vec![Problem {
                line,
                column,
                message: format!("invalid TOML: {message}"),
            }]);
        }
    };
    let mut reader = Reader {
        text,
        doc: &doc,
        problems: Vec::new(),
        skipped: Vec::new(),
    };
    let config = reader.read_all();
    let mut problems = reader.problems;
    match config {
        Some(config) if problems.is_empty() => Ok(config),
        _ => {
            problems.sort();
            problems.dedup();
            Err(problems)
        }
    }
}

/// Places issues found outside the loader (the start-time checks of `environment.rs`) in
/// `text`, the file they were found in: each with its line, column and entry label, as the
/// loader's own. `text` must be the file the configuration was read from.
pub(crate) fn place(text: &str, issues: Issues) -> Vec<Problem> {
    let Ok(doc) = ImDocument::parse(text) else {
        return Vec::new();
    };
    let mut reader = Reader {
        text,
        doc: &doc,
        problems: Vec::new(),
        skipped: Vec::new(),
    };
    reader.push_issues(issues);
    let mut problems = reader.problems;
    problems.sort();
    problems.dedup();
    problems
}

struct Reader<'a> {
    text: &'a str,
    doc: &'a ImDocument<&'a str>,
    problems: Vec<Problem>,
    /// Keys removed after a deserialization error: semantic issues under them are dropped
    /// (they would judge a default that stands in for the bad value).
    skipped: Vec<KeyPath>,
}

/// Where an `[[model]]` / `[[service]]` entry sits, for its errors.
struct Entry<'a> {
    base: &'a KeyPath,
    span: Option<Range<usize>>,
    label: &'a str,
}

impl Reader<'_> {
    fn read_all(&mut self) -> Option<Config> {
        let root = self.doc.as_table();
        for (key, item) in root.iter() {
            if !SECTIONS.contains(&key) {
                let span = root.key(key).and_then(|k| k.span()).or_else(|| item.span());
                self.push(
                    span,
                    format!(
                        "unknown section `{key}`, expected one of {}",
                        SECTIONS.join(", ")
                    ),
                );
            }
        }
        let mut issues = Issues::default();
        let at = |s: &str| KeyPath::root().key(s);

        let device: Option<DeviceConfig> = self.section("device");
        let memory: Option<MemoryConfig> = self.section("memory");
        let gate: Option<GateConfig> = self.section("gate");
        let store: Option<StoreConfig> = self.section("store");
        let control: Option<ControlConfig> = self.section("control");
        let metrics: Option<MetricsConfig> = self.section("metrics");
        let mqtt: Option<Option<MqttConfig>> = match root.get("mqtt") {
            None => Some(None),
            Some(item) => self
                .deserialize(item.clone(), &KeyPath::root().key("mqtt"), "mqtt", None)
                .map(Some),
        };
        let models = self.entries("model", Self::model);
        let services = self.entries("service", Self::service);

        if let Some(d) = &device {
            d.check(&at("device"), &mut issues);
        }
        if let Some(m) = &memory {
            m.check(&at("memory"), &mut issues);
        }
        if let Some(g) = &gate {
            g.check(&at("gate"), &mut issues);
        }
        if let Some(s) = &store {
            s.check(&at("store"), &mut issues);
        }
        if let Some(c) = &control {
            c.check(&at("control"), &mut issues);
        }
        if let Some(m) = &metrics {
            m.check(&at("metrics"), &mut issues);
        }
        if let Some(Some(m)) = &mqtt {
            m.check(&at("mqtt"), &mut issues);
        }
        check_entries(&models, &services, &mut issues);
        if let Some(g) = &gate {
            self.check_ready_within_load(g, &models, &mut issues);
        }
        self.push_issues(issues);

        Some(Config {
            device: device?,
            memory: memory?,
            gate: gate?,
            models: models
                .into_iter()
                .map(|m| m.and_then(ModelParts::complete))
                .collect::<Option<Vec<_>>>()?,
            services: services
                .into_iter()
                .map(|s| s.and_then(ServiceParts::complete))
                .collect::<Option<Vec<_>>>()?,
            store: store?,
            mqtt: mqtt?,
            control: control?,
            metrics: metrics?,
        })
    }

    fn push(&mut self, span: Option<Range<usize>>, message: String) {
        let (line, column) = line_column(self.text, span.map_or(0, |s| s.start));
        self.problems.push(Problem {
            line,
            column,
            message,
        });
    }

    /// A top-level section: its default when absent, `None` when it did not deserialize.
    fn section<T: DeserializeOwned + Default>(&mut self, key: &str) -> Option<T> {
        match self.doc.as_table().get(key) {
            None => Some(T::default()),
            Some(item) => self.deserialize(item.clone(), &KeyPath::root().key(key), key, None),
        }
    }

    /// Deserializes one item, recording every error (labelled, at its span or `fallback`)
    /// and the keys it had to skip; `Some` only for a value that can be checked further.
    fn deserialize<T: DeserializeOwned>(
        &mut self,
        item: Item,
        base: &KeyPath,
        label: &str,
        fallback: Option<Range<usize>>,
    ) -> Option<T> {
        let fallback = item.span().or(fallback);
        let outcome = lenient::deserialize_all::<T>(item);
        for (span, message) in outcome.errors {
            self.push(
                span.or_else(|| fallback.clone()),
                format!("{label}: {message}"),
            );
        }
        self.skipped
            .extend(outcome.skipped.iter().map(|k| base.key(k)));
        outcome.value
    }

    /// Each entry of an array of tables (`[[model]]` or `model = [{...}]`), read by `read_one`;
    /// `None` for entries with problems.
    fn entries<T>(
        &mut self,
        key: &str,
        mut read_one: impl FnMut(&mut Self, Table, Entry<'_>) -> Option<T>,
    ) -> Vec<Option<T>> {
        let Some(item) = self.doc.as_table().get(key) else {
            return Vec::new();
        };
        let tables: Vec<(Option<Table>, Option<Range<usize>>)> = match item {
            Item::ArrayOfTables(array) => {
                array.iter().map(|t| (Some(t.clone()), t.span())).collect()
            }
            Item::Value(Value::Array(array)) => array
                .iter()
                .map(|v| match v {
                    Value::InlineTable(t) => (Some(t.clone().into_table()), v.span()),
                    _ => (None, v.span()),
                })
                .collect(),
            other => {
                self.push(
                    other.span(),
                    format!("`{key}` must be an array of tables: write [[{key}]] above each entry"),
                );
                return vec![None];
            }
        };
        let mut out = Vec::new();
        for (i, (table, span)) in tables.into_iter().enumerate() {
            let Some(table) = table else {
                self.push(
                    span,
                    format!("{key}[{i}]: each `{key}` entry must be a table"),
                );
                out.push(None);
                continue;
            };
            let span = table.span().or(span);
            let label = match table.get("name").and_then(Item::as_str) {
                Some(name) => format!("{key} {name:?}"),
                None => format!("{key}[{i}]"),
            };
            let base = KeyPath::root().key(key).index(i);
            let entry = Entry {
                base: &base,
                span,
                label: &label,
            };
            out.push(read_one(self, table, entry));
        }
        out
    }

    fn model(
        &mut self,
        mut table: Table,
        Entry { base, span, label }: Entry<'_>,
    ) -> Option<ModelParts> {
        let split = split_off(&mut table, &SPLIT_KEYS);
        Some(ModelParts {
            program: self.deserialize(Item::Table(table), base, label, span.clone()),
            gating: self.deserialize(Item::Table(split), base, label, span),
        })
    }

    fn service(
        &mut self,
        mut table: Table,
        Entry { base, span, label }: Entry<'_>,
    ) -> Option<ServiceParts> {
        let mut gated = false;
        for key in MODEL_ONLY_KEYS {
            if let Some((k, item)) = table.remove_entry(key) {
                gated = true;
                self.push(
                    k.span().or_else(|| item.span()),
                    format!(
                        "{label}: `{key}` is for [[model]] entries only: a service is never \
                         gated (declare it as a [[model]] to gate its loads)"
                    ),
                );
            }
        }
        let split = split_off(&mut table, &["ready"]);
        Some(ServiceParts {
            program: self.deserialize(Item::Table(table), base, label, span.clone()),
            extra: self.deserialize(Item::Table(split), base, label, span),
            gated,
        })
    }

    /// Each issue at the position of its key, labelled with its entry.
    fn push_issues(&mut self, issues: Issues) {
        for issue in issues.0 {
            if self.skipped.iter().any(|s| issue.path.0.starts_with(&s.0)) {
                continue;
            }
            let span = self.locate(&issue.path);
            let message = match self.entry_label(&issue.path) {
                Some(label) => format!("{label}: {}", issue.message),
                None => issue.message,
            };
            self.push(span, message);
        }
    }

    /// A model's `ready.timeout` written longer than `gate.load_timeout` could never act: both
    /// clocks start at admission and the whole load fails first. (Left at its default, the
    /// load timeout is simply the shorter bound; nothing was written that goes unused.)
    fn check_ready_within_load(
        &self,
        gate: &GateConfig,
        models: &[Option<ModelParts>],
        issues: &mut Issues,
    ) {
        for (i, parts) in models.iter().enumerate() {
            let Some(gating) = parts.as_ref().and_then(|p| p.gating.as_ref()) else {
                continue;
            };
            let path = KeyPath::root()
                .key("model")
                .index(i)
                .key("ready")
                .key("timeout");
            let ready = gating.ready.timeout;
            if ready > gate.load_timeout && self.written(&path) {
                issues.report(
                    path,
                    format!(
                        "`ready.timeout` {ready} is longer than `gate.load_timeout` {}: the \
                         whole load fails first, so it could never act; lower it or raise the \
                         load timeout",
                        gate.load_timeout
                    ),
                );
            }
        }
    }

    /// Whether the key at `path` is written in the document (not left to its default).
    fn written(&self, path: &KeyPath) -> bool {
        let mut item = self.doc.as_item();
        for segment in &path.0 {
            let next = match segment {
                Segment::Key(k) => item.get(k.as_str()),
                Segment::Index(i) => item.get(*i),
            };
            match next {
                Some(it) => item = it,
                None => return false,
            }
        }
        true
    }

    /// The span of the deepest existing key on `path` (the key itself where it exists).
    fn locate(&self, path: &KeyPath) -> Option<Range<usize>> {
        let mut item = self.doc.as_item();
        let mut best = None;
        for segment in &path.0 {
            let next = match segment {
                Segment::Key(k) => {
                    let pair = match item {
                        Item::Table(t) => t.get_key_value(k),
                        Item::Value(Value::InlineTable(t)) => t.get_key_value(k),
                        _ => None,
                    };
                    pair.map(|(key, it)| (it, key.span().or_else(|| it.span())))
                }
                Segment::Index(i) => item.get(*i).map(|it| (it, it.span())),
            };
            match next {
                Some((it, span)) => {
                    item = it;
                    best = span.or(best);
                }
                None => break,
            }
        }
        best
    }

    /// `model "llm"` (or `model[1]` when unnamed) for paths into an entry.
    fn entry_label(&self, path: &KeyPath) -> Option<String> {
        match path.0.as_slice() {
            [Segment::Key(section), Segment::Index(i), ..] => {
                let name = self
                    .doc
                    .as_item()
                    .get(section.as_str())
                    .and_then(|a| a.get(*i))
                    .and_then(|t| t.get("name"))
                    .and_then(Item::as_str);
                Some(match name {
                    Some(name) => format!("{section} {name:?}"),
                    None => format!("{section}[{i}]"),
                })
            }
            _ => None,
        }
    }
}
