//! The ledger of committed memory: what each loaded model holds, whether or not `available`
//! shows it.
//!
//! Why it exists: a model server that maps its weights from a file (llama.cpp on GGUF) holds
//! them as file-backed pages, and `MemAvailable` (like a cgroup's inactive file pages) counts
//! those as reclaimable page cache. For a model that runs on the CPU they are its working set:
//! reclaiming them only moves the cost to the next request, which faults them back in and
//! evicts another model's (thrashing). So a loaded model keeps its memory *committed*, and the
//! gate admits a load only when both figures cover it (`budget`'s `Budget`).
//!
//! ```text
//! committed(model) = max(peak, counted)                 peak: the largest seen over its loads
//! counted          = PSS − (file-backed PSS if its weights live on the GPU) + GPU memory
//! Σ committed      = over every loaded model
//! ```
//!
//! PSS includes the model's mapped file pages (`Pss_File`); GPU memory (nvmap, NVML) is not
//! in PSS, so the two add up. A model marked `gpu_offload` copies its weights into GPU memory:
//! its mapped file pages are then a reclaimable second copy, counted once (as GPU memory), not
//! twice. Where the kernel does not split PSS (before 5.10) nothing can be subtracted and the
//! whole PSS counts: the safe side.
//!
//! Owns [`Ledger`], one [`Commitment`] per loaded model; the gate updates it (a model enters
//! when its load is ready, leaves when it exits or is unloaded) and the engine feeds it each
//! loaded model's latest tree reading ([`Usage`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::units::Bytes;

/// A model's memory as last measured from its process tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// PSS of the whole tree, file-backed pages included.
    pub pss: Bytes,
    /// The file-backed share of `pss`; `None` where the kernel does not split PSS.
    pub pss_file: Option<Bytes>,
    /// GPU memory of the tree's processes, where the board reports it per process.
    pub gpu: Option<Bytes>,
}

impl Usage {
    /// The memory this usage holds on the device: PSS plus GPU memory, less the mapped file
    /// pages of a model whose weights were copied to the GPU.
    pub fn counted(&self, gpu_offload: bool) -> Bytes {
        let file = if gpu_offload {
            self.pss_file.unwrap_or(Bytes::ZERO)
        } else {
            Bytes::ZERO
        };
        self.pss
            .saturating_sub(file)
            .saturating_add(self.gpu.unwrap_or(Bytes::ZERO))
    }
}

/// Which figure a commitment stands at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommittedFrom {
    /// The largest use seen over its loads.
    Peak,
    /// Its latest tree reading, which is above every peak seen so far.
    Live,
}

/// What one loaded model holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commitment {
    /// The largest use seen over its loads (the load's peak, or a learned one above it).
    pub peak: Bytes,
    /// The latest tree reading, once there is one.
    pub usage: Option<Usage>,
    /// Its weights live in GPU memory: mapped file pages count once.
    pub gpu_offload: bool,
}

impl Commitment {
    /// `max(peak, counted usage)`.
    pub fn committed(&self) -> Bytes {
        self.peak.max(self.live())
    }

    /// The latest reading's counted figure (zero before the first).
    pub fn live(&self) -> Bytes {
        self.usage
            .map_or(Bytes::ZERO, |u| u.counted(self.gpu_offload))
    }

    pub fn from(&self) -> CommittedFrom {
        if self.live() > self.peak {
            CommittedFrom::Live
        } else {
            CommittedFrom::Peak
        }
    }
}

/// Every loaded model's commitment, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    models: BTreeMap<String, Commitment>,
    /// The most file-backed PSS each loaded model was seen to hold: a live figure below it
    /// means the kernel evicted some of its mapped pages.
    file_high: BTreeMap<String, Bytes>,
}

impl Ledger {
    /// `model` is loaded and holds at least `peak` (its load's figures become its commitment).
    pub fn commit(&mut self, model: String, commitment: Commitment) {
        let file = commitment.usage.and_then(|u| u.pss_file);
        self.file_high
            .insert(model.clone(), file.unwrap_or(Bytes::ZERO));
        self.models.insert(model, commitment);
    }

    /// The latest reading of a loaded model; a model not in the ledger is not tracked.
    pub fn observe(&mut self, model: &str, usage: Usage) {
        if let Some(c) = self.models.get_mut(model) {
            c.usage = Some(usage);
            let high = self.file_high.entry(model.to_string()).or_default();
            *high = (*high).max(usage.pss_file.unwrap_or(Bytes::ZERO));
        }
    }

