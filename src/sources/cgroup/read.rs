//! Reading a resolved [`Cgroup`]'s memory controller under a [`Root`].
//!
//! | figure        | v1 file (hierarchical)                     | v2 file                 |
//! |---------------|--------------------------------------------|-------------------------|
//! | limit         | `memory.limit_in_bytes`                    | `memory.max`            |
//! | usage         | `memory.usage_in_bytes`                    | `memory.current`        |
//! | file, inactive| `memory.stat` `total_cache`, `total_inactive_file` | `memory.stat` `file`, `inactive_file` |
//! | OOM counters  | `memory.oom_control`, `memory.failcnt`     | `memory.events`         |
//!
//! Limit, usage and stat are required; the counter files are optional (a missing one leaves
//! its counters `None`). One caller-owned buffer is reused for every file.
//!
//! Two ways in: [`Cgroup::read_memory`] opens, reads and closes each file (for one-off
//! readings), and [`CgroupFiles`] keeps each file open and `pread`s it (for the sampler, which
//! reads the same group every sample; see [`crate::sources::handle`]).

use std::path::{Path, PathBuf};

use super::parse::{
    parse_bytes, parse_v1_limit, parse_v1_oom_control, parse_v1_stat, parse_v2_events,
    parse_v2_max, parse_v2_stat, OomCounters,
};
use super::{Cgroup, CgroupMemory, CgroupVersion};
use crate::sources::error::{parse_u64, ParseError, SourceError};
use crate::sources::handle::CachedFile;
use crate::sources::root::{ReadError, Root};

const V1_FILES: [&str; 5] = [
    "memory.limit_in_bytes",
    "memory.usage_in_bytes",
    "memory.stat",
    "memory.oom_control",
    "memory.failcnt",
];
const V2_FILES: [&str; 4] = [
    "memory.max",
    "memory.current",
    "memory.stat",
    "memory.events",
];

/// Gets one of the group's files into the buffer; `path` names it in errors.
trait GroupFiles {
    fn read(&mut self, name: &'static str, buf: &mut String) -> Result<(), ReadError>;
    fn path(&self, name: &str) -> PathBuf;
}

/// Open, read, close: each call.
struct OneShot<'a> {
    dir: &'a Path,
    root: &'a Root,
}

impl GroupFiles for OneShot<'_> {
    fn read(&mut self, name: &'static str, buf: &mut String) -> Result<(), ReadError> {
        self.root.read_into(self.dir.join(name), buf)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.root.path(self.dir.join(name))
    }
}

/// A cgroup's memory files kept open between samples.
#[derive(Debug)]
pub struct CgroupFiles {
    version: CgroupVersion,
    files: Vec<(&'static str, CachedFile)>,
}

impl CgroupFiles {
    /// Handles for `cgroup`'s memory files under `root`; nothing is opened until the first read.
    pub fn new(root: &Root, cgroup: &Cgroup) -> CgroupFiles {
        let names: &[&'static str] = match cgroup.version {
            CgroupVersion::V1 => &V1_FILES,
            CgroupVersion::V2 => &V2_FILES,
        };
        let files = names
            .iter()
            .map(|&n| (n, CachedFile::new(root.path(cgroup.dir.join(n)))))
            .collect();
        CgroupFiles {
            version: cgroup.version,
            files,
        }
    }

    /// Reads the memory controller's figures through the kept handles.
    pub fn read(&mut self, buf: &mut String) -> Result<CgroupMemory, SourceError> {
        match self.version {
            CgroupVersion::V1 => read_v1(self, buf),
            CgroupVersion::V2 => read_v2(self, buf),
        }
    }
}

impl GroupFiles for CgroupFiles {
    fn read(&mut self, name: &'static str, buf: &mut String) -> Result<(), ReadError> {
        match self.files.iter_mut().find(|(n, _)| *n == name) {
            Some((_, f)) => f.read_into(buf),
            None => Err(ReadError::Unsupported {
                path: PathBuf::from(name),
            }),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f.path().to_path_buf())
            .unwrap_or_else(|| PathBuf::from(name))
    }
}

impl Cgroup {
    /// Reads the memory controller's figures, opening each file afresh. `buf` is reused for
    /// each file.
    pub fn read_memory(&self, root: &Root, buf: &mut String) -> Result<CgroupMemory, SourceError> {
        let mut files = OneShot {
            dir: &self.dir,
            root,
        };
        match self.version {
            CgroupVersion::V1 => read_v1(&mut files, buf),
            CgroupVersion::V2 => read_v2(&mut files, buf),
        }
    }

