//! `jetgate events`: the agent's event log, oldest first. `--json` prints one event object a
//! line (the contract); `--follow` keeps printing new events as they are stored. The human
//! table says when each happened relative to now (`3m ago`) and colours severities on a tty.
#![allow(clippy::disallowed_methods)] // reads the clock for --since and for "3m ago"

use std::time::Duration;

use serde_json::Value;

use crate::cli::human;
use crate::cli::remote::{ask, REQUEST_TIMEOUT};
use crate::cli::table::Table;
use crate::cli::Globals;
use crate::clock;
use crate::control::Cmd;
use crate::event::{Event, EventKind};
use crate::exit::{self, CliError, CliResult};
use crate::units::HumanDuration;

/// How often `--follow` asks for new events.
const FOLLOW_POLL: Duration = Duration::from_millis(250);
/// How many events one request fetches at most.
const PAGE: u32 = 1000;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only events newer than this (e.g. 30s, 15m, 1h, 2d).
    #[arg(long, value_name = "DUR")]
    pub since: Option<HumanDuration>,
    /// Only events of this kind (e.g. load_aborted, gave_up, note); an unknown kind is a
    /// usage error that lists the kinds.
    #[arg(long, value_name = "K")]
    pub kind: Option<EventKind>,
    /// Only events about this model or service.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// One JSON object per event, one a line.
    #[arg(long)]
    pub json: bool,
    /// Keep running and print new events as they arrive.
    #[arg(long)]
    pub follow: bool,
}

fn fetch(
    globals: &Globals,
    args: &Args,
    since_ms: Option<u64>,
    after_seq: Option<u64>,
) -> Result<Vec<Event>, CliError> {
    let data = ask(
        globals,
        Cmd::Events {
            since_ms,
            after_seq,
            kind: args.kind.clone(),
            subject: args.service.clone(),
            limit: Some(PAGE),
        },
        Some(REQUEST_TIMEOUT),
    )?;
    serde_json::from_value(data).map_err(|e| {
        CliError::new(
            exit::FAILURE,
            anyhow::anyhow!("unreadable events from the agent: {e}"),
        )
    })
}

pub fn run(args: Args, globals: &Globals) -> CliResult {
    let since_ms = args
        .since
        .map(|d| clock::now_unix_ms().saturating_sub(d.0.as_millis() as u64));
    let mut after_seq = None;
    let mut printed_header = false;
    loop {
        let events = fetch(globals, &args, since_ms, after_seq)?;
        let full_page = events.len() as u32 == PAGE;
        if let Some(last) = events.last() {
            after_seq = Some(last.seq);
        }
        print_events(&events, args.json, &mut printed_header);
        if full_page {
            continue;
        }
        if !args.follow {
            if !args.json && !printed_header {
                println!("no events");
            }
            return Ok(exit::SUCCESS);
        }
        std::thread::sleep(FOLLOW_POLL);
    }
}

fn print_events(events: &[Event], json: bool, printed_header: &mut bool) {
    if json {
        for e in events {
            println!("{}", serde_json::to_string(e).unwrap_or_default());
        }
        return;
    }
    if events.is_empty() {
        return;
    }
    let now_ms = clock::now_unix_ms();
    let mut t = Table::new(&["SEQ", "TIME", "SEVERITY", "KIND", "SUBJECT", "WHAT"]);
    for e in events {
        t.row(vec![
            e.seq.to_string(),
            when(&e.ts, now_ms),
            e.severity.as_str().to_string(),
            e.kind.to_string(),
            e.subject.clone().unwrap_or_else(|| "-".into()),
            describe(e),
        ]);
    }
    let tone = |col: usize, cell: &str| {
        if col == 2 {
            human::severity_tone(cell)
        } else {
            human::Tone::Plain
        }
    };
    let text = t.render_toned(&tone, human::colour_stdout());
    // Print the header once, even when following across several pages.
    let body = if *printed_header {
        text.split_once('\n').map(|(_, rest)| rest).unwrap_or("")
    } else {
        &text
    };
    print!("{body}");
    *printed_header = true;
}

/// When an event happened, for people: `3m ago` within the last day, else its UTC date and
/// minute (`2026-11-24 03:06`); `--json` keeps the exact stamp.
pub fn when(ts: &str, now_ms: u64) -> String {
    match crate::clock::parse_rfc3339_ms(ts) {
        Some(t) if now_ms.saturating_sub(t) < 86_400_000 => human::ago(t, now_ms),
        _ => ts
            .get(..16)
            .map_or(ts.to_string(), |d| d.replacen('T', " ", 1)),
    }
}

/// The event's message, or its figures when it has none.
fn describe(e: &Event) -> String {
    if !e.message.is_empty() {
        return e.message.clone();
    }
    e.figures
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
