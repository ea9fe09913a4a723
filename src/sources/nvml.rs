//! NVML (libnvidia-ml), for discrete GPUs and Thor: device memory and per-process GPU memory.
//!
//! Owns [`NvmlSource`] and its plain-data reading [`NvmlReading`]. The library is loaded at run
//! time by `nvml-wrapper`. A failed initialisation is remembered and **re-probed** at most once
//! every [`REPROBE_INTERVAL`]: a host without libnvidia-ml (every Orin on JetPack 5, this build
//! machine) reports [`NvmlError::Unsupported`] with the reason between probes without trying
//! again, and a driver that comes up late (a module loaded after the agent started, a GPU reset)
//! is picked up at the next probe instead of being latched off for the whole run. A handle whose
//! device count fails for another reason than "unsupported" is dropped and re-probed the same
//! way. A query the driver does not support (Orin on JetPack 6 / 7.2 answers `NotSupported` for
//! memory) is unsupported for that device or field, never a panic. Units: [`Bytes`].
//!
//! What `examples/nvml_probe.rs` prints on a discrete GPU, as an example of the reading:
//!
//! ```text
//! {"devices":[{"index":0,"name":"NVIDIA H100 80GB HBM3",
//!   "memory":{"total":85520809984,"used":562495488,"free":84958314496},
//!   "processes":[{"pid":4242,"used":524288000}]}]}
//! ```
#![allow(clippy::disallowed_methods)] // re-probe timing runs on the monotonic clock

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nvml_wrapper::enum_wrappers::device::Clock;
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::error::NvmlError as LibError;
use nvml_wrapper::Nvml;

use crate::units::Bytes;

/// Why NVML gave nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum NvmlError {
    /// No library, no driver, or the driver does not support the query on this GPU.
    #[error("NVML unsupported: {reason}")]
    Unsupported { reason: String },
    /// The library is there and the call failed for another reason.
    #[error("NVML {what} failed: {reason}")]
    Failed { what: &'static str, reason: String },
}

impl NvmlError {
    pub fn is_unsupported(&self) -> bool {
        matches!(self, NvmlError::Unsupported { .. })
    }
}

