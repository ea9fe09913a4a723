//! `jetgate status [--json] [--local]`: device, memory, gate and services.
//!
//! By default it asks the agent (so it shows what the agent believes). `--local` reads the
//! device directly under `--root` (default `/`): board, memory, the agent's own cgroup,
//! pressure, and the heaviest process trees by PSS; it works with no agent running, and on a
//! captured fixture tree (`--root tests/fixtures/orin-nano-8gb-jp6`).

use crate::cli::human;
use crate::cli::remote::{ask, read_reply, REQUEST_TIMEOUT};
use crate::cli::Globals;
use crate::control::Cmd;
use crate::exit::{self, CliError, CliResult};
use crate::sources::{Sampler, Scope, TreeSampler};
use crate::status::{
    DeviceView, FragmentationView, GpuLoad, GpuView, MemoryView, NvmlView, Source, StatusDocument,
    TreeView,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The status document as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Read the device directly instead of asking the agent.
    #[arg(long)]
    pub local: bool,
    /// How many of the heaviest process trees to list with --local.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,
}

pub fn run(args: Args, globals: &Globals) -> CliResult {
    let doc = if args.local {
        local_document(globals, args.top)?.to_value()
    } else {
        ask(globals, Cmd::Status {}, Some(REQUEST_TIMEOUT))?
    };
    if args.json {
        println!("{doc}");
    } else {
        let doc: StatusDocument = read_reply(doc)?;
        print!("{}", render_toned(&doc, human::colour_stdout()));
    }
    Ok(exit::SUCCESS)
}

/// The local status document: the same `device` and `memory` sections as the agent's, plus the
/// GPU and the heaviest process trees.
pub fn local_document(globals: &Globals, top: usize) -> Result<StatusDocument, CliError> {
    let root = &globals.root;
    let board = crate::board::detect(root).map_err(|e| CliError::new(exit::FAILURE, e))?;
    let mut sampler = Sampler::new(root.clone(), Scope::System);
    let sample = sampler
        .sample(None)
        .map_err(|e| CliError::new(exit::FAILURE, e))?;
    let trees = TreeSampler::new(root.clone())
        .heaviest(top)
        .map_err(|e| CliError::new(exit::FAILURE, e))?;
    let trees = trees
        .iter()
        .map(|t| TreeView {
            comm: t.comm.clone(),
            pid: t.totals.root_pid,
            processes: t.totals.processes,
            zombies: t.totals.zombies,
            threads: t.totals.threads,
            pss_bytes: t.totals.pss.get(),
            rss_bytes: t.totals.rss.get(),
            swap_bytes: t.totals.swap.get(),
            fds: t.totals.fds,
        })
        .collect();
    Ok(StatusDocument {
        source: Some(Source::Local),
        root: Some(root.base().display().to_string()),
        device: DeviceView {
            id: None,
            board: (&board).into(),
        },
        memory: Some(
            MemoryView::from_sample(&sample, None)
                .with_fragmentation(FragmentationView::read(root)),
        ),
        gpu: Some(gpu_view(root, &board)),
        trees: Some(trees),
        ..StatusDocument::default()
    })
}

/// GPU load from the board's devfreq node, and NVML where it works (discrete GPUs, Thor). Each
/// absent source says why instead of failing the document.
fn gpu_view(root: &crate::sources::Root, board: &crate::board::Detected) -> GpuView {
    use crate::sources::{devfreq, nvml};
    let candidates: Vec<String> = match &board.profile {
        Some(p) if !p.gpu.load_paths.is_empty() => p.gpu.load_paths.clone(),
        _ => devfreq::DEFAULT_GPU_LOAD_PATHS
            .iter()
            .map(|p| p.to_string())
            .collect(),
    };
    let mut buf = String::new();
    let load = match devfreq::read_gpu_load(root, &candidates, &mut buf) {
        Ok((path, load)) => GpuLoad::Read {
            load_pct: f64::from(load.permille) / 10.0,
            path: path.display().to_string(),
        },
        Err(e) => GpuLoad::Unsupported {
            unsupported: e.to_string(),
        },
    };
    // NVML reads the live driver, so only when looking at this machine, not a captured tree.
    let nvml = if !root.is_host() {
        NvmlView::Unsupported {
            unsupported: "not read under --root (NVML reads the live driver)".into(),
        }
    } else {
        match nvml::NvmlSource::new().read() {
            Ok(reading) => NvmlView::Read {
                devices: reading
                    .devices
                    .iter()
                    .map(|d| serde_json::to_value(d).unwrap_or_default())
                    .collect(),
            },
            Err(e) => NvmlView::Unsupported {
                unsupported: e.to_string(),
            },
        }
    };
    GpuView { load, nvml }
}

/// The CMA pool and how much free memory lies in large blocks, where the device has either:
/// `          CMA 164.5MiB free of 512.0MiB  free in blocks ≥ 64.0KiB 1.0GiB of 3.0GiB (largest 16.0MiB)`.
/// Nothing where it has neither (a host without CMA whose buddyinfo could not be read).
mod render;
pub use render::{render, render_toned};

#[cfg(test)]
mod tests;
