//! `[[model]]` and `[[service]]`: the processes jetgate starts and supervises. Both share a
//! [`ProgramConfig`] (command, environment, probes, limits, restart and leak policy); a model
//! adds what the gate needs (its `memory` need, a pinned `weights` file, a required `ready`
//! probe). A service is never gated, so `memory`, `weights` and `sha256` are refused there.
//! `memory = "auto"` estimates the need from `weights` before each load ([`MemoryNeed`]).
//!
//! ```toml
//! [[model]]
//! name = "llm"
//! command = ["/opt/llm/server", "--port", "8080"]
//! memory = "6GiB"
//! weights = "/models/llm.gguf"
//! sha256 = "<64 hex digits>"
//! ready = { http = "http://127.0.0.1:8080/health" }
//! limit = "7GiB"
//! restart = { initial = "1s", max = "5m", max_restarts = 5, window = "10m", reset_after = "10m" }
//! leak = { window = "10m", warmup = "2m", restart = false }
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::config::container::{refuse_engine_run, ContainerConfig};
use crate::config::probe::{check_absolute, positive, Argv, HealthProbe, ReadyProbe};
use crate::config::problem::{Issues, KeyPath};
use crate::units::{Bytes, HumanDuration};

/// Keys that only a `[[model]]` may have.
pub(crate) const MODEL_ONLY_KEYS: [&str; 4] = ["memory", "weights", "sha256", "gpu_offload"];

/// Keys split off an entry before its shared [`ProgramConfig`] part is read: the model-only
/// keys and `ready` (required for a model, optional for a service).
pub(crate) const SPLIT_KEYS: [&str; 5] = ["memory", "weights", "sha256", "gpu_offload", "ready"];

/// A model's `memory`: a declared size, or `"auto"`: estimated from its `weights` file before
/// each load ([`crate::estimate`]), then corrected by what its loads taught.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryNeed {
    Declared(Bytes),
    Auto,
}

impl MemoryNeed {
    /// The declared size; `None` for `"auto"`.
    pub fn declared(self) -> Option<Bytes> {
        match self {
            MemoryNeed::Declared(b) => Some(b),
            MemoryNeed::Auto => None,
        }
    }
}

impl std::fmt::Display for MemoryNeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MemoryNeed::Declared(b) => write!(f, "{b}"),
            MemoryNeed::Auto => f.write_str("auto"),
        }
    }
}

/// A size (`"6GiB"`, or an integer of bytes) or the word `"auto"`.
impl<'de> Deserialize<'de> for MemoryNeed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<MemoryNeed, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(MemoryNeed::Declared(Bytes(n))),
            Raw::Text(s) if s.trim() == "auto" => Ok(MemoryNeed::Auto),
            Raw::Text(s) => s
                .parse()
                .map(MemoryNeed::Declared)
                .map_err(|e| serde::de::Error::custom(format!("{e}, or \"auto\""))),
        }
    }
}

/// What to do when a process passes `max_fds` or `max_threads`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnLimit {
    /// Record an event and keep running.
    #[default]
    Warn,
    /// Record an event and restart the process.
    Restart,
}

/// Restart with backoff `initial × 2^attempt` (full jitter, capped at `max`); more than
/// `max_restarts` within `window` gives up; `reset_after` of uptime resets the attempt count.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestartConfig {
    pub initial: HumanDuration,
    pub max: HumanDuration,
    pub max_restarts: u32,
    pub window: HumanDuration,
    pub reset_after: HumanDuration,
}

impl Default for RestartConfig {
    fn default() -> Self {
        RestartConfig {
            initial: HumanDuration(Duration::from_secs(1)),
            max: HumanDuration(Duration::from_secs(300)),
            max_restarts: 5,
            window: HumanDuration(Duration::from_secs(600)),
            reset_after: HumanDuration(Duration::from_secs(600)),
        }
    }
}

/// Leak detection over the process tree's memory: a trend over `window`; memory is not
/// trended during `warmup` after a start (a model: once ready) and a verdict needs samples
/// spanning `warmup` again; `restart` restarts a process judged `leaking` once it is projected
/// to reach its limit within [`crate::agent::watch::LEAK_RESTART_LEAD`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeakConfig {
    pub window: HumanDuration,
    pub warmup: HumanDuration,
    pub restart: bool,
}

impl Default for LeakConfig {
    fn default() -> Self {
        LeakConfig {
            window: HumanDuration(Duration::from_secs(600)),
            warmup: HumanDuration(Duration::from_secs(120)),
            restart: false,
        }
    }
}

