//! `/proc/meminfo`: the system-wide memory figures the gate decides on.
//!
//! Owns [`MemInfo`] and its pure parser [`parse_meminfo`], plus the thin reader
//! [`read_meminfo`]. Every figure is [`Bytes`], converted from the kernel's `kB` (KiB) at parse
//! time. A Jetson AGX Orin on L4T R35 prints, among ~55 lines:
//!
//! ```text
//! MemTotal:       30536708 kB
//! MemFree:        25902060 kB
//! MemAvailable:   28100176 kB
//! ...
//! NvMapMemFree:      45888 kB
//! NvMapMemUsed:     716676 kB
//! CmaTotal:         524288 kB
//! CmaFree:          524288 kB
//! ```
//!
//! Absences that are normal and typed as `Option`: `NvMapMemUsed` (printed by L4T R32 and R35
//! kernels; an Orin on R36, JetPack 6, prints no `NvMap` line at all, nor does Thor or a
//! non-Jetson host: nothing may depend on it), `CmaTotal`/`CmaFree` (kernels without CMA),
//! `Shmem`/`SReclaimable` (very old kernels).
//!
//! Trap: kernels before 3.14 (TX1 on L4T R24) have no `MemAvailable`. We then estimate it as
//!
//! ```text
//! MemAvailable ≈ MemFree + (pagecache + SReclaimable) / 2
//! pagecache    = Active(file) + Inactive(file)        (or Buffers + Cached − Shmem)
//! ```
//!
//! which is the kernel's own 3.14 formula (`si_mem_available`) with its unknown terms taken at
//! their worst: it subtracts `min(x / 2, low watermark)` from the page cache and from
//! reclaimable slab, and `x / 2` is the most that can be. The estimate is therefore never above
//! what the kernel would say, so a gate on it errs towards refusing a load. It is flagged with
//! [`MemInfo::available_estimated`].

use std::path::Path;

use super::error::{parse_kb, ParseError, SourceError};
use super::root::Root;
use crate::units::Bytes;

/// The default location, relative to the [`Root`].
pub const MEMINFO_PATH: &str = "/proc/meminfo";

/// The figures of `/proc/meminfo` that jetgate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct MemInfo {
    pub total: Bytes,
    pub free: Bytes,
    /// `MemAvailable`, or the documented estimate on kernels before 3.14.
    pub available: Bytes,
    /// True when `available` is our estimate because the kernel does not print it.
    pub available_estimated: bool,
    pub buffers: Bytes,
    pub cached: Bytes,
    pub swap_total: Bytes,
    pub swap_free: Bytes,
    pub shmem: Option<Bytes>,
    pub sreclaimable: Option<Bytes>,
    /// `Active(file)`, where printed (kernels ≥ 2.6.28).
    pub active_file: Option<Bytes>,
    /// `Inactive(file)`, where printed (kernels ≥ 2.6.28).
    pub inactive_file: Option<Bytes>,
    /// `NvMapMemUsed`: memory the GPU side holds through nvmap (L4T R32 and R35 kernels; none
    /// on R36 and later).
    pub nvmap_used: Option<Bytes>,
    /// `CmaTotal`: the Contiguous Memory Allocator's region (kernels with CMA).
    pub cma_total: Option<Bytes>,
    /// `CmaFree`: the part of the CMA region not allocated.
    pub cma_free: Option<Bytes>,
}

impl MemInfo {
    /// Swap in use. Reported, never counted as room for a model (GPU memory cannot swap).
    pub fn swap_used(&self) -> Bytes {
        self.swap_total.saturating_sub(self.swap_free)
    }
}

