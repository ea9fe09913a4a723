//! Board profiles: what jetgate knows about each Jetson module, from `board/*.toml`.
//!
//! Owns the profile schema ([`Profile`]) and the list of profiles embedded in the binary at
//! compile time ([`EMBEDDED`]), so a flashed device needs no extra files. Memory figures are
//! [`Bytes`] (written `"8GiB"` in the files); paths are absolute device paths that readers
//! resolve under their [`crate::sources::Root`].
//!
//! ```toml
//! id = "orin-nano-8gb"                 # stable, used in configs and JSON
//! name = "Jetson Orin Nano 8GB"
//! soc = "t234"                         # t210 | t186 | t194 | t234 | t264
//! cpu_cores = 6
//! memory_nominal = "8GiB"
//! default_reserve = "1GiB"
//! l4t_releases = ["R35", "R36"]
//!
//! [match]
//! compatible = ["nvidia,p3767-0003"]   # /proc/device-tree/compatible entries
//! model = ["Orin Nano"]                # /proc/device-tree/model substrings
//! mem_total_min = "5GiB"               # optional MemTotal range
//! mem_total_max = "10GiB"
//!
//! [power]
//! rails = ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"]   # as tegrastats prints them, in order
//! input_rail = "VDD_IN"                # absent: the board has no single input total
//!
//! [gpu]
//! load_paths = ["/sys/devices/platform/bus@0/17000000.gpu/load"]
//! nvmap = true                         # nvmap's per-process clients file is meaningful
//! nvml_memory = false                  # NVML reports memory figures
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::units::Bytes;

/// The Tegra SoC generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Soc {
    /// Tegra X1: Nano, TX1.
    T210,
    /// Parker: TX2 family.
    T186,
    /// Xavier: AGX Xavier, Xavier NX.
    T194,
    /// Orin: AGX Orin, Orin NX, Orin Nano.
    T234,
    /// Thor: AGX Thor.
    T264,
}

impl Soc {
    pub const ALL: [Soc; 5] = [Soc::T210, Soc::T186, Soc::T194, Soc::T234, Soc::T264];

    /// `t234`.
    pub fn as_str(self) -> &'static str {
        match self {
            Soc::T210 => "t210",
            Soc::T186 => "t186",
            Soc::T194 => "t194",
            Soc::T234 => "t234",
            Soc::T264 => "t264",
        }
    }

    /// The device-tree compatible entry naming this SoC: `nvidia,tegra234`.
    pub fn compatible(self) -> &'static str {
        match self {
            Soc::T210 => "nvidia,tegra210",
            Soc::T186 => "nvidia,tegra186",
            Soc::T194 => "nvidia,tegra194",
            Soc::T234 => "nvidia,tegra234",
            Soc::T264 => "nvidia,tegra264",
        }
    }

    /// The SoC a compatible entry names, if it names one.
    pub fn from_compatible(entry: &str) -> Option<Soc> {
        Soc::ALL.into_iter().find(|soc| soc.compatible() == entry)
    }
}

impl fmt::Display for Soc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One Jetson module as jetgate knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Stable identifier: `orin-nano-8gb`.
    pub id: String,
    /// Display name: `Jetson Orin Nano 8GB`.
    pub name: String,
    pub soc: Soc,
    /// Nominal CPU core count of the module.
    pub cpu_cores: u32,
    /// Nameplate memory; Linux sees less (read MemTotal, never trust this for arithmetic).
    pub memory_nominal: Bytes,
    /// Memory kept free for the system when the configuration names no reserve.
    pub default_reserve: Bytes,
    /// Major L4T releases this module typically runs: `["R35", "R36"]`.
    pub l4t_releases: Vec<String>,
    #[serde(rename = "match")]
    pub rules: MatchRules,
    pub power: Power,
    pub gpu: Gpu,
}

/// How a profile is recognised. See `docs/boards.md` for the scoring.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRules {
    /// Exact `/proc/device-tree/compatible` entries (`nvidia,p3767-0005`).
    #[serde(default)]
    pub compatible: Vec<String>,
    /// Case-insensitive substrings of `/proc/device-tree/model`.
    #[serde(default)]
    pub model: Vec<String>,
    /// Lowest MemTotal this module reports (inclusive).
    #[serde(default)]
    pub mem_total_min: Option<Bytes>,
    /// Highest MemTotal this module reports (inclusive).
    #[serde(default)]
    pub mem_total_max: Option<Bytes>,
}

