//! Integration tests of `tegrastats-parser`, one binary: real fixture lines checked field by
//! field, one test per trap of tegrastats output (docs/tegrastats.md), property tests, and the JSON contract.

// Helpers shared by the tests unwrap too; clippy's test exemption covers only `#[test]` fns.
#![allow(clippy::unwrap_used)]

mod fixtures;
mod json;
mod props;
mod traps;

use tegrastats_parser::Sample;

pub const MIB: u64 = 1 << 20;

/// The sample lines of `tests/data/lines.txt` (a verbatim copy of the shared fixture), in
/// file order, without the `#` comment lines.
pub fn fixture_lines() -> Vec<&'static str> {
    include_str!("../data/lines.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect()
}

pub fn cpus(s: &Sample<'_>) -> Vec<Option<(u8, Option<u32>)>> {
    s.cpus
        .iter()
        .map(|c| c.map(|c| (c.load_pct, c.freq_mhz)))
        .collect()
}

/// Cores that all run at one frequency, with these loads.
pub fn at(freq: u32, loads: &[u8]) -> Vec<Option<(u8, Option<u32>)>> {
    loads.iter().map(|&l| Some((l, Some(freq)))).collect()
}

pub fn engines<'a>(s: &Sample<'a>) -> Vec<(&'a str, bool, Option<u8>, Option<u32>)> {
    s.engines
        .iter()
        .map(|e| (e.name, e.on, e.load_pct, e.freq_mhz))
        .collect()
}

pub fn temps<'a>(s: &Sample<'a>) -> Vec<(&'a str, Option<f64>, Option<f64>)> {
    s.temps
        .iter()
        .map(|t| (t.name, t.celsius, t.peak_celsius))
        .collect()
}

pub fn rails<'a>(s: &Sample<'a>) -> Vec<(&'a str, u32, u32, Option<u32>)> {
    s.rails
        .iter()
        .map(|r| (r.name, r.milliwatts, r.avg_milliwatts, r.peak_milliwatts))
        .collect()
}

/// Current-only temperatures.
pub fn t(name: &str, c: f64) -> (&str, Option<f64>, Option<f64>) {
    (name, Some(c), None)
}

/// Two-value rails (current, average).
pub fn r(name: &str, now: u32, avg: u32) -> (&str, u32, u32, Option<u32>) {
    (name, now, avg, None)
}

/// An engine with only a frequency (`APE 150`).
pub fn mhz(name: &str, f: u32) -> (&str, bool, Option<u8>, Option<u32>) {
    (name, true, None, Some(f))
}

/// An engine that is `off`.
pub fn off(name: &str) -> (&str, bool, Option<u8>, Option<u32>) {
    (name, false, None, None)
}
