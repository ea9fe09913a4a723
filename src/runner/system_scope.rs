//! Child cgroups in the system memory scope: a parent cgroup of the agent's own, so every unit
//! gets its own cgroup (and its whole tree, `setsid()` or not, is killed with it) even where the
//! gate measures the whole system.
//!
//! The parent is `<agent's memory cgroup>/<tag>` (the caller's tag names the agent instance's
//! store, so two agents in one cgroup never share it and a restarted agent finds its
//! predecessor's units there). It only holds trees together: the runner writes no memory limit
//! into its children (`Runner::without_limits`). Where it cannot be made (no cgroup hierarchy,
//! not a cgroup file system, not writable) the reason is returned and the runner follows each
//! tree by parent pid instead ([`super::descendants`]).
//!
//! ```text
//! v1 /sys/fs/cgroup/memory/system.slice/jetgate.service/jetgate-3f2a9c0d1e4b/llama/cgroup.procs
//! v2 /sys/fs/cgroup/system.slice/jetgate.service/jetgate-3f2a9c0d1e4b/llama/cgroup.procs
//! ```

use std::io;
use std::path::Path;

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC};

use super::cgroup::CgroupScope;
use crate::sources::cgroup::own_cgroup;
use crate::sources::Root;

/// Makes (or finds) `<own cgroup>/<tag>` and returns it as the runner's child-cgroup parent, or
/// why it cannot be had.
pub fn units_parent(root: &Root, tag: &str) -> Result<CgroupScope, String> {
    let own = own_cgroup(root).map_err(|e| format!("the agent's own cgroup: {e}"))?;
    let dir = root.path(&own.dir);
    if !on_cgroupfs(&dir) {
        return Err(format!("{} is not on a cgroup file system", dir.display()));
    }
    let path = dir.join(tag);
    match std::fs::create_dir(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("creating {}: {e}", path.display())),
    }
    if !path.join("cgroup.procs").exists() {
        let _ = std::fs::remove_dir(&path);
        return Err(format!("{} has no cgroup.procs", path.display()));
    }
    Ok(CgroupScope {
        version: own.version,
        path,
    })
}

/// Removes the parent once its children are gone (at the agent's shutdown); a parent still
/// holding a unit's cgroup stays, for the next start to find.
pub fn remove_parent(scope: &CgroupScope) -> io::Result<()> {
    std::fs::remove_dir(&scope.path)
}

fn on_cgroupfs(dir: &Path) -> bool {
    statfs(dir).is_ok_and(|s| {
        let t = s.filesystem_type();
        t == CGROUP_SUPER_MAGIC || t == CGROUP2_SUPER_MAGIC
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixture_tree_is_no_cgroup_file_system_and_nothing_is_created_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        std::fs::create_dir_all(dir.path().join("proc/self")).unwrap();
        std::fs::write(dir.path().join("proc/self/cgroup"), "4:memory:/agent\n").unwrap();
        std::fs::write(
            dir.path().join("proc/self/mountinfo"),
            "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n",
        )
        .unwrap();
        let own = dir.path().join("sys/fs/cgroup/memory/agent");
        std::fs::create_dir_all(&own).unwrap();
        let why = units_parent(&root, "jetgate-test").unwrap_err();
        assert!(why.contains("not on a cgroup file system"), "{why}");
        assert!(!own.join("jetgate-test").exists());
    }
}
