//! Finding a memory cgroup's directory: the agent's own, or one the configuration names.
//!
//! Own cgroup: `/proc/self/cgroup` says where the process sits in each hierarchy and
//! `/proc/self/mountinfo` says where each hierarchy is mounted. The memory controller decides:
//!
//! - v1 (and hybrid, where v1 holds the memory controller): the line naming `memory`, joined
//!   under the `cgroup` mount whose options name `memory`. This machine:
//!   `4:memory:/process_api/14abe...` + `/sys/fs/cgroup/memory` →
//!   `/sys/fs/cgroup/memory/process_api/14abe...`.
//! - v2: the `0::/path` line, joined under the `cgroup2` mount.
//!
//! When the mount's own root (mountinfo field 4) is a prefix of the process path (a
//! bind-mounted sub-hierarchy), that prefix is stripped before joining.
//!
//! Named cgroup (`scope = "cgroup:PATH"`): PATH is either an absolute filesystem path that lies
//! under a cgroup mount (`/sys/fs/cgroup/memory/models`), which gives its version, or a path
//! relative to the memory hierarchy's mount (`models/llm` or `/models/llm`): the v1 memory mount
//! where there is one, else the cgroup2 mount. A named cgroup that does not exist is
//! [`SourceError::Missing`], a configuration mistake, not an unsupported feature.

use std::path::{Path, PathBuf};

use super::parse::{parse_cgroup_mounts, parse_proc_cgroup, CgroupMount};
use super::{Cgroup, CgroupVersion};
use crate::sources::error::{ParseError, SourceError};
use crate::sources::root::Root;

pub const SELF_CGROUP_PATH: &str = "/proc/self/cgroup";
pub const SELF_MOUNTINFO_PATH: &str = "/proc/self/mountinfo";

/// Why a cgroup could not be located from the two texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("no memory cgroup hierarchy is mounted (neither a v1 memory mount nor cgroup2)")]
    NoHierarchy,
    #[error("the process is in no memory cgroup ({0})")]
    NotInHierarchy(&'static str),
}

/// The mounts that can hold the memory controller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryHierarchies {
    pub v1_memory: Option<CgroupMount>,
    pub unified: Option<CgroupMount>,
}

impl MemoryHierarchies {
    pub fn from_mounts(mounts: Vec<CgroupMount>) -> MemoryHierarchies {
        let mut h = MemoryHierarchies::default();
        for m in mounts {
            if m.unified {
                h.unified.get_or_insert(m);
            } else if m.has_controller("memory") {
                h.v1_memory.get_or_insert(m);
            }
        }
        h
    }

    /// The mount that named relative paths hang off: v1 memory first, else cgroup2.
    fn primary(&self) -> Option<(CgroupVersion, &CgroupMount)> {
        match (&self.v1_memory, &self.unified) {
            (Some(m), _) => Some((CgroupVersion::V1, m)),
            (None, Some(m)) => Some((CgroupVersion::V2, m)),
            (None, None) => None,
        }
    }
}

/// Joins a cgroup path (as `/proc/PID/cgroup` prints it) under a mount.
fn join_under(mount: &CgroupMount, cgroup_path: &str) -> PathBuf {
    let rel = if mount.root != "/" {
        cgroup_path
            .strip_prefix(mount.root.as_str())
            .unwrap_or(cgroup_path)
    } else {
        cgroup_path
    };
    Path::new(&mount.mount_point).join(rel.trim_start_matches('/'))
}

/// Pure resolution of the own cgroup from the texts of `/proc/self/cgroup` and
/// `/proc/self/mountinfo`.
pub fn resolve_own(proc_cgroup: &str, mountinfo: &str) -> Result<Cgroup, ResolveError> {
    let lines = parse_proc_cgroup(proc_cgroup)?;
    let h = MemoryHierarchies::from_mounts(parse_cgroup_mounts(mountinfo)?);
    if h.v1_memory.is_none() && h.unified.is_none() {
        return Err(ResolveError::NoHierarchy);
    }
    if let Some(mount) = &h.v1_memory {
        if let Some(line) = lines.iter().find(|l| l.has_controller("memory")) {
            return Ok(Cgroup {
                version: CgroupVersion::V1,
                dir: join_under(mount, line.path),
            });
        }
    }
    if let Some(mount) = &h.unified {
        if let Some(line) = lines.iter().find(|l| l.is_unified()) {
            return Ok(Cgroup {
                version: CgroupVersion::V2,
                dir: join_under(mount, line.path),
            });
        }
        return Err(ResolveError::NotInHierarchy("no 0:: line for cgroup2"));
    }
    Err(ResolveError::NotInHierarchy(
        "no memory line for the v1 memory mount",
    ))
}

fn read_hierarchies(root: &Root) -> Result<(String, MemoryHierarchies), SourceError> {
    let mountinfo = root.read(SELF_MOUNTINFO_PATH)?;
    let mounts = parse_cgroup_mounts(&mountinfo)
        .map_err(|e| SourceError::parse(root.path(SELF_MOUNTINFO_PATH), e))?;
    Ok((mountinfo, MemoryHierarchies::from_mounts(mounts)))
}

/// The agent's own memory cgroup, read from `/proc/self/{cgroup,mountinfo}` under `root`.
pub fn own_cgroup(root: &Root) -> Result<Cgroup, SourceError> {
    let cgroup = root.read(SELF_CGROUP_PATH)?;
    let (mountinfo, _) = read_hierarchies(root)?;
    resolve_own(&cgroup, &mountinfo).map_err(|e| match e {
        ResolveError::Parse(p) => SourceError::parse(root.path(SELF_CGROUP_PATH), p),
        other => SourceError::Unsupported {
            what: "the agent's memory cgroup".into(),
            reason: other.to_string(),
        },
    })
}