fn classify(what: &'static str, e: LibError) -> NvmlError {
    match e {
        LibError::NotSupported
        | LibError::LibloadingError(_)
        | LibError::FailedToLoadSymbol(_)
        | LibError::DriverNotLoaded
        | LibError::LibraryNotFound
        | LibError::FunctionNotFound
        | LibError::NoPermission
        | LibError::GpuLost => NvmlError::Unsupported {
            reason: format!("{what}: {e}"),
        },
        other => NvmlError::Failed {
            what,
            reason: other.to_string(),
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DeviceMemory {
    pub total: Bytes,
    pub used: Bytes,
    pub free: Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct GpuProcess {
    pub pid: u32,
    /// `None` where the driver cannot say (`NVML_VALUE_NOT_AVAILABLE`).
    pub used: Option<Bytes>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NvmlDevice {
    pub index: u32,
    pub name: Result<String, NvmlError>,
    pub memory: Result<DeviceMemory, NvmlError>,
    /// Compute and graphics processes, merged by pid (a pid in both is summed once per kind).
    pub processes: Result<Vec<GpuProcess>, NvmlError>,
    /// Graphics clock in MHz, where reported.
    pub graphics_clock_mhz: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NvmlReading {
    pub devices: Vec<NvmlDevice>,
}

/// How long a failed NVML initialisation is remembered before it is tried again.
pub const REPROBE_INTERVAL: Duration = Duration::from_secs(60);

/// The NVML handle, or the last failure and when it happened.
enum Handle {
    Unprobed,
    /// Boxed: the library's function table is some 12 KB.
    Ready(Box<Nvml>),
    Failed {
        error: NvmlError,
        at: Instant,
    },
}

/// NVML, initialised on first use and re-probed after a failure (see the module doc).
pub struct NvmlSource {
    handle: Mutex<Handle>,
    reprobe: Duration,
    init_attempts: AtomicU32,
}

impl Default for NvmlSource {
    fn default() -> NvmlSource {
        NvmlSource::with_reprobe(REPROBE_INTERVAL)
    }
}

impl std::fmt::Debug for NvmlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.handle.lock().as_deref() {
            Ok(Handle::Unprobed) => "unprobed",
            Ok(Handle::Ready(_)) => "ready",
            Ok(Handle::Failed { .. }) => "failed",
            Err(_) => "poisoned",
        };
        f.debug_struct("NvmlSource")
            .field("state", &state)
            .field("init_attempts", &self.init_attempts())
            .finish()
    }
}

impl NvmlSource {
    pub fn new() -> NvmlSource {
        NvmlSource::default()
    }

    /// A source that re-probes a failed initialisation after `reprobe`.
    pub fn with_reprobe(reprobe: Duration) -> NvmlSource {
        NvmlSource {
            handle: Mutex::new(Handle::Unprobed),
            reprobe,
            init_attempts: AtomicU32::new(0),
        }
    }

    /// A source that never loads the library: every read is unsupported. For tools and tests
    /// that must not depend on the host's GPU driver.
    pub fn disabled() -> NvmlSource {
        NvmlSource {
            handle: Mutex::new(Handle::Failed {
                error: NvmlError::Unsupported {
                    reason: "NVML disabled".into(),
                },
                at: Instant::now(),
            }),
            reprobe: Duration::MAX,
            init_attempts: AtomicU32::new(0),
        }
    }

    /// How many times initialisation was tried.
    pub fn init_attempts(&self) -> u32 {
        self.init_attempts.load(Ordering::Relaxed)
    }

    /// Reads every device. Between re-probes the error is the last initialisation's.
    pub fn read(&self) -> Result<NvmlReading, NvmlError> {
        self.read_at(Instant::now())
    }

    fn read_at(&self, now: Instant) -> Result<NvmlReading, NvmlError> {
        let mut handle = self.handle.lock().unwrap_or_else(|p| p.into_inner());
        if let Handle::Failed { error, at } = &*handle {
            if now.saturating_duration_since(*at) < self.reprobe {
                return Err(error.clone());
            }
        }
        if !matches!(*handle, Handle::Ready(_)) {
            self.init_attempts.fetch_add(1, Ordering::Relaxed);
            *handle = match Nvml::init() {
                Ok(nvml) => Handle::Ready(Box::new(nvml)),
                Err(e) => Handle::Failed {
                    error: classify("init", e),
                    at: now,
                },
            };
        }
        let nvml = match &*handle {
            Handle::Ready(nvml) => nvml,
            Handle::Failed { error, .. } => return Err(error.clone()),
            Handle::Unprobed => {
                return Err(NvmlError::Failed {
                    what: "init",
                    reason: "not probed".into(),
                })
            }
        };
        match nvml.device_count() {
            Ok(count) => Ok(NvmlReading {
                devices: (0..count).map(|i| read_device(nvml, i)).collect(),
            }),
            Err(e) => {
                let error = classify("device_count", e);
                if !error.is_unsupported() {
                    // The driver went away under us (a GPU reset): probe afresh next time.
                    *handle = Handle::Failed {
                        error: error.clone(),
                        at: now,
                    };
                }
                Err(error)
            }
        }
    }
}

fn read_device(nvml: &Nvml, index: u32) -> NvmlDevice {
    let device = match nvml.device_by_index(index) {
        Ok(d) => d,
        Err(e) => {
            let err = classify("device_by_index", e);
            return NvmlDevice {
                index,
                name: Err(err.clone()),
                memory: Err(err.clone()),
                processes: Err(err),
                graphics_clock_mhz: None,
            };
        }
    };
    let name = device.name().map_err(|e| classify("name", e));
    let memory = device
        .memory_info()
        .map(|m| DeviceMemory {
            total: Bytes(m.total),
            used: Bytes(m.used),
            free: Bytes(m.free),
        })
        .map_err(|e| classify("memory_info", e));
    let compute = device
        .running_compute_processes()
        .map_err(|e| classify("running_compute_processes", e));
    let graphics = device
        .running_graphics_processes()
        .map_err(|e| classify("running_graphics_processes", e));
    let processes = match (compute, graphics) {
        (Err(e), Err(_)) => Err(e),
        (c, g) => {
            let mut all: Vec<GpuProcess> = Vec::new();
            for p in c
                .unwrap_or_default()
                .into_iter()
                .chain(g.unwrap_or_default())
            {
                let used = match p.used_gpu_memory {
                    UsedGpuMemory::Used(b) => Some(Bytes(b)),
                    UsedGpuMemory::Unavailable => None,
                };
                match all.iter_mut().find(|q| q.pid == p.pid) {
                    Some(q) => {
                        q.used = match (q.used, used) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            (a, b) => a.or(b),
                        }
                    }
                    None => all.push(GpuProcess { pid: p.pid, used }),
                }
            }
            Ok(all)
        }
    };
    NvmlDevice {
        index,
        name,
        memory,
        processes,
        graphics_clock_mhz: device.clock_info(Clock::Graphics).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_initialisation_is_remembered_until_the_reprobe_interval_then_tried_again() {
        let source = NvmlSource::with_reprobe(Duration::from_secs(60));
        let t0 = Instant::now();
        match source.read_at(t0) {
            Err(e) => {
                assert!(e.is_unsupported(), "{e}");
                assert!(e.to_string().contains("init"), "{e}");
                assert_eq!(source.read_at(t0 + Duration::from_secs(59)).unwrap_err(), e);
                assert_eq!(
                    source.init_attempts(),
                    1,
                    "not re-probed before the interval"
                );
                let _ = source.read_at(t0 + Duration::from_secs(60));
                assert_eq!(
                    source.init_attempts(),
                    2,
                    "re-probed once the interval passed"
                );
            }
            // A GPU host: the handle is kept, never re-initialised.
            Ok(r) => {
                let _ = source.read_at(t0 + Duration::from_secs(3600));
                assert_eq!(source.init_attempts(), 1);
                assert!(r.devices.iter().all(|d| d.index < 64));
            }
        }
    }

    #[test]
    fn not_supported_queries_classify_as_unsupported() {
        assert!(classify("memory_info", LibError::NotSupported).is_unsupported());
        assert!(!classify("memory_info", LibError::Unknown).is_unsupported());
    }
}
