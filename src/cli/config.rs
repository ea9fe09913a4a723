//! `jetgate config check FILE`: every problem in a configuration file, one a line, as
//! `FILE:LINE:COL: message` (the form editors and CI annotate), then a one-line verdict.
//!
//! ```text
//! $ jetgate config check /etc/jetgate/jetgate.toml
//! /etc/jetgate/jetgate.toml:3:1: memory: unknown field `reserv`, expected one of ...
//! /etc/jetgate/jetgate.toml:14:1: model "llm": `sha256` must be 64 hexadecimal digits, got 6 characters
//! /etc/jetgate/jetgate.toml: 2 problems
//! $ echo $?
//! 3
//! ```
//!
//! Besides the file's own problems it runs the agent's start-time checks on this machine
//! ([`crate::config::environment`]: a command that is missing, not executable or relative,
//! missing `weights` or `cwd`, a memory scope or control group that does not exist, a store
//! path that is a directory, a reserve not below the device's memory), with their lines too:
//! what passes here does not fail at start for what the file names. `--root` points the
//! device checks (scope, memory) at another tree.
//!
//! A valid file prints `FILE: ok: 2 models, 1 service, scope system, mqtt on (...), metrics on
//! (127.0.0.1:9464)`, then what the agent will start at boot ([`boot`]), and exits 0; an
//! invalid or unreadable one exits 3 ([`exit::CONFIG`]).
//!
//! ```text
//! /etc/jetgate/jetgate.toml: ok: 2 models, 1 service, scope system, mqtt off, metrics off
//! at agent start:
//!   service  api       starts at once (not gated)
//!   model    llm       queues for the gate, 1st
//!   model    tracker   stays stopped (autostart = false): `jetgate load tracker` starts it
//! ```

use std::path::PathBuf;

use crate::cli::Globals;
use crate::config::environment::Machine;
use crate::config::{boot, Config, ConfigError};
use crate::exit::{self, CliError, CliResult};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file and list every problem with its line.
    Check {
        /// The TOML file to check.
        file: PathBuf,
    },
}

pub fn run(args: Args, globals: &Globals) -> CliResult {
    match args.command {
        ConfigCommand::Check { file } => check(&file, globals),
    }
}

fn check(file: &std::path::Path, globals: &Globals) -> CliResult {
    let path = std::env::var_os("PATH");
    let machine = Machine {
        root: &globals.root,
        path: path.as_deref(),
    };
    match Config::load_for_start(file, &machine) {
        Ok(config) => {
            println!("{}: ok: {}", file.display(), config.summary());
            print!("{}", boot::render(&boot::plan(&config)));
            Ok(exit::SUCCESS)
        }
        Err(ConfigError::Invalid { path, problems }) => {
            for problem in &problems {
                println!("{}:{problem}", path.display());
            }
            let n = problems.len();
            eprintln!(
                "{}: {n} problem{}",
                path.display(),
                if n == 1 { "" } else { "s" }
            );
            Ok(exit::CONFIG)
        }
        Err(e @ ConfigError::Read { .. }) => Err(CliError::new(exit::CONFIG, e)),
    }
}