/// `cgroup:PATH` → `Some(PATH)`; anything else → `None`.
pub fn parse_cgroup_spec(spec: &str) -> Option<&str> {
    spec.strip_prefix("cgroup:").filter(|p| !p.is_empty())
}

/// Pure half of [`named_cgroup`]: where `path` lies given the mounts.
pub fn locate_named(h: &MemoryHierarchies, path: &str) -> Result<Cgroup, ResolveError> {
    let p = Path::new(path);
    if p.is_absolute() {
        let by_mount = [
            (CgroupVersion::V1, &h.v1_memory),
            (CgroupVersion::V2, &h.unified),
        ];
        for (version, mount) in by_mount {
            if let Some(m) = mount {
                if p.starts_with(&m.mount_point) {
                    return Ok(Cgroup {
                        version,
                        dir: p.to_path_buf(),
                    });
                }
            }
        }
    }
    let (version, mount) = h.primary().ok_or(ResolveError::NoHierarchy)?;
    Ok(Cgroup {
        version,
        dir: Path::new(&mount.mount_point).join(path.trim_start_matches('/')),
    })
}

/// A cgroup the configuration names, resolved against the mounts under `root` and checked
/// to exist.
pub fn named_cgroup(root: &Root, path: &str) -> Result<Cgroup, SourceError> {
    let (_, h) = read_hierarchies(root)?;
    let what = || format!("memory cgroup {path:?}");
    let cgroup = locate_named(&h, path).map_err(|e| SourceError::Unsupported {
        what: what(),
        reason: e.to_string(),
    })?;
    if !root.exists(&cgroup.dir) {
        return Err(SourceError::Missing {
            what: what(),
            path: root.path(&cgroup.dir),
        });
    }
    Ok(cgroup)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_CGROUP: &str = "\
9:name=systemd:/
4:memory:/process_api/14abe11be728f029494d3dc2a48d5913
1:cpu:/
0::/
";
    const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const V2_CGROUP: &str = "0::/system.slice/jetgate.service\n";
    const V2_MOUNTINFO: &str = "\
24 30 0:22 / /sys rw,nosuid - sysfs sysfs rw
33 24 0:28 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[test]
    fn a_hybrid_host_resolves_to_the_v1_memory_hierarchy() {
        let cg = resolve_own(HYBRID_CGROUP, HYBRID_MOUNTINFO).unwrap();
        assert_eq!(cg.version, CgroupVersion::V1);
        assert_eq!(
            cg.dir,
            PathBuf::from("/sys/fs/cgroup/memory/process_api/14abe11be728f029494d3dc2a48d5913")
        );
    }

    #[test]
    fn a_pure_v2_host_resolves_under_the_cgroup2_mount() {
        let cg = resolve_own(V2_CGROUP, V2_MOUNTINFO).unwrap();
        assert_eq!(cg.version, CgroupVersion::V2);
        assert_eq!(
            cg.dir,
            PathBuf::from("/sys/fs/cgroup/system.slice/jetgate.service")
        );
    }

    #[test]
    fn a_bind_mounted_sub_hierarchy_strips_the_mount_root() {
        let mi = "50 31 0:40 /kube/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let cg = resolve_own("0::/kube/pod1/app\n", mi).unwrap();
        assert_eq!(cg.dir, PathBuf::from("/sys/fs/cgroup/app"));
    }

    #[test]
    fn no_cgroup_mount_at_all_is_reported() {
        let err = resolve_own(V2_CGROUP, "23 1 8:1 / / rw - ext4 /dev/root rw\n").unwrap_err();
        assert_eq!(err, ResolveError::NoHierarchy);
    }

    #[test]
    fn named_paths_are_relative_to_the_memory_mount_unless_under_a_mount() {
        let h = MemoryHierarchies::from_mounts(parse_cgroup_mounts(HYBRID_MOUNTINFO).unwrap());
        let rel = locate_named(&h, "models/llm").unwrap();
        assert_eq!(rel.dir, PathBuf::from("/sys/fs/cgroup/memory/models/llm"));
        let rooted = locate_named(&h, "/models/llm").unwrap();
        assert_eq!(rooted.dir, rel.dir);
        let abs = locate_named(&h, "/sys/fs/cgroup/unified/jetgate").unwrap();
        assert_eq!(abs.version, CgroupVersion::V2);
        let abs = locate_named(&h, "/sys/fs/cgroup/memory/x").unwrap();
        assert_eq!(abs.version, CgroupVersion::V1);
    }

    #[test]
    fn the_spec_prefix_is_required() {
        assert_eq!(parse_cgroup_spec("cgroup:/models"), Some("/models"));
        assert_eq!(parse_cgroup_spec("cgroup:"), None);
        assert_eq!(parse_cgroup_spec("system"), None);
    }

    #[test]
    fn a_named_cgroup_that_does_not_exist_is_missing_not_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc/self")).unwrap();
        std::fs::write(dir.path().join("proc/self/mountinfo"), V2_MOUNTINFO).unwrap();
        let err = named_cgroup(&Root::new(dir.path()), "nope").unwrap_err();
        assert!(matches!(err, SourceError::Missing { .. }), "{err}");
        assert!(!err.is_unsupported());
    }

    #[test]
    fn resolves_this_processes_own_cgroup_on_the_host() {
        let cg = own_cgroup(&Root::host()).unwrap();
        assert!(cg.dir.is_dir(), "{} is not a directory", cg.dir.display());
    }
}
