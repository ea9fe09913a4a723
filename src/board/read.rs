//! Reads the facts detection needs from a device (or a fixture tree) under a [`Root`].
//!
//! Owns the small pure parsers for the files it reads and [`DetectError`]. A file that is not
//! there (an x86 dev machine has no device tree) is an absent fact, not an error; a file that
//! is there but unreadable or garbled is an error naming its path.
//!
//! ```text
//! /proc/device-tree/model              "NVIDIA Jetson Orin Nano Developer Kit\0"
//! /proc/device-tree/compatible         "nvidia,p3768-0000+p3767-0005\0nvidia,p3767-0005\0nvidia,tegra234\0"
//! /etc/nv_tegra_release                "# R36 (release), REVISION: 4.4, GCID: ..."
//! /proc/meminfo                        "MemTotal:        7802892 kB"   (kB = 1024 bytes)
//! /sys/devices/system/cpu/present      "0-5"
//! ```
//!
//! The full meminfo reader lives in `sources`; this needs only MemTotal.

use std::path::PathBuf;

use super::detect::{match_profiles, Detected, Facts};
use super::profile::{self, ProfileError};
use super::release::{parse_nv_tegra_release, ReleaseError};
use crate::sources::{ReadError, Root};
use crate::units::Bytes;

pub const MODEL_PATH: &str = "/proc/device-tree/model";
pub const COMPATIBLE_PATH: &str = "/proc/device-tree/compatible";
pub const RELEASE_PATH: &str = "/etc/nv_tegra_release";
pub const MEMINFO_PATH: &str = "/proc/meminfo";
pub const CPU_PRESENT_PATH: &str = "/sys/devices/system/cpu/present";

/// Board detection failed: a file could not be read or parsed, or a profile is broken.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{path}: {source}")]
    Release { path: PathBuf, source: ReleaseError },
    #[error("{path}: {problem}")]
    Parse { path: PathBuf, problem: String },
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("device.board {id:?} names no board profile; the profiles are: {known}")]
    UnknownBoard { id: String, known: String },
}

