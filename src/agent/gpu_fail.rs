//! GPU allocation failures in a model's output, made events (`gpu_alloc_failed`).
//!
//! Pure: [`match_line`] recognises the three forms a model server prints when a GPU allocation
//! fails on a Jetson, and [`Bursts`] decides which of them become an event. The I/O side (the
//! device's memory figures at that moment) and the event itself are in `gpu_fail/event.rs`.
//!
//! The forms, as printed on Orins on L4T R36 (llama.cpp, PyTorch):
//!
//! ```text
//! NvMapMemAllocInternalTagged: 1075072515 error 12
//! ggml_backend_cuda_buffer_type_alloc_buffer: allocating 345.72 MiB on device 0: cudaMalloc failed: out of memory
//! RuntimeError: CUDA error: out of memory
//! ```
//!
//! - nvmap: a line with `NvMapMemAllocInternalTagged:` ending in `error 12` (ENOMEM; the number
//!   before it is the allocation's tag and may be absent). nvmap's follow-up
//!   `NvMapMemHandleAlloc: error 0` is not a failure of its own.
//! - `cudaMalloc failed: out of memory` anywhere in the line; where llama.cpp names the size
//!   (`allocating 345.72 MiB`), it is the event's `requested_bytes`.
//! - `CUDA error: out of memory` anywhere in the line.
//!
//! What follows a failure (`failed to allocate CUDA0 buffer`, `error loading model`, PyTorch's
//! `NVML_SUCCESS == r INTERNAL ASSERT FAILED`) is not matched: it is a consequence, and the
//! forms above come first.
//!
//! **One event per burst.** A failing load prints the same failure several times (PyTorch
//! printed the nvmap pair four times in a row on an Orin Nano), and a server that keeps failing
//! would print it on every request. [`Bursts`] records the first matched line of a model's
//! process and then at most one every [`GPU_FAIL_EVERY`]; the lines in between are counted and
//! the count is the next event's `suppressed_lines`. A new process of the model (a new pid, a
//! restart or the next load) starts afresh, so every load that fails is an event.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::units::Bytes;

mod event;

pub use event::{event, read_device, DeviceFigures};

/// After an event for a model's process, further failures of that process within this are
/// counted, not recorded.
pub const GPU_FAIL_EVERY: Duration = Duration::from_secs(60);

/// Which of the three forms a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureForm {
    /// `NvMapMemAllocInternalTagged: ... error 12`.
    Nvmap,
    /// `cudaMalloc failed: out of memory`.
    CudaMalloc,
    /// `CUDA error: out of memory`.
    CudaError,
}

impl FailureForm {
    /// The `form` figure of the event.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureForm::Nvmap => "nvmap_error_12",
            FailureForm::CudaMalloc => "cuda_malloc_out_of_memory",
            FailureForm::CudaError => "cuda_error_out_of_memory",
        }
    }

    /// How the message names it.
    pub fn describe(self) -> &'static str {
        match self {
            FailureForm::Nvmap => "nvmap error 12",
            FailureForm::CudaMalloc => "cudaMalloc out of memory",
            FailureForm::CudaError => "CUDA error: out of memory",
        }
    }
}

/// A matched line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuFailure {
    pub form: FailureForm,
    /// The size the line says was asked for (`allocating 345.72 MiB`), where it says one.
    pub requested: Option<Bytes>,
}

const NVMAP_ALLOC: &str = "NvMapMemAllocInternalTagged:";
const CUDA_MALLOC: &str = "cudaMalloc failed: out of memory";
const CUDA_ERROR: &str = "CUDA error: out of memory";

/// The failure `line` reports, if it is one of the three forms (see the module doc).
pub fn match_line(line: &str) -> Option<GpuFailure> {
    let form = if let Some((_, rest)) = line.split_once(NVMAP_ALLOC) {
        let words: Vec<&str> = rest.split_ascii_whitespace().collect();
        if !words.ends_with(&["error", "12"]) {
            return None;
        }
        FailureForm::Nvmap
    } else if line.contains(CUDA_MALLOC) {
        FailureForm::CudaMalloc
    } else if line.contains(CUDA_ERROR) {
        FailureForm::CudaError
    } else {
        return None;
    };
    Some(GpuFailure {
        form,
        requested: requested_size(line),
    })
}

/// `allocating 345.72 MiB` → 345.72 MiB in bytes; `None` where the line names no size.
fn requested_size(line: &str) -> Option<Bytes> {
    let (_, rest) = line.split_once("allocating ")?;
    let mut words = rest.split_ascii_whitespace();
    let number: f64 = words.next()?.parse().ok()?;
    let scale = match words.next()?.trim_end_matches([':', ',']) {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * scale;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(Bytes(bytes as u64))
}

/// One model's current burst.
#[derive(Debug, Clone, Copy)]
struct Burst {
    pid: Option<u32>,
    recorded_at: Instant,
    suppressed: u64,
}

/// Which matched lines become events (see the module doc), per model.
#[derive(Debug, Default)]
pub struct Bursts {
    by_model: HashMap<String, Burst>,
}

impl Bursts {
    /// A failure line of `model` (its process `pid` where the agent knows it) at `now`:
    /// `Some(n)` when it is to be recorded, `n` being the lines counted and not recorded since
    /// the model's previous event; `None` when it belongs to the burst already recorded.
    ///
    /// A line that arrives after its process has ended (`pid` `None`: exits are handled before
    /// output) belongs to the burst of that process.
    pub fn observe(&mut self, model: &str, pid: Option<u32>, now: Instant) -> Option<u64> {
        if let Some(burst) = self.by_model.get_mut(model) {
            // Lines come only after their process was spawned, so a pid the burst does not
            // have is a new process (a burst whose lines all came after its exit has none).
            let new_process = pid.is_some() && pid != burst.pid;
            let due = now.saturating_duration_since(burst.recorded_at) >= GPU_FAIL_EVERY;
            if !new_process && !due {
                burst.suppressed += 1;
                return None;
            }
            let suppressed = burst.suppressed;
            *burst = Burst {
                pid: pid.or(burst.pid),
                recorded_at: now,
                suppressed: 0,
            };
            return Some(suppressed);
        }
        self.by_model.insert(
            model.to_string(),
            Burst {
                pid,
                recorded_at: now,
                suppressed: 0,
            },
        );
        Some(0)
    }
}

#[cfg(test)]
mod tests;