    /// Loaded models whose mapped pages the kernel has evicted since they were highest, with
    /// how much: the models a thrashing device is taking memory from.
    pub fn evicted(&self) -> Vec<(&str, Bytes)> {
        self.models
            .iter()
            .filter_map(|(name, c)| {
                let now = c.usage?.pss_file?;
                let high = self.file_high.get(name).copied().unwrap_or(Bytes::ZERO);
                let gone = high.saturating_sub(now);
                (gone > Bytes::ZERO).then_some((name.as_str(), gone))
            })
            .collect()
    }

    /// `model` is no longer loaded: what it held is free.
    pub fn release(&mut self, model: &str) -> Option<Commitment> {
        self.file_high.remove(model);
        self.models.remove(model)
    }

    pub fn contains(&self, model: &str) -> bool {
        self.models.contains_key(model)
    }

    /// Σ committed over every loaded model.
    pub fn total(&self) -> Bytes {
        self.models.values().map(Commitment::committed).sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Commitment)> {
        self.models.iter().map(|(name, c)| (name.as_str(), c))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.models.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = Bytes::MIB;

    fn usage(pss: u64, file: Option<u64>, gpu: Option<u64>) -> Usage {
        Usage {
            pss: Bytes(pss * MIB),
            pss_file: file.map(|f| Bytes(f * MIB)),
            gpu: gpu.map(|g| Bytes(g * MIB)),
        }
    }

    #[test]
    fn mapped_weights_count_unless_they_were_copied_to_the_gpu() {
        // 1 GiB of mmap'd weights, 100 MiB anonymous: on the CPU all of it is the working set.
        let cpu = usage(1124, Some(1024), None);
        assert_eq!(cpu.counted(false), Bytes(1124 * MIB));
        // Offloaded: the weights are in GPU memory, the mapped copy counts once, as GPU memory.
        let gpu = usage(1124, Some(1024), Some(1024));
        assert_eq!(gpu.counted(true), Bytes((100 + 1024) * MIB));
        // Without the kernel's split nothing can be subtracted: the whole PSS counts.
        assert_eq!(
            usage(1124, None, Some(1024)).counted(true),
            Bytes(2148 * MIB)
        );
    }

    #[test]
    fn a_commitment_is_the_larger_of_its_peak_and_its_live_figure() {
        let mut c = Commitment {
            peak: Bytes(1000 * MIB),
            usage: None,
            gpu_offload: false,
        };
        assert_eq!(
            (c.committed(), c.from()),
            (Bytes(1000 * MIB), CommittedFrom::Peak)
        );
        c.usage = Some(usage(800, Some(700), None));
        assert_eq!(
            (c.committed(), c.from()),
            (Bytes(1000 * MIB), CommittedFrom::Peak)
        );
        c.usage = Some(usage(1200, Some(700), None));
        assert_eq!(
            (c.committed(), c.from()),
            (Bytes(1200 * MIB), CommittedFrom::Live)
        );
    }

    #[test]
    fn the_ledger_sums_loaded_models_and_forgets_released_ones() {
        let mut l = Ledger::default();
        let c = |mib| Commitment {
            peak: Bytes(mib * MIB),
            usage: None,
            gpu_offload: false,
        };
        l.commit("a".into(), c(1000));
        l.commit("b".into(), c(500));
        l.observe("b", usage(700, None, None));
        l.observe("not-loaded", usage(9000, None, None));
        assert_eq!(l.total(), Bytes(1700 * MIB));
        assert!(l.release("a").is_some());
        assert_eq!(l.total(), Bytes(700 * MIB));
        assert!(!l.contains("a") && !l.contains("not-loaded"));
    }

    #[test]
    fn mapped_pages_below_their_high_water_mark_are_evicted() {
        let mut l = Ledger::default();
        l.commit(
            "llm".into(),
            Commitment {
                peak: Bytes(1100 * MIB),
                usage: Some(usage(1100, Some(1000), None)),
                gpu_offload: false,
            },
        );
        assert!(l.evicted().is_empty());
        l.observe("llm", usage(800, Some(700), None));
        assert_eq!(l.evicted(), vec![("llm", Bytes(300 * MIB))]);
        l.observe("llm", usage(1100, Some(1000), None));
        assert!(l.evicted().is_empty(), "faulted back in");
        l.release("llm");
        assert!(l.evicted().is_empty());
    }
}
