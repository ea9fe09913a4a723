//! The parsed form of one tegrastats line: [`Sample`] and its parts.
//!
//! Units are in the field names: bytes (`MB` in tegrastats means MiB, × 1 048 576; `kB` × 1024),
//! MHz, percent, degrees Celsius and milliwatts. `Option` marks a figure a release, a board or a
//! non-root run may lack; `None` is "not printed", never "zero". Names (`VDD_IN`, `cpu`,
//! `NVENC`) borrow from the input line, so a [`Sample`] costs no allocation per token.
//!
//! With the `serde` feature a `Sample` serialises to exactly the `jetgate tegrastats --json`
//! shape, e.g. `{"time":"2024-07-09T13:31:31","ram":{"used_bytes":...},...}`.

use std::fmt;

#[cfg(feature = "serde")]
use serde::Serialize;

/// One tegrastats sample (one line).
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Sample<'a> {
    /// The local date and time prefix (`MM-DD-YYYY HH:MM:SS`, R35 and later).
    pub time: Option<LocalTime>,
    /// `RAM used/totalMB (lfb NxSIZE)`: always present.
    pub ram: Ram,
    /// `SWAP used/totalMB (cached NMB)`: absent when no swap is configured.
    pub swap: Option<Swap>,
    /// `IRAM used/totalkB(lfb NkB)`: TX1 and Nano, root only.
    pub iram: Option<Iram>,
    /// One entry per core, in order; `None` for a core that is `off`.
    pub cpus: Vec<Option<Cpu>>,
    /// `EMC_FREQ load%@MHz` (old `EMC`): the memory controller.
    pub emc: Option<Emc>,
    /// `GR3D_FREQ` (old `GR3D`; R35 per-GPC `GR3D2_FREQ` merged in): the integrated GPU.
    pub gpu: Option<Gpu>,
    /// Fixed-function engines (`APE`, `NVENC`, `VIC`, `NVDLA0`, ...), in line order.
    pub engines: Vec<Engine<'a>>,
    /// Thermal zones (`cpu@45.375C`), in line order.
    pub temps: Vec<Temp<'a>>,
    /// Power rails (`VDD_IN 2763mW/2846mW`), in line order; names may repeat (`NC`).
    pub rails: Vec<Rail<'a>>,
    /// Fields of older releases: `MTS` and `EDP limit`.
    pub other: Other,
    /// Tokens the parser did not understand, verbatim and in line order.
    pub unrecognized: Vec<&'a str>,
    /// Spare GPU frequency buffer kept between lines by [`Sample::recycle`].
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(crate) spare_gpc: Vec<u32>,
}

impl<'a> Sample<'a> {
    /// Empties the sample for another line of the same buffer, keeping its allocations.
    pub fn clear(&mut self) {
        self.time = None;
        self.ram = Ram::default();
        self.swap = None;
        self.iram = None;
        self.cpus.clear();
        self.emc = None;
        if let Some(gpu) = self.gpu.take() {
            self.spare_gpc = gpu.freq_mhz;
        }
        self.spare_gpc.clear();
        self.engines.clear();
        self.temps.clear();
        self.rails.clear();
        self.other = Other::default();
        self.unrecognized.clear();
    }

    /// Empties the sample and releases its borrow of the line, keeping its allocations, so
    /// one `Sample` can serve a reused line buffer without allocating per line:
    ///
    /// ```
    /// use tegrastats_parser::{parse_line_into, Sample};
    /// let mut spare: Sample<'static> = Sample::default();
    /// let mut buf = String::new();
    /// for line in ["RAM 1/2MB (lfb 1x4MB) APE 150", "RAM 3/4MB (lfb 2x4MB)"] {
    ///     buf.clear();
    ///     buf.push_str(line);
    ///     let mut sample = spare.recycle();
    ///     parse_line_into(&buf, &mut sample).unwrap();
    ///     assert!(sample.ram.used_bytes > 0);
    ///     spare = sample.recycle();
    /// }
    /// ```
    pub fn recycle<'b>(mut self) -> Sample<'b> {
        self.clear();
        Sample {
            cpus: self.cpus,
            engines: reuse(self.engines),
            temps: reuse(self.temps),
            rails: reuse(self.rails),
            unrecognized: reuse(self.unrecognized),
            spare_gpc: self.spare_gpc,
            ..Sample::default()
        }
    }