/// Parses the text of `/proc/meminfo`. Needs `MemTotal` and `MemFree`; everything else is
/// optional or estimated. Unknown lines are ignored (the file grows every few releases).
pub fn parse_meminfo(text: &str) -> Result<MemInfo, ParseError> {
    let mut m = MemInfo::default();
    let (mut total, mut free, mut available) = (None, None, None);
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let slot: (&'static str, &mut Option<Bytes>) = match key {
            "MemTotal" => ("MemTotal", &mut total),
            "MemFree" => ("MemFree", &mut free),
            "MemAvailable" => ("MemAvailable", &mut available),
            "Shmem" => ("Shmem", &mut m.shmem),
            "SReclaimable" => ("SReclaimable", &mut m.sreclaimable),
            "Active(file)" => ("Active(file)", &mut m.active_file),
            "Inactive(file)" => ("Inactive(file)", &mut m.inactive_file),
            "NvMapMemUsed" => ("NvMapMemUsed", &mut m.nvmap_used),
            "CmaTotal" => ("CmaTotal", &mut m.cma_total),
            "CmaFree" => ("CmaFree", &mut m.cma_free),
            "Buffers" => {
                m.buffers = parse_kb("Buffers", value)?;
                continue;
            }
            "Cached" => {
                m.cached = parse_kb("Cached", value)?;
                continue;
            }
            "SwapTotal" => {
                m.swap_total = parse_kb("SwapTotal", value)?;
                continue;
            }
            "SwapFree" => {
                m.swap_free = parse_kb("SwapFree", value)?;
                continue;
            }
            _ => continue,
        };
        *slot.1 = Some(parse_kb(slot.0, value)?);
    }
    m.total = total.ok_or(ParseError::Missing("MemTotal"))?;
    m.free = free.ok_or(ParseError::Missing("MemFree"))?;
    match available {
        Some(a) => m.available = a,
        None => {
            m.available = estimate_available(&m);
            m.available_estimated = true;
        }
    }
    Ok(m)
}

/// The pre-3.14 estimate documented at the top of this module.
fn estimate_available(m: &MemInfo) -> Bytes {
    let pagecache = match (m.active_file, m.inactive_file) {
        (Some(a), Some(i)) => a + i,
        _ => (m.buffers + m.cached).saturating_sub(m.shmem.unwrap_or(Bytes::ZERO)),
    };
    let reclaimable = pagecache + m.sreclaimable.unwrap_or(Bytes::ZERO);
    let estimate = m.free + Bytes(reclaimable.get() / 2);
    estimate.min(m.total)
}

/// Reads and parses `/proc/meminfo` under `root`, into a caller-owned buffer (no allocation
/// once the buffer has grown).
pub fn read_meminfo(root: &Root, buf: &mut String) -> Result<MemInfo, SourceError> {
    read_meminfo_at(root, Path::new(MEMINFO_PATH), buf)
}

