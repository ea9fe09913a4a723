//! `/proc/pressure/memory`: pressure stall information (PSI) for memory.
//!
//! Owns [`Pressure`] and its parser [`parse_pressure`], plus the reader [`read_pressure`].
//! Kernels since 4.20 built with `CONFIG_PSI` print (averages are percentages of wall time
//! over 10 s, 60 s and 300 s; `total` is cumulative stall time in microseconds):
//!
//! ```text
//! some avg10=0.00 avg60=0.12 avg300=0.05 total=123456
//! full avg10=0.00 avg60=0.03 avg300=0.01 total=45678
//! ```
//!
//! The file is absent on older kernels (every L4T before R36 ships 4.9 or 5.10 without PSI
//! enabled by default) and when booted with `psi=0`: the reader then says unsupported. The
//! gate decides on capacity; pressure is reported beside, never folded into `available`
//! (docs/agent.md, "Memory model").

use std::path::Path;

use super::error::{parse_u64, ParseError, SourceError};
use super::root::Root;

pub const PRESSURE_MEMORY_PATH: &str = "/proc/pressure/memory";

/// One line of a PSI file.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct PsiLine {
    /// Share of the last 10 s some (or all) tasks stalled on memory, in percent.
    pub avg10: f32,
    pub avg60: f32,
    pub avg300: f32,
    /// Cumulative stall time, microseconds.
    pub total_us: u64,
}

/// `some`: at least one task stalled; `full`: all non-idle tasks stalled at once.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Pressure {
    pub some: PsiLine,
    /// Absent only for the CPU resource on kernels before 5.13; always there for memory.
    pub full: Option<PsiLine>,
}

/// Parses the text of `/proc/pressure/memory`. Needs the `some` line.
pub fn parse_pressure(text: &str) -> Result<Pressure, ParseError> {
    let mut some = None;
    let mut full = None;
    for line in text.lines() {
        let mut words = line.split_ascii_whitespace();
        let slot = match words.next() {
            Some("some") => &mut some,
            Some("full") => &mut full,
            _ => continue,
        };
        *slot = Some(parse_psi_fields(words)?);
    }
    Ok(Pressure {
        some: some.ok_or(ParseError::Missing("some"))?,
        full,
    })
}

fn parse_psi_fields<'a>(words: impl Iterator<Item = &'a str>) -> Result<PsiLine, ParseError> {
    let mut line = PsiLine::default();
    let mut seen = 0u8;
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(ParseError::Malformed(format!(
                "PSI field without '=': {word:.40}"
            )));
        };
        let avg = |field: &'static str| -> Result<f32, ParseError> {
            value
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| ParseError::bad(field, value))
        };
        match key {
            "avg10" => line.avg10 = avg("avg10")?,
            "avg60" => line.avg60 = avg("avg60")?,
            "avg300" => line.avg300 = avg("avg300")?,
            "total" => line.total_us = parse_u64("total", value)?,
            _ => continue,
        }
        seen += 1;
    }
    if seen < 4 {
        return Err(ParseError::Malformed(
            "PSI line lacks avg10/avg60/avg300/total".into(),
        ));
    }
    Ok(line)
}

/// Reads memory pressure under `root`. Absent file → an unsupported [`SourceError`].
pub fn read_pressure(root: &Root, buf: &mut String) -> Result<Pressure, SourceError> {
    let rel = Path::new(PRESSURE_MEMORY_PATH);
    root.read_into(rel, buf)?;
    parse_pressure(buf).map_err(|e| SourceError::parse(root.path(rel), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_some_and_full_lines() {
        let p = parse_pressure(
            "some avg10=1.50 avg60=0.12 avg300=0.05 total=123456\n\
             full avg10=0.25 avg60=0.03 avg300=0.01 total=45678\n",
        )
        .unwrap();
        assert_eq!(p.some.avg10, 1.5);
        assert_eq!(p.some.total_us, 123456);
        let full = p.full.unwrap();
        assert_eq!(full.avg60, 0.03);
        assert_eq!(full.total_us, 45678);
    }

    #[test]
    fn a_file_with_only_some_has_no_full() {
        let p = parse_pressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n").unwrap();
        assert_eq!(p.full, None);
    }

    #[test]
    fn garbage_values_and_missing_lines_are_errors() {
        assert_eq!(parse_pressure(""), Err(ParseError::Missing("some")));
        assert!(parse_pressure("some avg10=x avg60=0 avg300=0 total=0").is_err());
        assert!(parse_pressure("some avg10=0.0").is_err());
        assert!(parse_pressure("some avg10=-1 avg60=0 avg300=0 total=0").is_err());
    }

    #[test]
    fn a_kernel_without_psi_is_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_pressure(&Root::new(dir.path()), &mut String::new()).unwrap_err();
        assert!(err.is_unsupported(), "{err}");
    }

    #[test]
    fn reads_this_machines_pressure_when_the_kernel_has_psi() {
        let root = Root::host();
        match read_pressure(&root, &mut String::new()) {
            Ok(p) => assert!(p.some.avg10 >= 0.0 && p.some.avg10 <= 100.0),
            Err(e) => assert!(e.is_unsupported(), "PSI present but unreadable: {e}"),
        }
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(s in "(?s).{0,200}") {
            let _ = parse_pressure(&s);
        }
    }
}
