//! The configured memory scope turned into the sampler's scope and the runner's child-cgroup
//! parent, and its name for events.
//!
//! In the system scope the sampler reads the whole system, and each unit still gets its own
//! cgroup (without a limit) under a parent of the agent's own cgroup where the hierarchy allows
//! it; otherwise the runner follows each tree by parent pid. [`Containment`] says which.

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::config::MemoryScope;
use crate::runner::system_scope::units_parent;
use crate::runner::CgroupScope;
use crate::sources::cgroup::named_cgroup;
use crate::sources::{Root, Scope};

pub(super) fn scope_text(scope: &MemoryScope) -> String {
    match scope {
        MemoryScope::System => "system".to_string(),
        MemoryScope::Cgroup(p) => format!("cgroup:{}", p.display()),
    }
}

/// How the runner holds each unit's tree together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Containment {
    /// `<memory scope cgroup>/<unit>`, with the unit's kernel limit.
    Scope(CgroupScope),
    /// System scope: `<agent cgroup>/jetgate-<store>/<unit>`, no limit.
    UnitCgroups(CgroupScope),
    /// System scope, no cgroup to be had (the reason): descendants followed by parent pid.
    ProcessTree(String),
}

impl Containment {
    /// The runner's child-cgroup parent, if any.
    pub(super) fn cgroups(&self) -> Option<&CgroupScope> {
        match self {
            Containment::Scope(s) | Containment::UnitCgroups(s) => Some(s),
            Containment::ProcessTree(_) => None,
        }
    }

    /// The `containment` figure of `agent_started`: `cgroup:PATH` or `process_tree`.
    pub(super) fn text(&self) -> String {
        match self.cgroups() {
            Some(s) => format!("cgroup:{}", s.path.display()),
            None => "process_tree".to_string(),
        }
    }
}

/// The parent cgroup's name for the agent of `store`: one agent per store, so one per agent.
pub(super) fn units_tag(store: &std::path::Path) -> String {
    let digest = Sha256::digest(store.as_os_str().as_encoded_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("jetgate-{hex}")
}

/// The sampler's scope and how the runner contains each unit, for the configured memory scope.
pub(super) fn scopes(
    root: &Root,
    scope: &MemoryScope,
    store: &std::path::Path,
) -> anyhow::Result<(Scope, Containment)> {
    match scope {
        MemoryScope::System => {
            let containment = match units_parent(root, &units_tag(store)) {
                Ok(parent) => Containment::UnitCgroups(parent),
                Err(reason) => Containment::ProcessTree(reason),
            };
            Ok((Scope::System, containment))
        }
        MemoryScope::Cgroup(path) => {
            let text = path.to_string_lossy();
            let cgroup =
                named_cgroup(root, &text).with_context(|| format!("memory scope cgroup:{text}"))?;
            let runner_scope = CgroupScope {
                version: cgroup.version,
                path: root.path(&cgroup.dir),
            };
            Ok((Scope::Cgroup(cgroup), Containment::Scope(runner_scope)))
        }
    }
}
