//! The `jetgate board` document: a stable JSON object and its human rendering.
//!
//! Owns [`BoardReport`], the contract scripts rely on (field names never change; new fields may
//! be added). Byte figures are plain integers of bytes.
//!
//! ```json
//! {"id": "orin-nano-8gb", "name": "Jetson Orin Nano 8GB", "known": true, "soc": "t234",
//!  "model": "NVIDIA Jetson Orin Nano Developer Kit",
//!  "compatible": ["nvidia,p3768-0000+p3767-0005", "nvidia,p3767-0005", "nvidia,tegra234"],
//!  "l4t": "36.4.4", "jetpack": "6.x",
//!  "matched_by": ["compatible nvidia,p3767-0005", "model contains \"Orin Nano\"", "soc t234",
//!                 "memory 7.4GiB in 5.0GiB..10.0GiB"],
//!  "cores": 6, "memory_total_bytes": 7990161408, "default_reserve_bytes": 1073741824,
//!  "rails": ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"], "input_rail": "VDD_IN",
//!  "gpu_load_paths": ["/sys/devices/platform/bus@0/17000000.gpu/load"],
//!  "nvmap": true, "nvml_memory": false}
//! ```

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::detect::{Detected, Rule};
use super::profile::Soc;
use super::release::L4tRelease;
use crate::units::Bytes;

/// What `jetgate board --json` prints.
///
/// Readers take what they find: a missing field reads as empty, `false` or `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BoardReport {
    pub id: String,
    pub name: String,
    /// False for the generic profile: not a known Jetson.
    pub known: bool,
    pub soc: Option<Soc>,
    pub model: Option<String>,
    pub compatible: Vec<String>,
    pub l4t: Option<L4tRelease>,
    pub jetpack: Option<String>,
    /// Each rule as its sentence (`compatible nvidia,p3767-0005`).
    pub matched_by: Vec<String>,
    /// Profiles that scored as high as the chosen one.
    pub tied_with: Vec<String>,
    pub cores: Option<u32>,
    pub memory_total_bytes: Option<u64>,
    pub default_reserve_bytes: u64,
    pub rails: Vec<String>,
    pub input_rail: Option<String>,
    pub gpu_load_paths: Vec<String>,
    pub nvmap: bool,
    pub nvml_memory: bool,
}

impl From<&Detected> for BoardReport {
    fn from(d: &Detected) -> BoardReport {
        let p = d.profile.as_ref();
        BoardReport {
            id: d.id().to_string(),
            name: d.name().to_string(),
            known: d.is_known(),
            soc: d.soc(),
            model: d.model.clone(),
            compatible: d.compatible.clone(),
            l4t: d.l4t,
            jetpack: d.jetpack.clone(),
            matched_by: d.how.iter().map(Rule::to_string).collect(),
            tied_with: d.tied_with.clone(),
            cores: d.cores(),
            memory_total_bytes: d.mem_total.map(Bytes::get),
            default_reserve_bytes: d.default_reserve().get(),
            rails: p.map(|p| p.power.rails.clone()).unwrap_or_default(),
            input_rail: p.and_then(|p| p.power.input_rail.clone()),
            gpu_load_paths: p.map(|p| p.gpu.load_paths.clone()).unwrap_or_default(),
            nvmap: p.is_some_and(|p| p.gpu.nvmap),
            nvml_memory: p.is_some_and(|p| p.gpu.nvml_memory),
        }
    }
}

fn or_none<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "none".to_string(), |v| v.to_string())
}

fn joined<T: ToString>(items: &[T], sep: &str) -> String {
    let parts: Vec<String> = items.iter().map(ToString::to_string).collect();
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(sep)
    }
}

