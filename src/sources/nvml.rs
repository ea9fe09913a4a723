//! NVML (libnvidia-ml), for discrete GPUs and Thor: device memory and per-process GPU memory.
//!
//! Owns [`NvmlSource`] and its plain-data reading [`NvmlReading`]. The library is loaded at run
//! time by `nvml-wrapper`; initialisation is tried **once** and its outcome cached: a host
//! without libnvidia-ml (every Orin on JetPack 5, this build machine) reports
//! [`NvmlError::Unsupported`] with the reason on every call, without retrying or logging again.
//! A query the driver does not support (Orin on JetPack 6 / 7.2 answers `NotSupported` for
//! memory) is unsupported for that device or field, never a panic. Units: [`Bytes`].
//!
//! What `examples/nvml_probe.rs` prints on a discrete GPU, as an example of the reading:
//!
//! ```text
//! {"devices":[{"index":0,"name":"NVIDIA H100 80GB HBM3",
//!   "memory":{"total":85520809984,"used":562495488,"free":84958314496},
//!   "processes":[{"pid":4242,"used":524288000}]}]}
//! ```

use std::sync::OnceLock;

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

/// NVML, initialised at most once.
#[derive(Default)]
pub struct NvmlSource {
    nvml: OnceLock<Result<Nvml, NvmlError>>,
    init_attempts: std::sync::atomic::AtomicU32,
}

impl std::fmt::Debug for NvmlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NvmlSource")
            .field("initialised", &self.nvml.get().map(|r| r.is_ok()))
            .finish()
    }
}

impl NvmlSource {
    pub fn new() -> NvmlSource {
        NvmlSource::default()
    }

    /// How many times initialisation was tried (0 or 1).
    pub fn init_attempts(&self) -> u32 {
        self.init_attempts
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn nvml(&self) -> Result<&Nvml, NvmlError> {
        self.nvml
            .get_or_init(|| {
                self.init_attempts
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Nvml::init().map_err(|e| classify("init", e))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Reads every device. The error is the cached init outcome when NVML is unusable here.
    pub fn read(&self) -> Result<NvmlReading, NvmlError> {
        let nvml = self.nvml()?;
        let count = nvml
            .device_count()
            .map_err(|e| classify("device_count", e))?;
        let devices = (0..count).map(|i| read_device(nvml, i)).collect();
        Ok(NvmlReading { devices })
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
    fn without_libnvidia_ml_nvml_is_unsupported_with_a_reason_and_initialised_once() {
        let source = NvmlSource::new();
        match source.read() {
            Err(e) => {
                assert!(e.is_unsupported(), "{e}");
                assert!(e.to_string().contains("init"), "{e}");
                let again = source.read().unwrap_err();
                assert_eq!(again, e);
                assert_eq!(source.init_attempts(), 1);
            }
            // A GPU host: the reading must be there and init still happened once.
            Ok(r) => {
                let _ = source.read();
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
