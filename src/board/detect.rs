//! Which profile fits this device: the pure matcher, from facts already read.
//!
//! Owns [`Facts`] (what the device says about itself), [`Rule`] (one piece of evidence),
//! [`Detected`] (the verdict) and [`match_profiles`]. No file access here: `read` gathers the
//! facts under a root. Memory figures are [`Bytes`].
//!
//! Scoring, per profile (see `docs/boards.md`):
//!
//! ```text
//! SoC named in compatible (nvidia,tegra234) differs from the profile's → excluded
//! a compatible entry equals one of the profile's          +100
//! the model contains one of the profile's substrings      +40   (case-insensitive)
//! the SoC named in compatible equals the profile's        +10   (evidence only, never alone)
//! MemTotal inside the profile's range                     +20;  outside → excluded
//! neither a compatible nor a model hit                    → excluded
//! ```
//!
//! The highest score wins; equal scores go to the profile listed first in `EMBEDDED`, and the
//! verdict names the others. Compatible entries are also split into their part numbers, so
//! `nvidia,p3768-0000+p3767-0005-super` counts as `nvidia,p3768-0000` and `nvidia,p3767-0005`.

use std::fmt;

use serde::{Serialize, Serializer};

use super::profile::{Profile, Soc};
use super::release::L4tRelease;
use crate::units::Bytes;

const COMPATIBLE_SCORE: u32 = 100;
const MODEL_SCORE: u32 = 40;
const MEMORY_SCORE: u32 = 20;
const SOC_SCORE: u32 = 10;

/// The generic reserve: a tenth of MemTotal, never below this.
pub const GENERIC_RESERVE_FLOOR: Bytes = Bytes::from_mib(512);

/// What the device says about itself; every field may be missing (an x86 dev machine has none
/// of the device-tree files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// `/proc/device-tree/model`, trailing NUL removed.
    pub model: Option<String>,
    /// `/proc/device-tree/compatible`, split at NULs, most specific first.
    pub compatible: Vec<String>,
    /// From `/etc/nv_tegra_release`.
    pub l4t: Option<L4tRelease>,
    /// `MemTotal` from `/proc/meminfo`.
    pub mem_total: Option<Bytes>,
    /// CPUs counted in `/sys/devices/system/cpu/present`.
    pub cpus_present: Option<u32>,
}

impl Facts {
    /// The SoC the compatible list names, if any.
    pub fn soc(&self) -> Option<Soc> {
        self.compatible.iter().find_map(|c| Soc::from_compatible(c))
    }
}

/// One piece of evidence that tied the device to a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// A compatible entry (or a part number inside one) equal to the profile's.
    Compatible(String),
    /// A substring of the model.
    Model(String),
    /// The SoC named in the compatible list.
    Soc(Soc),
    /// MemTotal inside the profile's range.
    MemTotal {
        total: Bytes,
        min: Option<Bytes>,
        max: Option<Bytes>,
    },
    /// `device.board` named the profile: detection was not asked.
    Configured,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Compatible(c) => write!(f, "compatible {c}"),
            Rule::Model(m) => write!(f, "model contains {m:?}"),
            Rule::Soc(s) => write!(f, "soc {s}"),
            Rule::Configured => write!(f, "device.board in the configuration"),
            Rule::MemTotal { total, min, max } => {
                let show = |b: &Option<Bytes>| b.map(|b| b.to_string()).unwrap_or_default();
                write!(f, "memory {total} in {}..{}", show(min), show(max))
            }
        }
    }
}

/// Serialised as its sentence: `"compatible nvidia,p3767-0005"`.
impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The verdict: a known profile with the rules that chose it, or the generic profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// The matching profile; `None` means generic (not a known Jetson).
    pub profile: Option<Profile>,
    pub model: Option<String>,
    pub compatible: Vec<String>,
    pub l4t: Option<L4tRelease>,
    /// JetPack family of the L4T release: `"6.x"`.
    pub jetpack: Option<String>,
    pub mem_total: Option<Bytes>,
    pub cpus_present: Option<u32>,
    /// The rules that matched, strongest first; empty for generic.
    pub how: Vec<Rule>,
    /// Other profiles that scored as high (the first listed won).
    pub tied_with: Vec<String>,
}

impl Detected {
    pub fn is_known(&self) -> bool {
        self.profile.is_some()
    }

    pub fn id(&self) -> &str {
        self.profile.as_ref().map_or(super::GENERIC_ID, |p| &p.id)
    }

    pub fn name(&self) -> &str {
        self.profile
            .as_ref()
            .map_or("Generic Linux (not a known Jetson)", |p| &p.name)
    }

    /// Whether the GPU allocates from the device's DRAM: any Tegra SoC (a known profile, or a
    /// generic board whose device tree names one). Elsewhere a GPU is taken to be discrete,
    /// with memory of its own.
    pub fn gpu_shares_dram(&self) -> bool {
        self.soc().is_some()
    }

