//! Memory estimates of a model before its first load (`memory = "auto"`, `jetgate estimate`):
//! the peak a model server will reach, predicted from the model file and the server's command
//! line. Sizes are [`Bytes`]; every figure is one of four parts, and the estimate says what it
//! rests on ([`Basis`]).
//!
//! | format | how it is recognised | weights | on top |
//! |---|---|---|---|
//! | GGUF (llama.cpp) | the magic `GGUF` | Σ tensor bytes from the header ([`gguf`]) | KV cache, compute buffer, runtime ([`llama`]) |
//! | ONNX | `.onnx` | Σ initializer bytes from the protobuf ([`onnx`]) | [`ONNX_ALLOWANCE`] + [`ONNX_FRACTION`] of the weights |
//! | TensorRT | `.engine`, `.plan` | the file's size | [`TENSORRT_WORKSPACE`] |
//! | anything else | — | the file's size | ([`OTHER_FACTOR`] − 1) × the size |
//!
//! ```text
//! llm.gguf: gguf 1.3GiB = weights 1.0GiB + kv_cache 176.0MiB + compute 82.3MiB + allowance 22.1MiB
//!   (llama, 22 layers, ctx 4096 from --ctx-size, 4096 KV cells, 4 slots unified, K f16 V f16, ...)
//! ```
//!
//! The parsers take a reader and the file's length and never read the tensors; the one
//! function here that opens a file is [`estimate_file`] (the agent runs it on a blocking
//! thread). After a load the agent keeps the ratio of the learned peak to the estimate and
//! multiplies the next estimate by it ([`corrected`]).

pub mod args;
mod bounded;
pub mod ggml;
pub mod gguf;
pub mod llama;
pub mod onnx;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::units::Bytes;

pub use args::{ArgsError, Given, ServerArgs};
pub use llama::{LlamaBasis, ModelError};

/// ONNX: the runtime's own allocations (sessions, arenas, a CUDA context) beyond the weights.
pub const ONNX_ALLOWANCE: Bytes = Bytes::from_mib(256);
/// ONNX: activations and workspace, as a fraction of the weights.
pub const ONNX_FRACTION: f64 = 0.25;
/// TensorRT: the engine's activations, workspace and a CUDA context, beyond the engine itself.
pub const TENSORRT_WORKSPACE: Bytes = Bytes::from_mib(512);
/// Any other file: its size times this.
pub const OTHER_FACTOR: f64 = 1.5;

/// How a model file was sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Gguf,
    Onnx,
    #[serde(rename = "tensorrt")]
    TensorRt,
    Other,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Gguf => "gguf",
            Format::Onnx => "onnx",
            Format::TensorRt => "tensorrt",
            Format::Other => "other",
        }
    }
}

/// The estimate's four parts; the total is their sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Parts {
    /// The weights as the file holds them.
    #[serde(rename = "weights_bytes")]
    pub weights: Bytes,
    /// The attention KV cache (GGUF only).
    #[serde(rename = "kv_cache_bytes")]
    pub kv_cache: Bytes,
    /// Compute and output buffers (GGUF only).
    #[serde(rename = "compute_bytes")]
    pub compute: Bytes,
    /// What the runtime adds that the file does not say: a stated constant per format.
    #[serde(rename = "allowance_bytes")]
    pub allowance: Bytes,
}

impl Parts {
    pub fn total(&self) -> Bytes {
        self.weights + self.kv_cache + self.compute + self.allowance
    }
}

/// What an estimate was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum Basis {
    Gguf(Box<LlamaBasis>),
    Onnx {
        tensors: u64,
        external_bytes: Bytes,
    },
    #[serde(rename = "tensorrt")]
    TensorRt {
        file_bytes: Bytes,
    },
    Other {
        file_bytes: Bytes,
    },
}

/// A model's predicted peak.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Estimate {
    pub format: Format,
    #[serde(rename = "total_bytes")]
    pub total: Bytes,
    pub parts: Parts,
    pub basis: Basis,
}

impl Estimate {
    pub fn new(format: Format, parts: Parts, basis: Basis) -> Estimate {
        Estimate {
            format,
            total: parts.total(),
            parts,
            basis,
        }
    }
}

/// Why a file could not be estimated.
#[derive(Debug, thiserror::Error)]
pub enum EstimateError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid GGUF header: {source}")]
    Gguf {
        path: PathBuf,
        source: gguf::GgufError,
    },
    #[error("{path}: not a valid ONNX model: {source}")]
    Onnx {
        path: PathBuf,
        source: onnx::OnnxError,
    },
    #[error("{path}: {source}")]
    Model { path: PathBuf, source: ModelError },
    #[error("the server's command line: {0}")]
    Args(#[from] ArgsError),
}