    /// The board's input power rail (`VDD_IN`, `POM_5V_IN` or `VIN`), if the board has one
    /// (AGX Orin has none).
    pub fn total_rail(&self) -> Option<&Rail<'a>> {
        self.rails
            .iter()
            .find(|r| matches!(r.name, "VDD_IN" | "POM_5V_IN" | "VIN"))
    }
}

/// Moves an emptied vector's allocation to a vector of another lifetime of the same type
/// (same size and alignment, so the standard library collects in place).
fn reuse<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// A local date and time as tegrastats prints it (`07-09-2024 13:31:31`), without a zone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

/// ISO 8601 without a zone: `2024-07-09T13:31:31`.
impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

#[cfg(feature = "serde")]
impl Serialize for LocalTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `RAM 3168/6851MB (lfb 2x4MB)`: used and total DRAM, and the largest free blocks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Ram {
    pub used_bytes: u64,
    pub total_bytes: u64,
    /// How many of the largest free contiguous blocks (`2` in `lfb 2x4MB`).
    pub lfb_blocks: Option<u64>,
    /// Size of each such block (`4MB` in `lfb 2x4MB`, or `512kB`).
    pub lfb_block_bytes: Option<u64>,
}

/// `SWAP 161/3426MB (cached 0MB)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Swap {
    pub used_bytes: u64,
    pub total_bytes: u64,
    pub cached_bytes: Option<u64>,
}

/// `IRAM 0/252kB(lfb 252kB)`: the video engines' local memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Iram {
    pub used_bytes: u64,
    pub total_bytes: u64,
    pub lfb_bytes: Option<u64>,
}

/// One online core: `23%@1397`, or `2%` with the shared `@1734` of old TX1 lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Cpu {
    pub load_pct: u8,
    pub freq_mhz: Option<u32>,
}

/// `EMC_FREQ 2%@204`; non-root JetPack lines print `EMC_FREQ 0%` with no frequency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Emc {
    pub load_pct: Option<u8>,
    pub freq_mhz: Option<u32>,
}

/// The GPU: load (absent on Thor, `GR3D_FREQ @[0,0,0]`) and one frequency per GPC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Gpu {
    /// Load in percent; with R35's one token per GPC, the busiest GPC's.
    pub load_pct: Option<u8>,
    /// MHz per GPC in line order; empty when not printed (non-root `GR3D_FREQ 0%`).
    pub freq_mhz: Vec<u32>,
}

/// A fixed-function engine: `APE 150`, `NVENC off`, `NVENC 79%@166`, `NVDLA0_FREQ @1600`.
///
/// The name is the token with a trailing `_FREQ` removed, so `VIC_FREQ 729` (R35) and
/// `VIC off` (R36) name the same engine `VIC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Engine<'a> {
    pub name: &'a str,
    /// `false` only for `off`.
    pub on: bool,
    pub load_pct: Option<u8>,
    pub freq_mhz: Option<u32>,
}

/// A thermal zone: `cpu@45.375C`, or current/peak `cpu@45.375C/45.812C` (JetPack 7.2).
/// `-256C` (sensor off or unavailable) reads as `None`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Temp<'a> {
    pub name: &'a str,
    pub celsius: Option<f64>,
    pub peak_celsius: Option<f64>,
}

/// A power rail: `VDD_IN 1931/1931` (R28–R32, no unit), `VDD_IN 2763mW/2846mW` (R35, R36),
/// `VDD_IN 3582mW/3582mW/3582mW` (JetPack 7.2: current/average/peak). Milliwatts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Rail<'a> {
    pub name: &'a str,
    /// The instantaneous figure.
    pub milliwatts: u32,
    /// The average since tegrastats started.
    pub avg_milliwatts: u32,
    /// The peak since tegrastats started (JetPack 7.2 and later).
    pub peak_milliwatts: Option<u32>,
}

/// Fields of older releases that fit nowhere else.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Other {
    /// `MTS fg 0% bg 0%` (TX2, AGX Xavier; R28–R32).
    pub mts_fg_pct: Option<u8>,
    pub mts_bg_pct: Option<u8>,
    /// `EDP limit 1734` (TX1 era): the CPU frequency cap in MHz.
    pub edp_limit_mhz: Option<u32>,
}
