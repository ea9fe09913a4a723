//! The runner's I/O for a container unit: the `run` client's argv from the unit's cgroup as
//! the cgroup mounts name it ([`super::container`] builds the text), and the clean-up once the
//! unit's tree is gone: the tree's zombies reaped, the container removed, the directories the
//! engine made for the unit in the other hierarchies removed.

use std::path::PathBuf;

use super::cgroup::ChildCgroup;
use super::container::{
    cgroup_parent, container_name, engine_dirs, hierarchy_path, instance_of, run_argv, ContainerRun,
};
use super::engine_cli::{self, Removed};
use super::spawn::Runner;
use super::RunnerError;
use crate::config::container::Engine;
use crate::sources::Root;

impl Runner {
    /// The `run` client's argv: the unit's cgroup, as its hierarchy names it, is the
    /// container's parent. Without a cgroup the container would run where nothing sees it.
    /// Also where the engine makes that path in the other hierarchies, removed at reap.
    pub(super) fn container_argv(
        &self,
        run: &ContainerRun,
        name: &str,
        cgroup: Option<&ChildCgroup>,
    ) -> Result<(Vec<String>, Vec<PathBuf>), RunnerError> {
        let refuse = |reason: String| RunnerError::Container {
            name: name.to_string(),
            reason,
        };
        let cg = cgroup.ok_or_else(|| {
            refuse(
                "a container unit needs its own cgroup, and the runner has no cgroup scope \
                 (no writable cgroup hierarchy)"
                    .into(),
            )
        })?;
        let mountinfo = self
            .root
            .read("/proc/self/mountinfo")
            .map_err(|e| refuse(format!("reading the cgroup mounts: {e}")))?;
        let mounts = crate::sources::cgroup::parse::parse_cgroup_mounts(&mountinfo)
            .map_err(|e| refuse(format!("reading the cgroup mounts: {e}")))?;
        let path = hierarchy_path(&cg.path, &mounts)
            .ok_or_else(|| refuse(format!("{} is under no cgroup mount", cg.path.display())))?;
        let parent = cgroup_parent(run.manager, &path).map_err(refuse)?;
        let instance = self.instance();
        let dirs = engine_dirs(&path, &mounts);
        Ok((run_argv(run, name, &parent, &instance), dirs))
    }

    /// This agent instance's container label: its pid-record directory, hashed (stable across
    /// restarts of one agent, different for two agents on one engine).
    pub fn instance(&self) -> String {
        match &self.records {
            Some(dir) => instance_of(dir),
            None => "unrecorded".to_string(),
        }
    }
}

/// Once the unit's tree is gone and its cgroup removed: the client's `--rm` removes a container
/// that ended by itself, but after a kill the engine still lists it, and the next start needs
/// the name. Returns the container's name and how its removal went.
pub(super) async fn remove_after_exit(
    engine: Engine,
    unit: &str,
    dirs: Vec<PathBuf>,
    root: &Root,
) -> (String, Removed) {
    let name = container_name(unit);
    // The container's process 1 was `conmon`'s child: once `conmon` is killed it is the
    // agent's (a subreaper) and, until reaped, a zombie the engine takes for a running
    // container (its `rm` would wait 5 s for an exit file and fail).
    let zombies = super::reap::reap_zombies(root);
    let mut removed = engine_cli::remove(engine, &name).await;
    removed.zombies_reaped = zombies;
    for dir in dirs {
        let cg = ChildCgroup {
            version: crate::sources::CgroupVersion::V1,
            path: dir,
        };
        let _ = cg.remove_tree(); // empty once the tree is gone
    }
    (name, removed)
}
