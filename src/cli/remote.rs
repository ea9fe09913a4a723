//! Commands answered by the running agent over the control socket: `load`, `unload`,
//! `restart`, `services`, `note`. Each sends one request and prints the answer, as JSON with
//! `--json` or as aligned text.

use std::time::Duration;

use serde_json::Value;

use crate::cli::human;
use crate::cli::table::Table;
use crate::cli::Globals;
use crate::control::client::{self, ClientError};
use crate::control::{Cmd, ErrorCode};
use crate::event::Event;
use crate::exit::{self, CliError, CliResult};
use crate::status::{LoadOutcome, ServiceState, ServiceView, ServicesReply};
use crate::units::Bytes;

/// How long a plain request may take before the CLI gives up on the agent.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends one command; an `ok: false` answer becomes an error with a fitting exit code.
pub fn ask(globals: &Globals, cmd: Cmd, timeout: Option<Duration>) -> Result<Value, CliError> {
    let response = client::call(&globals.socket, cmd, timeout).map_err(|e: ClientError| {
        let code = if e.unreachable() {
            exit::NO_AGENT
        } else {
            exit::FAILURE
        };
        CliError::new(code, e)
    })?;
    if response.ok {
        return Ok(response.data.unwrap_or(Value::Null));
    }
    let (code, message) = response.error.map(|e| (e.code, e.message)).unwrap_or((
        ErrorCode::Internal,
        "the agent refused without a reason".into(),
    ));
    let exit_code = match code {
        ErrorCode::BadRequest | ErrorCode::Version => exit::USAGE,
        _ => exit::FAILURE,
    };
    Err(CliError::new(exit_code, anyhow::anyhow!("{message}")))
}

/// [`ask`], the answer read as the request's reply type (`crate::status`).
pub fn ask_as<T: serde::de::DeserializeOwned>(
    globals: &Globals,
    cmd: Cmd,
    timeout: Option<Duration>,
) -> Result<T, CliError> {
    read_reply(ask(globals, cmd, timeout)?)
}

/// An answer's `data` as its reply type.
pub fn read_reply<T: serde::de::DeserializeOwned>(data: Value) -> Result<T, CliError> {
    serde_json::from_value(data)
        .map_err(|e| CliError::new(exit::FAILURE, anyhow::anyhow!("unreadable answer: {e}")))
}

fn print_json(value: &Value) {
    println!("{value}");
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// The model's name in the configuration.
    pub name: String,
    /// Wait until the load ends (ready, denied, aborted or failed) and exit 0 only if ready.
    #[arg(long)]
    pub wait: bool,
    /// Print the agent's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn load(args: LoadArgs, globals: &Globals) -> CliResult {
    let timeout = if args.wait {
        None
    } else {
        Some(REQUEST_TIMEOUT)
    };
    let data = ask(
        globals,
        Cmd::Load {
            name: args.name.clone(),
            wait: args.wait,
        },
        timeout,
    )?;
    if args.json {
        print_json(&data);
    }
    // A unit's row, or with --wait the outcome: both carry `state` and `reason`.
    let outcome: LoadOutcome = read_reply(data)?;
    if !args.json {
        println!("{}", describe_outcome(&args.name, &outcome));
    }
    let failed = args.wait && !matches!(outcome.state, ServiceState::Ready | ServiceState::Running);
    Ok(if failed { exit::FAILURE } else { exit::SUCCESS })
}

/// `llm: queued (waiting: load of det in flight)`.
fn describe_outcome(name: &str, outcome: &LoadOutcome) -> String {
    let state = outcome.state;
    match outcome.reason.as_deref() {
        Some(reason) if !reason.is_empty() => format!("{name}: {state} ({reason})"),
        _ => format!("{name}: {state}"),
    }
}

#[derive(Debug, clap::Args)]
pub struct NameArgs {
    /// The model's or service's name in the configuration.
    pub name: String,
    /// Print the agent's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn unload(args: NameArgs, globals: &Globals) -> CliResult {
    let cmd = Cmd::Unload {
        name: args.name.clone(),
    };
    name_command(args, cmd, globals)
}

pub fn restart(args: NameArgs, globals: &Globals) -> CliResult {
    let cmd = Cmd::Restart {
        name: args.name.clone(),
    };
    name_command(args, cmd, globals)
}

/// Sends a command about one unit and prints the unit's state after it.
fn name_command(args: NameArgs, cmd: Cmd, globals: &Globals) -> CliResult {
    let data = ask(globals, cmd, Some(REQUEST_TIMEOUT))?;
    if args.json {
        print_json(&data);
    } else {
        let view: ServiceView = read_reply(data)?;
        let outcome = LoadOutcome {
            name: view.name,
            state: view.state,
            reason: view.reason,
        };
        println!("{}", describe_outcome(&args.name, &outcome));
    }
    Ok(exit::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct ServicesArgs {
    /// One JSON array of services (name, kind, state, pid, memory_bytes, gpu_bytes, restarts,
    /// reason...).
    #[arg(long)]
    pub json: bool,
}

pub fn services(args: ServicesArgs, globals: &Globals) -> CliResult {
    let data = ask(globals, Cmd::Services {}, Some(REQUEST_TIMEOUT))?;
    if args.json {
        print_json(&data);
        return Ok(exit::SUCCESS);
    }
    let services: ServicesReply = read_reply(data)?;
    print!(
        "{}",
        services_table_toned(&services, human::colour_stdout())
    );
    Ok(exit::SUCCESS)
}

/// The human services table, shared with `jetgate status`.
pub fn services_table(services: &[ServiceView]) -> String {
    services_table_toned(services, false)
}

/// [`services_table`] with the STATE column coloured when `colour` (a terminal, no NO_COLOR).
pub fn services_table_toned(services: &[ServiceView], colour: bool) -> String {
    if services.is_empty() {
        return "no models or services configured\n".to_string();
    }
    let mut t = Table::new(&[
        "NAME", "KIND", "STATE", "PID", "MEMORY", "GPU", "RESTARTS", "REASON",
    ]);
    for s in services {
        t.row(vec![
            s.name.clone(),
            s.kind.to_string(),
            s.state.to_string(),
            s.pid.map_or("-".into(), |p| p.to_string()),
            s.memory_bytes.map_or("-".into(), |b| Bytes(b).to_string()),
            s.gpu_bytes.map_or("-".into(), |b| Bytes(b).to_string()),
            s.restarts.to_string(),
            s.reason.clone().unwrap_or_default(),
        ]);
    }
    let tone = |col: usize, cell: &str| {
        if col == 2 {
            human::state_tone(cell)
        } else {
            human::Tone::Plain
        }
    };
    t.render_toned(&tone, colour)
}

#[derive(Debug, clap::Args)]
pub struct NoteArgs {
    /// The note; several words are joined with spaces.
    #[arg(required = true, num_args = 1..)]
    pub text: Vec<String>,
    /// Print the stored event as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn note(args: NoteArgs, globals: &Globals) -> CliResult {
    let text = args.text.join(" ");
    let data = ask(globals, Cmd::Note { text }, Some(REQUEST_TIMEOUT))?;
    if args.json {
        print_json(&data);
    } else {
        let event: Event = read_reply(data)?;
        println!("noted as event {}", event.seq);
    }
    Ok(exit::SUCCESS)
}