impl BoardReport {
    /// The human form, one `label: value` line each.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let soc = self.soc.map(|s| format!(", SoC {s}")).unwrap_or_default();
        let _ = writeln!(out, "Board:        {} ({}){soc}", self.name, self.id);
        if !self.known {
            let _ = writeln!(
                out,
                "              not a known Jetson: no board profile matches this device, \
                 so generic defaults apply"
            );
        }
        let _ = writeln!(out, "Model:        {}", or_none(self.model.as_ref()));
        let _ = writeln!(out, "Compatible:   {}", joined(&self.compatible, ", "));
        let jetpack = self.jetpack.as_ref().map(|j| format!(" (JetPack {j})"));
        let l4t = self
            .l4t
            .map(|r| format!("R{r}{}", jetpack.unwrap_or_default()));
        let _ = writeln!(out, "L4T:          {}", or_none(l4t));
        let _ = writeln!(out, "Matched by:   {}", joined(&self.matched_by, "; "));
        if !self.tied_with.is_empty() {
            let _ = writeln!(
                out,
                "              tied with {} (first listed profile chosen)",
                self.tied_with.join(", ")
            );
        }
        let _ = writeln!(out, "CPU cores:    {}", or_none(self.cores));
        let total = self.memory_total_bytes.map(Bytes);
        let _ = writeln!(
            out,
            "Memory:       {} total, default reserve {}",
            or_none(total),
            Bytes(self.default_reserve_bytes)
        );
        let input = match &self.input_rail {
            Some(r) => format!("input total {r}"),
            None if self.known => "no single board-input rail".to_string(),
            None => "unknown".to_string(),
        };
        let _ = writeln!(out, "Power rails:  {} ({input})", joined(&self.rails, " "));
        let gpu_load = if self.gpu_load_paths.is_empty() && self.nvml_memory {
            "no devfreq load file (NVML reports utilisation)".to_string()
        } else {
            joined(&self.gpu_load_paths, ", ")
        };
        let _ = writeln!(out, "GPU load:     {gpu_load}");
        let nvmap = if self.nvmap {
            "yes (per-process GPU memory)"
        } else {
            "no"
        };
        let _ = writeln!(out, "nvmap:        {nvmap}");
        let nvml = if self.nvml_memory { "yes" } else { "no" };
        let _ = writeln!(out, "NVML memory:  {nvml}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::detect::{match_profiles, Facts};
    use crate::board::profile::embedded;

    fn orin_nano() -> Detected {
        let facts = Facts {
            model: Some("NVIDIA Jetson Orin Nano Developer Kit".into()),
            compatible: vec![
                "nvidia,p3768-0000+p3767-0005".into(),
                "nvidia,tegra234".into(),
            ],
            l4t: Some(L4tRelease {
                major: 36,
                minor: 4,
                patch: 4,
            }),
            mem_total: Some(Bytes::from_kib(7802892)),
            cpus_present: Some(6),
        };
        match_profiles(&facts, &embedded().unwrap())
    }

    #[test]
    fn the_json_document_has_every_contracted_field() {
        let json = serde_json::to_value(BoardReport::from(&orin_nano())).unwrap();
        for key in [
            "id",
            "name",
            "soc",
            "model",
            "compatible",
            "l4t",
            "jetpack",
            "matched_by",
            "cores",
            "memory_total_bytes",
            "default_reserve_bytes",
            "rails",
            "input_rail",
            "gpu_load_paths",
            "nvmap",
            "nvml_memory",
        ] {
            assert!(json.get(key).is_some(), "missing {key} in {json}");
        }
        assert_eq!(json["id"], "orin-nano-8gb");
        assert_eq!(json["soc"], "t234");
        assert_eq!(json["l4t"], "36.4.4");
        assert_eq!(json["default_reserve_bytes"], 1u64 << 30);
        assert_eq!(json["matched_by"][0], "compatible nvidia,p3767-0005");
    }

    #[test]
    fn the_text_form_says_plainly_when_the_board_is_not_a_known_jetson() {
        let generic = match_profiles(&Facts::default(), &embedded().unwrap());
        let text = BoardReport::from(&generic).to_text();
        assert!(text.contains("not a known Jetson"), "{text}");
        assert!(text.contains("(generic)"), "{text}");
        let known = BoardReport::from(&orin_nano()).to_text();
        assert!(!known.contains("not a known Jetson"), "{known}");
        assert!(known.contains("R36.4.4 (JetPack 6.x)"), "{known}");
    }
}
