//! `container = { ... }`: a `[[model]]` or `[[service]]` that runs as a container image instead
//! of a `command`. jetgate builds the engine's `run` itself (see [`crate::runner::container`])
//! so the container is named after the unit, removed on exit and placed in the unit's cgroup;
//! the keys here only say what to run.
//!
//! ```toml
//! [[model]]
//! name = "llm"
//! container = { engine = "podman", image = "ghcr.io/ggml-org/llama.cpp:server-cuda@sha256:<64 hex>",
//!               args = ["-m", "/models/q4.gguf", "--port", "8080"],
//!               options = ["--runtime", "nvidia", "-v", "/models:/models:ro", "-p", "8080:8080"] }
//! ```
//!
//! Refused here (pure checks): an empty or spaced `image`, a malformed digest pin, NUL bytes,
//! and `options` that would take from jetgate what it must own: the name, the removal, the
//! cgroup and the foreground (`--name`, `--rm`, `--cgroup-parent`, `--cgroups`, `-d`,
//! `--detach`, `--replace`, a `--label io.jetgate.*`). A `command` that is itself an engine's
//! `run` is refused by [`refuse_engine_run`] with a pointer to `container`.

use serde::Deserialize;

use crate::config::problem::{Issues, KeyPath};

/// The container engine whose client jetgate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Podman,
    Docker,
}

impl Engine {
    /// The client program, looked up on `PATH`.
    pub fn program(self) -> &'static str {
        match self {
            Engine::Podman => "podman",
            Engine::Docker => "docker",
        }
    }
}

/// How the engine makes cgroups, which decides the form of `--cgroup-parent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupManager {
    /// A path under the cgroup mount (`/jetgate/llm`): the engine makes `<path>/libpod-<id>`.
    #[default]
    Cgroupfs,
    /// A slice name (`jetgate-llm.slice`) that systemd expands to its path.
    Systemd,
}

impl CgroupManager {
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupManager::Cgroupfs => "cgroupfs",
            CgroupManager::Systemd => "systemd",
        }
    }
}

/// One unit's container.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerConfig {
    pub engine: Engine,
    /// `name[:tag]`, optionally pinned: `name@sha256:<64 hex>`.
    pub image: String,
    /// Arguments to the image's entrypoint.
    #[serde(default)]
    pub args: Vec<String>,
    /// Options to the engine's `run` (`--runtime nvidia`, `--gpus all`, `-v`, `-p`, ...).
    #[serde(default)]
    pub options: Vec<String>,
    /// The engine's cgroup manager (default `"cgroupfs"`); podman is told it
    /// (`--cgroup-manager`), docker's daemon must be set the same way.
    #[serde(default)]
    pub cgroup_manager: CgroupManager,
}

/// Options jetgate sets itself; a unit may not set them.
pub const OWNED_OPTIONS: [&str; 7] = [
    "--name",
    "--rm",
    "--cgroup-parent",
    "--cgroups",
    "-d",
    "--detach",
    "--replace",
];

/// The label prefix jetgate's own labels use.
pub const LABEL_PREFIX: &str = "io.jetgate.";

impl ContainerConfig {
    /// The pinned digest (`sha256:<hex>`, lowercase), if `image` carries one.
    pub fn digest(&self) -> Option<String> {
        let (_, digest) = self.image.split_once('@')?;
        Some(digest.to_ascii_lowercase())
    }

    pub(crate) fn check(&self, at: &KeyPath, issues: &mut Issues) {
        let image = &self.image;
        issues.require(
            !image.is_empty() && !image.contains(char::is_whitespace) && !image.contains('\0'),
            at.key("image"),
            || format!("`image` {image:?} must be a non-empty name without spaces"),
        );
        if let Some((name, digest)) = image.split_once('@') {
            let hex = digest.strip_prefix("sha256:").unwrap_or("");
            issues.require(
                !name.is_empty() && hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
                at.key("image"),
                || {
                    format!(
                        "`image` pins a digest as `name@sha256:<64 hex digits>`, got {digest:?}"
                    )
                },
            );
        }
        for (key, list) in [("args", &self.args), ("options", &self.options)] {
            if list.iter().any(|a| a.contains('\0')) {
                issues.report(at.key(key), format!("`{key}` contains a NUL character"));
            }
        }
        for (i, option) in self.options.iter().enumerate() {
            let flag = option.split_once('=').map_or(option.as_str(), |(f, _)| f);
            if OWNED_OPTIONS.contains(&flag) {
                issues.report(
                    at.key("options"),
                    format!(
                        "`options` may not set {flag}: jetgate names the container after the \
                         unit, removes it on exit, runs it in the foreground and places it in \
                         the unit's cgroup"
                    ),
                );
            }
            let label = match flag {
                "--label" | "-l" if option == flag => self.options.get(i + 1).map(String::as_str),
                "--label" | "-l" => option.split_once('=').map(|(_, v)| v),
                _ => None,
            };
            if label.is_some_and(|l| l.starts_with(LABEL_PREFIX)) {
                issues.report(
                    at.key("options"),
                    format!("`options` may not set a label {LABEL_PREFIX}*: jetgate sets those"),
                );
            }
        }
    }
}

/// A `command` that starts a container engine's `run` (`["docker", "run", ...]`): jetgate would
/// measure and kill the client, not the container.
pub(crate) fn refuse_engine_run(argv: &[String], at: &KeyPath, issues: &mut Issues) {
    let Some((program, args)) = argv.split_first() else {
        return;
    };
    let base = program.rsplit('/').next().unwrap_or(program);
    if matches!(base, "docker" | "podman") && args.iter().any(|a| a == "run") {
        issues.report(
            at.key("command"),
            format!(
                "`command` runs `{base} run`: jetgate would watch and kill the {base} client, \
                 not the container. Write `container = {{ engine = \"{base}\", image = \"...\", \
                 args = [...], options = [...] }}` instead (docs/containers.md)"
            ),
        );
    }
}

#[cfg(test)]
mod tests;
