//! One full memory sample for the gate: meminfo + pressure + a cgroup + one process tree.
//!
//! Owns [`Sampler`] (buffers reused between samples, so a sample allocates nothing once warm;
//! every file read each sample is kept open and `pread` at offset 0, see
//! [`super::handle`]) and [`MemorySample`] (plain data). `available` follows the memory
//! model (docs/agent.md, "Memory model"):
//!
//! ```text
//! scope system:  available = MemAvailable
//! scope cgroup:  available = min(MemAvailable, limit − usage + inactive_file)   (MemAvailable if no limit)
//! ```
//!
//! Swap never counts. Pressure is reported beside, never folded in. With scope system the
//! agent's own cgroup is still read and reported (so a limit on the agent's service is seen),
//! but it bounds `available` only when it is the configured scope. PSI that is absent on this
//! kernel is remembered after the first try and not re-opened each sample.

use super::cgroup::{own_cgroup, Cgroup, CgroupFiles, CgroupMemory};
use super::error::SourceError;
use super::handle::CachedFile;
use super::meminfo::{parse_meminfo, MemInfo, MEMINFO_PATH};
use super::pressure::{parse_pressure, Pressure, PRESSURE_MEMORY_PATH};
use super::proctree::{TreeDetail, TreeSampler, TreeTotals};
use super::root::Root;
use crate::units::Bytes;

/// What bounds `available`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The whole device (`MemAvailable`).
    System,
    /// A cgroup (the gate's `scope = "cgroup:PATH"`, resolved by [`super::cgroup::named_cgroup`]).
    Cgroup(Cgroup),
}

/// Which figure `available` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AvailableFrom {
    #[default]
    MemAvailable,
    Cgroup,
}

impl AvailableFrom {
    /// The published name: `mem_available` or `cgroup`.
    pub fn as_str(self) -> &'static str {
        match self {
            AvailableFrom::MemAvailable => "mem_available",
            AvailableFrom::Cgroup => "cgroup",
        }
    }
}

/// One sample, plain data.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MemorySample {
    /// Room for a new allocation per the memory model (swap excluded).
    pub available: Bytes,
    pub available_from: AvailableFrom,
    /// True when `MemAvailable` itself was estimated (kernel < 3.14).
    pub available_estimated: bool,
    pub meminfo: MemInfo,
    /// `None` where the kernel has no PSI (or it could not be read this time).
    pub pressure: Option<Pressure>,
    /// The scope cgroup, or the agent's own cgroup with scope system; `None` if none resolved.
    pub cgroup: Option<CgroupMemory>,
    /// The watched process tree; `None` when none was asked for or its root has gone.
    pub tree: Option<TreeTotals>,
}

/// A source each sample reads (the tree is read apart and comes and goes with its process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceId {
    Meminfo,
    /// PSI `memory` (`/proc/pressure/memory`).
    Pressure,
    /// The scope's cgroup, or the agent's own with scope system.
    Cgroup,
}

impl SourceId {
    pub const ALL: [SourceId; 3] = [SourceId::Meminfo, SourceId::Pressure, SourceId::Cgroup];

