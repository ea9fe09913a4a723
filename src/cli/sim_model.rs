//! `jetgate sim-model`: command-line flags of the stand-in model server (see [`crate::simmodel`]).
//!
//! ```text
//! jetgate sim-model --alloc 2GiB --ramp 1s --ready-http 127.0.0.1:8080
//! jetgate sim-model --alloc 256MiB --overshoot 1792MiB --rate 2GiB/s --overshoot-during-ramp
//! jetgate sim-model --alloc 512MiB --leak 10MiB/s --heartbeat /run/m.hb --heartbeat-stop-after 1m
//! ```
//!
//! Every duration counts from process start. Sizes: `512MiB`, `5.5GiB`; rates: `2GiB/s`.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::Globals;
use crate::exit::{CliError, CliResult, FAILURE};
use crate::simmodel::{self, plan::ByteRate, Options};
use crate::units::{parse_duration, Bytes};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Memory to make resident (allocated and every page written) before ready.
    #[arg(long, value_name = "SIZE")]
    pub alloc: Bytes,

    /// Spread the allocation evenly over this long; 0s allocates at once.
    #[arg(long, value_name = "DUR", default_value = "0s", value_parser = parse_duration)]
    pub ramp: Duration,

    /// Once ready, serve GET /health on ADDR (host:port; port 0 picks one, logged on stderr).
    #[arg(long, value_name = "ADDR")]
    pub ready_http: Option<String>,

    /// Once ready, write PATH atomically (holding our pid).
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,

    /// Allocate SIZE more than --alloc, at --rate (after ready unless --overshoot-during-ramp).
    #[arg(long, value_name = "SIZE", requires = "rate")]
    pub overshoot: Option<Bytes>,

    /// Rate of the overshoot, such as 2GiB/s.
    #[arg(long, value_name = "SIZE/s", requires = "overshoot")]
    pub rate: Option<ByteRate>,

    /// Overshoot while loading, before the ready signal (a model that lies about its size).
    #[arg(long, requires = "overshoot")]
    pub overshoot_during_ramp: bool,

    /// After ready, grow forever at this rate, such as 10MiB/s.
    #[arg(long, value_name = "SIZE/s")]
    pub leak: Option<ByteRate>,

    /// Exit this long after start with --exit-code.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub exit_after: Option<Duration>,

    /// The exit code for --exit-after.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "exit_after")]
    pub exit_code: u8,

    /// Ignore SIGTERM, so a supervisor must SIGKILL.
    #[arg(long)]
    pub ignore_term: bool,

    /// GET /health answers 503 from this long after start.
    #[arg(long, value_name = "DUR", value_parser = parse_duration, requires = "ready_http")]
    pub unhealthy_after: Option<Duration>,

    /// Touch FILE (update its mtime) every --heartbeat-interval.
    #[arg(long, value_name = "FILE")]
    pub heartbeat: Option<PathBuf>,

    /// How often to touch the heartbeat file.
    #[arg(long, value_name = "DUR", default_value = "1s", value_parser = parse_duration)]
    pub heartbeat_interval: Duration,

    /// Stop touching the heartbeat file this long after start.
    #[arg(long, value_name = "DUR", value_parser = parse_duration, requires = "heartbeat")]
    pub heartbeat_stop_after: Option<Duration>,

    /// Spawn N child copies of this program (a process tree), each holding --child-alloc.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub child: u32,

    /// Memory each child holds.
    #[arg(long, value_name = "SIZE", default_value = "0")]
    pub child_alloc: Bytes,
}

impl Args {
    pub fn into_options(self) -> Options {
        Options {
            alloc: self.alloc,
            ramp: self.ramp,
            ready_http: self.ready_http,
            ready_file: self.ready_file,
            overshoot: self.overshoot.zip(self.rate),
            overshoot_during_ramp: self.overshoot_during_ramp,
            leak: self.leak,
            exit_after: self.exit_after,
            exit_code: self.exit_code,
            ignore_term: self.ignore_term,
            unhealthy_after: self.unhealthy_after,
            heartbeat: self.heartbeat,
            heartbeat_interval: self.heartbeat_interval,
            heartbeat_stop_after: self.heartbeat_stop_after,
            children: self.child,
            child_alloc: self.child_alloc,
        }
    }
}

pub fn run(args: Args, _globals: &Globals) -> CliResult {
    match simmodel::run(args.into_options()) {
        Ok(never) => match never {},
        Err(e) => Err(CliError::new(FAILURE, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        let argv = ["jetgate", "sim-model"].iter().chain(args);
        match Cli::try_parse_from(argv)?.command {
            Command::SimModel(a) => Ok(a.into_options()),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn the_lying_model_example_parses_into_an_overshoot_during_the_ramp() {
        let o = parse(&[
            "--alloc",
            "256MiB",
            "--overshoot",
            "1792MiB",
            "--rate",
            "2GiB/s",
            "--overshoot-during-ramp",
        ])
        .unwrap();
        assert_eq!(o.alloc, Bytes::from_mib(256));
        assert_eq!(o.ramp, Duration::ZERO);
        let (size, rate) = o.overshoot.unwrap();
        assert_eq!(size, Bytes::from_mib(1792));
        assert_eq!(rate.bytes_per_sec(), 2 * Bytes::GIB);
        assert!(o.overshoot_during_ramp);
    }

    #[test]
    fn defaults_are_no_ramp_one_second_heartbeat_and_no_children() {
        let o = parse(&["--alloc", "1GiB"]).unwrap();
        assert_eq!(o.heartbeat_interval, Duration::from_secs(1));
        assert_eq!(o.children, 0);
        assert_eq!(o.exit_after, None);
        assert!(!o.ignore_term);
    }

    #[test]
    fn durations_and_leak_rates_parse_with_units() {
        let o = parse(&[
            "--alloc",
            "1MiB",
            "--ramp",
            "250ms",
            "--leak",
            "10MiB/s",
            "--exit-after",
            "5s",
            "--exit-code",
            "7",
        ])
        .unwrap();
        assert_eq!(o.ramp, Duration::from_millis(250));
        assert_eq!(o.leak.unwrap().bytes_per_sec(), 10 * Bytes::MIB);
        assert_eq!(o.exit_after, Some(Duration::from_secs(5)));
        assert_eq!(o.exit_code, 7);
    }

    #[test]
    fn an_overshoot_without_a_rate_and_a_rate_without_per_second_are_refused() {
        assert!(parse(&["--alloc", "1MiB", "--overshoot", "1MiB"]).is_err());
        assert!(parse(&["--alloc", "1MiB", "--leak", "10MiB"]).is_err());
        assert!(parse(&["--alloc", "1MiB", "--ramp", "5"]).is_err());
        assert!(parse(&["--alloc", "1GB"]).is_err());
    }
}