/// Estimates the model at `path` as a server started with `args` (its arguments, without the
/// program) and the environment `env` would run it.
pub fn estimate_file(
    path: &Path,
    args: &[String],
    env: &BTreeMap<String, String>,
) -> Result<Estimate, EstimateError> {
    let io = |source| EstimateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut magic = [0u8; 4];
    let sniffed = len >= 4 && file.read_exact(&mut magic).is_ok() && &magic == b"GGUF";
    let file = File::open(path).map_err(io)?; // from byte 0 again
    if sniffed {
        let server = args::parse(args, env)?;
        let header = gguf::read_header(file, len).map_err(|source| EstimateError::Gguf {
            path: path.to_path_buf(),
            source,
        })?;
        return llama::estimate(&header, &server).map_err(|source| EstimateError::Model {
            path: path.to_path_buf(),
            source,
        });
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    Ok(match ext.as_deref() {
        Some("onnx") => {
            let w = onnx::read_weights(file, len).map_err(|source| EstimateError::Onnx {
                path: path.to_path_buf(),
                source,
            })?;
            onnx_estimate(w)
        }
        Some("engine" | "plan") => Estimate::new(
            Format::TensorRt,
            Parts {
                weights: Bytes(len),
                allowance: TENSORRT_WORKSPACE,
                ..Parts::default()
            },
            Basis::TensorRt {
                file_bytes: Bytes(len),
            },
        ),
        _ => Estimate::new(
            Format::Other,
            Parts {
                weights: Bytes(len),
                allowance: scaled(Bytes(len), OTHER_FACTOR - 1.0),
                ..Parts::default()
            },
            Basis::Other {
                file_bytes: Bytes(len),
            },
        ),
    })
}

/// The estimate of an ONNX model with these weights.
pub fn onnx_estimate(w: onnx::Weights) -> Estimate {
    let weights = Bytes(w.bytes);
    Estimate::new(
        Format::Onnx,
        Parts {
            weights,
            allowance: ONNX_ALLOWANCE + scaled(weights, ONNX_FRACTION),
            ..Parts::default()
        },
        Basis::Onnx {
            tensors: w.tensors,
            external_bytes: Bytes(w.external_bytes),
        },
    )
}

/// `b × factor`, rounded up (a factor that is not a finite positive number gives zero).
pub fn scaled(b: Bytes, factor: f64) -> Bytes {
    let v = (b.get() as f64 * factor).ceil();
    if v.is_finite() && v > 0.0 {
        Bytes(if v >= u64::MAX as f64 {
            u64::MAX
        } else {
            v as u64
        })
    } else {
        Bytes::ZERO
    }
}

/// The need the gate is given: the estimate times what earlier loads taught (`ratio` =
/// learned peak ÷ estimate of that load), or the estimate itself before any load.
pub fn corrected(estimate: Bytes, ratio: Option<f64>) -> Bytes {
    match ratio {
        Some(r) if r.is_finite() && r > 0.0 => scaled(estimate, r),
        _ => estimate,
    }
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Basis::Gguf(b) => write!(
                f,
                "{}, {} layers, ctx {} from {}, {} KV cells, {} slots{} from {}, K {} V {}, \
                 ubatch {}, flash attention {}",
                b.arch,
                b.layers,
                b.ctx.value,
                b.ctx.from,
                b.cells,
                b.slots.value,
                if b.unified { " unified" } else { "" },
                b.slots.from,
                b.cache_type_k.value.name,
                b.cache_type_v.value.name,
                b.ubatch,
                if b.flash_attn { "on" } else { "off" },
            ),
            Basis::Onnx {
                tensors,
                external_bytes,
            } => write!(
                f,
                "{tensors} initializers ({external_bytes} external), allowance {ONNX_ALLOWANCE} \
                 + {:.0} % of the weights",
                ONNX_FRACTION * 100.0
            ),
            Basis::TensorRt { file_bytes } => write!(
                f,
                "engine file {file_bytes}, workspace allowance {TENSORRT_WORKSPACE}"
            ),
            Basis::Other { file_bytes } => {
                write!(f, "file size {file_bytes} × {OTHER_FACTOR}")
            }
        }
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.parts;
        write!(
            f,
            "{} {} = weights {} + kv_cache {} + compute {} + allowance {}",
            self.format.as_str(),
            self.total,
            p.weights,
            p.kv_cache,
            p.compute,
            p.allowance
        )
    }
}
