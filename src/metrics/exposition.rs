//! The exposition formats, written by hand: OpenMetrics 1.0.0 (what Prometheus asks for) and
//! the Prometheus text format 0.0.4 (what everything else, `promtool` and node_exporter's
//! textfile collector read). They differ only in the family headers and the end:
//!
//! ```text
//! OpenMetrics                                   text 0.0.4
//! # TYPE jetgate_events counter                 # HELP jetgate_events_total Events ...
//! # HELP jetgate_events Events ...              # TYPE jetgate_events_total counter
//! jetgate_events_total{kind="note"} 3           jetgate_events_total{kind="note"} 3
//! # TYPE jetgate_gate_reserve_bytes gauge
//! # UNIT jetgate_gate_reserve_bytes bytes
//! ...
//! # EOF
//! ```
//!
//! Label values are escaped (`\` `"` and newline), whatever they come from: unit names are
//! the configuration's, sensor and rail names tegrastats'. A family's header is written with
//! its first sample, so a family with nothing to say is absent rather than empty; all
//! samples of a family must be written one after another.

use std::fmt::Write;

use super::catalog::{Metric, Type};

/// Which exposition format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/openmetrics-text; version=1.0.0`, ends with `# EOF`.
    OpenMetrics,
    /// `text/plain; version=0.0.4` (no `# EOF`).
    Text,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// A sample's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Int(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Int(u64::from(v))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(u64::from(v))
    }
}

/// The text being written.
pub struct Exposition {
    format: Format,
    out: String,
    /// The family whose header was written last.
    current: Option<&'static str>,
}

impl Exposition {
    pub fn new(format: Format) -> Exposition {
        Exposition {
            format,
            out: String::with_capacity(16 * 1024),
            current: None,
        }
    }

    /// One sample of `metric`; its family's header first if this is the family's first.
    /// A non-finite float is left out (neither format's readers would chart it).
    pub fn sample(&mut self, metric: &Metric, labels: &[(&str, &str)], value: impl Into<Value>) {
        let value = value.into();
        if matches!(value, Value::Float(f) if !f.is_finite()) {
            return;
        }
        if self.current != Some(metric.name) {
            self.header(metric);
            self.current = Some(metric.name);
        }
        self.out.push_str(&metric.sample_name());
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (name, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(name);
                self.out.push_str("=\"");
                escape_into(&mut self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = match value {
            Value::Int(v) => writeln!(self.out, " {v}"),
            Value::Float(v) => writeln!(self.out, " {v}"),
        };
    }

    fn header(&mut self, m: &Metric) {
        let _ = match self.format {
            Format::OpenMetrics => {
                let kind = match m.kind {
                    Type::Gauge => "gauge",
                    Type::Counter => "counter",
                    Type::Info => "info",
                };
                let _ = writeln!(self.out, "# TYPE {} {kind}", m.name);
                if let Some(unit) = m.unit() {
                    let _ = writeln!(self.out, "# UNIT {} {unit}", m.name);
                }
                writeln!(self.out, "# HELP {} {}", m.name, m.help)
            }
            Format::Text => {
                let name = m.sample_name();
                let kind = match m.kind {
                    Type::Gauge | Type::Info => "gauge",
                    Type::Counter => "counter",
                };
                let _ = writeln!(self.out, "# HELP {name} {}", m.help);
                writeln!(self.out, "# TYPE {name} {kind}")
            }
        };
    }

    /// The text, with `# EOF` for OpenMetrics.
    pub fn finish(mut self) -> String {
        if self.format == Format::OpenMetrics {
            self.out.push_str("# EOF\n");
        }
        self.out
    }
}

/// A label value as both formats escape it: `\` → `\\`, `"` → `\"`, newline → `\n`.
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}