    /// The profile's SoC, or for generic the SoC the compatible list names.
    pub fn soc(&self) -> Option<Soc> {
        match &self.profile {
            Some(p) => Some(p.soc),
            None => self.compatible.iter().find_map(|c| Soc::from_compatible(c)),
        }
    }

    /// CPUs counted on the device, else the profile's nominal count.
    pub fn cores(&self) -> Option<u32> {
        self.cpus_present
            .or_else(|| self.profile.as_ref().map(|p| p.cpu_cores))
    }

    /// The profile's reserve; for generic a tenth of MemTotal, at least 512 MiB.
    pub fn default_reserve(&self) -> Bytes {
        match &self.profile {
            Some(p) => p.default_reserve,
            None => generic_reserve(self.mem_total),
        }
    }
}

/// A tenth of MemTotal, at least [`GENERIC_RESERVE_FLOOR`] (also when MemTotal is unknown).
pub fn generic_reserve(mem_total: Option<Bytes>) -> Bytes {
    let tenth = mem_total.map_or(Bytes::ZERO, |t| Bytes(t.get() / 10));
    tenth.max(GENERIC_RESERVE_FLOOR)
}

/// `p3767-0005` from `p3767-0005-super` or `p3448-0000-b00`: `p`, four digits, `-`, four digits.
fn part_number(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let shaped = b.len() >= 10
        && b[0] == b'p'
        && b[1..5].iter().all(u8::is_ascii_digit)
        && b[5] == b'-'
        && b[6..10].iter().all(u8::is_ascii_digit);
    if shaped {
        s.get(..10)
    } else {
        None
    }
}

/// Every form of each compatible entry a profile may name: the entry itself, and for
/// `vendor,board+module` entries each part number as `vendor,pNNNN-NNNN`.
pub fn compatible_forms(compatible: &[String]) -> Vec<String> {
    let mut forms = Vec::new();
    for entry in compatible {
        forms.push(entry.clone());
        if let Some((vendor, rest)) = entry.split_once(',') {
            for part in rest.split('+').filter_map(part_number) {
                let form = format!("{vendor},{part}");
                if !forms.contains(&form) {
                    forms.push(form);
                }
            }
        }
    }
    forms
}

struct Candidate<'a> {
    profile: &'a Profile,
    score: u32,
    how: Vec<Rule>,
}

fn score<'a>(profile: &'a Profile, facts: &Facts, forms: &[String]) -> Option<Candidate<'a>> {
    let soc = facts.soc();
    if soc.is_some_and(|s| s != profile.soc) {
        return None;
    }
    let rules = &profile.rules;
    let mut how = Vec::new();
    let mut score = 0;
    if let Some(c) = rules.compatible.iter().find(|c| forms.contains(c)) {
        how.push(Rule::Compatible(c.clone()));
        score += COMPATIBLE_SCORE;
    }
    if let Some(model) = &facts.model {
        let model = model.to_lowercase();
        if let Some(m) = rules
            .model
            .iter()
            .find(|m| model.contains(&m.to_lowercase()))
        {
            how.push(Rule::Model(m.clone()));
            score += MODEL_SCORE;
        }
    }
    if how.is_empty() {
        return None;
    }
    if let Some(s) = soc {
        how.push(Rule::Soc(s));
        score += SOC_SCORE;
    }
    if let (true, Some(total)) = (rules.has_memory_range(), facts.mem_total) {
        if !rules.memory_in_range(total) {
            return None;
        }
        how.push(Rule::MemTotal {
            total,
            min: rules.mem_total_min,
            max: rules.mem_total_max,
        });
        score += MEMORY_SCORE;
    }
    Some(Candidate {
        profile,
        score,
        how,
    })
}

/// Picks the best profile for the facts, or generic when none fits.
pub fn match_profiles(facts: &Facts, profiles: &[Profile]) -> Detected {
    let forms = compatible_forms(&facts.compatible);
    let candidates: Vec<Candidate> = profiles
        .iter()
        .filter_map(|p| score(p, facts, &forms))
        .collect();
    let best = candidates.iter().map(|c| c.score).max();
    let mut winners = candidates.into_iter().filter(|c| Some(c.score) == best);
    let winner = winners.next();
    let tied_with = winners.map(|c| c.profile.id.clone()).collect();
    let (profile, how) = match winner {
        Some(c) => (Some(c.profile.clone()), c.how),
        None => (None, Vec::new()),
    };
    Detected {
        profile,
        model: facts.model.clone(),
        compatible: facts.compatible.clone(),
        l4t: facts.l4t,
        jetpack: facts.l4t.as_ref().and_then(super::release::jetpack_family),
        mem_total: facts.mem_total,
        cpus_present: facts.cpus_present,
        how,
        tied_with,
    }
}

#[cfg(test)]
mod tests;
