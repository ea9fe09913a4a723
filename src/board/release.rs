//! The L4T (Jetson Linux) release from `/etc/nv_tegra_release`, and the JetPack family it
//! belongs to. Pure parsers of text; the reader lives in `detect`.
//!
//! The file's first line, as every release from R28 to R39 writes it:
//!
//! ```text
//! # R36 (release), REVISION: 4.4, GCID: 41062509, BOARD: generic, EABI: aarch64, DATE: Mon Jun 16 16:07:13 UTC 2025
//! # R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, DATE: Sat Feb 19 17:05:08 UTC 2022
//! ```
//!
//! `R36` + `REVISION: 4.4` is release 36.4.4; `REVISION: 7.1` under R32 is 32.7.1 (the
//! revision carries minor and patch, never the major). Later lines (`# KERNEL_VARIANT: oot`,
//! checksums of libraries on R32) are ignored.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An L4T release: `36.4.4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct L4tRelease {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl fmt::Display for L4tRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Serialised as the string `"36.4.4"`.
impl Serialize for L4tRelease {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Read back from the string `"36.4.4"`.
impl<'de> Deserialize<'de> for L4tRelease {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<L4tRelease, D::Error> {
        let text = String::deserialize(d)?;
        let mut parts = text.split('.').map(str::parse::<u32>);
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(Ok(major)), Some(Ok(minor)), Some(Ok(patch)), None) => Ok(L4tRelease {
                major,
                minor,
                patch,
            }),
            _ => Err(serde::de::Error::custom(format!(
                "{text:?} is not an L4T release (major.minor.patch)"
            ))),
        }
    }
}

/// Why `/etc/nv_tegra_release` did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    #[error("nv_tegra_release is empty")]
    Empty,
    #[error("nv_tegra_release: no \"# R<major> (release)\" at the start of {0:?}")]
    NoMajor(String),
    #[error("nv_tegra_release: no \"REVISION: <minor>.<patch>\" in {0:?}")]
    NoRevision(String),
}

/// Parses the contents of `/etc/nv_tegra_release`.
pub fn parse_nv_tegra_release(text: &str) -> Result<L4tRelease, ReleaseError> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .ok_or(ReleaseError::Empty)?;
    let major = line
        .strip_prefix('#')
        .map(str::trim_start)
        .and_then(|rest| rest.strip_prefix('R'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|digits| digits.parse::<u32>().ok())
        .ok_or_else(|| ReleaseError::NoMajor(line.to_string()))?;
    let revision = line
        .split(',')
        .filter_map(|field| field.trim().strip_prefix("REVISION:"))
        .map(str::trim)
        .next()
        .ok_or_else(|| ReleaseError::NoRevision(line.to_string()))?;
    let mut parts = revision.split('.').map(|p| p.parse::<u32>());
    let minor = match parts.next() {
        Some(Ok(n)) => n,
        _ => return Err(ReleaseError::NoRevision(line.to_string())),
    };
    let patch = match parts.next() {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Err(ReleaseError::NoRevision(line.to_string())),
    };
    if parts.next().is_some() {
        return Err(ReleaseError::NoRevision(line.to_string()));
    }
    Ok(L4tRelease {
        major,
        minor,
        patch,
    })
}

/// The JetPack family an L4T major release ships in: `R36` → `"6.x"`. The exact JetPack
/// version is a package (`nvidia-jetpack`), not something the kernel tree says; the family is
/// what decides which sources work (nvmap up to R36, NVML memory from R38 on Thor).
pub fn jetpack_family(release: &L4tRelease) -> Option<String> {
    let family = match release.major {
        28 => "3.x",
        31 | 32 => "4.x",
        34 | 35 => "5.x",
        36 => "6.x",
        38 | 39 => "7.x",
        _ => return None,
    };
    Some(family.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(major: u32, minor: u32, patch: u32) -> L4tRelease {
        L4tRelease {
            major,
            minor,
            patch,
        }
    }

    #[test]
    fn parses_the_r36_form_into_major_minor_patch() {
        let text = "# R36 (release), REVISION: 4.4, GCID: 41062509, BOARD: generic, EABI: aarch64, DATE: Mon Jun 16 16:07:13 UTC 2025\n# KERNEL_VARIANT: oot\nTARGET_USERSPACE_LIB_DIR=nvidia\n";
        assert_eq!(parse_nv_tegra_release(text), Ok(rel(36, 4, 4)));
        assert_eq!(rel(36, 4, 4).to_string(), "36.4.4");
    }

    /// Trap: on R32 the revision is "7.1" and the board a `t210ref` name; the revision must
    /// become minor.patch of R32 (32.7.1), not be read as 7.1 or pick digits out of BOARD.
    #[test]
    fn parses_the_r32_form_with_a_soc_board_name_as_32_7_1() {
        let text = "# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, DATE: Sat Feb 19 17:05:08 UTC 2022\n";
        assert_eq!(parse_nv_tegra_release(text), Ok(rel(32, 7, 1)));
        let r28 = "# R28 (release), REVISION: 2.1, GCID: 11272647, BOARD: t186ref, EABI: aarch64, DATE: Thu May 17 07:29:06 UTC 2018";
        assert_eq!(parse_nv_tegra_release(r28), Ok(rel(28, 2, 1)));
    }

    #[test]
    fn a_revision_without_a_patch_reads_as_patch_zero() {
        let text = "# R35 (release), REVISION: 4, GCID: 1, BOARD: t186ref, EABI: aarch64";
        assert_eq!(parse_nv_tegra_release(text), Ok(rel(35, 4, 0)));
    }

    #[test]
    fn refuses_text_that_is_not_a_release_line() {
        assert_eq!(parse_nv_tegra_release(""), Err(ReleaseError::Empty));
        assert!(matches!(
            parse_nv_tegra_release("Ubuntu 22.04.4 LTS"),
            Err(ReleaseError::NoMajor(_))
        ));
        assert!(matches!(
            parse_nv_tegra_release("# R36 (release), GCID: 1"),
            Err(ReleaseError::NoRevision(_))
        ));
        assert!(matches!(
            parse_nv_tegra_release("# R36 (release), REVISION: 4.x"),
            Err(ReleaseError::NoRevision(_))
        ));
    }

    #[test]
    fn maps_l4t_majors_to_jetpack_families() {
        assert_eq!(jetpack_family(&rel(32, 7, 1)).as_deref(), Some("4.x"));
        assert_eq!(jetpack_family(&rel(35, 4, 1)).as_deref(), Some("5.x"));
        assert_eq!(jetpack_family(&rel(36, 4, 4)).as_deref(), Some("6.x"));
        assert_eq!(jetpack_family(&rel(38, 2, 0)).as_deref(), Some("7.x"));
        assert_eq!(jetpack_family(&rel(39, 2, 1)).as_deref(), Some("7.x"));
        assert_eq!(jetpack_family(&rel(99, 0, 0)), None);
    }

    #[test]
    fn releases_serialise_as_dotted_strings() {
        assert_eq!(serde_json::to_string(&rel(36, 4, 4)).unwrap(), "\"36.4.4\"");
    }
}
