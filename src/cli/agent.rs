//! `jetgate agent [--config FILE]`: runs the agent in the foreground (systemd `Type=notify`).
//!
//! With `--config` the file is refused (exit 3, nothing created: no store, no socket, no
//! cgroup) on any problem `jetgate config check` would list, the start-time checks included.
//!
//! Without `--config` it runs on the embedded default: monitor only (no models, no services,
//! no broker), control socket at the default path, store under the state directory
//! (`$STATE_DIRECTORY`, `$JETGATE_STATE_DIR`, or `/var/lib/jetgate`).

use std::path::PathBuf;

use anyhow::Context;

use crate::agent::daemon::{self, Options};
use crate::cli::Globals;
use crate::config::environment::Machine;
use crate::config::Config;
use crate::exit::{self, CliError, CliResult};

mod log;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file (TOML). Without it: the embedded monitor-only default.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log filter for diagnostics on stderr (e.g. `info`, `jetgate=debug`); env RUST_LOG too.
    /// Coloured only on a terminal without NO_COLOR; under systemd each line carries its
    /// syslog priority, so `journalctl -p warning` works.
    #[arg(long, value_name = "FILTER", default_value = "info")]
    pub log: String,
}

pub fn run(args: Args, globals: &Globals) -> CliResult {
    let config = match &args.config {
        // The start-time checks run before anything is created (store, socket, cgroups).
        Some(path) => {
            let search = std::env::var_os("PATH");
            let machine = Machine {
                root: &globals.root,
                path: search.as_deref(),
            };
            Config::load_for_start(path, &machine).map_err(|e| CliError::new(exit::CONFIG, e))?
        }
        None => with_state_dir(Config::embedded_default()),
    };
    log::init(&args.log, log::LogStyle::choose(&log::Surroundings::read()));
    let options = Options {
        config_path: args.config.clone(),
        socket: globals.socket_override.clone(),
        root: globals.root.clone(),
    };
    // One thread runs every task: the core loop is the single owner of the state anyway, and
    // a second worker only adds wake-ups. Blocking reads (process trees, hashing) go to
    // tokio's blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(daemon::run(config, options))?;
    Ok(exit::SUCCESS)
}

/// The embedded default keeps its store in the state directory: systemd's `STATE_DIRECTORY`
/// (`StateDirectory=jetgate`), else `JETGATE_STATE_DIR`, else `/var/lib/jetgate`.
fn with_state_dir(mut config: Config) -> Config {
    let dir = std::env::var_os("STATE_DIRECTORY")
        .or_else(|| std::env::var_os("JETGATE_STATE_DIR"))
        .map(PathBuf::from);
    if let Some(dir) = dir {
        config.store.path = dir.join("jetgate.db");
    }
    config
}