impl MatchRules {
    /// True when the profile carries a MemTotal range.
    pub fn has_memory_range(&self) -> bool {
        self.mem_total_min.is_some() || self.mem_total_max.is_some()
    }

    /// Whether `total` lies in the range (an absent bound is open).
    pub fn memory_in_range(&self, total: Bytes) -> bool {
        self.mem_total_min.is_none_or(|min| total >= min)
            && self.mem_total_max.is_none_or(|max| total <= max)
    }
}

/// Power rails as tegrastats prints them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Power {
    /// Rail names in tegrastats order; a list, not a set (AGX Orin prints `NC` twice).
    pub rails: Vec<String>,
    /// The rail that measures the whole board's input, where there is one.
    #[serde(default)]
    pub input_rail: Option<String>,
}

/// Where GPU figures come from on this module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gpu {
    /// devfreq `load` files (tenths of a percent), first existing one wins; newest release first.
    pub load_paths: Vec<String>,
    /// `/sys/kernel/debug/nvmap/iovmm/clients` carries real per-process figures. Says nothing
    /// about `NvMapMemUsed` in `/proc/meminfo`: that line depends on the release (R32 and R35
    /// kernels print it, R36 kernels do not), and is read wherever it is printed.
    pub nvmap: bool,
    /// NVML reports GPU memory figures (Thor yes, Orin no).
    pub nvml_memory: bool,
}

/// Why a profile file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("board profile {file}: {source}")]
    Parse {
        file: String,
        source: Box<toml::de::Error>,
    },
    #[error("board profile {file}: {problem}")]
    Invalid { file: String, problem: String },
    #[error("board profiles {first} and {second} both use id {id:?}")]
    DuplicateId {
        id: String,
        first: String,
        second: String,
    },
}

/// Every profile file in `board/`, compiled in. Adding a file without listing it here fails the
/// `every_profile_file_is_embedded` test.
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "orin-nano-4gb.toml",
        include_str!("../../board/orin-nano-4gb.toml"),
    ),
    (
        "orin-nano-8gb.toml",
        include_str!("../../board/orin-nano-8gb.toml"),
    ),
    (
        "orin-nx-8gb.toml",
        include_str!("../../board/orin-nx-8gb.toml"),
    ),
    (
        "orin-nx-16gb.toml",
        include_str!("../../board/orin-nx-16gb.toml"),
    ),
    (
        "agx-orin-32gb.toml",
        include_str!("../../board/agx-orin-32gb.toml"),
    ),
    (
        "agx-orin-64gb.toml",
        include_str!("../../board/agx-orin-64gb.toml"),
    ),
    ("xavier-nx.toml", include_str!("../../board/xavier-nx.toml")),
    (
        "agx-xavier.toml",
        include_str!("../../board/agx-xavier.toml"),
    ),
    ("nano.toml", include_str!("../../board/nano.toml")),
    ("tx2.toml", include_str!("../../board/tx2.toml")),
    ("agx-thor.toml", include_str!("../../board/agx-thor.toml")),
];

impl Profile {
    /// Parses and checks one profile file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Profile, ProfileError> {
        let profile: Profile = toml::from_str(text).map_err(|e| ProfileError::Parse {
            file: file.to_string(),
            source: Box::new(e),
        })?;
        profile
            .validate()
            .map_err(|problem| ProfileError::Invalid {
                file: file.to_string(),
                problem,
            })?;
        Ok(profile)
    }

    fn validate(&self) -> Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            return Err(format!(
                "id {:?} must be lower-case letters, digits and '-'",
                self.id
            ));
        }
        if self.id == super::GENERIC_ID {
            return Err("id \"generic\" is reserved for unknown boards".into());
        }
        if self.rules.compatible.is_empty() && self.rules.model.is_empty() {
            return Err("[match] needs at least one compatible entry or model substring".into());
        }
        if let (Some(min), Some(max)) = (self.rules.mem_total_min, self.rules.mem_total_max) {
            if min > max {
                return Err(format!("mem_total_min {min} is above mem_total_max {max}"));
            }
        }
        if let Some(input) = &self.power.input_rail {
            if !self.power.rails.contains(input) {
                return Err(format!("input_rail {input:?} is not one of the rails"));
            }
        }
        if self.default_reserve >= self.memory_nominal {
            return Err("default_reserve must be below memory_nominal".into());
        }
        Ok(())
    }
}

