//! A container unit's engine command lines, built here and nowhere else (pure; the I/O that
//! runs them is [`super::engine_cli`] and the spawn).
//!
//! The runner supervises the engine's foreground `run` client (`podman run` / `docker run`
//! without `-d`): it is the unit's leader process, its output is the container's output, and
//! its exit is the container's exit. The container itself is placed in the unit's cgroup with
//! `--cgroup-parent`, so the cgroup holds the client, podman's `conmon` and every process of
//! the container: the memory the gate and the kernel limit see, and what a kill empties.
//!
//! ```text
//! podman --cgroup-manager cgroupfs run --rm --name jetgate-llm
//!        --label io.jetgate.unit=llm --label io.jetgate.instance=3f2a9c0d1e4b5a69
//!        --cgroup-parent /jetgate/models/llm --env K=V <options...> <image> <args...>
//! podman stop --time 10 jetgate-llm        (stop, with the unit's grace rounded up to seconds)
//! podman rm --force jetgate-llm            (after a kill, at reap, and for leftovers at start)
//! ```
//!
//! Docker takes the same `run` (its daemon's cgroup driver is set on the daemon, so no
//! `--cgroup-manager`); with the systemd manager `--cgroup-parent` is a slice name, which only
//! exists when the unit's cgroup is a chain of slices ([`cgroup_parent`]).

use std::path::Path;
use std::time::Duration;

use crate::config::container::{CgroupManager, ContainerConfig, Engine};
use crate::sources::cgroup::parse::CgroupMount;

/// The container name prefix: a unit `llm` runs as `jetgate-llm`.
pub const NAME_PREFIX: &str = "jetgate-";
/// The label naming the unit.
pub const UNIT_LABEL: &str = "io.jetgate.unit";
/// The label naming the agent instance (its pid-record directory, hashed), so an agent finds
/// what it started and never what another agent on the same engine started.
pub const INSTANCE_LABEL: &str = "io.jetgate.instance";

/// What the runner needs to run one unit as a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRun {
    pub engine: Engine,
    pub manager: CgroupManager,
    pub image: String,
    pub args: Vec<String>,
    pub options: Vec<String>,
    /// The unit's `env`, passed into the container as `--env K=V`.
    pub env: Vec<(String, String)>,
}

impl ContainerRun {
    pub fn new(config: &ContainerConfig, env: Vec<(String, String)>) -> Self {
        ContainerRun {
            engine: config.engine,
            manager: config.cgroup_manager,
            image: config.image.clone(),
            args: config.args.clone(),
            options: config.options.clone(),
            env,
        }
    }
}

/// The container a unit runs as.
pub fn container_name(unit: &str) -> String {
    format!("{NAME_PREFIX}{unit}")
}