pub(crate) fn read_meminfo_at(
    root: &Root,
    rel: &Path,
    buf: &mut String,
) -> Result<MemInfo, SourceError> {
    root.read_into(rel, buf)?;
    parse_meminfo(buf).map_err(|e| SourceError::parse(root.path(rel), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An AGX Orin 32 GB on L4T R35.4 (JetPack 5.1.2), idle after boot.
    const ORIN: &str = "\
MemTotal:       30536708 kB
MemFree:        25902060 kB
MemAvailable:   28100176 kB
Buffers:           35244 kB
Cached:          2437736 kB
SwapCached:            0 kB
Active(file):     813596 kB
Inactive(file):  1476596 kB
SwapTotal:      15268336 kB
SwapFree:       15268336 kB
Shmem:            146608 kB
SReclaimable:     101652 kB
SUnreclaim:        94464 kB
NvMapMemFree:      45888 kB
NvMapMemUsed:     716676 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
CmaTotal:         524288 kB
CmaFree:          524288 kB
";

    /// A Jetson TX1 on L4T R24.2 (kernel 3.10): no MemAvailable, no CMA lines.
    const TX1_R24: &str = "\
MemTotal:        4078456 kB
MemFree:         2516700 kB
Buffers:           92924 kB
Cached:           861852 kB
SwapCached:            0 kB
Active(file):     425060 kB
Inactive(file):   478856 kB
SwapTotal:             0 kB
SwapFree:              0 kB
Shmem:             49300 kB
SReclaimable:      39400 kB
NvMapMemFree:          0 kB
NvMapMemUsed:      83924 kB
";

    #[test]
    fn parses_an_orin_meminfo_with_nvmap_and_cma() {
        let m = parse_meminfo(ORIN).unwrap();
        assert_eq!(m.total, Bytes::from_kib(30536708));
        assert_eq!(m.available, Bytes::from_kib(28100176));
        assert!(!m.available_estimated);
        assert_eq!(m.nvmap_used, Some(Bytes::from_kib(716676)));
        assert_eq!(m.cma_total, Some(Bytes::from_kib(524288)));
        assert_eq!(m.cma_free, Some(Bytes::from_kib(524288)));
        assert_eq!(m.sreclaimable, Some(Bytes::from_kib(101652)));
        assert_eq!(m.shmem, Some(Bytes::from_kib(146608)));
        assert_eq!(m.swap_used(), Bytes::ZERO);
        assert_eq!(m.buffers, Bytes::from_kib(35244));
    }

    #[test]
    fn parses_a_real_orin_nano_r36_meminfo_without_nvmap_lines() {
        let text = crate::sources::captures::capture("meminfo_orin_nano_8gb_r36.txt");
        assert!(!text.contains("NvMap"), "R36 prints no NvMap line");
        let m = parse_meminfo(&text).unwrap();
        assert_eq!(m.total, Bytes::from_kib(7802736));
        assert_eq!(m.available, Bytes::from_kib(6245596));
        assert!(!m.available_estimated);
        assert_eq!(m.nvmap_used, None);
        assert_eq!(m.cma_total, Some(Bytes::from_kib(262144)));
        assert_eq!(m.cma_free, Some(Bytes::ZERO));
        assert_eq!(m.swap_used(), Bytes::from_kib(3901344 - 3608100));
    }

    #[test]
    fn parses_the_cma_lines_of_a_real_r36_5_capture() {
        let before = "orin_nano_super_r36.5.0_before.txt";
        let text = crate::sources::captures::capture(&format!("meminfo_{before}"));
        let m = parse_meminfo(&text).unwrap();
        assert_eq!(m.available, Bytes::from_kib(6228472));
        assert_eq!(m.cma_total, Some(Bytes::from_kib(524288)));
        assert_eq!(m.cma_free, Some(Bytes::from_kib(472596)));
        assert_eq!(m.nvmap_used, None);
    }

    #[test]
    fn estimates_mem_available_on_a_pre_3_14_kernel_and_flags_it() {
        let m = parse_meminfo(TX1_R24).unwrap();
        assert!(m.available_estimated);
        // MemFree + (Active(file) + Inactive(file) + SReclaimable) / 2
        let expected = 2516700 + (425060 + 478856 + 39400) / 2;
        assert_eq!(m.available, Bytes::from_kib(expected));
        assert!(m.available >= m.free && m.available <= m.total);
        assert_eq!(m.cma_total, None);
    }

    #[test]
    fn the_estimate_falls_back_to_buffers_and_cached_without_file_lru_lines() {
        let text =
            "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\nShmem: 100 kB\n";
        let m = parse_meminfo(text).unwrap();
        assert_eq!(m.available, Bytes::from_kib(100 + (50 + 250 - 100) / 2));
    }

    #[test]
    fn a_host_without_nvmap_reports_none_for_it() {
        let m = parse_meminfo("MemTotal: 8 kB\nMemFree: 4 kB\nMemAvailable: 6 kB\n").unwrap();
        assert_eq!(m.nvmap_used, None);
        assert_eq!(m.available, Bytes::from_kib(6));
    }

    #[test]
    fn a_missing_mem_total_or_a_garbled_value_is_an_error_naming_the_field() {
        assert_eq!(
            parse_meminfo("MemFree: 4 kB\n"),
            Err(ParseError::Missing("MemTotal"))
        );
        let err = parse_meminfo("MemTotal: lots kB\nMemFree: 1 kB\n").unwrap_err();
        assert!(err.to_string().contains("MemTotal"), "{err}");
    }

    #[test]
    fn reads_this_machines_meminfo() {
        let mut buf = String::new();
        let m = read_meminfo(&Root::host(), &mut buf).unwrap();
        assert!(m.total > Bytes::ZERO);
        assert!(m.available <= m.total);
        assert!(m.free <= m.total);
    }

    #[test]
    fn a_fixture_root_without_meminfo_is_unsupported_and_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_meminfo(&Root::new(dir.path()), &mut String::new()).unwrap_err();
        assert!(err.is_unsupported());
        assert!(err.to_string().contains("proc/meminfo"), "{err}");
    }

    #[test]
    fn a_parse_failure_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::fs::write(dir.path().join("proc/meminfo"), "MemTotal: x kB\n").unwrap();
        let err = read_meminfo(&Root::new(dir.path()), &mut String::new()).unwrap_err();
        assert!(!err.is_unsupported());
        assert!(err.to_string().contains("proc/meminfo"), "{err}");
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(s in "(?s).{0,400}") {
            let _ = parse_meminfo(&s);
        }

        #[test]
        fn parsing_arbitrary_meminfo_shaped_lines_never_panics(
            lines in proptest::collection::vec(("[A-Za-z()_]{1,14}", "[0-9 ]{0,22}", "( kB)?"), 0..30)
        ) {
            let text: String = lines.iter().map(|(k, v, u)| format!("{k}:{v}{u}\n")).collect();
            let _ = parse_meminfo(&text);
        }
    }
}
