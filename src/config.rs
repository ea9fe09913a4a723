//! The configuration file: schema, defaults and validation that lists every problem.
//!
//! One TOML file, unknown keys rejected everywhere. Each component receives only its slice
//! ([`MemoryConfig`] for the gate's figures, [`ModelConfig`] for one supervised model, ...).
//! Sizes are [`Bytes`](crate::units::Bytes) (`"2GiB"` or an integer), durations
//! [`HumanDuration`](crate::units::HumanDuration) (`"250ms"`, `"30s"`, `"5m"`). Every key, its
//! type and default is listed in `docs/configuration.md`; `examples/jetgate.toml` is a complete
//! commented reference.
//!
//! ```toml
//! [memory]
//! reserve = "1.5GiB"
//! scope = "system"
//!
//! [[model]]
//! name = "llm"
//! command = ["/opt/llm/server", "--port", "8080"]
//! memory = "6GiB"
//! ready = { http = "http://127.0.0.1:8080/health" }
//! ```
//!
//! [`Config::from_toml_str`] returns every [`Problem`] it finds, each with a line and column
//! (see [`document`] for how serde's stop-at-first-error is worked around);
//! [`Config::load`] adds the file name. With no file at all the agent runs on
//! [`Config::embedded_default`]: monitor only, no broker.

use std::fmt;
use std::path::{Path, PathBuf};

pub mod boot;
pub mod container;
pub mod control;
pub mod device;
pub mod document;
mod entries;
pub mod environment;
pub mod gate;
mod lenient;
pub mod memory;
pub mod metrics;
pub mod mqtt;
pub mod probe;
pub mod problem;
pub mod program;
pub mod store;

pub use control::ControlConfig;
pub use device::DeviceConfig;
pub use gate::GateConfig;
pub use memory::{MemoryConfig, MemoryScope};
pub use metrics::{ListenAddr, MetricsConfig};
pub use mqtt::{BrokerUrl, MqttConfig, Protocol};
pub use probe::{Argv, HealthCheck, HealthProbe, ReadyCheck, ReadyProbe};
pub use problem::Problem;
pub use program::{
    LeakConfig, MemoryNeed, ModelConfig, OnLimit, ProgramConfig, RestartConfig, ServiceConfig,
};
pub use store::StoreConfig;

/// The embedded default configuration (monitor only), as shipped text.
pub const EMBEDDED_DEFAULT: &str = include_str!("config/default.toml");

/// The whole configuration, one public struct per section.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub device: DeviceConfig,
    pub memory: MemoryConfig,
    pub gate: GateConfig,
    /// `[[model]]` entries in file order.
    pub models: Vec<ModelConfig>,
    /// `[[service]]` entries in file order.
    pub services: Vec<ServiceConfig>,
    pub store: StoreConfig,
    /// `None`: no broker, nothing is published.
    pub mqtt: Option<MqttConfig>,
    pub control: ControlConfig,
    /// `[metrics]`: the OpenMetrics endpoint and the textfile; off by default.
    pub metrics: MetricsConfig,
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", Invalid { path, problems })]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

/// `FILE:LINE:COL: message`, one problem a line.
struct Invalid<'a> {
    path: &'a Path,
    problems: &'a [Problem],
}

impl fmt::Display for Invalid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{p}", self.path.display())?;
        }
        Ok(())
    }
}

impl Config {
    /// Parses and validates `text`; on failure, every problem found, sorted by position.
    pub fn from_toml_str(text: &str) -> Result<Config, Vec<Problem>> {
        document::read(text)
    }

    /// Reads and validates the file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_toml_str(&text).map_err(|problems| ConfigError::Invalid {
            path: path.to_path_buf(),
            problems,
        })
    }

    /// Reads and validates the file at `path`, then runs the start-time checks on this
    /// machine ([`environment`]: commands, weights, cwd, scope, reserve, group, store path),
    /// each problem at its line. What `config check` and the agent both run: a file this
    /// accepts does not fail at start for what it names.
    pub fn load_for_start(
        path: impl AsRef<Path>,
        machine: &environment::Machine<'_>,
    ) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |problems| ConfigError::Invalid {
            path: path.to_path_buf(),
            problems,
        };
        let config = Config::from_toml_str(&text).map_err(invalid)?;
        let issues = machine.check(&config);
        if issues.0.is_empty() {
            return Ok(config);
        }
        Err(invalid(document::place(&text, issues)))
    }

    /// The configuration the agent runs on without a file: monitor only, local socket, store
    /// under the state directory, no broker. (Parsed from [`EMBEDDED_DEFAULT`]; a test proves
    /// it parses and equals [`Config::default`], which is the fallback.)
    pub fn embedded_default() -> Config {
        Config::from_toml_str(EMBEDDED_DEFAULT).unwrap_or_default()
    }

    /// One line for people: `2 models, 1 service, scope system, mqtt on (mqtts://b:8883),
    /// metrics off`.
    pub fn summary(&self) -> String {
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let mqtt = match &self.mqtt {
            Some(m) => format!("mqtt on ({})", m.url),
            None => "mqtt off".to_string(),
        };
        format!(
            "{}, {}, scope {}, {mqtt}, {}",
            plural(self.models.len(), "model"),
            plural(self.services.len(), "service"),
            self.memory.scope,
            self.metrics.summary()
        )
    }

    /// Every model and service name, models first, in file order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.models
            .iter()
            .map(ModelConfig::name)
            .chain(self.services.iter().map(ServiceConfig::name))
    }
}

#[cfg(test)]
pub(crate) mod reference_tests;
#[cfg(test)]
mod tests;
