//! `jetgate estimate FILE [--json] [-- SERVER ARGS...]`: the memory a model will take, predicted
//! from its file the way `memory = "auto"` does it before a first load (no agent needed).
//!
//! ```text
//! $ jetgate estimate /models/llm.gguf -- -c 4096
//! /models/llm.gguf: gguf, estimate 1.3GiB
//!   weights     1.0GiB
//!   kv_cache    176.0MiB
//!   compute     82.3MiB
//!   allowance   22.1MiB
//!   basis: llama, 22 layers, ctx 4096 from -c, 4096 KV cells, 4 slots unified from ...
//! ```
//!
//! `--json` prints the [`Estimate`] object: `format`, `total_bytes`, `parts` (`weights_bytes`,
//! `kv_cache_bytes`, `compute_bytes`, `allowance_bytes`) and `basis`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::cli::Globals;
use crate::estimate::{estimate_file, Estimate};
use crate::exit::{CliError, CliResult, FAILURE, SUCCESS};

#[derive(Debug, clap::Args)]
#[command(
    long_about = "Predict the memory a model will take from its file, as `memory = \"auto\"` \
does before a model's first load. GGUF (recognised by its magic): the tensors' bytes from the \
header, the KV cache and compute buffers llama-server allocates for the context its command \
line asks for, and a runtime allowance. ONNX (.onnx): the initializers' bytes plus a stated \
allowance. TensorRT (.engine, .plan): the file plus a workspace allowance. Any other file: its \
size times a stated factor. Only the header is read.\n\nThe arguments after `--` are the model \
server's (as in the model's `command`, without the program): -c/--ctx-size, -np/--parallel, \
-ctk/-ctv, -b/-ub, -fa and -kvu are read; the LLAMA_ARG_* variables of the environment too.",
    after_help = "Examples:\n  jetgate estimate /models/llm.gguf -- -c 8192 -np 2\n  \
jetgate estimate /models/det.onnx --json | jq .total_bytes"
)]
pub struct Args {
    /// The model file.
    pub file: PathBuf,
    /// Print the estimate as one JSON object (fields: format, total_bytes, parts
    /// {weights_bytes, kv_cache_bytes, compute_bytes, allowance_bytes}, basis).
    #[arg(long)]
    pub json: bool,
    /// The model server's arguments, after `--`.
    #[arg(last = true, value_name = "SERVER ARGS")]
    pub server_args: Vec<String>,
}

pub fn run(args: Args, _globals: &Globals) -> CliResult {
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("LLAMA_ARG_"))
        .collect();
    let estimate = estimate_file(&args.file, &args.server_args, &env)
        .map_err(|e| CliError::new(FAILURE, anyhow::Error::new(e)))?;
    if args.json {
        let text = serde_json::to_string_pretty(&estimate).context("encoding the estimate")?;
        println!("{text}");
    } else {
        print!("{}", text(&args.file, &estimate));
    }
    Ok(SUCCESS)
}

/// The human form: the total, one line per part, and the basis.
pub fn text(file: &std::path::Path, e: &Estimate) -> String {
    let p = &e.parts;
    let mut out = format!(
        "{}: {}, estimate {}\n",
        file.display(),
        e.format.as_str(),
        e.total
    );
    for (name, bytes) in [
        ("weights", p.weights),
        ("kv_cache", p.kv_cache),
        ("compute", p.compute),
        ("allowance", p.allowance),
    ] {
        out.push_str(&format!("  {name:<11} {bytes}\n"));
    }
    out.push_str(&format!("  basis: {}\n", e.basis));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::{Basis, Format, Parts};
    use crate::units::Bytes;

    #[test]
    fn the_text_lists_every_part_and_the_basis() {
        let e = Estimate::new(
            Format::TensorRt,
            Parts {
                weights: Bytes::from_mib(300),
                allowance: Bytes::from_mib(512),
                ..Parts::default()
            },
            Basis::TensorRt {
                file_bytes: Bytes::from_mib(300),
            },
        );
        let t = text(std::path::Path::new("/m/det.engine"), &e);
        assert!(
            t.starts_with("/m/det.engine: tensorrt, estimate 812.0MiB\n"),
            "{t}"
        );
        assert!(t.contains("  weights     300.0MiB\n"), "{t}");
        assert!(t.contains("  kv_cache    0B\n"), "{t}");
        assert!(
            t.contains("basis: engine file 300.0MiB, workspace allowance 512.0MiB"),
            "{t}"
        );
    }
}
