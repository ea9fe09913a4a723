//! A sans-I/O parser for NVIDIA Jetson `tegrastats` output, every release from L4T R24 (TX1)
//! to R39 (JetPack 7.2, Thor), root and non-root.
//!
//! It does no I/O and has no runtime: give it a line, get a [`Sample`] whose names borrow from
//! that line. Figures carry their units in their names (`used_bytes`, `freq_mhz`, `celsius`,
//! `milliwatts`); a figure a release does not print is `None`, never zero. Tokens it does not
//! understand are kept in [`Sample::unrecognized`], so a new JetPack cannot make it fail or
//! lose data silently. Only a line without `RAM` (or with a `RAM` that does not parse) is an
//! error.
//!
//! ```
//! use tegrastats_parser::parse_line;
//!
//! let line = "11-15-2024 08:38:09 RAM 6185/7620MB (lfb 8x2MB) SWAP 851/3810MB (cached 1MB) \
//!     CPU [15%@729,off] EMC_FREQ 43%@2133 GR3D_FREQ 63%@[621] NVDEC off APE 200 \
//!     cpu@53.968C CV0@-256C VDD_IN 12479mW/12479mW";
//! let s = parse_line(line)?;
//! assert_eq!(s.time.map(|t| t.to_string()).as_deref(), Some("2024-11-15T08:38:09"));
//! assert_eq!(s.ram.used_bytes, 6185 * 1024 * 1024);
//! assert_eq!(s.cpus.len(), 2);
//! assert!(s.cpus[1].is_none()); // core off
//! assert_eq!(s.gpu.as_ref().map(|g| g.load_pct), Some(Some(63)));
//! assert_eq!(s.gpu.as_ref().map(|g| &g.freq_mhz[..]), Some(&[621][..]));
//! assert_eq!(s.engines[0].name, "NVDEC");
//! assert_eq!(s.temps[1].celsius, None); // -256C: no reading
//! assert_eq!(s.total_rail().map(|r| r.milliwatts), Some(12479));
//! assert!(s.unrecognized.is_empty());
//! # Ok::<(), tegrastats_parser::ParseError>(())
//! ```
//!
//! # Naming decisions
//! - Engines are named after their token with a trailing `_FREQ` removed: `VIC_FREQ 729` (R35)
//!   and `VIC off` (R36) are both engine `VIC`; `NVENC0_FREQ @314` (Thor) is `NVENC0`.
//! - R35's one token per GPU cluster (`GR3D_FREQ 0%@114 GR3D2_FREQ 0%@114`) becomes one
//!   [`Gpu`] with one frequency per cluster and the busiest cluster's load.
//! - `-256C` is a sensor that is off or unavailable: its reading is `None`.
//! - Rails stay a list: AGX Orin prints `NC` twice.
//!
//! # Reusing buffers
//! [`parse_line`] allocates a few vectors per line. For a stream, [`parse_line_into`] fills an
//! existing sample and [`Sample::recycle`] carries its allocations to the next line's buffer.
//!
//! # Features
//! `serde`: [`Sample`] implements `Serialize` in the `jetgate tegrastats --json` shape (see
//! the crate's `docs/tegrastats.md`).

mod cursor;
mod error;
mod num;
mod parse;
mod sample;
mod shaped;
mod tokens;

pub use error::ParseError;
pub use parse::parse_line_into;
pub use sample::{Cpu, Emc, Engine, Gpu, Iram, LocalTime, Other, Rail, Ram, Sample, Swap, Temp};

/// Parses one tegrastats line (without its line ending, though trailing whitespace is fine).
pub fn parse_line(line: &str) -> Result<Sample<'_>, ParseError> {
    let mut sample = Sample::default();
    parse_line_into(line, &mut sample)?;
    Ok(sample)
}