    /// The published name: `meminfo`, `pressure`, `cgroup`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceId::Meminfo => "meminfo",
            SourceId::Pressure => "pressure",
            SourceId::Cgroup => "cgroup",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How each source fared in the last sample: read, failed (the error), or not tried (`None`:
/// absent here, or the sample ended before it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceReads([Option<Result<(), String>>; 3]);

impl SourceReads {
    pub fn get(&self, source: SourceId) -> Option<Result<(), &str>> {
        self.0[source.index()]
            .as_ref()
            .map(|r| r.as_ref().map(|_| ()).map_err(String::as_str))
    }

    /// Reads given in [`SourceId::ALL`]'s order (tests of the readers of these).
    pub fn from_results(results: [Option<Result<(), String>>; 3]) -> SourceReads {
        SourceReads(results)
    }

    fn set(&mut self, source: SourceId, result: Result<(), String>) {
        self.0[source.index()] = Some(result);
    }
}

/// Takes [`MemorySample`]s, reusing buffers.
#[derive(Debug)]
pub struct Sampler {
    scope: Scope,
    /// The cgroup read each sample: the scope's, else the agent's own (when resolvable).
    cgroup: Option<Cgroup>,
    cgroup_files: Option<CgroupFiles>,
    meminfo: CachedFile,
    pressure: CachedFile,
    pressure_unsupported: bool,
    /// PSI was read at least once: from then on a failure is the source gone, not a kernel
    /// without PSI, and it is tried again each sample.
    pressure_seen: bool,
    /// What each source did in the last sample.
    reads: SourceReads,
    tree: TreeSampler,
    /// The tree is read every `tree_every`-th sample (1: every sample).
    tree_every: u32,
    /// Samples left that reuse `last_tree` before the tree is read again.
    tree_reuse_left: u32,
    /// The last tree reading and the root it was taken for.
    last_tree: Option<(u32, Option<TreeTotals>)>,
    buf: String,
}

impl Sampler {
    /// A sampler for `scope`. With [`Scope::System`], the agent's own cgroup is resolved once
    /// here for reporting; failure to resolve it leaves `cgroup: None` in samples.
    pub fn new(root: Root, scope: Scope) -> Sampler {
        let cgroup = match &scope {
            Scope::Cgroup(cg) => Some(cg.clone()),
            Scope::System => own_cgroup(&root).ok(),
        };
        Sampler {
            tree: TreeSampler::new(root.clone()),
            cgroup_files: cgroup.as_ref().map(|cg| CgroupFiles::new(&root, cg)),
            meminfo: CachedFile::new(root.path(MEMINFO_PATH)),
            pressure: CachedFile::new(root.path(PRESSURE_MEMORY_PATH)),
            scope,
            cgroup,
            pressure_unsupported: false,
            pressure_seen: false,
            reads: SourceReads::default(),
            tree_every: 1,
            tree_reuse_left: 0,
            last_tree: None,
            buf: String::with_capacity(4096),
        }
    }

    pub fn cgroup(&self) -> Option<&Cgroup> {
        self.cgroup.as_ref()
    }

    /// Reads the tree only every `n`-th sample (at least 1) and repeats the last reading in
    /// between: a member's `smaps_rollup` costs the kernel a walk of its page tables (tens of
    /// µs for a small process, more for a large model), while the gate's kill floor rests on
    /// `available`, which every sample reads. A new root pid is always read at once.
    pub fn set_tree_every(&mut self, n: u32) {
        self.tree_every = n.max(1);
        self.tree_reuse_left = 0;
    }

    /// The members of the tree read by the last sample.
    pub fn tree_members(&self) -> &[super::process::ProcessSample] {
        self.tree.members()
    }

    /// One full sample. Fails when meminfo fails, or when the scope cgroup cannot be read
    /// (the gate must not decide on a partial figure); pressure and the tree degrade to `None`.
    /// The tree is read at [`TreeDetail::Memory`] (no fd counts): the gate needs its PSS.
    pub fn sample(&mut self, tree_root: Option<u32>) -> Result<MemorySample, SourceError> {
        self.reads = SourceReads::default();
        let meminfo = self.read_meminfo();
        self.reads.set(SourceId::Meminfo, error_text(&meminfo));
        let meminfo = meminfo?;
        let pressure = self.read_pressure();
        let cgroup = match self.cgroup_files.as_mut() {
            Some(files) => {
                let read = files.read(&mut self.buf);
                self.reads.set(SourceId::Cgroup, error_text(&read));
                match &self.scope {
                    Scope::Cgroup(_) => Some(read?),
                    Scope::System => read.ok(),
                }
            }
            None => None,
        };
        let tree = tree_root.and_then(|pid| self.tree_for(pid));
        let (available, available_from) = available(&meminfo, &self.scope, cgroup.as_ref());
        Ok(MemorySample {
            available,
            available_from,
            available_estimated: meminfo.available_estimated,
            meminfo,
            pressure,
            cgroup,
            tree,
        })
    }
}

impl Sampler {
    /// What each source did in the last sample (for the agent's source watch).
    pub fn reads(&self) -> &SourceReads {
        &self.reads
    }

    fn read_meminfo(&mut self) -> Result<MemInfo, SourceError> {
        self.meminfo.read_into(&mut self.buf)?;
        parse_meminfo(&self.buf)
            .map_err(|e| SourceError::parse(self.meminfo.path().to_path_buf(), e))
    }

    /// PSI, or `None`: absent on this kernel (remembered after the first try, unless it was
    /// read before), or failed this time (recorded in [`Sampler::reads`]).
    fn read_pressure(&mut self) -> Option<Pressure> {
        if self.pressure_unsupported {
            return None;
        }
        let read = match self.pressure.read_into(&mut self.buf) {
            Ok(()) => parse_pressure(&self.buf)
                .map_err(|e| SourceError::parse(self.pressure.path().to_path_buf(), e)),
            Err(e) => {
                if e.is_unsupported() && !self.pressure_seen {
                    self.pressure_unsupported = true;
                    return None;
                }
                Err(e.into())
            }
        };
        self.pressure_seen |= read.is_ok();
        self.reads.set(SourceId::Pressure, error_text(&read));
        read.ok()
    }

    /// The tree rooted at `pid`: read afresh, or the last reading while it may be reused.
    fn tree_for(&mut self, pid: u32) -> Option<TreeTotals> {
        match self.last_tree {
            Some((root, totals)) if root == pid && self.tree_reuse_left > 0 => {
                self.tree_reuse_left -= 1;
                totals
            }
            _ => {
                let totals = self
                    .tree
                    .sample_detail(pid, TreeDetail::Memory)
                    .ok()
                    .flatten();
                self.last_tree = Some((pid, totals));
                self.tree_reuse_left = self.tree_every - 1;
                totals
            }
        }
    }
}

/// A read's outcome as [`SourceReads`] keeps it: the error as text.
fn error_text<T, E: std::fmt::Display>(read: &Result<T, E>) -> Result<(), String> {
    read.as_ref().map(|_| ()).map_err(|e| e.to_string())
}

/// The memory model's `available` for a scope (pure; docs/agent.md, "Memory model").
pub fn available(
    meminfo: &MemInfo,
    scope: &Scope,
    cgroup: Option<&CgroupMemory>,
) -> (Bytes, AvailableFrom) {
    let system = meminfo.available;
    match (scope, cgroup.and_then(CgroupMemory::available)) {
        (Scope::Cgroup(_), Some(cg)) if cg < system => (cg, AvailableFrom::Cgroup),
        _ => (system, AvailableFrom::MemAvailable),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods)] // the live test spawns a real tree
    use super::*;
    use crate::sources::cgroup::{CgroupVersion, OomCounters};
    use std::path::PathBuf;

    fn cg_mem(limit: Option<u64>, usage: u64, inactive: u64) -> CgroupMemory {
        CgroupMemory {
            version: CgroupVersion::V2,
            limit: limit.map(Bytes::from_mib),
            usage: Bytes::from_mib(usage),
            file: None,
            inactive_file: Some(Bytes::from_mib(inactive)),
            counters: OomCounters::default(),
        }
    }

    fn meminfo(avail_mib: u64) -> MemInfo {
        MemInfo {
            available: Bytes::from_mib(avail_mib),
            ..MemInfo::default()
        }
    }

    fn scoped() -> Scope {
        Scope::Cgroup(Cgroup {
            version: CgroupVersion::V2,
            dir: PathBuf::from("/sys/fs/cgroup/models"),
        })
    }

    #[test]
    fn a_cgroup_scope_takes_the_smaller_of_the_two_figures() {
        let cg = cg_mem(Some(4096), 3000, 500);
        assert_eq!(
            available(&meminfo(20_000), &scoped(), Some(&cg)),
            (Bytes::from_mib(1596), AvailableFrom::Cgroup)
        );
        assert_eq!(
            available(&meminfo(1000), &scoped(), Some(&cg)),
            (Bytes::from_mib(1000), AvailableFrom::MemAvailable)
        );
    }

    #[test]
    fn an_unlimited_cgroup_or_system_scope_uses_mem_available() {
        let unlimited = cg_mem(None, 3000, 500);
        assert_eq!(
            available(&meminfo(7000), &scoped(), Some(&unlimited)).1,
            AvailableFrom::MemAvailable
        );
        let limited = cg_mem(Some(100), 50, 0);
        assert_eq!(
            available(&meminfo(7000), &Scope::System, Some(&limited)),
            (Bytes::from_mib(7000), AvailableFrom::MemAvailable)
        );
    }

    #[test]
    fn takes_a_full_live_sample_with_our_own_cgroup_and_tree() {
        let mut sampler = Sampler::new(Root::host(), Scope::System);
        assert!(
            sampler.cgroup().is_some(),
            "this machine puts us in a memory cgroup"
        );
        let s = sampler.sample(Some(std::process::id())).unwrap();
        assert_eq!(s.available, s.meminfo.available);
        assert!(s.cgroup.is_some_and(|c| c.usage > Bytes::ZERO));
        let tree = s.tree.unwrap();
        assert_eq!(tree.root_pid, std::process::id());
        assert!(tree.processes >= 1 && tree.pss > Bytes::ZERO);
        // A second sample reuses the same buffers and still reads.
        let again = sampler.sample(Some(std::process::id())).unwrap();
        assert!(again.tree.is_some());
        assert_eq!(sampler.tree_members()[0].pid, std::process::id());
    }

    #[test]
    fn a_fixture_root_without_psi_or_cgroups_samples_system_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::fs::write(
            dir.path().join("proc/meminfo"),
            "MemTotal: 8000 kB\nMemFree: 1000 kB\nMemAvailable: 6000 kB\n",
        )
        .unwrap();
        let mut sampler = Sampler::new(Root::new(dir.path()), Scope::System);
        let s = sampler.sample(None).unwrap();
        assert_eq!(s.available, Bytes::from_kib(6000));
        assert_eq!((s.pressure, s.cgroup, s.tree), (None, None, None));
        assert!(sampler.pressure_unsupported);
    }