/// Parses every embedded profile, in [`EMBEDDED`] order (which breaks ties in detection).
pub fn embedded() -> Result<Vec<Profile>, ProfileError> {
    let mut profiles: Vec<(&str, Profile)> = Vec::with_capacity(EMBEDDED.len());
    for (file, text) in EMBEDDED {
        let profile = Profile::parse(file, text)?;
        if let Some((first, _)) = profiles.iter().find(|(_, p)| p.id == profile.id) {
            return Err(ProfileError::DuplicateId {
                id: profile.id,
                first: first.to_string(),
                second: file.to_string(),
            });
        }
        profiles.push((file, profile));
    }
    Ok(profiles.into_iter().map(|(_, p)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn board_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("board")
    }

    #[test]
    fn every_profile_file_parses_and_is_embedded() {
        let mut seen = 0;
        for entry in std::fs::read_dir(board_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let profile = Profile::parse(&name, &text).unwrap();
            let embedded = EMBEDDED.iter().find(|(file, _)| *file == name);
            let (_, embedded_text) =
                embedded.unwrap_or_else(|| panic!("board/{name} is not listed in EMBEDDED"));
            assert_eq!(
                *embedded_text, text,
                "EMBEDDED entry for {name} is another file"
            );
            assert_eq!(
                format!("{}.toml", profile.id),
                name,
                "file name must be the id"
            );
            seen += 1;
        }
        assert_eq!(
            seen,
            EMBEDDED.len(),
            "EMBEDDED lists a file that is not in board/"
        );
    }

    #[test]
    fn the_embedded_profiles_cover_the_eleven_modules_with_unique_ids() {
        let profiles = embedded().unwrap();
        let ids: Vec<&str> = profiles.iter().map(|p| p.id.as_str()).collect();
        for id in [
            "orin-nano-4gb",
            "orin-nano-8gb",
            "orin-nx-8gb",
            "orin-nx-16gb",
            "agx-orin-32gb",
            "agx-orin-64gb",
            "xavier-nx",
            "agx-xavier",
            "nano",
            "tx2",
            "agx-thor",
        ] {
            assert!(ids.contains(&id), "missing profile {id}");
        }
    }

    #[test]
    fn boards_without_a_single_input_rail_say_so() {
        let profiles = embedded().unwrap();
        let input = |id: &str| {
            let p = profiles.iter().find(|p| p.id == id).unwrap();
            p.power.input_rail.clone()
        };
        assert_eq!(input("agx-orin-32gb"), None);
        assert_eq!(input("agx-xavier"), None);
        assert_eq!(input("orin-nano-8gb").as_deref(), Some("VDD_IN"));
        assert_eq!(input("nano").as_deref(), Some("POM_5V_IN"));
        assert_eq!(input("agx-thor").as_deref(), Some("VIN"));
    }

    #[test]
    fn reserves_are_at_least_512mib_and_a_tenth_of_nominal_memory_on_big_boards() {
        for p in embedded().unwrap() {
            assert!(p.default_reserve >= Bytes::from_mib(512), "{}", p.id);
            if p.memory_nominal >= Bytes::from_gib(16) {
                // Visible memory is ~95 % of nominal; 9 % of nominal is 10 % of visible.
                let tenth = Bytes(p.memory_nominal.get() / 100 * 9);
                assert!(
                    p.default_reserve >= tenth,
                    "{}: {}",
                    p.id,
                    p.default_reserve
                );
            }
        }
    }

    #[test]
    fn thor_uses_nvml_and_not_nvmap_while_orin_is_the_reverse() {
        let profiles = embedded().unwrap();
        let thor = profiles.iter().find(|p| p.id == "agx-thor").unwrap();
        let orin = profiles.iter().find(|p| p.id == "agx-orin-64gb").unwrap();
        assert!(thor.gpu.nvml_memory && !thor.gpu.nvmap);
        assert!(!orin.gpu.nvml_memory && orin.gpu.nvmap);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_the_file_name() {
        let good = EMBEDDED[0].1;
        let extra = format!("{good}\nflux_capacitor = true\n");
        let err = Profile::parse("x.toml", &extra).unwrap_err();
        assert!(err.to_string().contains("x.toml"), "{err}");
        assert!(err.to_string().contains("flux_capacitor"), "{err}");

        let bad_rail = good.replace("input_rail = \"VDD_IN\"", "input_rail = \"VDD_OUT\"");
        let err = Profile::parse("y.toml", &bad_rail).unwrap_err();
        assert!(err.to_string().contains("VDD_OUT"), "{err}");

        let bad_soc = good.replace("soc = \"t234\"", "soc = \"t999\"");
        assert!(Profile::parse("z.toml", &bad_soc).is_err());
    }
}