/// The instance label's value for a pid-record directory: 16 hex digits of its SHA-256.
pub fn instance_of(records: &Path) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(records.as_os_str().as_encoded_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

/// The full argv of the foreground `run` client for `unit`, its container placed under
/// `parent` (see [`cgroup_parent`]) and labelled with the agent `instance`.
pub fn run_argv(run: &ContainerRun, unit: &str, parent: &str, instance: &str) -> Vec<String> {
    let mut argv = vec![run.engine.program().to_string()];
    if run.engine == Engine::Podman {
        argv.extend(strings(&["--cgroup-manager", run.manager.as_str()]));
    }
    argv.extend(strings(&["run", "--rm"]));
    if run.engine == Engine::Podman {
        // A container of the same name left by a kill whose removal failed is replaced, never
        // run beside (docker has no such option: the reap and the start-up removal cover it).
        argv.push("--replace".into());
    }
    argv.push("--name".into());
    argv.push(container_name(unit));
    argv.push("--label".into());
    argv.push(format!("{UNIT_LABEL}={unit}"));
    argv.push("--label".into());
    argv.push(format!("{INSTANCE_LABEL}={instance}"));
    argv.push("--cgroup-parent".into());
    argv.push(parent.to_string());
    for (k, v) in &run.env {
        argv.push("--env".into());
        argv.push(format!("{k}={v}"));
    }
    argv.extend(run.options.iter().cloned());
    argv.push(run.image.clone());
    argv.extend(run.args.iter().cloned());
    argv
}

/// `stop` with the grace in whole seconds, rounded up (the engines count in seconds).
pub fn stop_argv(engine: Engine, unit: &str, grace: Duration) -> Vec<String> {
    let secs = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
    let mut argv = strings(&[engine.program(), "stop", "--time"]);
    argv.push(secs.to_string());
    argv.push(container_name(unit));
    argv
}

/// Kills the container's process 1. After the runner killed the cgroup this fails ("not
/// running") but brings podman's record of it up to date, so the `rm` that follows does not
/// wait for an exit file that the killed `conmon` will never write.
pub fn kill_argv(engine: Engine, name: &str) -> Vec<String> {
    let mut argv = strings(&[engine.program(), "kill"]);
    argv.push(name.to_string());
    argv
}

/// Removes the container whatever its state.
pub fn rm_argv(engine: Engine, name: &str) -> Vec<String> {
    let mut argv = strings(&[engine.program(), "rm", "--force"]);
    argv.push(name.to_string());
    argv
}

/// Lists every container (running or not) with this instance's label, one name a line.
pub fn list_argv(engine: Engine, instance: &str) -> Vec<String> {
    let mut argv = strings(&[engine.program(), "ps", "--all", "--filter"]);
    argv.push(format!("label={INSTANCE_LABEL}={instance}"));
    argv.extend(strings(&["--format", "{{.Names}}"]));
    argv
}

/// The local image's repository digests (`name@sha256:...`), one a line.
pub fn digests_argv(engine: Engine, image: &str) -> Vec<String> {
    let mut argv = strings(&[engine.program(), "image", "inspect", "--format"]);
    argv.push("{{range .RepoDigests}}{{println .}}{{end}}".into());
    argv.push(image.to_string());
    argv
}

/// `image` without its digest pin, and the pin (`sha256:<hex>`, lowercase).
pub fn split_pin(image: &str) -> Option<(&str, String)> {
    let (name, digest) = image.split_once('@')?;
    Some((name, digest.to_ascii_lowercase()))
}

/// Compares a pin with the local image's digests (the output of [`digests_argv`]). `Ok` when
/// one matches; the refusal names what was found.
pub fn check_pin(image: &str, pinned: &str, inspect_output: &str) -> Result<(), String> {
    let found: Vec<String> = inspect_output
        .lines()
        .filter_map(|l| {
            l.trim()
                .rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase())
        })
        .collect();
    if found.iter().any(|d| d == pinned) {
        return Ok(());
    }
    let shown = if found.is_empty() {
        "no digest".to_string()
    } else {
        found.join(", ")
    };
    Err(format!(
        "image {image} has {shown} here, but the configuration pins {pinned}"
    ))
}

/// The unit cgroup's path inside its hierarchy (`/jetgate/models/llm`), from its directory and
/// the cgroup mounts: the longest mount point above `dir` (the mount's own root prepended).
pub fn hierarchy_path(dir: &Path, mounts: &[CgroupMount]) -> Option<String> {
    let (mount, rel) = mounts
        .iter()
        .filter_map(|m| Some((m, dir.strip_prefix(&m.mount_point).ok()?)))
        .max_by_key(|(m, _)| m.mount_point.len())?;
    let rel = rel.to_str()?;
    let root = mount.root.trim_end_matches('/');
    Some(format!("{root}/{rel}"))
}

/// Where the engine makes the unit's cgroup `path` in every mounted hierarchy (with the
/// cgroupfs manager on v1 it creates the path in each controller: `cpu`, `pids`, ...), so the
/// runner can remove those directories once the unit's tree is gone.
pub fn engine_dirs(path: &str, mounts: &[CgroupMount]) -> Vec<std::path::PathBuf> {
    mounts
        .iter()
        .filter_map(|m| {
            let root = m.root.trim_end_matches('/');
            let rel = path.strip_prefix(root)?.trim_start_matches('/');
            (!rel.is_empty()).then(|| Path::new(&m.mount_point).join(rel))
        })
        .collect()
}

/// `--cgroup-parent` for a unit cgroup at `path` in its hierarchy: the path itself for the
/// cgroupfs manager; for systemd, the last slice of a chain of slices
/// (`/jetgate.slice/jetgate-llm.slice` → `jetgate-llm.slice`, which systemd expands back).
pub fn cgroup_parent(manager: CgroupManager, path: &str) -> Result<String, String> {
    match manager {
        CgroupManager::Cgroupfs => Ok(path.to_string()),
        CgroupManager::Systemd => {
            let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
            let mut prefix = String::new();
            for part in &parts {
                let stem = part.strip_suffix(".slice").unwrap_or("");
                let nested = prefix.is_empty() || stem.starts_with(&format!("{prefix}-"));
                if stem.is_empty() || !nested {
                    return Err(format!(
                        "the systemd cgroup manager places a container in a slice, but the \
                         unit's cgroup {path} is not a chain of slices (a-b.slice under \
                         a.slice): use cgroup_manager = \"cgroupfs\" or a memory.scope made of \
                         slices"
                    ));
                }
                prefix = stem.to_string();
            }
            parts
                .last()
                .map(|s| s.to_string())
                .ok_or_else(|| "the unit's cgroup is the hierarchy's root".to_string())
        }
    }
}

#[cfg(test)]
mod tests;
