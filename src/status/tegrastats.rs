//! The status document's `tegrastats` section: the tegrastats source's health and its latest
//! sample (one `jetgate tegrastats --json` object, whose contract is `docs/tegrastats.md`), and
//! [`SampleFigures`], the part of a sample the human summaries read.
//!
//! ```json
//! {"state": "running", "path": "/usr/bin/tegrastats", "interval_ms": 1000, "reason": null,
//!  "age_ms": 420, "lines": 37, "bad_lines": 0, "last_error": null,
//!  "sample": {"time": "2024-11-15T08:38:09", "ram": {...}, "cpus": [...], "gpu": {...}, ...}}
//! {"state": "unavailable", "path": "/usr/bin/tegrastats", "interval_ms": 1000,
//!  "reason": "/usr/bin/tegrastats not found", "age_ms": null, "lines": 0, "bad_lines": 0,
//!  "last_error": null, "sample": null}
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where the tegrastats source stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TegrastatsState {
    /// Started, no line read yet.
    #[default]
    Starting,
    /// Lines are arriving.
    Running,
    /// Missing, failed to start, or exited: see the reason.
    Unavailable,
}

impl TegrastatsState {
    pub fn as_str(self) -> &'static str {
        match self {
            TegrastatsState::Starting => "starting",
            TegrastatsState::Running => "running",
            TegrastatsState::Unavailable => "unavailable",
        }
    }
}

impl fmt::Display for TegrastatsState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `tegrastats` section. Readers take what they find.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TegrastatsSection {
    pub state: TegrastatsState,
    /// The tegrastats binary.
    pub path: String,
    /// The `--interval` it runs with, milliseconds.
    pub interval_ms: u32,
    /// Why it is unavailable.
    pub reason: Option<String>,
    /// Age of `sample`, milliseconds.
    pub age_ms: Option<u64>,
    /// Good lines read.
    pub lines: u64,
    /// Lines that were not tegrastats output.
    pub bad_lines: u64,
    pub last_error: Option<String>,
    /// The latest good line as a `jetgate tegrastats --json` object.
    pub sample: Option<serde_json::Value>,
}

impl TegrastatsSection {
    /// The figures the summaries read from `sample`, if there is one.
    pub fn figures(&self) -> Option<SampleFigures> {
        let sample = self.sample.as_ref().filter(|s| s.is_object())?;
        Some(SampleFigures::deserialize(sample).unwrap_or_default())
    }
}

/// What `jetgate status` and `jetgate top` summarise of a tegrastats sample.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct SampleFigures {
    /// Each core; `None` for a core that is off.
    pub cpus: Vec<Option<CpuFigures>>,
    pub gpu: Option<GpuFigures>,
    pub emc: Option<EmcFigures>,
    pub temps: Vec<TempFigures>,
    pub rails: Vec<RailFigures>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct CpuFigures {
    pub load_pct: Option<u64>,
    pub freq_mhz: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct GpuFigures {
    pub load_pct: Option<u64>,
    /// One frequency per GPC.
    pub freq_mhz: Vec<Option<u64>>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct EmcFigures {
    pub load_pct: Option<u64>,
    pub freq_mhz: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct TempFigures {
    pub name: String,
    /// `None` for a sensor that reads -256C (off).
    pub celsius: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct RailFigures {
    pub name: String,
    pub milliwatts: Option<u64>,
}
