//! The command-line front end: argument parsing and dispatch. Each subcommand lives in its own
//! file with its `clap::Args` struct and a `run` function; this file only wires them together.
//!
//! Global options: `--socket PATH` (env `JETGATE_SOCKET`) and `--root DIR` (a fixture tree of a
//! Jetson's `/proc` and `/sys`, for `--local` reads).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::exit::{self, CliResult};
use crate::sources::Root;

pub mod agent;
pub mod board;
pub mod config;
pub mod estimate;
pub mod events;
pub mod figures;
pub mod fleet;
pub mod human;
pub mod remote;
pub mod sim_model;
pub mod status;
pub mod table;
pub mod tegrastats;
pub mod top;
pub mod trend;

/// The default control socket path of the agent (one definition, in the config's section).
pub use crate::config::control::DEFAULT_SOCKET;

#[derive(Debug, Parser)]
#[command(
    name = "jetgate",
    version = crate::buildinfo::version(),
    long_version = crate::buildinfo::version(),
    about = "Memory gate, supervisor and fleet agent for NVIDIA Jetson devices",
    long_about = "jetgate keeps AI models from taking a Jetson down: it reads Tegra unified memory, \
gates model loads one at a time on measured free memory, supervises model servers and publishes \
state and events over MQTT.\n\nExit codes: 0 success, 1 runtime failure, 2 usage error, \
3 configuration error, 4 agent not reachable."
)]
pub struct Cli {
    /// Control socket of the agent.
    #[arg(long, global = true, env = "JETGATE_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// Read /proc and /sys under DIR instead of / (a captured fixture tree of a Jetson).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent in the foreground (what systemd starts).
    Agent(agent::Args),
    /// Parse tegrastats lines from a file or stdin; without FILE, run tegrastats itself.
    Tegrastats(tegrastats::Args),
    /// Show the detected Jetson board profile.
    Board(board::Args),
    /// Device, memory, gate and services.
    Status(status::Args),
    /// Ask the agent to load a configured model through the gate.
    Load(remote::LoadArgs),
    /// Stop a model or service (or take it off the gate's queue).
    Unload(remote::NameArgs),
    /// Restart a model or service; revives one that gave up.
    Restart(remote::NameArgs),
    /// Each model and service: name, kind, state, pid, memory, restarts.
    Services(remote::ServicesArgs),
    /// The event log: every decision and intervention with its figures.
    Events(events::Args),
    /// Write an operator note into the event log.
    Note(remote::NoteArgs),
    /// Leak/growth report per model and service: verdict, slope, time to the limit.
    Trend(trend::Args),
    /// Every device on an MQTT broker: online, board, memory, models, last event.
    Fleet(Box<fleet::Args>),
    /// Live terminal view: memory bars, gate, services, events, tegrastats figures.
    Top(top::Args),
    /// Configuration files: `jetgate config check FILE` lists every problem with its line.
    Config(config::Args),
    /// Predict a model's memory from its file (GGUF, ONNX, TensorRT), as `memory = "auto"` does.
    Estimate(estimate::Args),
    /// A stand-in model server for demos and field tests: allocates, signals ready, misbehaves.
    SimModel(Box<sim_model::Args>),
}

/// Options every command may use.
#[derive(Debug, Clone)]
pub struct Globals {
    /// The socket the CLI talks to: `--socket`, `JETGATE_SOCKET`, or the default.
    pub socket: PathBuf,
    /// `--socket`/`JETGATE_SOCKET` when given: the agent listens there instead of its config's.
    pub socket_override: Option<PathBuf>,
    pub root: Root,
}

impl Cli {
    fn globals(&self) -> Globals {
        Globals {
            socket: self
                .socket
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET)),
            socket_override: self.socket.clone(),
            root: self.root.clone().map(Root::new).unwrap_or_default(),
        }
    }
}

/// Parses the command line, runs the command and turns its outcome into an exit code.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let globals = cli.globals();
    let outcome: CliResult = match cli.command {
        Command::Agent(args) => agent::run(args, &globals),
        Command::Tegrastats(args) => tegrastats::run(args, &globals),
        Command::Board(args) => board::run(args, &globals),
        Command::Status(args) => status::run(args, &globals),
        Command::Load(args) => remote::load(args, &globals),
        Command::Unload(args) => remote::unload(args, &globals),
        Command::Restart(args) => remote::restart(args, &globals),
        Command::Services(args) => remote::services(args, &globals),
        Command::Events(args) => events::run(args, &globals),
        Command::Note(args) => remote::note(args, &globals),
        Command::Trend(args) => trend::run(args, &globals),
        Command::Fleet(args) => fleet::run(*args, &globals),
        Command::Top(args) => top::run(args, &globals),
        Command::Config(args) => config::run(args, &globals),
        Command::Estimate(args) => estimate::run(args, &globals),
        Command::SimModel(args) => sim_model::run(*args, &globals),
    };
    match outcome {
        Ok(code) => exit::to_exit_code(code),
        Err(e) => {
            eprintln!("jetgate: {}", exit::describe(&e.error));
            exit::to_exit_code(e.code)
        }
    }
}
