//! The configured memory scope turned into the sampler's scope and the runner's child-cgroup
//! parent, and its name for events.

use anyhow::Context;

use crate::config::MemoryScope;
use crate::runner::CgroupScope;
use crate::sources::cgroup::named_cgroup;
use crate::sources::{Root, Scope};

pub(super) fn scope_text(scope: &MemoryScope) -> String {
    match scope {
        MemoryScope::System => "system".to_string(),
        MemoryScope::Cgroup(p) => format!("cgroup:{}", p.display()),
    }
}

/// The sampler's scope and the runner's child-cgroup parent for the configured memory scope.
pub(super) fn scopes(
    root: &Root,
    scope: &MemoryScope,
) -> anyhow::Result<(Scope, Option<CgroupScope>)> {
    match scope {
        MemoryScope::System => Ok((Scope::System, None)),
        MemoryScope::Cgroup(path) => {
            let text = path.to_string_lossy();
            let cgroup =
                named_cgroup(root, &text).with_context(|| format!("memory scope cgroup:{text}"))?;
            let runner_scope = CgroupScope {
                version: cgroup.version,
                path: root.path(&cgroup.dir),
            };
            Ok((Scope::Cgroup(cgroup), Some(runner_scope)))
        }
    }
}
