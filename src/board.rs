//! Jetson board profiles and their detection.
//!
//! Owns the profile schema and the profiles embedded from `board/*.toml` ([`profile`]), the
//! L4T release parser ([`release`]), the pure matcher ([`detect`]), the reader that gathers
//! the facts under a [`crate::sources::Root`] ([`read`]) and the `jetgate board` document
//! ([`report`]). Memory figures are [`crate::units::Bytes`].
//!
//! ```text
//! /proc/device-tree/model, compatible ─┐
//! /etc/nv_tegra_release               ─┼─ read::read_facts ─► Facts ─► detect::match_profiles ─► Detected
//! /proc/meminfo (MemTotal), cpu/present┘                      profile::embedded() ──┘
//! ```
//!
//! A device no profile fits gets the generic profile (`id = "generic"`, reserve a tenth of
//! MemTotal, at least 512 MiB) and is reported as not a known Jetson.

pub mod detect;
pub mod profile;
pub mod read;
pub mod release;
pub mod report;

pub use detect::{match_profiles, Detected, Facts, Rule};
pub use profile::{Profile, ProfileError, Soc};
pub use read::{detect, detect_or_configured, read_facts, DetectError};
pub use release::{jetpack_family, parse_nv_tegra_release, L4tRelease, ReleaseError};
pub use report::BoardReport;

/// The id of the profile used when no known profile matches.
pub const GENERIC_ID: &str = "generic";