    /// True when `dir` is the top of its hierarchy (v2's root has no `memory.max`).
    pub fn is_hierarchy_root(&self, root: &Root) -> bool {
        let marker = match self.version {
            CgroupVersion::V1 => "memory.limit_in_bytes",
            CgroupVersion::V2 => "memory.max",
        };
        !root.exists(Path::new(&self.dir).join(marker))
    }
}

fn read_file<T>(
    files: &mut impl GroupFiles,
    name: &'static str,
    buf: &mut String,
    parse: impl FnOnce(&str) -> Result<T, ParseError>,
) -> Result<T, SourceError> {
    files.read(name, buf)?;
    parse(buf).map_err(|e| SourceError::parse(files.path(name), e))
}

/// An optional file: absent → `Ok(false)` and the caller keeps its defaults.
fn read_optional(
    files: &mut impl GroupFiles,
    name: &'static str,
    buf: &mut String,
) -> Result<bool, SourceError> {
    match files.read(name, buf) {
        Ok(()) => Ok(true),
        Err(e) if e.is_unsupported() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn read_v1(files: &mut impl GroupFiles, buf: &mut String) -> Result<CgroupMemory, SourceError> {
    let limit = read_file(files, "memory.limit_in_bytes", buf, parse_v1_limit)?;
    let usage = read_file(files, "memory.usage_in_bytes", buf, |t| {
        parse_bytes("memory.usage_in_bytes", t)
    })?;
    let stat = read_file(files, "memory.stat", buf, |t| Ok(parse_v1_stat(t)))?;
    let mut counters = OomCounters::default();
    if read_optional(files, "memory.oom_control", buf)? {
        parse_v1_oom_control(buf, &mut counters);
    }
    if read_optional(files, "memory.failcnt", buf)? {
        counters.failcnt = parse_u64("memory.failcnt", buf).ok();
    }
    Ok(CgroupMemory {
        version: CgroupVersion::V1,
        limit,
        usage,
        file: stat.file,
        inactive_file: stat.inactive_file,
        counters,
    })
}

fn read_v2(files: &mut impl GroupFiles, buf: &mut String) -> Result<CgroupMemory, SourceError> {
    let limit = read_file(files, "memory.max", buf, parse_v2_max)?;
    let usage = read_file(files, "memory.current", buf, |t| {
        parse_bytes("memory.current", t)
    })?;
    let stat = read_file(files, "memory.stat", buf, |t| Ok(parse_v2_stat(t)))?;
    let counters = if read_optional(files, "memory.events", buf)? {
        parse_v2_events(buf)
    } else {
        OomCounters::default()
    };
    Ok(CgroupMemory {
        version: CgroupVersion::V2,
        limit,
        usage,
        file: stat.file,
        inactive_file: stat.inactive_file,
        counters,
    })
}

#[cfg(test)]
mod tests {
    use super::super::resolve::{named_cgroup, own_cgroup};
    use super::*;
    use crate::units::Bytes;
    use std::fs;

    /// Writes a v2 fixture tree: `/proc/self/{cgroup,mountinfo}` and one service cgroup.
    fn v2_tree(max: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        fs::create_dir_all(b.join("proc/self")).unwrap();
        fs::write(
            b.join("proc/self/cgroup"),
            "0::/system.slice/jetgate.service\n",
        )
        .unwrap();
        fs::write(
            b.join("proc/self/mountinfo"),
            "33 24 0:28 / /sys/fs/cgroup rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n",
        )
        .unwrap();
        let cg = b.join("sys/fs/cgroup/system.slice/jetgate.service");
        fs::create_dir_all(&cg).unwrap();
        fs::write(cg.join("memory.max"), max).unwrap();
        fs::write(cg.join("memory.current"), "734003200\n").unwrap();
        fs::write(
            cg.join("memory.stat"),
            "anon 419430400\nfile 314572800\nkernel 5242880\nactive_anon 0\ninactive_anon 419430400\nactive_file 104857600\ninactive_file 209715200\n",
        )
        .unwrap();
        fs::write(
            cg.join("memory.events"),
            "low 0\nhigh 0\nmax 17\noom 2\noom_kill 1\noom_group_kill 0\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn reads_a_v2_fixture_with_a_limit_and_computes_available() {
        let tree = v2_tree("1073741824\n");
        let root = Root::new(tree.path());
        let cg = own_cgroup(&root).unwrap();
        assert_eq!(cg.version, CgroupVersion::V2);
        let m = cg.read_memory(&root, &mut String::new()).unwrap();
        assert_eq!(m.limit, Some(Bytes::from_gib(1)));
        assert_eq!(m.usage, Bytes::from_mib(700));
        assert_eq!(m.file, Some(Bytes::from_mib(300)));
        assert_eq!(m.reclaimable(), Bytes::from_mib(200));
        assert_eq!(m.available(), Some(Bytes::from_mib(1024 - 700 + 200)));
        assert_eq!((m.counters.oom, m.counters.oom_kill), (Some(2), Some(1)));
        assert_eq!(m.counters.max, Some(17));
    }

    #[test]
    fn kept_cgroup_files_read_what_a_fresh_read_does_and_follow_a_change() {
        let tree = v2_tree("1073741824\n");
        let root = Root::new(tree.path());
        let cg = own_cgroup(&root).unwrap();
        let mut files = CgroupFiles::new(&root, &cg);
        let mut buf = String::new();
        assert_eq!(
            files.read(&mut buf).unwrap(),
            cg.read_memory(&root, &mut buf).unwrap()
        );
        fs::write(root.path(cg.dir.join("memory.current")), "104857600\n").unwrap();
        assert_eq!(files.read(&mut buf).unwrap().usage, Bytes::from_mib(100));
    }

    #[test]
    fn a_v2_group_at_max_has_no_limit() {
        let tree = v2_tree("max\n");
        let root = Root::new(tree.path());
        let cg = named_cgroup(&root, "system.slice/jetgate.service").unwrap();
        let m = cg.read_memory(&root, &mut String::new()).unwrap();
        assert_eq!(m.limit, None);
        assert_eq!(m.available(), None);
    }

    #[test]
    fn a_v2_group_without_memory_events_still_reads() {
        let tree = v2_tree("max\n");
        let cg_dir = tree
            .path()
            .join("sys/fs/cgroup/system.slice/jetgate.service");
        fs::remove_file(cg_dir.join("memory.events")).unwrap();
        let root = Root::new(tree.path());
        let m = own_cgroup(&root)
            .unwrap()
            .read_memory(&root, &mut String::new())
            .unwrap();
        assert_eq!(m.counters, OomCounters::default());
    }

    #[test]
    fn a_garbled_limit_names_the_file() {
        let tree = v2_tree("lots\n");
        let root = Root::new(tree.path());
        let err = own_cgroup(&root)
            .unwrap()
            .read_memory(&root, &mut String::new())
            .unwrap_err();
        assert!(err.to_string().contains("memory.max"), "{err}");
        assert!(!err.is_unsupported());
    }

    /// Removes the test cgroup even when an assertion fails.
    struct RmDir(std::path::PathBuf);
    impl Drop for RmDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir(&self.0);
        }
    }

    #[test]
    fn reads_a_limit_set_on_a_real_v1_child_cgroup() {
        let host = Root::host();
        let own = own_cgroup(&host).unwrap();
        if own.version != CgroupVersion::V1 {
            crate::prerequisite::missing::<()>(
                "own memory cgroup is v2 here; the v1 live test needs a v1 hierarchy",
                "run on a machine with a cgroup v1 memory hierarchy",
            );
            return;
        }
        // The own group reads (this machine: unlimited, so no cgroup-scoped available).
        let mine = own.read_memory(&host, &mut String::new()).unwrap();
        assert!(mine.usage > Bytes::ZERO);
        assert!(mine.counters.under_oom.is_some());

        let name = format!("jetgate-test-{}", std::process::id());
        let child_dir = own.dir.join(&name);
        fs::create_dir(&child_dir).unwrap();
        let _guard = RmDir(child_dir.clone());
        fs::write(child_dir.join("memory.limit_in_bytes"), "67108864").unwrap();

        let child = named_cgroup(&host, child_dir.to_str().unwrap()).unwrap();
        assert_eq!(child.version, CgroupVersion::V1);
        let m = child.read_memory(&host, &mut String::new()).unwrap();
        assert_eq!(m.limit, Some(Bytes::from_mib(64)));
        assert_eq!(m.usage, Bytes::ZERO, "no task was ever in the new group");
        assert_eq!(m.available(), Some(Bytes::from_mib(64)));
        assert_eq!(m.counters.failcnt, Some(0));
        assert_eq!(m.counters.oom_kill.unwrap_or(0), 0);

        // The same group named relative to the memory hierarchy's mount.
        let mount = own.dir.ancestors().find(|p| p.ends_with("memory")).unwrap();
        let rel = child_dir.strip_prefix(mount).unwrap();
        let by_rel = named_cgroup(&host, rel.to_str().unwrap()).unwrap();
        assert_eq!(by_rel.dir, child_dir);
    }
}