fn default_autostart() -> bool {
    true
}

fn default_stop_grace() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

/// What a model and a service share.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramConfig {
    /// Unique across models and services: `[a-zA-Z0-9_.-]{1,64}`.
    pub name: String,
    /// The program to run; exactly one of `command` and `container`.
    pub command: Option<Argv>,
    /// A container image to run instead of `command` ([`crate::config::container`]).
    pub container: Option<ContainerConfig>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
    pub health: Option<HealthProbe>,
    /// Memory limit of the whole process tree (PSS plus GPU memory where known).
    pub limit: Option<Bytes>,
    pub max_fds: Option<u64>,
    pub max_threads: Option<u64>,
    #[serde(default)]
    pub on_limit: OnLimit,
    #[serde(default)]
    pub restart: RestartConfig,
    #[serde(default)]
    pub leak: LeakConfig,
    /// Start when the agent starts (a model: queue for the gate). Default `true`: a device
    /// comes back by itself after a power cut; see [`crate::config::boot`].
    #[serde(default = "default_autostart")]
    pub autostart: bool,
    /// Time between SIGTERM and SIGKILL (default 10s).
    #[serde(default = "default_stop_grace")]
    pub stop_grace: HumanDuration,
}

/// The gated part of a `[[model]]`, read from the keys in [`SPLIT_KEYS`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Gating {
    pub memory: MemoryNeed,
    pub weights: Option<PathBuf>,
    pub sha256: Option<String>,
    #[serde(default)]
    pub gpu_offload: bool,
    pub ready: ReadyProbe,
}

/// The service-only part of a `[[service]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceExtra {
    pub ready: Option<ReadyProbe>,
}

/// A `[[model]]`: a program admitted through the memory gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelConfig {
    pub program: ProgramConfig,
    /// Declared need, or `auto` (estimated from `weights`); the gate uses the larger of this
    /// and the learned peak.
    pub memory: MemoryNeed,
    /// Weights file verified against `sha256` before each load.
    pub weights: Option<PathBuf>,
    /// Hex SHA-256 of `weights`.
    pub sha256: Option<String>,
    /// The server copies its weights into GPU memory (llama.cpp with every layer offloaded,
    /// `-ngl 999`): its mapped weight pages are then a reclaimable copy and count once.
    pub gpu_offload: bool,
    /// A load is done only when this passes (and memory has settled).
    pub ready: ReadyProbe,
}

impl ModelConfig {
    pub(crate) fn new(program: ProgramConfig, gating: Gating) -> ModelConfig {
        ModelConfig {
            program,
            memory: gating.memory,
            weights: gating.weights,
            sha256: gating.sha256,
            gpu_offload: gating.gpu_offload,
            ready: gating.ready,
        }
    }
}

/// A `[[service]]`: a supervised program that is never gated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    pub program: ProgramConfig,
    /// Optional: without it a service counts as running once spawned.
    pub ready: Option<ReadyProbe>,
}

impl ModelConfig {
    pub fn name(&self) -> &str {
        &self.program.name
    }
}

impl ServiceConfig {
    pub fn name(&self) -> &str {
        &self.program.name
    }
}

/// Whether `name` matches `[a-zA-Z0-9_.-]{1,64}`.
pub fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl ProgramConfig {
    pub(crate) fn check(&self, at: &KeyPath, issues: &mut Issues) {
        issues.require(is_valid_name(&self.name), at.key("name"), || {
            format!(
                "name {:?} must be 1-64 characters of letters, digits, '_', '.' or '-'",
                self.name
            )
        });
        match (&self.command, &self.container) {
            (Some(command), None) => {
                if command.0.iter().any(|a| a.contains('\0')) {
                    issues.report(at.key("command"), "`command` contains a NUL character");
                }
                refuse_engine_run(&command.0, at, issues);
            }
            (None, Some(container)) => {
                container.check(&at.key("container"), issues);
                issues.require(self.cwd.is_none(), at.key("cwd"), || {
                    "`cwd` is the directory of a process jetgate starts; a container's working \
                     directory is the image's, or `options = [\"--workdir\", \"...\"]`"
                        .to_string()
                });
            }
            (Some(_), Some(_)) => issues.report(
                at.key("container"),
                "`command` and `container` both say what to run: keep one",
            ),
            // At `command`: silent when a `command` was there but did not deserialize.
            (None, None) => issues.report(
                at.key("command"),
                "no `command` (an argv array) and no `container` table: say what to run",
            ),
        }
        for (key, value) in &self.env {
            issues.require(
                !key.is_empty() && !key.contains(['=', '\0']) && !value.contains('\0'),
                at.key("env").key(key),
                || format!("`env.{key}` is not a valid environment variable"),
            );
        }
        if let Some(cwd) = &self.cwd {
            check_absolute(cwd, &at.key("cwd"), issues);
        }
        if let Some(health) = &self.health {
            health.check(&at.key("health"), issues);
        }
        if let Some(limit) = self.limit {
            issues.require(limit.get() > 0, at.key("limit"), || {
                "`limit` of 0 would restart the process at once".to_string()
            });
        }
        for (key, value) in [("max_fds", self.max_fds), ("max_threads", self.max_threads)] {
            issues.require(value != Some(0), at.key(key), || {
                format!("`{key}` must be at least 1")
            });
        }
        let r = &self.restart;
        let rat = at.key("restart");
        positive(r.initial, &rat.key("initial"), issues);
        positive(r.window, &rat.key("window"), issues);
        issues.require(r.initial <= r.max, rat.key("max"), || {
            format!(
                "`restart.max` ({}) is below `restart.initial` ({})",
                r.max, r.initial
            )
        });
        positive(self.leak.window, &at.key("leak").key("window"), issues);
    }
}

