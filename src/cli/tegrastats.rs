//! `jetgate tegrastats`: placeholder until its module lands (work in progress, not shipped).

use crate::cli::Globals;
use crate::exit::{CliError, CliResult};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _globals: &Globals) -> CliResult {
    Err(CliError::usage("jetgate tegrastats is not built yet"))
}
