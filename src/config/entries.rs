//! `[[model]]` and `[[service]]` entries between deserialization and the final config.
//!
//! Each entry is read in two parts (see [`crate::config::program::SPLIT_KEYS`]): the shared
//! [`ProgramConfig`] and the model-only or service-only keys, so a bad `command` does not hide
//! a bad `sha256`. The parts are checked on their own, then together, then names are checked
//! for uniqueness across all entries.
//!
//! ```toml
//! [[model]]                 # ModelParts { program: name, command, ...; gating: memory, ready, ... }
//! name = "llm"
//! command = ["/opt/llm/server"]
//! memory = "6GiB"
//! ready = { tcp = "127.0.0.1:8080" }
//! ```

use std::collections::BTreeMap;

use toml_edit::Table;

use crate::config::problem::{Issues, KeyPath};
use crate::config::program::{
    check_limit_covers_memory, Gating, ModelConfig, ProgramConfig, ServiceConfig, ServiceExtra,
};

/// A `[[model]]` entry read in two parts, each `None` when it did not deserialize.
pub(crate) struct ModelParts {
    pub program: Option<ProgramConfig>,
    pub gating: Option<Gating>,
}

impl ModelParts {
    pub fn complete(self) -> Option<ModelConfig> {
        Some(ModelConfig::new(self.program?, self.gating?))
    }
}

/// A `[[service]]` entry read in two parts; `gated` when it wrongly had model-only keys.
pub(crate) struct ServiceParts {
    pub program: Option<ProgramConfig>,
    pub extra: Option<ServiceExtra>,
    pub gated: bool,
}

impl ServiceParts {
    pub fn complete(self) -> Option<ServiceConfig> {
        if self.gated {
            return None;
        }
        Some(ServiceConfig {
            program: self.program?,
            ready: self.extra?.ready,
        })
    }
}

/// Semantic checks of every part that deserialized, then unique names across all entries.
pub(crate) fn check_entries(
    models: &[Option<ModelParts>],
    services: &[Option<ServiceParts>],
    issues: &mut Issues,
) {
    let mut named = Vec::new();
    for (i, parts) in models.iter().enumerate() {
        let Some(parts) = parts else { continue };
        let path = KeyPath::root().key("model").index(i);
        if let Some(program) = &parts.program {
            program.check(&path, issues);
            named.push((program.name.as_str(), path.clone()));
        }
        if let Some(gating) = &parts.gating {
            gating.check(&path, issues);
        }
        if let (Some(program), Some(gating)) = (&parts.program, &parts.gating) {
            check_limit_covers_memory(program, gating, &path, issues);
        }
    }
    for (i, parts) in services.iter().enumerate() {
        let Some(parts) = parts else { continue };
        let path = KeyPath::root().key("service").index(i);
        if let Some(program) = &parts.program {
            program.check(&path, issues);
            named.push((program.name.as_str(), path.clone()));
        }
        if let Some(extra) = &parts.extra {
            extra.check(&path, issues);
        }
    }
    let mut first_use: BTreeMap<&str, KeyPath> = BTreeMap::new();
    for (name, path) in named {
        match first_use.get(name) {
            Some(first) => issues.report(
                path.key("name"),
                format!(
                    "name {name:?} is already used by {first}: names must be unique across \
                     models and services"
                ),
            ),
            None => {
                first_use.insert(name, path);
            }
        }
    }
}

/// Moves `keys` out of `table` into a new table (items keep their spans).
pub(crate) fn split_off(table: &mut Table, keys: &[&str]) -> Table {
    let mut split = Table::new();
    for key in keys {
        if let Some((k, item)) = table.remove_entry(key) {
            split.insert_formatted(&k, item);
        }
    }
    split
}