impl Gating {
    /// Checks the model-only keys on their own, so they are reported even when the shared
    /// part of the entry did not deserialize.
    pub(crate) fn check(&self, at: &KeyPath, issues: &mut Issues) {
        self.ready.check(&at.key("ready"), issues);
        issues.require(
            self.memory != MemoryNeed::Declared(Bytes::ZERO),
            at.key("memory"),
            || "`memory` is the declared need of the model and must be above 0".to_string(),
        );
        issues.require(
            self.memory != MemoryNeed::Auto || self.weights.is_some(),
            at.key("memory"),
            || {
                "`memory = \"auto\"` estimates the need from the model file: set `weights` to \
                 it, or declare a size such as \"6GiB\""
                    .to_string()
            },
        );
        if let Some(weights) = &self.weights {
            check_absolute(weights, &at.key("weights"), issues);
        }
        match (&self.weights, &self.sha256) {
            (None, Some(_)) => issues.report(
                at.key("sha256"),
                "`sha256` without `weights`: name the file the checksum pins",
            ),
            // Accepted, it would do nothing: nothing is verified and nothing is estimated.
            (Some(_), None) if self.memory != MemoryNeed::Auto => issues.report(
                at.key("weights"),
                "`weights` without `sha256` does nothing with a declared `memory`: pin the file \
                 with `sha256 = \"<64 hex digits>\"` (verified before each load), or let \
                 `memory = \"auto\"` estimate the need from it",
            ),
            (_, Some(sum)) => issues.require(
                sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit()),
                at.key("sha256"),
                || {
                    format!(
                        "`sha256` must be 64 hexadecimal digits, got {} characters",
                        sum.chars().count()
                    )
                },
            ),
            _ => {}
        }
    }
}

/// A model's `limit` must cover its declared `memory`.
pub(crate) fn check_limit_covers_memory(
    program: &ProgramConfig,
    gating: &Gating,
    at: &KeyPath,
    issues: &mut Issues,
) {
    // With `memory = "auto"` the need is known only at load time.
    if let (Some(limit), Some(memory)) = (program.limit, gating.memory.declared()) {
        issues.require(limit >= memory, at.key("limit"), || {
            format!(
                "`limit` ({limit}) is below the declared `memory` ({memory}): the model would be \
                 restarted as soon as it loads"
            )
        });
    }
}

impl ServiceExtra {
    pub(crate) fn check(&self, at: &KeyPath, issues: &mut Issues) {
        if let Some(ready) = &self.ready {
            ready.check(&at.key("ready"), issues);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_documented_pattern() {
        assert!(is_valid_name("llama-3.1_8b"));
        assert!(is_valid_name(&"a".repeat(64)));
        assert!(!is_valid_name(&"a".repeat(65)));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("has space"));
        assert!(!is_valid_name("slash/name"));
    }

    #[test]
    fn on_limit_reads_lowercase_words() {
        #[derive(Deserialize)]
        struct T {
            on_limit: OnLimit,
        }
        let t: T = toml::from_str("on_limit = \"restart\"").unwrap();
        assert_eq!(t.on_limit, OnLimit::Restart);
        assert!(toml::from_str::<T>("on_limit = \"kill\"").is_err());
    }
}
