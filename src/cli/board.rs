//! `jetgate board [--json]`: which Jetson module this is, and what jetgate knows about it.
//!
//! Reads the device tree, `/etc/nv_tegra_release` and MemTotal under `--root` (the live
//! system by default), matches them against the profiles embedded from `board/*.toml` and
//! prints the verdict: human lines, or with `--json` one [`BoardReport`] object.

use anyhow::Context as _;

use crate::board::{self, BoardReport};
use crate::cli::Globals;
use crate::exit::{CliResult, SUCCESS};

#[derive(Debug, clap::Args)]
#[command(
    long_about = "Detect the Jetson module from /proc/device-tree/model and compatible, \
/etc/nv_tegra_release and MemTotal, and show its profile: SoC, L4T and JetPack release, the \
rules that matched, CPU cores, memory and the default reserve, tegrastats power rails and the \
board-input rail, where GPU load is read, and whether nvmap and NVML give memory figures.\n\n\
A device no profile fits (any non-Jetson machine) gets the generic profile: a reserve of a \
tenth of MemTotal, at least 512 MiB. With --root DIR the files are read from a captured tree \
(see tests/fixtures/capture.sh).",
    after_help = "Examples:\n  jetgate board\n  jetgate board --json | jq .default_reserve_bytes\n  \
jetgate --root tests/fixtures/orin-nano-8gb-jp6 board"
)]
pub struct Args {
    /// Print one JSON object (fields: id, name, known, soc, model, compatible, l4t, jetpack,
    /// matched_by, tied_with, cores, memory_total_bytes, default_reserve_bytes, rails,
    /// input_rail, gpu_load_paths, nvmap, nvml_memory).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, globals: &Globals) -> CliResult {
    let detected = board::detect(&globals.root).context("detecting the board")?;
    let report = BoardReport::from(&detected);
    if args.json {
        let text = serde_json::to_string_pretty(&report).context("encoding the board report")?;
        println!("{text}");
    } else {
        print!("{}", report.to_text());
    }
    Ok(SUCCESS)
}