    #[test]
    fn with_tree_every_three_the_tree_is_read_on_every_third_sample_or_for_a_new_root() {
        let dir = tempfile::tempdir().unwrap();
        let proc_dir = dir.path().join("proc");
        std::fs::create_dir_all(proc_dir.join("self")).unwrap();
        std::fs::write(proc_dir.join("self/smaps_rollup"), "").unwrap();
        std::fs::write(
            proc_dir.join("meminfo"),
            "MemTotal: 8000 kB\nMemFree: 1000 kB\nMemAvailable: 6000 kB\n",
        )
        .unwrap();
        for pid in [100, 200] {
            let p = proc_dir.join(format!("{pid}/task/{pid}"));
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("children"), "").unwrap();
            std::fs::write(
                proc_dir.join(format!("{pid}/stat")),
                format!("{pid} (m) S 1 {pid} {pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 0 10 0\n"),
            )
            .unwrap();
        }
        let set_pss = |pid: u32, kib: u64| {
            std::fs::write(
                proc_dir.join(format!("{pid}/smaps_rollup")),
                format!("Rss: {kib} kB\nPss: {kib} kB\n"),
            )
            .unwrap()
        };
        set_pss(100, 1);
        set_pss(200, 7);
        let mut sampler = Sampler::new(Root::new(dir.path()), Scope::System);
        sampler.set_tree_every(3);
        let mut pss = |pid| sampler.sample(Some(pid)).unwrap().tree.unwrap().pss;
        assert_eq!(pss(100), Bytes::from_kib(1));
        set_pss(100, 2);
        assert_eq!(
            pss(100),
            Bytes::from_kib(1),
            "second sample reuses the reading"
        );
        assert_eq!(
            pss(100),
            Bytes::from_kib(1),
            "third sample reuses the reading"
        );
        assert_eq!(pss(100), Bytes::from_kib(2), "fourth sample reads again");
        assert_eq!(pss(200), Bytes::from_kib(7), "a new root is read at once");
    }

    #[test]
    fn an_unreadable_scope_cgroup_fails_the_sample() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::fs::write(
            dir.path().join("proc/meminfo"),
            "MemTotal: 8000 kB\nMemFree: 1000 kB\nMemAvailable: 6000 kB\n",
        )
        .unwrap();
        let mut sampler = Sampler::new(Root::new(dir.path()), scoped());
        let err = sampler.sample(None).unwrap_err();
        assert!(err.to_string().contains("memory.max"), "{err}");
    }
}