/// Splits a NUL-separated device-tree string list; empty entries are dropped.
pub fn parse_string_list(raw: &str) -> Vec<String> {
    raw.split('\0')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A device-tree string property: the text up to its NUL terminator.
pub fn parse_dt_string(raw: &str) -> Option<String> {
    let s = raw.split('\0').next().unwrap_or_default().trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// `MemTotal` from `/proc/meminfo` text; `None` when the line is absent.
pub fn parse_mem_total(meminfo: &str) -> Result<Option<Bytes>, String> {
    let Some(line) = meminfo.lines().find(|l| l.starts_with("MemTotal:")) else {
        return Ok(None);
    };
    let mut fields = line["MemTotal:".len()..].split_whitespace();
    let value = fields.next().and_then(|v| v.parse::<u64>().ok());
    match (value, fields.next()) {
        (Some(kib), Some("kB")) => Ok(Some(Bytes::from_kib(kib))),
        _ => Err(format!("unexpected MemTotal line {line:?}")),
    }
}

/// Counts the CPUs in a kernel CPU list such as `0-5` or `0-3,6,8-11`.
pub fn parse_cpu_list(list: &str) -> Result<u32, String> {
    let mut count = 0u32;
    for range in list.trim().split(',').filter(|r| !r.is_empty()) {
        let bad = || format!("unexpected CPU list {list:?}");
        let (lo, hi) = match range.split_once('-') {
            Some((lo, hi)) => (lo, hi),
            None => (range, range),
        };
        let lo: u32 = lo.parse().map_err(|_| bad())?;
        let hi: u32 = hi.parse().map_err(|_| bad())?;
        if hi < lo {
            return Err(bad());
        }
        count = count.saturating_add(hi - lo + 1);
    }
    if count == 0 {
        return Err(format!("empty CPU list {list:?}"));
    }
    Ok(count)
}

/// The file's text, or `None` when this system does not have it.
fn read_optional(root: &Root, path: &str) -> Result<Option<String>, ReadError> {
    match root.read(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.is_unsupported() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Gathers the facts under `root`.
pub fn read_facts(root: &Root) -> Result<Facts, DetectError> {
    let model = read_optional(root, MODEL_PATH)?.and_then(|t| parse_dt_string(&t));
    let compatible = read_optional(root, COMPATIBLE_PATH)?
        .map(|t| parse_string_list(&t))
        .unwrap_or_default();
    let l4t = match read_optional(root, RELEASE_PATH)? {
        Some(text) => {
            Some(
                parse_nv_tegra_release(&text).map_err(|source| DetectError::Release {
                    path: root.path(RELEASE_PATH),
                    source,
                })?,
            )
        }
        None => None,
    };
    let parse_error = |path: &str, problem: String| DetectError::Parse {
        path: root.path(path),
        problem,
    };
    let mem_total = match read_optional(root, MEMINFO_PATH)? {
        Some(text) => parse_mem_total(&text).map_err(|p| parse_error(MEMINFO_PATH, p))?,
        None => None,
    };
    let cpus_present = match read_optional(root, CPU_PRESENT_PATH)? {
        Some(text) => Some(parse_cpu_list(&text).map_err(|p| parse_error(CPU_PRESENT_PATH, p))?),
        None => None,
    };
    Ok(Facts {
        model,
        compatible,
        l4t,
        mem_total,
        cpus_present,
    })
}

/// Reads the facts under `root` and matches them against the embedded profiles.
pub fn detect(root: &Root) -> Result<Detected, DetectError> {
    let profiles = profile::embedded()?;
    let facts = read_facts(root)?;
    Ok(match_profiles(&facts, &profiles))
}

/// [`detect`], unless `configured` (`device.board`) names a profile (or `generic`): then that
/// one, whatever the facts say (the facts are still read and shown). An id that names no
/// profile is an error listing the known ones.
pub fn detect_or_configured(
    root: &Root,
    configured: Option<&str>,
) -> Result<Detected, DetectError> {
    let Some(id) = configured else {
        return detect(root);
    };
    let profiles = profile::embedded()?;
    let facts = read_facts(root)?;
    let mut detected = match_profiles(&facts, &profiles);
    detected.how = vec![super::detect::Rule::Configured];
    detected.tied_with.clear();
    if id == super::GENERIC_ID {
        detected.profile = None;
        return Ok(detected);
    }
    let known: Vec<String> = profiles.iter().map(|p| p.id.clone()).collect();
    let chosen =
        profiles
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| DetectError::UnknownBoard {
                id: id.to_string(),
                known: known.join(", "),
            })?;
    detected.profile = Some(chosen);
    Ok(detected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixture(name: &str) -> Root {
        Root::new(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(name),
        )
    }

    #[test]
    fn splits_nul_separated_lists_as_the_kernel_writes_them() {
        let raw = "nvidia,p3768-0000+p3767-0005\0nvidia,p3767-0005\0nvidia,tegra234\0";
        assert_eq!(
            parse_string_list(raw),
            [
                "nvidia,p3768-0000+p3767-0005",
                "nvidia,p3767-0005",
                "nvidia,tegra234"
            ]
        );
        assert_eq!(
            parse_dt_string("NVIDIA Jetson AGX Orin Developer Kit\0").as_deref(),
            Some("NVIDIA Jetson AGX Orin Developer Kit")
        );
        assert_eq!(parse_dt_string("\0"), None);
    }

    #[test]
    fn reads_memtotal_in_kib_and_refuses_a_garbled_line() {
        let text = "MemTotal:        7802892 kB\nMemFree:          123 kB\n";
        assert_eq!(parse_mem_total(text), Ok(Some(Bytes::from_kib(7802892))));
        assert_eq!(parse_mem_total("MemFree: 1 kB\n"), Ok(None));
        assert!(parse_mem_total("MemTotal: lots\n").is_err());
        assert!(parse_mem_total("MemTotal: 12 MB\n").is_err());
    }

    #[test]
    fn counts_cpus_in_kernel_cpu_lists() {
        assert_eq!(parse_cpu_list("0-5\n"), Ok(6));
        assert_eq!(parse_cpu_list("0-3,6,8-11"), Ok(9));
        assert_eq!(parse_cpu_list("0"), Ok(1));
        assert!(parse_cpu_list("").is_err());
        assert!(parse_cpu_list("5-3").is_err());
        assert!(parse_cpu_list("a-b").is_err());
    }

    #[test]
    fn a_configured_board_wins_over_detection_and_an_unknown_one_is_refused() {
        let root = fixture("orin-nano-8gb-jp6");
        let detected = detect(&root).unwrap();
        let other = crate::board::profile::embedded()
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .find(|id| id != detected.id())
            .expect("more than one profile");
        let chosen = detect_or_configured(&root, Some(&other)).unwrap();
        assert_eq!(chosen.id(), other);
        assert_eq!(chosen.how, vec![crate::board::detect::Rule::Configured]);
        assert_eq!(
            chosen.mem_total, detected.mem_total,
            "the facts are still read"
        );
        let e = detect_or_configured(&root, Some("orin-nano-9gb")).unwrap_err();
        assert!(e.to_string().contains(&other), "{e}");
        assert_eq!(
            detect_or_configured(&root, None).unwrap().id(),
            detected.id()
        );
        let generic = detect_or_configured(&root, Some(crate::board::GENERIC_ID)).unwrap();
        assert!(!generic.is_known());
    }

    #[test]
    fn detects_the_orin_nano_8gb_on_jetpack_6_from_its_fixture_tree() {
        let d = detect(&fixture("orin-nano-8gb-jp6")).unwrap();
        assert_eq!(d.id(), "orin-nano-8gb");
        let l4t = d.l4t.unwrap();
        assert_eq!((l4t.major, l4t.minor), (36, 4));
        assert_eq!(d.jetpack.as_deref(), Some("6.x"));
        assert_eq!(d.mem_total, Some(Bytes::from_kib(7802892)));
        assert_eq!(d.cores(), Some(6));
        assert!(d.tied_with.is_empty(), "{:?}", d.tied_with);
    }

    #[test]
    fn detects_the_agx_orin_32gb_on_jetpack_5_from_its_fixture_tree() {
        let d = detect(&fixture("agx-orin-32gb-jp5")).unwrap();
        assert_eq!(d.id(), "agx-orin-32gb");
        assert_eq!(d.l4t.map(|r| r.major), Some(35));
        assert_eq!(d.jetpack.as_deref(), Some("5.x"));
        // The developer kit's P3701-0000 module has 12 cores; the production module 8.
        assert_eq!(d.cores(), Some(12));
        assert_eq!(d.profile.as_ref().unwrap().power.input_rail, None);
    }

    #[test]
    fn detects_the_agx_thor_on_jetpack_7_from_its_fixture_tree() {
        let d = detect(&fixture("thor-jp7")).unwrap();
        assert_eq!(d.id(), "agx-thor");
        assert_eq!(d.l4t.map(|r| r.major), Some(38));
        assert_eq!(d.jetpack.as_deref(), Some("7.x"));
        assert_eq!(d.cores(), Some(14));
        let p = d.profile.unwrap();
        assert!(p.gpu.nvml_memory && !p.gpu.nvmap);
    }

    #[test]
    fn every_fixture_tree_has_its_gpu_load_file_where_the_profile_looks() {
        for name in ["orin-nano-8gb-jp6", "agx-orin-32gb-jp5"] {
            let root = fixture(name);
            let d = detect(&root).unwrap();
            let paths = &d.profile.as_ref().unwrap().gpu.load_paths;
            assert!(
                paths.iter().any(|p| root.exists(p)),
                "{name}: none of {paths:?}"
            );
        }
    }

    #[test]
    fn fixture_trees_carry_nvmap_figures_where_the_board_and_the_release_print_them() {
        for name in ["orin-nano-8gb-jp6", "agx-orin-32gb-jp5", "thor-jp7"] {
            let root = fixture(name);
            let d = detect(&root).unwrap();
            let nvmap = d.profile.as_ref().unwrap().gpu.nvmap;
            let major = d.l4t.unwrap().major;
            assert_eq!(
                root.exists("/sys/kernel/debug/nvmap/iovmm/clients"),
                nvmap,
                "{name}"
            );
            // The meminfo lines are the release's: R32 and R35 kernels print them, R36 (a real
            // Orin Nano R36.4 meminfo has none) and later do not, whatever the board.
            let meminfo = root.read(MEMINFO_PATH).unwrap();
            assert_eq!(
                meminfo.contains("NvMapMemUsed:"),
                nvmap && major < 36,
                "{name}: L4T R{major}"
            );
            assert_eq!(meminfo.contains("NvMapMemFree:"), nvmap && major < 36);
        }
    }

    #[test]
    fn the_dev_machine_without_a_device_tree_is_generic() {
        let d = detect(&Root::host()).unwrap();
        if Root::host().exists(COMPATIBLE_PATH) {
            return; // running on a real Jetson: nothing to assert about "generic" here
        }
        assert!(!d.is_known());
        assert_eq!(d.id(), "generic");
        assert!(d.mem_total.is_some(), "a Linux host has /proc/meminfo");
        assert!(d.default_reserve() >= Bytes::from_mib(512));
    }

    #[test]
    fn a_garbled_release_file_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/nv_tegra_release"), "hello\n").unwrap();
        let err = detect(&Root::new(dir.path())).unwrap_err();
        assert!(err.to_string().contains("nv_tegra_release"), "{err}");
    }
}
