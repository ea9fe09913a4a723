//! A `memory = "auto"` model's estimate as its service row shows it: the estimate the latest
//! load was requested on, its parts, what it rests on, the ratio learned so far and the need
//! the gate was given.
//!
//! ```json
//! "estimate": {"format": "gguf", "total_bytes": 1395864371, "weights_bytes": 1100000000,
//!   "kv_cache_bytes": 184549376, "compute_bytes": 86295552, "allowance_bytes": 25019443,
//!   "basis": "llama, 22 layers, ctx 4096 from -c, ...", "ratio": 0.97, "need_bytes": 1353988440}
//! ```
//!
//! `ratio` is the latest load's peak ÷ its estimate (null before a load completed): the next
//! load's need is the next estimate times it. `need_bytes` is the current load's (the gate still
//! uses the larger of it and the learned peak).

use serde::{Deserialize, Serialize};

use crate::estimate::Estimate;
use crate::units::Bytes;

/// One model's estimate, for its service row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EstimateView {
    /// `gguf`, `onnx`, `tensorrt` or `other`.
    pub format: String,
    /// The estimate, before the learned ratio.
    pub total_bytes: u64,
    pub weights_bytes: u64,
    pub kv_cache_bytes: u64,
    pub compute_bytes: u64,
    pub allowance_bytes: u64,
    /// What it was computed from, in words.
    pub basis: String,
    #[serde(default)]
    pub ratio: Option<f64>,
    /// The need the gate was given for the latest load.
    pub need_bytes: u64,
}

impl EstimateView {
    pub fn new(e: &Estimate, need: Bytes, ratio: Option<f64>) -> EstimateView {
        EstimateView {
            format: e.format.as_str().to_string(),
            total_bytes: e.total.get(),
            weights_bytes: e.parts.weights.get(),
            kv_cache_bytes: e.parts.kv_cache.get(),
            compute_bytes: e.parts.compute.get(),
            allowance_bytes: e.parts.allowance.get(),
            basis: e.basis.to_string(),
            ratio,
            need_bytes: need.get(),
        }
    }
}
