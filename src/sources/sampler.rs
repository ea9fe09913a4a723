//! One full memory sample for the gate: meminfo + pressure + a cgroup + one process tree.
//!
//! Owns [`Sampler`] (buffers reused between samples, so a sample allocates nothing once warm;
//! every file read each sample is kept open and `pread` at offset 0, see
//! [`super::handle`]) and [`MemorySample`] (plain data). `available` follows the DESIGN
//! memory model:
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AvailableFrom {
    MemAvailable,
    Cgroup,
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
    tree: TreeSampler,
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
            buf: String::with_capacity(4096),
        }
    }

    pub fn cgroup(&self) -> Option<&Cgroup> {
        self.cgroup.as_ref()
    }

    /// The members of the tree read by the last sample.
    pub fn tree_members(&self) -> &[super::process::ProcessSample] {
        self.tree.members()
    }

    /// One full sample. Fails when meminfo fails, or when the scope cgroup cannot be read
    /// (the gate must not decide on a partial figure); pressure and the tree degrade to `None`.
    /// The tree is read at [`TreeDetail::Memory`] (no fd counts): the gate needs its PSS.
    pub fn sample(&mut self, tree_root: Option<u32>) -> Result<MemorySample, SourceError> {
        self.meminfo.read_into(&mut self.buf)?;
        let meminfo = parse_meminfo(&self.buf)
            .map_err(|e| SourceError::parse(self.meminfo.path().to_path_buf(), e))?;
        let pressure = if self.pressure_unsupported {
            None
        } else {
            match self.pressure.read_into(&mut self.buf) {
                Ok(()) => parse_pressure(&self.buf).ok(),
                Err(e) => {
                    self.pressure_unsupported = e.is_unsupported();
                    None
                }
            }
        };
        let cgroup = match (&mut self.cgroup_files, &self.scope) {
            (Some(files), Scope::Cgroup(_)) => Some(files.read(&mut self.buf)?),
            (Some(files), Scope::System) => files.read(&mut self.buf).ok(),
            (None, _) => None,
        };
        let tree = match tree_root {
            Some(pid) => self
                .tree
                .sample_detail(pid, TreeDetail::Memory)
                .ok()
                .flatten(),
            None => None,
        };
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

/// The DESIGN memory model's `available` for a scope (pure).
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
